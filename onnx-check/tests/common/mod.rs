//! What the ONNX tests share: the models exported (every layer that exports, the examples'
//! models, a Keras fixture), each as a case with its inputs and what `predict` returned, and
//! how every registered layer fares in the export.
#![allow(dead_code)] // Each test file uses a part.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ndarray::{Array, ArrayD, ArrayView, Dimension, IxDyn};
use stratic::prelude::*;

/// The agreement every export must reach with `predict`.
pub const TOLERANCE: f32 = 1e-5;

model! {
    /// Every activation, through dense layers, the activation layer and dropout.
    pub struct Activations {
        input(shape = [6], name = "features")
            -> dense(8, activation = relu)
            -> dense(8, activation = sigmoid)
            -> dense(8, activation = tanh)
            -> dense(8, activation = gelu)
            -> dense(8, activation = elu)
            -> dense(8, activation = selu)
            -> dense(8, activation = softplus)
            -> dense(8, activation = swish)
            -> dense(8, use_bias = false)
            -> dropout(0.3)
            -> gaussian_noise(0.5)
            -> gaussian_dropout(0.2)
            -> rescaling(0.5, 0.25)
            -> dense(5)
            -> activation(softmax, name = "probabilities")
    }

    /// Every merge, a shared layer, three inputs and two outputs.
    pub struct Merges {
        let a = input(shape = [5], name = "a");
        let b = input(shape = [5], name = "b");
        let c = input(shape = [5], name = "c");
        let shared = dense(5, activation = tanh, name = "shared");
        let sa = a -> shared;
        let sb = b -> shared;
        let s = add([sa, sb, c]);
        let d = subtract([sa, sb]);
        let m = multiply([a, b, c]);
        let av = average([a, b]);
        let mx = maximum([a, c]);
        let mn = minimum([b, c]);
        let joined = concatenate([s, d, m, av, mx, mn]);
        let dots = concatenate([dot([a, b]), dot([sa, c], normalize = true)], name = "dots");
        (joined -> dense(3, name = "head"), dots)
    }

    /// Convolutions (strides, `same`, dilation, no bias) and window poolings in 2-D,
    /// flattened (H, W, C order) into a dense head; a global pooling as a second output.
    pub struct Image {
        let image = input(shape = [10, 10, 3], name = "image");
        let f = image
            -> conv2d(4, 3, strides = 2, padding = same, activation = relu)
            -> spatial_dropout_2d(0.3)
            -> conv2d(6, 2, dilation_rate = 2, padding = same)
            -> max_pooling_2d(2, strides = 1, padding = same)
            -> average_pooling_2d(2, padding = same)
            -> conv2d(4, 1, use_bias = false, activation = swish);
        let head = f -> flatten() -> dense(3, activation = softmax, name = "head");
        let pooled = image
            -> conv2d(3, [3, 2], activation = tanh)
            -> max_pooling_2d([2, 3], strides = [2, 1])
            -> global_max_pooling_2d(name = "pooled");
        let mean = f -> global_average_pooling_2d(name = "mean");
        (head, pooled, mean)
    }

    /// Convolutions and poolings in 1-D (causal, strides, `same`), reshape and the global
    /// poolings over steps.
    pub struct Series {
        let x = input(shape = [12, 3], name = "series");
        let h = x
            -> conv1d(4, 3, padding = causal, activation = tanh)
            -> spatial_dropout_1d(0.3)
            -> max_pooling_1d(2)
            -> conv1d(6, 2, strides = 2, activation = elu)
            -> average_pooling_1d(2, strides = 1, padding = same);
        let r = h -> reshape([6, 3]);
        (
            r -> global_average_pooling_1d(name = "mean"),
            r -> global_max_pooling_1d(name = "max"),
            h -> global_sum_pooling_1d(name = "sum"),
        )
    }

    /// The digits CNN of examples/digits.rs.
    pub struct DigitsNet {
        input(shape = [8, 8, 1])
            -> conv2d(16, 3, padding = same, activation = relu)
            -> max_pooling_2d(2)
            -> flatten()
            -> dense(10, activation = softmax)
    }

    /// The iris model of examples/iris.rs.
    pub struct IrisClassifier {
        input(shape = [4]) -> dense(16, activation = relu) -> dense(3, activation = softmax)
    }

    /// The matcher of examples/functional.rs: a shared encoder, three merged tensors.
    pub struct Matcher {
        let left = input(shape = [8], name = "left");
        let right = input(shape = [8], name = "right");
        let encoder = dense(16, activation = relu, name = "encoder");
        let l = left -> encoder;
        let r = right -> encoder;
        let joined = concatenate([l, r, multiply([l, r])]);
        let similarity = joined -> dense(16, activation = relu) -> dense(1, activation = sigmoid, name = "similarity");
        let category = l -> dense(3, activation = softmax, name = "category");
        (similarity, category)
    }

    /// A sparse input read by a dense layer: exported as a dense input.
    pub struct SparseBag {
        input(shape = [6], sparse = true, name = "counts")
            -> dense(4, activation = relu)
            -> dense(2, name = "scores")
    }

    /// two_heads.json's model (tests/fixtures/keras-files-layers/), loaded from Keras' file.
    pub struct TwoHeads {
        let image = input(shape = [8, 8, 2], name = "image");
        let meta = input(shape = [3], name = "meta");
        let f = image -> conv2d(5, 3, strides = 2, padding = same, activation = relu, name = "stem") -> global_average_pooling_2d(name = "gap");
        let h = concatenate([f, meta -> dense(4, activation = relu, name = "meta_dense")], name = "join");
        (h -> dense(3, activation = softmax, name = "cls"), h -> dense(1, name = "reg"))
    }
}

/// Deterministic values in [-1, 1) of `shape` (batch axis first).
pub fn values(shape: &[usize], seed: u64) -> ArrayD<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    Array::from_shape_fn(IxDyn(shape), |_| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    })
}

/// One exported model: its ONNX file, inputs by name, `predict`'s outputs, its layer kinds.
pub struct Case {
    /// A short name (also the file stem `onnx_check.py` reads).
    pub name: &'static str,
    /// `to_onnx()`.
    pub onnx: Vec<u8>,
    /// The model's input names, in order.
    pub input_names: &'static [&'static str],
    /// The inputs, batch axis first.
    pub inputs: Vec<ArrayD<f32>>,
    /// What `predict` returned for them, in output order.
    pub want: Vec<ArrayD<f32>>,
    /// The DSL names of the model's layers.
    pub layers: BTreeSet<&'static str>,
}

fn case<M: Model>(
    name: &'static str,
    model: &M,
    inputs: Vec<ArrayD<f32>>,
    want: Vec<ArrayD<f32>>,
) -> Case {
    Case {
        name,
        onnx: model.to_onnx().unwrap_or_else(|e| panic!("{name}: {e}")),
        input_names: M::input_names(),
        inputs,
        want,
        layers: M::layers().iter().map(|l| l.spec.name).collect(),
    }
}

pub fn dyn_of<D: Dimension>(a: Array<f32, D>) -> ArrayD<f32> {
    a.into_dyn()
}

pub fn view2(a: &ArrayD<f32>) -> ArrayView2<'_, f32> {
    a.view().into_dimensionality().expect("rank 2")
}

fn view3(a: &ArrayD<f32>) -> ArrayView<'_, f32, ndarray::Ix3> {
    a.view().into_dimensionality().expect("rank 3")
}

fn view4(a: &ArrayD<f32>) -> ArrayView<'_, f32, ndarray::Ix4> {
    a.view().into_dimensionality().expect("rank 4")
}

/// Every case: each model built with a fixed seed (two_heads loaded from Keras' file), run
/// by `predict` on deterministic inputs.
pub fn cases() -> Vec<Case> {
    let mut out = Vec::new();

    let m = Activations::with_seed(1);
    let x = values(&[7, 6], 1);
    let y = m.predict(view2(&x)).expect("predict");
    out.push(case("activations", &m, vec![x], vec![dyn_of(y)]));

    let m = Merges::with_seed(2);
    let (a, b, c) = (values(&[4, 5], 2), values(&[4, 5], 3), values(&[4, 5], 4));
    let (joined, dots) = m
        .predict((view2(&a), view2(&b), view2(&c)))
        .expect("predict");
    out.push(case(
        "merges",
        &m,
        vec![a, b, c],
        vec![dyn_of(joined), dyn_of(dots)],
    ));

    let m = Image::with_seed(3);
    let x = values(&[3, 10, 10, 3], 5);
    let (head, pooled, mean) = m.predict(view4(&x)).expect("predict");
    out.push(case(
        "image",
        &m,
        vec![x],
        vec![dyn_of(head), dyn_of(pooled), dyn_of(mean)],
    ));

    let m = Series::with_seed(4);
    let x = values(&[5, 12, 3], 6);
    let (mean, max, sum) = m.predict(view3(&x)).expect("predict");
    out.push(case(
        "series",
        &m,
        vec![x],
        vec![dyn_of(mean), dyn_of(max), dyn_of(sum)],
    ));

    let m = DigitsNet::with_seed(5);
    let x = values(&[6, 8, 8, 1], 7);
    let y = m.predict(view4(&x)).expect("predict");
    out.push(case("digits", &m, vec![x], vec![dyn_of(y)]));

    let m = IrisClassifier::with_seed(6);
    let x = values(&[9, 4], 8);
    let y = m.predict(view2(&x)).expect("predict");
    out.push(case("iris", &m, vec![x], vec![dyn_of(y)]));

    let m = Matcher::with_seed(7);
    let (l, r) = (values(&[5, 8], 9), values(&[5, 8], 10));
    let (similarity, category) = m.predict((view2(&l), view2(&r))).expect("predict");
    out.push(case(
        "matcher",
        &m,
        vec![l, r],
        vec![dyn_of(similarity), dyn_of(category)],
    ));

    // Sparse counts: `predict` takes the sparse tensor, the ONNX file its dense form.
    let m = SparseBag::with_seed(8);
    let x = values(&[6, 6], 11).mapv(|v| if v > 0.3 { v } else { 0.0 });
    let sparse = SparseTensor::from_dense(x.view()).expect("sparse");
    let y = m.predict(&sparse).expect("predict");
    out.push(case("sparse_bag", &m, vec![x], vec![dyn_of(y)]));

    // two_heads.json's model, loaded from Keras' file: the export reproduces what Keras saved.
    let mut m = TwoHeads::with_seed(0);
    m.load_keras(fixture("two_heads.keras"))
        .expect("load_keras");
    let text = std::fs::read_to_string(fixture("two_heads.json")).expect("fixture");
    let j: serde_json::Value = serde_json::from_str(&text).expect("json");
    let (image, meta) = (json_array(&j["inputs"][0]), json_array(&j["inputs"][1]));
    let (cls, reg) = m.predict((view4(&image), view2(&meta))).expect("predict");
    let keras_cls = json_array(&j["outputs"][0]);
    assert!(
        cls.iter()
            .zip(keras_cls.iter())
            .all(|(a, b)| (a - b).abs() < 1e-5),
        "the loaded model reproduces Keras' outputs"
    );
    out.push(case(
        "two_heads_keras",
        &m,
        vec![image, meta],
        vec![dyn_of(cls), dyn_of(reg)],
    ));
    out
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/keras-files-layers")
        .join(name)
}

/// A nested JSON list of numbers as an array.
pub fn json_array(v: &serde_json::Value) -> ArrayD<f32> {
    fn walk(v: &serde_json::Value, shape: &mut Vec<usize>, depth: usize, out: &mut Vec<f32>) {
        match v {
            serde_json::Value::Array(items) => {
                if shape.len() == depth {
                    shape.push(items.len());
                }
                for item in items {
                    walk(item, shape, depth + 1, out);
                }
            }
            other => out.push(other.as_f64().expect("a number") as f32),
        }
    }
    let (mut shape, mut flat) = (Vec::new(), Vec::new());
    walk(v, &mut shape, 0, &mut flat);
    ArrayD::from_shape_vec(IxDyn(&shape), flat).expect("a rectangular list")
}

/// A nested JSON list of an array's values.
fn to_json(a: &ArrayD<f32>) -> serde_json::Value {
    if a.ndim() == 0 {
        return serde_json::json!(a.iter().next().copied().unwrap_or(0.0));
    }
    serde_json::Value::Array(a.outer_iter().map(|row| to_json(&row.to_owned())).collect())
}

/// For tests/onnx_check.py: the case as `dir/NAME.onnx`, with its inputs by name and
/// `predict`'s outputs as `dir/NAME.json`.
pub fn dump(dir: &Path, case: &Case) {
    std::fs::create_dir_all(dir).expect("dump dir");
    std::fs::write(dir.join(format!("{}.onnx", case.name)), &case.onnx).expect("write onnx");
    let inputs: serde_json::Map<String, serde_json::Value> = case
        .input_names
        .iter()
        .zip(&case.inputs)
        .map(|(n, a)| (n.to_string(), to_json(a)))
        .collect();
    let outputs: Vec<serde_json::Value> = case.want.iter().map(to_json).collect();
    let j = serde_json::json!({ "inputs": inputs, "outputs": outputs });
    std::fs::write(dir.join(format!("{}.json", case.name)), j.to_string()).expect("write json");
}

/// How a registered layer fares in the export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Export {
    /// Exported, and checked (tract, onnx_check.py) in a model of `cases()`.
    Exported,
    /// Refused with `Error::OnnxExport` (here: it only runs on ragged tensors).
    Refused,
}

/// Every registered layer, as exported or refused. A new layer fails
/// `every_registered_layer_is_listed` until it is added here.
pub const LAYER_TABLE: &[(&str, Export)] = &[
    ("dense", Export::Exported),
    ("activation", Export::Exported),
    // `model!` runs `embedding` on ragged ids only, which ONNX cannot take; its `Gather`
    // export is written for dense ids, which `model!` does not run yet (its nodes are checked
    // by a unit test in core/src/onnx/mod.rs, not by a runtime).
    ("embedding", Export::Refused),
    ("global_average_pooling_1d", Export::Exported),
    ("global_max_pooling_1d", Export::Exported),
    ("global_sum_pooling_1d", Export::Exported),
    // Reads ragged tensors only.
    ("to_dense", Export::Refused),
    ("flatten", Export::Exported),
    ("conv1d", Export::Exported),
    ("conv2d", Export::Exported),
    ("max_pooling_1d", Export::Exported),
    ("max_pooling_2d", Export::Exported),
    ("average_pooling_1d", Export::Exported),
    ("average_pooling_2d", Export::Exported),
    ("global_max_pooling_2d", Export::Exported),
    ("global_average_pooling_2d", Export::Exported),
    ("reshape", Export::Exported),
    ("concatenate", Export::Exported),
    ("add", Export::Exported),
    ("subtract", Export::Exported),
    ("multiply", Export::Exported),
    ("average", Export::Exported),
    ("maximum", Export::Exported),
    ("minimum", Export::Exported),
    ("dot", Export::Exported),
    ("dropout", Export::Exported),
    ("gaussian_noise", Export::Exported),
    ("gaussian_dropout", Export::Exported),
    ("spatial_dropout_1d", Export::Exported),
    ("spatial_dropout_2d", Export::Exported),
    ("rescaling", Export::Exported),
    // Not written yet (the default `export_onnx` refuses, naming the layer): ONNX has `Pad`,
    // `Slice`, `Resize`, `BatchNormalization`, `LayerNormalization`, `LSTM`, `GRU` and `RNN`
    // for them, the recurrent ones with Keras' gates reordered.
    ("zero_padding_1d", Export::Refused),
    ("zero_padding_2d", Export::Refused),
    ("cropping_1d", Export::Refused),
    ("cropping_2d", Export::Refused),
    ("up_sampling_1d", Export::Refused),
    ("up_sampling_2d", Export::Refused),
    ("batch_normalization", Export::Refused),
    ("layer_normalization", Export::Refused),
    ("lstm", Export::Refused),
    ("gru", Export::Refused),
    ("simple_rnn", Export::Refused),
    ("bidirectional", Export::Refused),
    // The mask is for the recurrent layers and the pooling after it, which are not exported.
    ("masking", Export::Refused),
    ("normalization", Export::Refused),
    // Runs on ragged ids only.
    ("category_encoding", Export::Refused),
];
