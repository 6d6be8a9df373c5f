//! The runtime's contract for one layer: built from its spec's [`Config`], then called for
//! inference or run forward and backward in training. Generated models call these methods on
//! the concrete layer types (static dispatch); the conformance test calls them through `dyn`.

use ndarray::{Array2, ArrayView2};

use super::{Error, ParamMut, ParamRef, RaggedView, Rng, SparseTensor};
use crate::onnx::LayerExport;
use crate::shape::{Config, LayerSpec, TensorSpec};

/// A tensor as a layer receives it.
///
/// Dense tensors flow as rows: every axis but the last folded into rows in row-major order
/// (`(batch · d1 · ..., last)`), channels last as in Keras. A layer that needs the axes (a
/// convolution, a flatten) knows them from the input spec it was built with.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// A dense floating-point tensor, as rows.
    Dense(ArrayView2<'a, f32>),
    /// A sparse tensor of rank 2 (a model input).
    Sparse(&'a SparseTensor<f32>),
    /// A ragged tensor of floats: its flat values as rows, with its row partitions.
    Ragged(RaggedView<'a, f32>),
    /// Ragged integer ids.
    RaggedIds(RaggedView<'a, i32>),
    /// Dense integer ids, as rows like a dense tensor (`(batch · d1 · ..., last)`): for an
    /// input of shape `(batch, T)`, one row of `T` ids per sample.
    Ids(ArrayView2<'a, i32>),
    /// A dense sequence tensor `(batch, steps, features)` as rows `(batch · steps,
    /// features)`, with Keras' mask over `(batch, steps)` (row-major, `true` = a step that
    /// counts): what a recurrent layer or a pooling reads after `masking` or
    /// `embedding(mask_zero = true)`.
    Masked(ArrayView2<'a, f32>, &'a [bool]),
}

impl<'a> Input<'a> {
    /// The values as rows: a dense tensor itself, a ragged tensor's flat values; `None` for
    /// sparse tensors and ids, which have no dense rows of floats.
    pub fn rows(&self) -> Option<ArrayView2<'a, f32>> {
        match self {
            Input::Dense(x) | Input::Masked(x, _) => Some(x.reborrow()),
            Input::Ragged(r) => Some(r.values()),
            Input::Sparse(_) | Input::RaggedIds(_) | Input::Ids(_) => None,
        }
    }

    /// The number of rows: samples times the folded middle axes for a dense tensor, stored
    /// values for a ragged one.
    pub fn n_rows(&self) -> usize {
        match self {
            Input::Dense(x) | Input::Masked(x, _) => x.nrows(),
            Input::Sparse(s) => s.n_rows(),
            Input::Ragged(r) => r.values().nrows(),
            Input::RaggedIds(r) => r.values().nrows(),
            Input::Ids(x) => x.nrows(),
        }
    }
}

impl<'a> From<ArrayView2<'a, f32>> for Input<'a> {
    fn from(x: ArrayView2<'a, f32>) -> Self {
        Input::Dense(x)
    }
}

/// What a training forward pass may use besides its input: whether it trains (Keras'
/// `training` argument) and a seeded random stream (dropout masks, noise).
#[derive(Clone, Debug)]
pub struct ForwardContext {
    /// Whether this is a training pass (`fit`, `train_on_batch`): dropout and noise are
    /// active and statistics are updated.
    pub training: bool,
    /// The random stream of the model, advanced by every layer that draws from it.
    pub rng: Rng,
    /// The activity penalties of the pass so far (Keras' `activity_regularizer` losses):
    /// each layer with one adds its output's. A model clears the sum before each forward
    /// pass, and training reads it after.
    pub penalty: f64,
    /// The seed the context was made with: `fit` draws its shuffle from it when
    /// `FitOptions::seed` is not set, so that `with_seed` alone makes training reproducible
    /// (Keras' `set_random_seed`).
    pub seed: u64,
    /// How many `fit` runs drew a shuffle seed so far (each draws another).
    pub fits: u64,
}

impl ForwardContext {
    /// A training context whose random stream is seeded with `seed`.
    pub fn training(seed: u64) -> Self {
        ForwardContext {
            training: true,
            rng: Rng::new(seed),
            penalty: 0.0,
            seed,
            fits: 0,
        }
    }
}

impl ForwardContext {
    /// The shuffle seed of the next `fit` that was given none: a function of the context's
    /// seed and of how many runs came before, so that runs differ but repeat with the seed.
    pub fn next_fit_seed(&mut self) -> u64 {
        self.fits += 1;
        // splitmix64's finalizer over seed and count: consecutive runs get unrelated seeds.
        let mut z = self
            .seed
            .wrapping_add(self.fits.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Default for ForwardContext {
    fn default() -> Self {
        ForwardContext::training(0)
    }
}

/// A built layer: weights plus the buffers training reuses from step to step.
///
/// `call` is the allocating inference path (`&self`, so a model can be shared); the
/// `forward` / `backward` pair keeps its activations and gradients in the layer's own
/// buffers, sized once per batch size, so a training step in steady state allocates nothing.
/// Outputs are rows (see [`Input`]); a layer whose output is ragged returns its flat values,
/// and the model re-attaches the input's row partitions.
pub trait Layer {
    /// Inference: the layer's output for `x`.
    fn call(&self, x: Input<'_>) -> Array2<f32>;
    /// Training forward: computes the output into the layer's buffer, keeping what
    /// `backward` needs.
    fn forward(&mut self, x: Input<'_>, cx: &mut ForwardContext);
    /// The output of the last `forward`.
    fn output(&self) -> ArrayView2<'_, f32>;
    /// Backward: given the input of the last `forward` and the gradient of the loss with
    /// respect to this layer's output, computes the weight gradients and, when
    /// `need_grad_input`, the gradient with respect to the input.
    fn backward(&mut self, x: Input<'_>, grad_output: ArrayView2<'_, f32>, need_grad_input: bool);
    /// The gradient with respect to the input, from the last `backward` (rows, as the input).
    fn grad_input(&self) -> ArrayView2<'_, f32>;
    /// Visits every trainable weight with its gradient, in Keras' order (kernel, then bias).
    fn visit_params(&mut self, _layer: &str, _f: &mut dyn FnMut(ParamMut<'_>)) {}
    /// Visits every non-trainable weight (moving statistics), writable, with an empty
    /// gradient: the optimizer never sees these, loaders write them.
    fn visit_state(&mut self, _layer: &str, _f: &mut dyn FnMut(ParamMut<'_>)) {}
    /// Visits every weight, read-only, in Keras' order, with its trainable flag.
    fn visit_weights(&self, _layer: &str, _f: &mut dyn FnMut(ParamRef<'_>)) {}

    /// Keras' `layer.trainable = False`, called once after building a frozen layer: the model
    /// then visits all its weights as state the optimizer never sees. A layer whose training
    /// forward depends on it overrides this (batch normalization, frozen, normalizes with its
    /// moving statistics and leaves them alone, as Keras does).
    fn set_trainable(&mut self, _trainable: bool) {}

    /// Prepares `uses` independent sets of training buffers, for a layer applied `uses` times
    /// (a shared layer). Layers that can be shared override this with [`select_use`] and
    /// [`set_accumulate`]; the macro shares only layers whose spec allows it.
    ///
    /// [`select_use`]: Layer::select_use
    /// [`set_accumulate`]: Layer::set_accumulate
    fn set_uses(&mut self, _uses: usize) {}
    /// Makes buffer set `index` the one `forward`, `output`, `backward` and `grad_input`
    /// work on. Switching swaps buffers, it copies nothing.
    fn select_use(&mut self, _index: usize) {}
    /// Whether `backward` adds to the weight gradients (the second and later uses of a shared
    /// layer, whose gradient is the sum over its uses) or overwrites them.
    fn set_accumulate(&mut self, _accumulate: bool) {}

    /// Writes the layer's inference computation as ONNX nodes, from `cx.input(0)` to
    /// `cx.output()`, with its weights as the initializers `cx.weight(..)` names (see
    /// [`crate::onnx`]). The default refuses with [`Error::OnnxExport`] naming the layer.
    ///
    /// # Errors
    /// [`Error::OnnxExport`] when ONNX cannot express the layer as configured.
    fn export_onnx(&self, cx: &mut LayerExport<'_>) -> Result<(), Error> {
        Err(cx.unsupported("no ONNX export is written for this layer yet"))
    }

    /// Whether [`export_onnx`](Layer::export_onnx) computes on the dense form of a sparse
    /// input what the layer computes on the sparse one (a product is a product), so that a
    /// sparse model input it reads can be exported as a dense ONNX input. `false` by default:
    /// the exporter then refuses the sparse input.
    fn onnx_sparse_as_dense(&self) -> bool {
        false
    }
}

/// Building a layer from its spec and configuration (Keras' constructor plus `build`). The
/// inputs are the specs of the tensors of its first use, which size the weights.
pub trait BuildLayer: Sized {
    /// The layer for `config` on `inputs`, its weights drawn from `rng` with the configured
    /// initializers.
    fn from_config(
        spec: &'static LayerSpec,
        config: &Config,
        inputs: &[TensorSpec],
        rng: &mut Rng,
    ) -> Self;
}

/// A user's own layer (Keras' `Layer` subclass with its `build`): a type implementing
/// [`Layer`] stands in a `model!` chain by its name once `custom_layer!` has declared it with
/// its shape rule, and trains, saves and shows in `summary()` like a built-in layer.
#[diagnostic::on_unimplemented(
    message = "`{Self}` stands in a `model!` as a user's layer, but does not implement `CustomLayer`",
    label = "used as a layer here",
    note = "a user's layer implements `stratic::Layer` and `stratic::CustomLayer` (see examples/custom_layer.rs)"
)]
pub trait CustomLayer: Layer + Sized {
    /// The layer for inputs of `input`'s spec (the batch axis first), its weights drawn from
    /// `rng`: called once, when the model is built.
    fn build(input: &TensorSpec, rng: &mut Rng) -> Self;
}

/// The numbers of trainable and non-trainable weights of a layer, counted from its
/// [`Layer::visit_weights`] (for `summary()` of a user's layer, whose weights the macro
/// cannot see).
pub fn count_weights(layer: &dyn Layer) -> (usize, usize) {
    let mut counts = (0usize, 0usize);
    layer.visit_weights("", &mut |p| {
        if p.trainable {
            counts.0 = counts.0.saturating_add(p.value.len());
        } else {
            counts.1 = counts.1.saturating_add(p.value.len());
        }
    });
    counts
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

    /// Writes the merge as ONNX nodes, from `cx.inputs()` to `cx.output()` (see
    /// [`crate::onnx`]). The default refuses with [`Error::OnnxExport`] naming the layer.
    ///
    /// # Errors
    /// [`Error::OnnxExport`] when ONNX cannot express the merge as configured.
    fn export_onnx(&self, cx: &mut LayerExport<'_>) -> Result<(), Error> {
        Err(cx.unsupported("no ONNX export is written for this merge yet"))
    }
}

/// A built layer of a model, as exporters walk them (see `Model::layer`).
#[derive(Clone, Copy)]
pub enum LayerRef<'a> {
    /// A one-input layer.
    One(&'a dyn Layer),
    /// A merge layer.
    Merge(&'a dyn MergeLayer),
}
