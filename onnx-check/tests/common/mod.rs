//! What the ONNX tests share: the models exported (every layer that exports, the examples'
//! models, a Keras fixture), each as a case with its inputs and what `predict` returned, and
//! how every registered layer fares in the export.
#![allow(dead_code)] // Each test file uses a part.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ndarray::{Array, ArrayD, ArrayView, Dimension, IxDyn};
use stratic::prelude::*;
use stratic::shape::DType;

/// The agreement every export must reach with `predict`.
pub const TOLERANCE: f32 = 1e-5;

model! {
    /// A model used as a layer, twice over: its weights nest under its name in the export.
    pub struct Encoder {
        input(shape = [6]) -> dense(5, activation = relu, name = "hidden") -> dense(3, name = "code")
    }

    /// The encoder shared by two inputs, then a head.
    pub struct Composed {
        let enc = Encoder;
        let a = input(shape = [6], name = "a") -> enc;
        let b = input(shape = [6], name = "b") -> enc;
        subtract([a, b]) -> dense(2, name = "head")
    }
}

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

    /// Dense int ids (an `int32` ONNX input) embedded, flattened and pooled; `int64` ids
    /// (an `int64` input) through the same kind of table.
    pub struct Ids {
        let ids = input(shape = [5], dtype = i32, name = "ids");
        let wide = input(shape = [2], dtype = i64, name = "wide");
        let e = ids -> embedding(10, 3);
        (
            e -> flatten() -> dense(2, name = "head"),
            e -> global_average_pooling_1d(name = "mean"),
            wide -> embedding(6, 2) -> flatten(name = "wide_flat"),
        )
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

model! {
    /// The normalizations in inference form: `normalization()` declared (inverted, Keras'
    /// de-normalization, one variance 0 so the standard deviation's floor shows) and adapted, batch
    /// normalization (moving statistics set away from 0 and 1) and layer normalization, each
    /// over the last and an inner axis, with and without `center` and `scale`.
    pub struct Norms {
        let x = input(shape = [4, 3], name = "x");
        (
            x -> normalization(mean = [1.0, -2, 0.5], variance = [4.0, 0.25, 0], invert = true, name = "given"),
            x -> normalization(axis = 1, name = "adapted"),
            x -> batch_normalization(name = "bn"),
            x -> batch_normalization(axis = 1, center = false, name = "bn_steps"),
            x -> batch_normalization(scale = false, epsilon = 0.01, name = "bn_shift"),
            x -> layer_normalization(name = "ln"),
            x -> layer_normalization(axis = 1, scale = false, name = "ln_steps"),
            x -> layer_normalization(center = false, name = "ln_scale"),
        )
    }

    /// Zero padding, cropping and nearest up-sampling in 1-D and 2-D, the copies as outputs.
    pub struct SpatialMaps {
        let image = input(shape = [4, 5, 2], name = "image");
        let steps = input(shape = [5, 3], name = "steps");
        let a = image
            -> zero_padding_2d([[1, 2], [0, 1]])
            -> cropping_2d([[1, 0], [2, 1]])
            -> up_sampling_2d([2, 3])
            -> zero_padding_2d(1)
            -> cropping_2d([2, 2])
            -> up_sampling_2d(2, name = "image_out");
        let b = steps
            -> zero_padding_1d([2, 1])
            -> cropping_1d(1)
            -> up_sampling_1d(3)
            -> zero_padding_1d()
            -> cropping_1d([0, 2], name = "steps_out");
        (a, b)
    }
}

model! {
    /// LSTM, GRU and SimpleRNN, the last state and the whole sequence, reading forwards and
    /// backwards, with and without bias, with relu and tanh in place of the defaults.
    pub struct Recurrents {
        let x = input(shape = [6, 3], name = "sequence");
        (
            x -> lstm(4, name = "lstm_last"),
            x -> lstm(4, return_sequences = true, go_backwards = true, name = "lstm_seq"),
            x -> lstm(3, activation = relu, recurrent_activation = tanh, use_bias = false, name = "lstm_relu"),
            x -> gru(4, name = "gru_last"),
            x -> gru(4, return_sequences = true, use_bias = false, name = "gru_seq"),
            x -> gru(3, go_backwards = true, activation = relu, name = "gru_back"),
            x -> simple_rnn(4, name = "rnn_last"),
            x -> simple_rnn(4, activation = relu, return_sequences = true, go_backwards = true, name = "rnn_seq"),
        )
    }

    /// Bidirectional over each cell, with every merge mode, on the sequence and on the
    /// last state.
    pub struct Bidirectionals {
        let x = input(shape = [5, 3], name = "sequence");
        (
            x -> bidirectional(lstm(3, return_sequences = true), name = "bi_concat"),
            x -> bidirectional(gru(3), merge_mode = sum, name = "bi_sum"),
            x -> bidirectional(simple_rnn(3, return_sequences = true, go_backwards = true), merge_mode = mul, name = "bi_mul"),
            x -> bidirectional(gru(3, return_sequences = true), merge_mode = ave, name = "bi_ave"),
            x -> bidirectional(lstm(2), name = "bi_last"),
        )
    }
}

model! {
    /// cnn.json's model (tests/fixtures/keras-files-layers/): batch normalization after a
    /// convolution, loaded from Keras' file.
    pub struct KerasCnn {
        input(shape = [12, 12, 1])
            -> conv2d(4, 3, activation = relu)
            -> batch_normalization()
            -> max_pooling_2d(2)
            -> conv2d(6, 3, padding = same, activation = relu)
            -> max_pooling_2d(2)
            -> flatten()
            -> dropout(0.5)
            -> dense(3, activation = softmax)
    }

    /// lstm_text.json's model: dense int ids, an embedding and an LSTM, loaded from Keras' file.
    pub struct KerasLstmText {
        input(shape = [7], dtype = i32) -> embedding(20, 5) -> lstm(4) -> dense(1, activation = sigmoid)
    }

    /// seq.json's model: a causal convolution, a bidirectional GRU, a GRU and layer
    /// normalization, loaded from Keras' file.
    pub struct KerasSeq {
        input(shape = [9, 3])
            -> conv1d(4, 2, padding = causal)
            -> bidirectional(gru(3, return_sequences = true))
            -> gru(5)
            -> layer_normalization()
            -> dense(2)
    }
}

/// Sets every weight of `m` to deterministic values: variances in [0.5, 1.5), every other
/// weight in [-1, 1), so that inference-only statistics (moving means and variances) are
/// exercised away from their initial 0 and 1.
pub fn scramble<M: Model>(m: &mut M, seed: u64) {
    for (k, (name, value)) in m.weights().into_iter().enumerate() {
        let mut v = values(value.shape(), seed.wrapping_add(k as u64 * 7919));
        if name.ends_with("variance") {
            v.mapv_inplace(|x| 1.0 + 0.5 * x);
        }
        m.set_weight(&name, v.view()).expect("set_weight");
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
    /// The inputs, batch axis first. Ids are held as `f32` (exact below 2^24).
    pub inputs: Vec<ArrayD<f32>>,
    /// Each input's dtype: ids are `int32` or `int64` inputs of the file.
    pub dtypes: Vec<DType>,
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
        dtypes: input_dtypes::<M>(),
        want,
        layers: M::layers().iter().map(|l| l.spec.name).collect(),
    }
}

/// The dtype of each of `M`'s inputs, in order, from its graph.
fn input_dtypes<M: Model>() -> Vec<DType> {
    let mut dtypes = vec![DType::F32; M::input_names().len()];
    for node in M::graph().map_or(&[][..], |g| g.nodes) {
        if let stratic::shape::GraphOp::Input(i) = node.op {
            dtypes[i] = node.spec.dtype;
        }
    }
    dtypes
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

    let mut m = Norms::with_seed(9);
    scramble(&mut m, 12);
    let adapt = values(&[16, 4, 3], 13).mapv(|v| 3.0 * v + 0.5);
    m.adapt_normalization("adapted", adapt.view())
        .expect("adapt");
    let x = values(&[6, 4, 3], 14).mapv(|v| 2.0 * v);
    let (given, adapted, bn, bn_steps, bn_shift, ln, ln_steps, ln_scale) =
        m.predict(view3(&x)).expect("predict");
    let ys = [
        given, adapted, bn, bn_steps, bn_shift, ln, ln_steps, ln_scale,
    ];
    out.push(case(
        "norms",
        &m,
        vec![x],
        ys.into_iter().map(dyn_of).collect(),
    ));

    let m = SpatialMaps::with_seed(10);
    let (image, steps) = (values(&[3, 4, 5, 2], 15), values(&[3, 5, 3], 16));
    let (a, b) = m.predict((view4(&image), view3(&steps))).expect("predict");
    out.push(case(
        "spatial",
        &m,
        vec![image, steps],
        vec![dyn_of(a), dyn_of(b)],
    ));

    // Weights away from Keras' initial ones: the biases (zeros, the forget gate's ones)
    // would hide a gate order mixed up in the bias.
    let mut m = Recurrents::with_seed(11);
    scramble(&mut m, 17);
    let x = values(&[4, 6, 3], 18);
    let (a, b, c, d, e, f, g, h) = m.predict(view3(&x)).expect("predict");
    let ys = vec![
        dyn_of(a),
        dyn_of(b),
        dyn_of(c),
        dyn_of(d),
        dyn_of(e),
        dyn_of(f),
        dyn_of(g),
        dyn_of(h),
    ];
    out.push(case("recurrent", &m, vec![x], ys));

    let mut m = Bidirectionals::with_seed(12);
    scramble(&mut m, 19);
    let x = values(&[3, 5, 3], 20);
    let (a, b, c, d, e) = m.predict(view3(&x)).expect("predict");
    let ys = vec![dyn_of(a), dyn_of(b), dyn_of(c), dyn_of(d), dyn_of(e)];
    out.push(case("bidirectional", &m, vec![x], ys));

    // cnn.json's and seq.json's models, loaded from Keras' files: the export reproduces
    // Keras' outputs through batch normalization, layer normalization and the GRUs.
    let mut m = KerasCnn::with_seed(0);
    m.load_keras(fixture("cnn.keras")).expect("load_keras");
    let (x, keras) = keras_case("cnn.json");
    let y = m.predict(view4(&x)).expect("predict");
    assert_close(&y.view().into_dyn(), &keras, "cnn");
    out.push(case("cnn_keras", &m, vec![x], vec![dyn_of(y)]));

    let mut m = KerasSeq::with_seed(0);
    m.load_keras(fixture("seq.keras")).expect("load_keras");
    let (x, keras) = keras_case("seq.json");
    let y = m.predict(view3(&x)).expect("predict");
    assert_close(&y.view().into_dyn(), &keras, "seq");
    out.push(case("seq_keras", &m, vec![x], vec![dyn_of(y)]));

    // Ids: `predict` takes `i32` and `i64`, the file `int32` and `int64` inputs.
    let m = Ids::with_seed(9);
    let ids = values(&[4, 5], 12).mapv(|v| ((v + 1.0) * 5.0) as i32);
    let wide = values(&[4, 2], 13).mapv(|v| ((v + 1.0) * 3.0) as i64);
    let rank2 = |a: &ArrayD<f32>| -> ndarray::Array2<f32> {
        a.clone().into_dimensionality().expect("rank 2")
    };
    let (ids, wide) = (ids.mapv(|v| v as f32), wide.mapv(|v| v as f32));
    let (head, mean, flat) = m
        .predict((
            rank2(&ids).mapv(|v| v as i32).view(),
            rank2(&wide).mapv(|v| v as i64).view(),
        ))
        .expect("predict");
    out.push(case(
        "ids",
        &m,
        vec![ids, wide],
        vec![dyn_of(head), dyn_of(mean), dyn_of(flat)],
    ));

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

    // lstm_text.json's model: the ids stay int32 in the file.
    let mut m = KerasLstmText::with_seed(0);
    m.load_keras(fixture("lstm_text.keras"))
        .expect("load_keras");
    let (ids, keras) = keras_case("lstm_text.json");
    let ids2: ndarray::Array2<i32> = ids
        .mapv(|v| v as i32)
        .into_dimensionality()
        .expect("rank 2");
    let y = m.predict(ids2.view()).expect("predict");
    assert_close(&y.view().into_dyn(), &keras, "lstm_text");
    out.push(case("lstm_text_keras", &m, vec![ids], vec![dyn_of(y)]));

    let m = Composed::with_seed(12);
    let (a, b) = (values(&[4, 6], 12), values(&[4, 6], 13));
    let y = m.predict((view2(&a), view2(&b))).expect("predict");
    out.push(case("composed", &m, vec![a, b], vec![dyn_of(y)]));
    out
}

/// A one-input fixture's input and Keras' output.
fn keras_case(name: &str) -> (ArrayD<f32>, ArrayD<f32>) {
    let text = std::fs::read_to_string(fixture(name)).expect("fixture");
    let j: serde_json::Value = serde_json::from_str(&text).expect("json");
    (json_array(&j["inputs"][0]), json_array(&j["outputs"][0]))
}

/// `got` reproduces Keras' `want` within [`TOLERANCE`].
fn assert_close(got: &ndarray::ArrayViewD<'_, f32>, want: &ArrayD<f32>, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let worst = got
        .iter()
        .zip(want.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst < TOLERANCE,
        "{what}: the loaded model is {worst} off Keras' outputs"
    );
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
    let dtypes: serde_json::Map<String, serde_json::Value> = case
        .input_names
        .iter()
        .zip(&case.dtypes)
        .map(|(n, d)| (n.to_string(), d.keras_name().into()))
        .collect();
    let outputs: Vec<serde_json::Value> = case.want.iter().map(to_json).collect();
    let j = serde_json::json!({ "inputs": inputs, "dtypes": dtypes, "outputs": outputs });
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
    // On dense ids (an `int32` input), a `Gather`; on ragged ids refused, as every ragged
    // input is; with `mask_zero` refused (export.rs).
    ("embedding", Export::Exported),
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
    // The spatial layers as `Pad` + `Gather` per axis, the normalizations in inference form.
    ("zero_padding_1d", Export::Exported),
    ("zero_padding_2d", Export::Exported),
    ("cropping_1d", Export::Exported),
    ("cropping_2d", Export::Exported),
    ("up_sampling_1d", Export::Exported),
    ("up_sampling_2d", Export::Exported),
    ("batch_normalization", Export::Exported),
    ("layer_normalization", Export::Exported),
    ("normalization", Export::Exported),
    // ONNX's `LSTM`, `GRU` and `RNN` on a dense input, Keras' gates reordered; a ragged input
    // is refused (export.rs), as an activation the ops do not take.
    ("lstm", Export::Exported),
    ("gru", Export::Exported),
    ("simple_rnn", Export::Exported),
    ("bidirectional", Export::Exported),
    // The mask is for the recurrent layers and the pooling after it (not exported masked).
    ("masking", Export::Refused),
    // Not written yet: the inner layer's export names its weights without the wrapper's
    // prefix (`dense/kernel`).
    ("time_distributed", Export::Refused),
    // Not written yet (ONNX has `OneHot` and `ReduceMax`/`ReduceSum` for it).
    ("category_encoding", Export::Refused),
];
