//! Layer-by-layer parity with Keras (tests/fixtures/keras-layers/, made by Keras 3.15): for each
//! fixture, the layer is built from its spec, given Keras' weights, run forward on `x`, and run
//! backward from the gradient of `sum(output * probe)`; the output, the input gradient and every
//! weight gradient must be within max(1e-5 |expected|, 1e-5) of Keras'.

mod common;

use common::{array, fixture};
use ndarray::{Array2, ArrayD};
use stratic_core::shape::{
    layer_spec, Activation, Config, DType, Dim, Layout, ParamValue, RuleInput, TensorSpec,
};
use stratic_core::{build_dyn, ForwardContext, Input, Rng};

/// An N-D array as the rows layers see: every axis but the last folded in.
fn rows(a: &ArrayD<f32>) -> Array2<f32> {
    let last = *a.shape().last().unwrap_or(&1);
    let flat: Vec<f32> = a.iter().copied().collect();
    Array2::from_shape_vec((flat.len() / last.max(1), last), flat).expect("rows")
}

fn assert_close(what: &str, got: &[f32], expected: &[f32]) {
    assert_eq!(got.len(), expected.len(), "{what}: number of values");
    let mut max_error = 0.0f32;
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        let tol = (1e-5 * e.abs()).max(1e-5);
        assert!((g - e).abs() <= tol, "{what}[{i}]: got {g}, Keras {e}");
        max_error = max_error.max((g - e).abs());
    }
    // Shown with `--nocapture`: the figures recorded for the layers' parity.
    println!("{what}: max abs error {max_error:e}");
}

/// Runs fixture `file` through layer `layer` configured with `config`.
fn parity(file: &str, layer: &str, config: Config) {
    let f = fixture(&format!("keras-layers/{file}"));
    let spec = layer_spec(layer).expect("a registered layer");
    let x = array(&f["x"]);
    let input = TensorSpec {
        batch: Dim::Unknown,
        dims: x.shape()[1..].iter().map(|&d| Dim::Known(d)).collect(),
        dtype: DType::F32,
        layout: Layout::Dense,
    };
    let inputs = [input];
    let rule = RuleInput {
        name: layer,
        config: &config,
        inputs: &inputs,
    };
    let out_spec = spec
        .output_spec(&rule)
        .expect("the rule accepts Keras' input");
    let expected = array(&f["output"]);
    let expected_dims: Vec<Dim> = expected.shape()[1..]
        .iter()
        .map(|&d| Dim::Known(d))
        .collect();
    assert_eq!(
        out_spec.dims, expected_dims,
        "{file}: the rule's output shape is Keras'"
    );
    let mut l = build_dyn(spec, &config, &inputs, &mut Rng::new(0)).expect("runtime layer");
    // A training case (batch normalization) runs one training step; its `weights` were read
    // after the step, so the statistics it updates (`moving_after`) start from the layer's
    // initializers (Keras' too: the case builds a fresh layer) and are compared afterwards.
    let training = f["training"].as_bool().unwrap_or(false);
    let after = f["moving_after"].as_object().cloned().unwrap_or_default();
    let weights = f["weights"].as_object().cloned().unwrap_or_default();
    let mut set = 0;
    let mut write = |p: stratic_core::ParamMut<'_>| {
        if let Some(v) = weights.get(p.variable) {
            let w = array(v);
            assert_eq!(w.shape(), p.shape, "{file}: {}", p.variable);
            if !after.contains_key(p.variable) {
                p.value
                    .copy_from_slice(w.as_slice().expect("standard layout"));
            }
            set += 1;
        }
    };
    l.visit_params(layer, &mut write);
    l.visit_state(layer, &mut write);
    assert_eq!(set, weights.len(), "{file}: every Keras weight has a place");
    let xr = rows(&x);
    let mut cx = ForwardContext {
        training,
        ..ForwardContext::default()
    };
    l.forward(Input::Dense(xr.view()), &mut cx);
    let y = if training {
        l.output().to_owned()
    } else {
        // Outside training, the forward pass computes inference's output.
        assert_eq!(l.output(), l.call(Input::Dense(xr.view())), "{file}");
        l.call(Input::Dense(xr.view()))
    };
    assert_close(
        &format!("{file}: output"),
        y.as_slice().expect("rows"),
        expected.as_slice().expect("std"),
    );
    let probe = rows(&array(&f["probe"]));
    l.backward(Input::Dense(xr.view()), probe.view(), true);
    let grad_x = array(&f["grad_x"]);
    let gi = l.grad_input().to_owned();
    assert_close(
        &format!("{file}: grad_x"),
        gi.as_slice().expect("rows"),
        grad_x.as_slice().expect("std"),
    );
    let mut moved = 0;
    l.visit_state(layer, &mut |p| {
        if let Some(v) = after.get(p.variable) {
            assert_close(
                &format!("{file}: {} after the step", p.variable),
                p.value,
                array(v).as_slice().expect("std"),
            );
            moved += 1;
        }
    });
    assert_eq!(
        moved,
        after.len(),
        "{file}: every updated statistic compared"
    );
    let grads = f["grad_weights"].as_object().cloned().unwrap_or_default();
    let mut checked = 0;
    l.visit_params(layer, &mut |p| {
        if let Some(v) = grads.get(p.variable) {
            let g = array(v);
            assert_close(
                &format!("{file}: grad {}", p.variable),
                p.grad,
                g.as_slice().expect("std"),
            );
            checked += 1;
        }
    });
    assert_eq!(
        checked,
        grads.len(),
        "{file}: every weight gradient compared"
    );
}

#[test]
fn flatten() {
    parity("flatten.json", "flatten", Config::default());
}

fn ints(v: &[i64]) -> ParamValue {
    ParamValue::Ints(v.to_vec().into())
}

fn choice(name: &'static str) -> ParamValue {
    ParamValue::Str(name.into())
}

fn configure(layer: &str, given: Vec<(&'static str, ParamValue)>) -> Config {
    layer_spec(layer)
        .expect("a registered layer")
        .configure(given)
}

#[test]
fn conv2d_valid() {
    // conv2d(3, kernel_size = [3, 3], activation = relu)
    let config = configure(
        "conv2d",
        vec![
            ("filters", ParamValue::Int(3)),
            ("kernel_size", ints(&[3, 3])),
            ("activation", ParamValue::Activation(Activation::Relu)),
        ],
    );
    parity("conv2d_valid.json", "conv2d", config);
}

#[test]
fn conv2d_same_stride2() {
    // conv2d(4, kernel_size = [3, 2], strides = [2, 2], padding = same)
    let config = configure(
        "conv2d",
        vec![
            ("filters", ParamValue::Int(4)),
            ("kernel_size", ints(&[3, 2])),
            ("strides", ints(&[2, 2])),
            ("padding", choice("same")),
        ],
    );
    parity("conv2d_same_stride2.json", "conv2d", config);
}

#[test]
fn conv1d_valid() {
    // conv1d(3, kernel_size = 3)
    let config = configure(
        "conv1d",
        vec![
            ("filters", ParamValue::Int(3)),
            ("kernel_size", ParamValue::Int(3)),
        ],
    );
    parity("conv1d_valid.json", "conv1d", config);
}

#[test]
fn conv1d_causal_dilated() {
    // conv1d(2, kernel_size = 2, padding = causal, dilation_rate = 2)
    let config = configure(
        "conv1d",
        vec![
            ("filters", ParamValue::Int(2)),
            ("kernel_size", ParamValue::Int(2)),
            ("padding", choice("causal")),
            ("dilation_rate", ParamValue::Int(2)),
        ],
    );
    parity("conv1d_causal_dilated.json", "conv1d", config);
}

#[test]
fn max_pooling2d() {
    // max_pooling_2d(pool_size = [2, 2])
    let config = configure("max_pooling_2d", vec![("pool_size", ints(&[2, 2]))]);
    parity("max_pooling2d.json", "max_pooling_2d", config);
}

#[test]
fn average_pooling2d_same() {
    // average_pooling_2d(pool_size = [3, 3], strides = [2, 2], padding = same)
    let config = configure(
        "average_pooling_2d",
        vec![
            ("pool_size", ints(&[3, 3])),
            ("strides", ints(&[2, 2])),
            ("padding", choice("same")),
        ],
    );
    parity("average_pooling2d_same.json", "average_pooling_2d", config);
}

#[test]
fn global_average_pooling2d() {
    let config = configure("global_average_pooling_2d", vec![]);
    parity(
        "global_average_pooling2d.json",
        "global_average_pooling_2d",
        config,
    );
}

#[test]
fn global_max_pooling1d() {
    let config = configure("global_max_pooling_1d", vec![]);
    parity("global_max_pooling1d.json", "global_max_pooling_1d", config);
}

#[test]
fn dense_rank3() {
    // dense(3, activation = tanh) on a rank-3 input
    let config = configure(
        "dense",
        vec![
            ("units", ParamValue::Int(3)),
            ("activation", ParamValue::Activation(Activation::Tanh)),
        ],
    );
    parity("dense_rank3.json", "dense", config);
}

#[test]
fn reshape() {
    // reshape([4, 6])
    let config = configure("reshape", vec![("target_shape", ints(&[4, 6]))]);
    parity("reshape.json", "reshape", config);
}

#[test]
fn batch_normalization_inference() {
    // batch_normalization(), given gamma, beta and moving statistics: the moving ones are used
    let config = configure("batch_normalization", vec![]);
    parity(
        "batch_normalization_inference.json",
        "batch_normalization",
        config,
    );
}

#[test]
fn batch_normalization_training() {
    // batch_normalization(momentum = 0.9), one training step from Keras' initial weights
    let config = configure(
        "batch_normalization",
        vec![("momentum", ParamValue::Float(0.9))],
    );
    parity(
        "batch_normalization_training.json",
        "batch_normalization",
        config,
    );
}

#[test]
fn layer_normalization() {
    // layer_normalization() on a rank-3 input
    let config = configure("layer_normalization", vec![]);
    parity("layer_normalization.json", "layer_normalization", config);
}

#[test]
fn lstm_last() {
    // lstm(4)
    let config = configure("lstm", vec![("units", ParamValue::Int(4))]);
    parity("lstm_last.json", "lstm", config);
}

#[test]
fn lstm_sequences() {
    // lstm(3, return_sequences = true)
    let config = configure(
        "lstm",
        vec![
            ("units", ParamValue::Int(3)),
            ("return_sequences", ParamValue::Bool(true)),
        ],
    );
    parity("lstm_sequences.json", "lstm", config);
}

#[test]
fn gru_last() {
    // gru(4), reset_after = true by default
    let config = configure("gru", vec![("units", ParamValue::Int(4))]);
    parity("gru_last.json", "gru", config);
}

#[test]
fn simple_rnn_last() {
    // simple_rnn(3)
    let config = configure("simple_rnn", vec![("units", ParamValue::Int(3))]);
    parity("simple_rnn_last.json", "simple_rnn", config);
}
