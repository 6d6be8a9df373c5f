//! The contract between the code `model!` generates and the runtime.
//!
//! Inside a model every dense tensor flows as a 2-D array `(rows, features)`: the batch axis and
//! any middle axes are folded into rows, since every layer so far acts on the last axis only.
//! The macro knows the logical shapes and restores them at the model's boundary.

use ndarray::{Array2, ArrayD, ArrayView2, ArrayViewD};

use super::train::{self, Compiled, InputValues};
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

    /// Prepares `uses` independent sets of training buffers, for a layer applied `uses` times
    /// (a shared layer). Layers that can be shared override this with [`select_use`] and
    /// [`set_accumulate`]; the macro shares no other kind.
    ///
    /// [`select_use`]: Layer::select_use
    /// [`set_accumulate`]: Layer::set_accumulate
    fn set_uses(&mut self, uses: usize) {
        let _ = uses;
    }
    /// Makes buffer set `index` the one `forward_train`, `output`, `backward` and
    /// `grad_input` work on. Switching swaps buffers, it copies nothing.
    fn select_use(&mut self, index: usize) {
        let _ = index;
    }
    /// Whether `backward` adds to the weight gradients (the second and later uses of a shared
    /// layer, whose gradient is the sum over its uses) or overwrites them.
    fn set_accumulate(&mut self, accumulate: bool) {
        let _ = accumulate;
    }
}

/// A layer merging several tensors (Keras' merge layers: `concatenate`, `add`, ...). No
/// weights; like [`Layer`], training keeps its output and input gradients in reused buffers.
pub trait MergeLayer {
    /// Inference: the merged output of `xs`.
    fn call(&self, xs: &[ArrayView2<'_, f32>]) -> Array2<f32>;
    /// Training forward into the layer's buffer.
    fn forward_train(&mut self, xs: &[ArrayView2<'_, f32>]);
    /// The output of the last `forward_train`.
    fn output(&self) -> ArrayView2<'_, f32>;
    /// Gradients with respect to every input, given the inputs of the last `forward_train`.
    fn backward(&mut self, xs: &[ArrayView2<'_, f32>], grad_output: ArrayView2<'_, f32>);
    /// The gradient with respect to input `index`, from the last `backward`.
    fn grad_input(&self, index: usize) -> ArrayView2<'_, f32>;
}

/// A model declared with `model!`. The macro implements the required items; the provided
/// ones are the user-facing API (`predict`, `compile`, weights access).
pub trait Model: Sized {
    /// The inputs of one call, borrowed from the caller: an `ArrayView` for a dense input,
    /// a tuple for several inputs.
    type Input<'a>: Copy + InputValues;
    /// An owned batch of inputs, which `fit` fills by gathering rows and reuses.
    type Batch: Default;
    /// What `predict` returns: an `Array` for one output, a tuple for several.
    type Output;

    /// The declared spec of every output, in order (what shape inference computed).
    fn output_specs() -> &'static [crate::shape::TensorSpec];
    /// The name of every output's layer, in order (Keras keys per-output losses by them).
    fn output_names() -> &'static [&'static str];
    /// The name of every input, in order (errors name inputs by them); `model!` generates
    /// it, and the default, for models written without it, names none.
    fn input_names() -> &'static [&'static str] {
        &[]
    }
    /// Checks every input against its declared shape and returns the number of samples.
    fn check_input(x: Self::Input<'_>) -> Result<usize, Error>;
    /// Copies the samples `rows` of `x` into `out`, resizing it as needed.
    fn gather(x: Self::Input<'_>, rows: &[usize], out: &mut Self::Batch);
    /// Views an owned batch as inputs.
    fn batch_view(batch: &Self::Batch) -> Self::Input<'_>;

    /// Inference on inputs already checked: every output as 2-D `(rows, features)`.
    fn call(&self, x: Self::Input<'_>) -> Vec<Array2<f32>>;
    /// Restores the logical output shapes of `n` samples from the 2-D outputs.
    fn to_output(outputs: Vec<Array2<f32>>, n: usize) -> Self::Output;
    /// Training forward on checked inputs, keeping in the layers what `backward` needs.
    fn forward_train(&mut self, x: Self::Input<'_>);
    /// Output `index` of the last `forward_train`.
    fn train_output(&mut self, index: usize) -> ArrayView2<'_, f32>;
    /// Backward through the graph in reverse order, from the gradient of the loss with
    /// respect to each output (`grad_outputs[i]` for output `i`).
    fn backward(&mut self, x: Self::Input<'_>, grad_outputs: &[Array2<f32>]);
    /// Visits every trainable weight and its gradient.
    fn visit_params(&mut self, f: &mut dyn FnMut(ParamMut<'_>));
    /// Visits every weight, read-only.
    fn visit_weights(&self, f: &mut dyn FnMut(ParamRef<'_>));

    /// The declared layers in creation order, with their class, configuration and specs.
    /// `model!` generates it; the default, for models written without it, is empty, and then
    /// `load_keras` reports that the model has no layer metadata to compare.
    fn layers() -> &'static [crate::shape::LayerInfo] {
        &[]
    }

    /// Inference: checks `x` against the declared inputs and returns the model's output in its
    /// logical shape (Keras' `model.predict`, in one batch).
    fn predict(&self, x: Self::Input<'_>) -> Result<Self::Output, Error> {
        let n = Self::check_input(x)?;
        Ok(Self::to_output(self.call(x), n))
    }

    /// Pairs the model with an optimizer and a loss for training (Keras' `model.compile`);
    /// with several outputs, the loss applies to each.
    fn compile<O: Optimizer>(self, optimizer: O, loss: Loss) -> Compiled<Self, O> {
        Compiled::new(self, optimizer, loss)
    }

    /// Like [`compile`](Model::compile) with one loss per output (or one for all) and
    /// optional per-output loss weights, as Keras' `compile(loss=[...], loss_weights=[...])`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the counts do not match the outputs.
    fn compile_with<O: Optimizer>(
        self,
        optimizer: O,
        losses: &[Loss],
        loss_weights: Option<&[f32]>,
    ) -> Result<Compiled<Self, O>, Error> {
        Compiled::with_losses(self, optimizer, losses, loss_weights)
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

    /// Saves every weight to `path` in safetensors, keyed `"layer/variable"` (Keras' names).
    fn save_weights(&self, path: impl AsRef<std::path::Path>) -> Result<(), Error> {
        super::weights::save_weights(self, path.as_ref())
    }

    /// Loads every weight from the safetensors file `path`. Names, shapes and dtypes are all
    /// checked first and every mismatch is reported in one [`Error::WeightMismatch`]; the
    /// model changes only when everything matches.
    fn load_weights(&mut self, path: impl AsRef<std::path::Path>) -> Result<(), Error> {
        super::weights::load_weights(self, path.as_ref())
    }

    /// Loads the weights of a file Keras saved with `model.save_weights("x.weights.h5")` (or
    /// the weights inside a `.keras` file, without comparing its architecture). Keras names
    /// the layers in the file by class and creation order (`dense`, `dense_1`, ...), whatever
    /// their names in the model; they are matched to this model's layers in the same order.
    #[cfg(feature = "keras")]
    fn load_keras_weights(&mut self, path: impl AsRef<std::path::Path>) -> Result<(), Error> {
        super::weights::load_keras_weights(self, path.as_ref())
    }

    /// Loads a model Keras saved with `model.save("x.keras")`: compares the saved
    /// architecture (layer classes, units, activations, `use_bias`, input shape) with this
    /// model's and reports every difference in [`Error::Architecture`], then loads the weights.
    #[cfg(feature = "keras")]
    fn load_keras(&mut self, path: impl AsRef<std::path::Path>) -> Result<(), Error> {
        super::weights::load_keras(self, path.as_ref())
    }
}
