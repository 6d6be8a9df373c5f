//! Shared by the integration tests: two models written by hand exactly as `model!` generates
//! them, and fixture helpers.
#![allow(dead_code)]

use std::cell::Cell;

use ndarray::{Array, Array2, ArrayD, ArrayView, ArrayView2, Ix2, IxDyn};
use serde_json::Value;
use stratic_core::shape::{Activation, DenseConfig, Dim, LayerInfo, RuleInput, TensorSpec};
use stratic_core::{
    as_rows, check_dense_input, gather_rows, rows_to_output, Dense, Error, Layer, Model, ParamMut,
    ParamRef, Rng,
};

fn input_spec() -> TensorSpec {
    TensorSpec::dense(vec![Dim::Known(4)])
}

/// `input(shape=[4]) -> dense(5, activation=tanh) -> dense(2)`.
pub struct Mlp {
    pub dense: Dense,
    pub dense_1: Dense,
}

impl Mlp {
    pub fn with_seed(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut c0 = DenseConfig::new(5);
        c0.activation = Activation::Tanh;
        let dense = Dense::build(c0, 4, &mut rng);
        let dense_1 = Dense::build(DenseConfig::new(2), 5, &mut rng);
        Mlp { dense, dense_1 }
    }
}

impl Model for Mlp {
    type Input<'a> = ArrayView<'a, f32, Ix2>;
    type Batch = Array<f32, Ix2>;
    type Output = Array<f32, Ix2>;

    fn output_specs() -> &'static [TensorSpec] {
        static SPEC: std::sync::OnceLock<[TensorSpec; 1]> = std::sync::OnceLock::new();
        SPEC.get_or_init(|| [TensorSpec::dense(vec![Dim::Known(2)])])
    }
    fn output_names() -> &'static [&'static str] {
        &["dense_1"]
    }
    fn check_input(x: Self::Input<'_>) -> Result<usize, Error> {
        check_dense_input("input", &input_spec(), &x)
    }
    fn gather(x: Self::Input<'_>, rows: &[usize], out: &mut Self::Batch) {
        gather_rows(x, rows, out)
    }
    fn batch_view(batch: &Self::Batch) -> Self::Input<'_> {
        batch.view()
    }
    fn call(&self, x: Self::Input<'_>) -> Vec<Array2<f32>> {
        let h0 = as_rows(x);
        let h1 = Layer::call(&self.dense, h0.view().into());
        vec![Layer::call(&self.dense_1, h1.view().into())]
    }
    fn to_output(outputs: Vec<Array2<f32>>, n: usize) -> Self::Output {
        let out = outputs.into_iter().next().unwrap_or_default();
        rows_to_output(out, &[n, 2])
    }
    fn forward_train(&mut self, x: Self::Input<'_>) {
        let h0 = as_rows(x);
        Layer::forward(&mut self.dense, h0.view().into(), &mut Default::default());
        Layer::forward(
            &mut self.dense_1,
            Layer::output(&self.dense).into(),
            &mut Default::default(),
        );
    }
    fn train_output(&mut self, _index: usize) -> ArrayView2<'_, f32> {
        Layer::output(&self.dense_1)
    }
    fn backward(&mut self, x: Self::Input<'_>, grad_outputs: &[Array2<f32>]) {
        let grad_output = grad_outputs[0].view();
        let h0 = as_rows(x);
        Layer::backward(
            &mut self.dense_1,
            Layer::output(&self.dense).into(),
            grad_output,
            true,
        );
        Layer::backward(
            &mut self.dense,
            h0.view().into(),
            Layer::grad_input(&self.dense_1),
            false,
        );
    }
    fn visit_params(&mut self, f: &mut dyn FnMut(ParamMut<'_>)) {
        Layer::visit_params(&mut self.dense, "dense", f);
        Layer::visit_params(&mut self.dense_1, "dense_1", f);
    }
    fn visit_weights(&self, f: &mut dyn FnMut(ParamRef<'_>)) {
        Layer::visit_weights(&self.dense, "dense", f);
        Layer::visit_weights(&self.dense_1, "dense_1", f);
    }
    fn layers() -> &'static [LayerInfo] {
        static LAYERS: std::sync::OnceLock<Vec<LayerInfo>> = std::sync::OnceLock::new();
        LAYERS.get_or_init(|| {
            vec![
                dense_info("dense", 4, 5, Activation::Tanh),
                dense_info("dense_1", 5, 2, Activation::Linear),
            ]
        })
    }
}

/// `input(shape=[4]) -> dense(8)`, the seed example.
pub struct Regressor {
    pub dense: Dense,
}

impl Regressor {
    pub fn with_seed(seed: u64) -> Self {
        Regressor {
            dense: Dense::build(DenseConfig::new(8), 4, &mut Rng::new(seed)),
        }
    }
}

impl Model for Regressor {
    type Input<'a> = ArrayView<'a, f32, Ix2>;
    type Batch = Array<f32, Ix2>;
    type Output = Array<f32, Ix2>;

    fn output_specs() -> &'static [TensorSpec] {
        static SPEC: std::sync::OnceLock<[TensorSpec; 1]> = std::sync::OnceLock::new();
        SPEC.get_or_init(|| [TensorSpec::dense(vec![Dim::Known(8)])])
    }
    fn output_names() -> &'static [&'static str] {
        &["dense"]
    }
    fn check_input(x: Self::Input<'_>) -> Result<usize, Error> {
        check_dense_input("input", &input_spec(), &x)
    }
    fn gather(x: Self::Input<'_>, rows: &[usize], out: &mut Self::Batch) {
        gather_rows(x, rows, out)
    }
    fn batch_view(batch: &Self::Batch) -> Self::Input<'_> {
        batch.view()
    }
    fn call(&self, x: Self::Input<'_>) -> Vec<Array2<f32>> {
        let h0 = as_rows(x);
        vec![Layer::call(&self.dense, h0.view().into())]
    }
    fn to_output(outputs: Vec<Array2<f32>>, n: usize) -> Self::Output {
        let out = outputs.into_iter().next().unwrap_or_default();
        rows_to_output(out, &[n, 8])
    }
    fn forward_train(&mut self, x: Self::Input<'_>) {
        let h0 = as_rows(x);
        Layer::forward(&mut self.dense, h0.view().into(), &mut Default::default());
    }
    fn train_output(&mut self, _index: usize) -> ArrayView2<'_, f32> {
        Layer::output(&self.dense)
    }
    fn backward(&mut self, x: Self::Input<'_>, grad_outputs: &[Array2<f32>]) {
        let grad_output = grad_outputs[0].view();
        let h0 = as_rows(x);
        Layer::backward(&mut self.dense, h0.view().into(), grad_output, false);
    }
    fn visit_params(&mut self, f: &mut dyn FnMut(ParamMut<'_>)) {
        Layer::visit_params(&mut self.dense, "dense", f);
    }
    fn visit_weights(&self, f: &mut dyn FnMut(ParamRef<'_>)) {
        Layer::visit_weights(&self.dense, "dense", f);
    }
    fn layers() -> &'static [LayerInfo] {
        static LAYERS: std::sync::OnceLock<Vec<LayerInfo>> = std::sync::OnceLock::new();
        LAYERS.get_or_init(|| vec![dense_info("dense", 4, 8, Activation::Linear)])
    }
}

/// The metadata `model!` generates for a `dense(units, activation)` layer on `input` features.
pub fn dense_info(
    name: &'static str,
    input: usize,
    units: usize,
    activation: Activation,
) -> LayerInfo {
    let mut c = DenseConfig::new(units);
    c.activation = activation;
    let config = c.to_config();
    let input = TensorSpec::dense(vec![Dim::Known(input)]);
    let weights = stratic_core::shape::layers::DENSE.weight_specs(&RuleInput {
        name,
        config: &config,
        inputs: std::slice::from_ref(&input),
    });
    LayerInfo {
        spec: &stratic_core::shape::layers::DENSE,
        name,
        config,
        input: input.clone(),
        inputs: vec![input],
        output: TensorSpec::dense(vec![Dim::Known(units)]),
        weights,
    }
}

/// A sequential model of `Dense` layers on a `[$input]` input, written out as `model!`
/// generates it (one field per layer, wired in order, layer metadata included).
#[macro_export]
macro_rules! dense_stack {
    ($(#[$m:meta])* $name:ident, $input:expr, [$(($field:ident, $units:expr, $act:ident)),+ $(,)?]) => {
        $(#[$m])*
        pub struct $name {
            $(pub $field: stratic_core::Dense,)+
        }

        impl $name {
            pub fn with_seed(seed: u64) -> Self {
                let mut rng = stratic_core::Rng::new(seed);
                let mut _in = $input;
                $(
                    let mut c = stratic_core::shape::DenseConfig::new($units);
                    c.activation = stratic_core::shape::Activation::$act;
                    let $field = stratic_core::Dense::build(c, _in, &mut rng);
                    _in = $units;
                )+
                $name { $($field,)+ }
            }
        }

        impl stratic_core::Model for $name {
            type Input<'a> = ndarray::ArrayView<'a, f32, ndarray::Ix2>;
            type Batch = ndarray::Array<f32, ndarray::Ix2>;
            type Output = ndarray::Array<f32, ndarray::Ix2>;

            fn output_specs() -> &'static [stratic_core::shape::TensorSpec] {
                static SPEC: std::sync::OnceLock<[stratic_core::shape::TensorSpec; 1]> = std::sync::OnceLock::new();
                SPEC.get_or_init(|| {
                    let units = [$($units),+];
                    [stratic_core::shape::TensorSpec::dense(vec![stratic_core::shape::Dim::Known(units[units.len() - 1])])]
                })
            }
            fn output_names() -> &'static [&'static str] {
                const NAMES: &[&str] = &[$(stringify!($field)),+];
                &NAMES[NAMES.len() - 1..]
            }
            fn check_input(x: Self::Input<'_>) -> Result<usize, stratic_core::Error> {
                let spec = stratic_core::shape::TensorSpec::dense(vec![stratic_core::shape::Dim::Known($input)]);
                stratic_core::check_dense_input("input", &spec, &x)
            }
            fn gather(x: Self::Input<'_>, rows: &[usize], out: &mut Self::Batch) {
                stratic_core::gather_rows(x, rows, out)
            }
            fn batch_view(batch: &Self::Batch) -> Self::Input<'_> {
                batch.view()
            }
            fn call(&self, x: Self::Input<'_>) -> Vec<ndarray::Array2<f32>> {
                let h = stratic_core::as_rows(x).to_owned();
                $(let h = stratic_core::Layer::call(&self.$field, h.view().into());)+
                vec![h]
            }
            fn to_output(outputs: Vec<ndarray::Array2<f32>>, n: usize) -> Self::Output {
                let out = outputs.into_iter().next().unwrap_or_default();
                let cols = out.ncols();
                stratic_core::rows_to_output(out, &[n, cols])
            }
            fn forward_train(&mut self, _x: Self::Input<'_>) {
                unimplemented!("inference-only test model")
            }
            fn train_output(&mut self, _index: usize) -> ndarray::ArrayView2<'_, f32> {
                unimplemented!("inference-only test model")
            }
            fn backward(&mut self, _x: Self::Input<'_>, _g: &[ndarray::Array2<f32>]) {
                unimplemented!("inference-only test model")
            }
            fn visit_params(&mut self, f: &mut dyn FnMut(stratic_core::ParamMut<'_>)) {
                $(stratic_core::Layer::visit_params(&mut self.$field, stringify!($field), f);)+
            }
            fn visit_weights(&self, f: &mut dyn FnMut(stratic_core::ParamRef<'_>)) {
                $(stratic_core::Layer::visit_weights(&self.$field, stringify!($field), f);)+
            }
            fn layers() -> &'static [stratic_core::shape::LayerInfo] {
                static LAYERS: std::sync::OnceLock<Vec<stratic_core::shape::LayerInfo>> = std::sync::OnceLock::new();
                LAYERS.get_or_init(|| {
                    let mut v = Vec::new();
                    let mut _in = $input;
                    $(
                        v.push($crate::common::dense_info(stringify!($field), _in, $units, stratic_core::shape::Activation::$act));
                        _in = $units;
                    )+
                    v
                })
            }
        }
    };
}

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A JSON number or (nested) list of numbers as an f32 array of the same shape.
pub fn array(v: &Value) -> ArrayD<f32> {
    fn shape(v: &Value, out: &mut Vec<usize>) {
        if let Value::Array(items) = v {
            out.push(items.len());
            if let Some(first) = items.first() {
                shape(first, out);
            }
        }
    }
    fn flat(v: &Value, out: &mut Vec<f32>) {
        match v {
            Value::Array(items) => items.iter().for_each(|i| flat(i, out)),
            Value::Number(n) => out.push(n.as_f64().expect("number") as f32),
            other => panic!("not a number: {other}"),
        }
    }
    let mut s = Vec::new();
    shape(v, &mut s);
    let mut values = Vec::new();
    flat(v, &mut values);
    ArrayD::from_shape_vec(IxDyn(&s), values).expect("rectangular")
}

pub fn array2(v: &Value) -> Array2<f32> {
    array(v).into_dimensionality().expect("2-D")
}

thread_local! {
    /// The largest relative error seen by `close` in this test thread (values of magnitude
    /// 1e-2 and up, where the relative tolerance governs), and the largest error as a fraction
    /// of its tolerance.
    pub static MAX_REL: Cell<(f64, f64)> = const { Cell::new((0.0, 0.0)) };
}

/// Asserts `got` is within max(1e-5 |expected|, 1e-6) of `expected`, element by element.
pub fn close(what: &str, got: &ArrayD<f32>, expected: &ArrayD<f32>) {
    assert_eq!(got.shape(), expected.shape(), "{what}: shape");
    for (i, (g, e)) in got.iter().zip(expected.iter()).enumerate() {
        let (g, e) = (*g as f64, *e as f64);
        let tol = (1e-5 * e.abs()).max(1e-6);
        let err = (g - e).abs();
        MAX_REL.with(|m| {
            let (rel, used) = m.get();
            let rel = if e.abs() >= 1e-2 {
                rel.max(err / e.abs())
            } else {
                rel
            };
            m.set((rel, used.max(err / tol)));
        });
        assert!(
            err <= tol,
            "{what}[{i}]: got {g}, expected {e} (error {err:e}, tolerance {tol:e})"
        );
    }
}

pub fn close_scalar(what: &str, got: f32, expected: f64) {
    close(
        what,
        &ArrayD::from_elem(IxDyn(&[]), got),
        &ArrayD::from_elem(IxDyn(&[]), expected as f32),
    );
}
