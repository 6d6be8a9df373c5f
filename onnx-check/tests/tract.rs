#![cfg(feature = "tract")]
//! The ONNX export checked by an independent runtime: every model here is exported with
//! `to_onnx`, loaded and run by tract, and must agree with `predict` within 1e-5. The layer
//! table at the end lists every registered layer as exported or refused.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

mod common;
use common::{Export, LAYER_TABLE};

use ndarray::{Array, ArrayD, Dimension, IxDyn};
use stratic::prelude::*;
use tract_onnx::prelude::*;

/// The agreement every export must reach with `predict`.
const TOLERANCE: f32 = 1e-5;

model! {
    /// Every activation, through dense layers, the activation layer and dropout.
    struct Activations {
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
            -> dense(5)
            -> activation(softmax, name = "probabilities")
    }

    /// Every merge, a shared layer, three inputs and two outputs.
    struct Merges {
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

    /// Convolutions (strides, `same`, dilation, groups, no bias) and window poolings in 2-D,
    /// flattened (H, W, C order) into a dense head; a global pooling as a second output.
    struct Image {
        let image = input(shape = [10, 10, 3], name = "image");
        let f = image
            -> conv2d(4, 3, strides = 2, padding = same, activation = relu)
            -> conv2d(6, 2, dilation_rate = 2, padding = same)
            -> max_pooling_2d(2, strides = 1, padding = same)
            -> average_pooling_2d(2, padding = same)
            -> conv2d(4, 1, groups = 2, use_bias = false, activation = swish);
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
    struct Series {
        let x = input(shape = [12, 3], name = "series");
        let h = x
            -> conv1d(4, 3, padding = causal, activation = tanh)
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
    struct DigitsNet {
        input(shape = [8, 8, 1])
            -> conv2d(16, 3, padding = same, activation = relu)
            -> max_pooling_2d(2)
            -> flatten()
            -> dense(10, activation = softmax)
    }

    /// The iris model of examples/iris.rs.
    struct IrisClassifier {
        input(shape = [4]) -> dense(16, activation = relu) -> dense(3, activation = softmax)
    }

    /// The matcher of examples/functional.rs: a shared encoder, three merged tensors.
    struct Matcher {
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

    /// two_heads.json's model (tests/fixtures/keras-files-layers/), loaded from Keras' file.
    struct TwoHeads {
        let image = input(shape = [8, 8, 2], name = "image");
        let meta = input(shape = [3], name = "meta");
        let f = image -> conv2d(5, 3, strides = 2, padding = same, activation = relu, name = "stem") -> global_average_pooling_2d(name = "gap");
        let h = concatenate([f, meta -> dense(4, activation = relu, name = "meta_dense")], name = "join");
        (h -> dense(3, activation = softmax, name = "cls"), h -> dense(1, name = "reg"))
    }
}

/// Deterministic values in [-1, 1) of `shape` (batch axis first).
fn values(shape: &[usize], seed: u64) -> ArrayD<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    Array::from_shape_fn(IxDyn(shape), |_| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    })
}

/// Runs the ONNX file `bytes` in tract on `inputs` and returns every output.
fn tract_run(bytes: &[u8], inputs: &[ArrayD<f32>]) -> Vec<ArrayD<f32>> {
    let model = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .expect("tract reads the exported file")
        .into_optimized()
        .expect("tract optimizes it")
        .into_runnable()
        .expect("tract makes it runnable");
    let inputs: TVec<TValue> = inputs
        .iter()
        .map(|a| Tensor::from(a.clone()).into())
        .collect();
    let outputs = model.run(inputs).expect("tract runs it");
    outputs
        .iter()
        .map(|t| {
            t.to_array_view::<f32>()
                .expect("float outputs")
                .to_owned()
                .into_dyn()
        })
        .collect()
}

/// The largest absolute difference between tract's outputs and `predict`'s, after checking
/// that their shapes agree.
fn max_error(name: &str, got: &[ArrayD<f32>], want: &[ArrayD<f32>]) -> f32 {
    assert_eq!(got.len(), want.len(), "{name}: output count");
    let mut worst = 0f32;
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.shape(), w.shape(), "{name}: output {k} shape");
        for (a, b) in g.iter().zip(w) {
            let e = (a - b).abs();
            assert!(e.is_finite(), "{name}: output {k}: {a} vs {b}");
            worst = worst.max(e);
        }
    }
    println!("{name}: tract agrees with predict within {worst:e}");
    worst
}

/// Exports `model`, runs it in tract on `inputs` at two batch sizes' worth (the batch is
/// symbolic), and checks it against `want` (what `predict` returned).
fn check<M: Model>(name: &str, model: &M, inputs: &[ArrayD<f32>], want: &[ArrayD<f32>]) {
    let bytes = model.to_onnx().expect("exports");
    if let Some(dir) = std::env::var_os("STRATIC_ONNX_DUMP") {
        dump(
            Path::new(&dir),
            name,
            &bytes,
            M::input_names(),
            inputs,
            want,
        );
    }
    let got = tract_run(&bytes, inputs);
    let err = max_error(name, &got, want);
    assert!(
        err <= TOLERANCE,
        "{name}: tract differs from predict by {err}"
    );
}

/// A nested JSON list of an array's values.
fn to_json(a: &ArrayD<f32>) -> serde_json::Value {
    if a.ndim() == 0 {
        return serde_json::json!(a.iter().next().copied().unwrap_or(0.0));
    }
    serde_json::Value::Array(a.outer_iter().map(|row| to_json(&row.to_owned())).collect())
}

/// For tests/onnx_check.py (`STRATIC_ONNX_DUMP=dir`): the file as `dir/name.onnx`, and its
/// inputs by name and `predict`'s outputs as `dir/name.json`.
fn dump(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    input_names: &[&str],
    inputs: &[ArrayD<f32>],
    want: &[ArrayD<f32>],
) {
    let stem: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    std::fs::create_dir_all(dir).expect("dump dir");
    std::fs::write(dir.join(format!("{stem}.onnx")), bytes).expect("write onnx");
    let inputs: serde_json::Map<String, serde_json::Value> = input_names
        .iter()
        .zip(inputs)
        .map(|(n, a)| (n.to_string(), to_json(a)))
        .collect();
    let outputs: Vec<serde_json::Value> = want.iter().map(to_json).collect();
    let j = serde_json::json!({ "inputs": inputs, "outputs": outputs });
    std::fs::write(dir.join(format!("{stem}.json")), j.to_string()).expect("write json");
}

fn dyn_of<D: Dimension>(a: Array<f32, D>) -> ArrayD<f32> {
    a.into_dyn()
}

fn view2(a: &ArrayD<f32>) -> ArrayView2<'_, f32> {
    a.view().into_dimensionality().expect("rank 2")
}

#[test]
fn activations_dense_dropout_agree() {
    let model = Activations::with_seed(1);
    let x = values(&[7, 6], 1);
    let want = model.predict(view2(&x)).expect("predict");
    check("activations", &model, &[x], &[dyn_of(want)]);
}

#[test]
fn merges_and_shared_layers_agree() {
    let model = Merges::with_seed(2);
    let (a, b, c) = (values(&[4, 5], 2), values(&[4, 5], 3), values(&[4, 5], 4));
    let (joined, dots) = model
        .predict((view2(&a), view2(&b), view2(&c)))
        .expect("predict");
    check(
        "merges",
        &model,
        &[a, b, c],
        &[dyn_of(joined), dyn_of(dots)],
    );
}

#[test]
fn convolutions_and_poolings_in_2d_agree() {
    let model = Image::with_seed(3);
    let x = values(&[3, 10, 10, 3], 5);
    let (head, pooled, mean) = model
        .predict(x.view().into_dimensionality().expect("rank 4"))
        .expect("predict");
    check(
        "image",
        &model,
        &[x],
        &[dyn_of(head), dyn_of(pooled), dyn_of(mean)],
    );
}

#[test]
fn convolutions_and_poolings_in_1d_agree() {
    let model = Series::with_seed(4);
    let x = values(&[5, 12, 3], 6);
    let (mean, max, sum) = model
        .predict(x.view().into_dimensionality().expect("rank 3"))
        .expect("predict");
    check(
        "series",
        &model,
        &[x],
        &[dyn_of(mean), dyn_of(max), dyn_of(sum)],
    );
}

#[test]
fn the_examples_models_agree() {
    let digits = DigitsNet::with_seed(5);
    let x = values(&[6, 8, 8, 1], 7);
    let want = digits
        .predict(x.view().into_dimensionality().expect("rank 4"))
        .expect("predict");
    check("digits", &digits, &[x], &[dyn_of(want)]);

    let iris = IrisClassifier::with_seed(6);
    let x = values(&[9, 4], 8);
    let want = iris.predict(view2(&x)).expect("predict");
    check("iris", &iris, &[x], &[dyn_of(want)]);

    let matcher = Matcher::with_seed(7);
    let (l, r) = (values(&[5, 8], 9), values(&[5, 8], 10));
    let (similarity, category) = matcher.predict((view2(&l), view2(&r))).expect("predict");
    check(
        "matcher",
        &matcher,
        &[l, r],
        &[dyn_of(similarity), dyn_of(category)],
    );
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/keras-files-layers")
        .join(name)
}

/// A nested JSON list of numbers as an array.
fn json_array(v: &serde_json::Value) -> ArrayD<f32> {
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

#[test]
fn the_two_heads_fixture_exports_after_loading_and_agrees() {
    let mut model = TwoHeads::with_seed(0);
    model
        .load_keras(fixture("two_heads.keras"))
        .expect("load_keras");
    let text = std::fs::read_to_string(fixture("two_heads.json")).expect("fixture");
    let j: serde_json::Value = serde_json::from_str(&text).expect("json");
    let (image, meta) = (json_array(&j["inputs"][0]), json_array(&j["inputs"][1]));
    let (cls, reg) = model
        .predict((
            image.view().into_dimensionality().expect("rank 4"),
            view2(&meta),
        ))
        .expect("predict");
    // The loaded model is Keras' (checked against its outputs in tests/keras_layers_import.rs
    // for the other fixtures); here the export must reproduce it.
    let keras_cls = json_array(&j["outputs"][0]);
    assert!(cls
        .iter()
        .zip(keras_cls.iter())
        .all(|(a, b)| (a - b).abs() < 1e-5));
    check(
        "two_heads (Keras file)",
        &model,
        &[image, meta],
        &[dyn_of(cls), dyn_of(reg)],
    );
}

#[test]
fn the_file_keeps_names_opset_and_a_symbolic_batch() {
    let model = Matcher::with_seed(8);
    let bytes = model.to_onnx().expect("exports");
    let m = tract_onnx::onnx()
        .proto_model_for_read(&mut &bytes[..])
        .expect("parses");
    assert_eq!(m.ir_version, 8);
    assert_eq!(m.opset_import.len(), 1);
    assert_eq!(m.opset_import[0].version, 18);
    let g = m.graph.as_ref().expect("a graph");
    let names = |v: &[tract_onnx::pb::ValueInfoProto]| -> Vec<String> {
        v.iter().map(|i| i.name.clone()).collect()
    };
    assert_eq!(names(&g.input), ["left", "right"]);
    assert_eq!(names(&g.output), ["similarity", "category"]);
    let mut init: Vec<String> = g.initializer.iter().map(|t| t.name.clone()).collect();
    init.sort();
    let mut weights: Vec<String> = model.weights().into_iter().map(|(k, _)| k).collect();
    weights.sort();
    assert_eq!(
        init, weights,
        "initializers are the weights, named as weights() names them"
    );
    // The batch axis of every input and output is the symbol `batch`.
    for v in g.input.iter().chain(&g.output) {
        let Some(tract_onnx::pb::type_proto::Value::TensorType(t)) =
            v.r#type.as_ref().and_then(|t| t.value.as_ref())
        else {
            panic!("{}: not a tensor type", v.name);
        };
        let first = &t.shape.as_ref().expect("a shape").dim[0];
        assert_eq!(
            first.value,
            Some(
                tract_onnx::pb::tensor_shape_proto::dimension::Value::DimParam("batch".to_string())
            ),
            "{}",
            v.name
        );
    }
}

#[test]
fn the_batch_is_symbolic_one_file_runs_any_batch_size() {
    let model = IrisClassifier::with_seed(9);
    let bytes = model.to_onnx().expect("exports");
    for n in [1, 3, 17] {
        let x = values(&[n, 4], n as u64);
        let want = model.predict(view2(&x)).expect("predict");
        let got = tract_run(&bytes, &[x]);
        assert!(max_error(&format!("iris, batch {n}"), &got, &[dyn_of(want)]) <= TOLERANCE);
    }
}

/// The DSL names of the layers of `M`.
fn layer_kinds<M: Model>() -> BTreeSet<&'static str> {
    M::layers().iter().map(|l| l.spec.name).collect()
}

#[test]
fn every_exported_layer_is_checked_by_tract_and_every_refused_one_is_refused() {
    // The layers of the models the tests above run through tract.
    let mut checked = BTreeSet::new();
    for kinds in [
        layer_kinds::<Activations>(),
        layer_kinds::<Merges>(),
        layer_kinds::<Image>(),
        layer_kinds::<Series>(),
        layer_kinds::<DigitsNet>(),
        layer_kinds::<TwoHeads>(),
    ] {
        checked.extend(kinds);
    }
    for (name, status) in LAYER_TABLE {
        match status {
            Export::Exported => assert!(
                checked.contains(name),
                "`{name}` is listed as exported but no tract-checked model uses it"
            ),
            Export::Refused => assert!(
                !checked.contains(name),
                "`{name}` is listed as refused but a model exporting it exists"
            ),
        }
    }
}
