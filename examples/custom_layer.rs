//! A user's own layer, as Keras' `Layer` subclass: a learned scale per feature, `y = x · s`,
//! written as a Rust type and used in a `model!` chain by its name.
//!
//! ```python
//! class Scale(keras.layers.Layer):
//!     def build(self, input_shape):
//!         self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones")
//!     def call(self, x):
//!         return x * self.scale
//! ```
//!
//! The type implements [`Layer`] (inference, the training forward and backward, its weight)
//! and [`CustomLayer`] (its build); `custom_layer!(Scale)` tells `model!` that it keeps its
//! input's shape, so shapes are still checked through the whole chain at compile time.
//!
//! Run with `cargo run --release --example custom_layer`.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use stratic::custom::{ForwardContext, Input, Layer, ParamMut, ParamRef, Rng, TensorSpec};
use stratic::prelude::*;
use stratic::{custom_layer, CustomLayer};

/// A learned scale per feature: `y = x · scale`, the scale starting at ones.
#[derive(Clone, Debug)]
pub struct Scale {
    scale: Array1<f32>,
    shape: [usize; 1],
    grad_scale: Array1<f32>,
    out: Array2<f32>,
    grad_input: Array2<f32>,
}

custom_layer!(Scale);

impl CustomLayer for Scale {
    fn build(input: &TensorSpec, _rng: &mut Rng) -> Self {
        // The macro checked that the last axis is known.
        let features = input.dims.last().and_then(|d| d.known()).unwrap_or(0);
        Scale {
            scale: Array1::ones(features),
            shape: [features],
            grad_scale: Array1::zeros(features),
            out: Array2::zeros((0, features)),
            grad_input: Array2::zeros((0, features)),
        }
    }
}

impl Scale {
    fn rows<'a>(x: &Input<'a>) -> ArrayView2<'a, f32> {
        // `custom_layer!` layers take dense input: rows of features.
        x.rows()
            .unwrap_or_else(|| ArrayView2::from_shape((0, 0), &[]).expect("empty"))
    }
}

impl Layer for Scale {
    fn call(&self, x: Input<'_>) -> Array2<f32> {
        &Self::rows(&x) * &self.scale
    }

    fn forward(&mut self, x: Input<'_>, _cx: &mut ForwardContext) {
        self.out = &Self::rows(&x) * &self.scale;
    }

    fn output(&self) -> ArrayView2<'_, f32> {
        self.out.view()
    }

    fn backward(&mut self, x: Input<'_>, grad_output: ArrayView2<'_, f32>, need_grad_input: bool) {
        // d(x · s)/ds = x, summed over rows; d/dx = s.
        self.grad_scale = (&Self::rows(&x) * &grad_output).sum_axis(Axis(0));
        if need_grad_input {
            self.grad_input = &grad_output * &self.scale;
        }
    }

    fn grad_input(&self) -> ArrayView2<'_, f32> {
        self.grad_input.view()
    }

    fn visit_params(&mut self, layer: &str, f: &mut dyn FnMut(ParamMut<'_>)) {
        if let (Some(value), Some(grad)) = (self.scale.as_slice_mut(), self.grad_scale.as_slice()) {
            f(ParamMut {
                layer,
                variable: "scale",
                shape: &self.shape,
                value,
                grad,
            });
        }
    }

    fn visit_weights(&self, layer: &str, f: &mut dyn FnMut(ParamRef<'_>)) {
        if let Some(value) = self.scale.as_slice() {
            f(ParamRef {
                layer,
                variable: "scale",
                shape: &self.shape,
                value,
                trainable: true,
            });
        }
    }
}

model! {
    /// A dense layer, the user's scale, and a head.
    pub struct Scaled {
        input(shape = [4]) -> dense(8, activation = tanh) -> Scale -> dense(1)
    }
}

/// A regression target that depends on the features unevenly.
pub fn data(n: usize) -> (Array2<f32>, Array2<f32>) {
    let x = Array2::from_shape_fn((n, 4), |(i, j)| {
        (((i * 4 + j) * 7919) % 101) as f32 / 50.0 - 1.0
    });
    let y = x
        .map_axis(Axis(1), |r| 2.0 * r[0] - 0.5 * r[1] + r[2] * r[3])
        .insert_axis(Axis(1));
    (x, y)
}

fn main() -> Result<(), Error> {
    let model = Scaled::with_seed(0);
    println!("{}", model.summary());
    let (x, y) = data(256);
    let mut model = model.compile(Adam::new(0.01), Loss::mse());
    let options = FitOptions::default()
        .epochs(40)
        .batch_size(32)
        .seed(0)
        .verbose(0);
    let history = model.fit(x.view(), y.view(), &options)?;
    println!(
        "loss: {:.4} after the first epoch, {:.4} after the last",
        history.loss()[0],
        history.loss()[history.loss().len() - 1]
    );
    let weights = model.model().weights();
    let scale = weights
        .iter()
        .find(|(k, _)| k == "scale/scale")
        .map(|(_, w)| w.clone());
    println!("the learned scale: {scale:?}");
    Ok(())
}
