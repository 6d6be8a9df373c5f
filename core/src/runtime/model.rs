//! The contract between the code `model!` generates and the runtime.
//!
//! Inside a model every dense tensor flows as a 2-D array `(rows, features)`: the batch axis and
//! any middle axes are folded into rows, since every layer so far acts on the last axis only.
//! The macro knows the logical shapes and restores them at the model's boundary.

use ndarray::{Array2, ArrayD, ArrayView2, ArrayViewD};

use super::train::{self, Compiled};
use super::{Error, Loss, Optimizer};

/// A weight as the optimizer sees it: its value and its gradient, as flat slices, so an update
/// streams each parameter once.
#[derive(Debug)]
pub struct ParamMut<'a> {
    /// The layer's name (`dense`, `dense_1`, ...).
    pub layer: &'a str,
    /// The variable's name (`kernel`, `bias`).
    pub variable: &'static str,
    /// The shape of the variable (`[in, units]` for a kernel).
    pub shape: &'a [usize],
    /// The values, in row-major order.
    pub value: &'a mut [f32],
    /// The gradient of the loss with respect to `value`, from the last `backward`.
    pub grad: &'a [f32],
}

/// A weight, read-only.
#[derive(Debug, Clone, Copy)]
pub struct ParamRef<'a> {
    /// The layer's name.
    pub layer: &'a str,
    /// The variable's name.
    pub variable: &'static str,
    /// The shape of the variable.
    pub shape: &'a [usize],
    /// The values, in row-major order.
    pub value: &'a [f32],
}

/// A built layer: weights plus the buffers training reuses from step to step.
///
/// `call` is the allocating inference path (`&self`, so a model can be shared); the
/// `forward_train` / `backward` pair keeps its activations and gradients in the layer's own
/// buffers, sized once per batch size, so a training step in steady state allocates nothing.
pub trait Layer {
    /// Inference: the layer's output for `x` (`(rows, in_features)`).
    fn call(&self, x: ArrayView2<'_, f32>) -> Array2<f32>;
    /// Training forward: computes the output into the layer's buffer, keeping what
    /// `backward` needs.
    fn forward_train(&mut self, x: ArrayView2<'_, f32>);
    /// The output of the last `forward_train`.
    fn output(&self) -> ArrayView2<'_, f32>;
    /// Backward: given the input of the last `forward_train` and the gradient of the loss with
    /// respect to this layer's output, computes the weight gradients and, when
    /// `need_grad_input`, the gradient with respect to the input.
    fn backward(
        &mut self,
        x: ArrayView2<'_, f32>,
        grad_output: ArrayView2<'_, f32>,
        need_grad_input: bool,
    );
    /// The gradient with respect to the input, from the last `backward`.
    fn grad_input(&self) -> ArrayView2<'_, f32>;
    /// Visits every trainable weight with its gradient, in Keras' order (kernel, then bias).
    fn visit_params(&mut self, layer: &str, f: &mut dyn FnMut(ParamMut<'_>));
    /// Visits every weight, read-only, in Keras' order.
    fn visit_weights(&self, layer: &str, f: &mut dyn FnMut(ParamRef<'_>));
}

/// A model declared with `model!`. The macro implements the required items; the provided
/// ones are the user-facing API (`predict`, `compile`, weights access).
pub trait Model: Sized {
    /// The inputs of one call, borrowed from the caller: an `ArrayView` for a dense input,
    /// a tuple for several inputs.
    type Input<'a>: Copy;
    /// An owned batch of inputs, which `fit` fills by gathering rows and reuses.
    type Batch: Default;
    /// What `predict` returns, e.g. `Array2<f32>`.
    type Output;

    /// The declared spec of the output (what shape inference computed).
    fn output_spec() -> &'static crate::shape::TensorSpec;
    /// Checks every input against its declared shape and returns the number of samples.
    fn check_input(x: Self::Input<'_>) -> Result<usize, Error>;
    /// Copies the samples `rows` of `x` into `out`, resizing it as needed.
    fn gather(x: Self::Input<'_>, rows: &[usize], out: &mut Self::Batch);
    /// Views an owned batch as inputs.
    fn batch_view(batch: &Self::Batch) -> Self::Input<'_>;

    /// Inference on inputs already checked, as 2-D `(rows, features)` output.
    fn call(&self, x: Self::Input<'_>) -> Array2<f32>;
    /// Restores the logical output shape of `n` samples from the 2-D output.
    fn to_output(out: Array2<f32>, n: usize) -> Self::Output;
    /// Training forward on checked inputs; returns the output, kept for `backward`.
    fn forward_train(&mut self, x: Self::Input<'_>) -> ArrayView2<'_, f32>;
    /// Backward through every layer in reverse order, from the gradient of the loss with
    /// respect to the output.
    fn backward(&mut self, x: Self::Input<'_>, grad_output: ArrayView2<'_, f32>);
    /// Visits every trainable weight and its gradient.
    fn visit_params(&mut self, f: &mut dyn FnMut(ParamMut<'_>));
    /// Visits every weight, read-only.
    fn visit_weights(&self, f: &mut dyn FnMut(ParamRef<'_>));

    /// Inference: checks `x` against the declared inputs and returns the model's output in its
    /// logical shape (Keras' `model.predict`, in one batch).
    fn predict(&self, x: Self::Input<'_>) -> Result<Self::Output, Error> {
        let n = Self::check_input(x)?;
        Ok(Self::to_output(self.call(x), n))
    }

    /// Pairs the model with an optimizer and a loss for training (Keras' `model.compile`).
    fn compile<O: Optimizer>(self, optimizer: O, loss: Loss) -> Compiled<Self, O> {
        Compiled::new(self, optimizer, loss)
    }

    /// Every weight, keyed `"layer/variable"` as Keras names them (`dense/kernel`), in order.
    fn weights(&self) -> Vec<(String, ArrayD<f32>)> {
        train::weights(self)
    }

    /// Replaces the weight `key` (`"layer/variable"`) with `value`, which must have the
    /// weight's shape; otherwise `Error::Weight` says what was expected.
    fn set_weight(&mut self, key: &str, value: ArrayViewD<'_, f32>) -> Result<(), Error> {
        train::set_weight(self, key, value)
    }
}
