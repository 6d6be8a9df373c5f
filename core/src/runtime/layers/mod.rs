//! Built layers: weights plus the buffers training reuses.

mod activation;
mod bidirectional;
mod conv;
mod dense;
mod dropout;
mod embedding;
mod flatten;
mod masking;
mod merge;
mod noise;
mod normalization;
mod pooling;
mod preprocessing;
mod recurrent;
mod reshape;
mod spatial;
mod time_distributed;
mod to_dense;
mod window_pooling;

use crate::runtime::{BuildLayer, Layer, Rng};
use crate::shape::{Config, LayerSpec, TensorSpec};
pub use activation::ActivationLayer;
pub use bidirectional::Bidirectional;
pub use conv::Conv;
pub use dense::Dense;
pub use dropout::Dropout;
pub use embedding::{check_dense_ids, check_ragged_ids, Embedding};
pub use flatten::Flatten;
pub use masking::Masking;
pub use merge::Merge;
pub use noise::{Noise, NoiseKind};
pub use normalization::{BatchNormalization, LayerNormalization};
pub use pooling::GlobalPooling;
pub(crate) use preprocessing::adapt_normalization;
pub use preprocessing::{CategoryEncoding, CategoryMode, Normalization, Rescaling};
pub use recurrent::Recurrent;
pub use reshape::Reshape;
pub use spatial::Spatial;
pub use time_distributed::TimeDistributed;
pub use to_dense::ToDense;
pub use window_pooling::Pooling;

use ndarray::{Array2, ArrayView2};

/// An empty view, for the inputs a layer's spec rules out (the macro never wires them).
pub(crate) fn empty_rows<'a>() -> ArrayView2<'a, f32> {
    ArrayView2::from_shape((0, 0), &[]).expect("a (0, 0) view of no values")
}

/// Builds the runtime layer of a one-input spec behind `dyn Layer`, for code that walks the
/// registry (the conformance test): one line per runtime type. `None` for merges, which
/// implement [`MergeLayer`](crate::MergeLayer), and for a spec naming no type here.
/// Generated models name the concrete types instead (static dispatch).
pub fn build_dyn(
    spec: &'static LayerSpec,
    config: &Config,
    inputs: &[TensorSpec],
    rng: &mut Rng,
) -> Option<Box<dyn Layer>> {
    build_dyn_send(spec, config, inputs, rng).map(|l| l as Box<dyn Layer>)
}

/// [`build_dyn`], keeping that every runtime layer crosses threads (for a wrapper's inner
/// layer, which a model that is `Send + Sync` holds).
pub(crate) fn build_dyn_send(
    spec: &'static LayerSpec,
    config: &Config,
    inputs: &[TensorSpec],
    rng: &mut Rng,
) -> Option<Box<dyn Layer + Send + Sync>> {
    fn boxed<L: BuildLayer + Layer + Send + Sync + 'static>(
        spec: &'static LayerSpec,
        config: &Config,
        inputs: &[TensorSpec],
        rng: &mut Rng,
    ) -> Option<Box<dyn Layer + Send + Sync>> {
        Some(Box::new(L::from_config(spec, config, inputs, rng)))
    }
    match spec.runtime {
        "Dense" => boxed::<Dense>(spec, config, inputs, rng),
        "ActivationLayer" => boxed::<ActivationLayer>(spec, config, inputs, rng),
        "Embedding" => boxed::<Embedding>(spec, config, inputs, rng),
        "GlobalPooling" => boxed::<GlobalPooling>(spec, config, inputs, rng),
        "ToDense" => boxed::<ToDense>(spec, config, inputs, rng),
        "Flatten" => boxed::<Flatten>(spec, config, inputs, rng),
        "Conv" => boxed::<Conv>(spec, config, inputs, rng),
        "Pooling" => boxed::<Pooling>(spec, config, inputs, rng),
        "Reshape" => boxed::<Reshape>(spec, config, inputs, rng),
        "Dropout" => boxed::<Dropout>(spec, config, inputs, rng),
        "Spatial" => boxed::<Spatial>(spec, config, inputs, rng),
        "BatchNormalization" => boxed::<BatchNormalization>(spec, config, inputs, rng),
        "LayerNormalization" => boxed::<LayerNormalization>(spec, config, inputs, rng),
        "Recurrent" => boxed::<Recurrent>(spec, config, inputs, rng),
        "Bidirectional" => boxed::<Bidirectional>(spec, config, inputs, rng),
        "Masking" => boxed::<Masking>(spec, config, inputs, rng),
        "Noise" => boxed::<Noise>(spec, config, inputs, rng),
        "Normalization" => boxed::<Normalization>(spec, config, inputs, rng),
        "Rescaling" => boxed::<Rescaling>(spec, config, inputs, rng),
        "CategoryEncoding" => boxed::<CategoryEncoding>(spec, config, inputs, rng),
        "TimeDistributed" => boxed::<TimeDistributed>(spec, config, inputs, rng),
        _ => None,
    }
}

/// Makes `buf` a `(rows, cols)` array, reallocating only when the shape changed (in practice
/// when the batch size does), so steady-state steps allocate nothing.
pub(crate) fn ensure_shape(buf: &mut Array2<f32>, rows: usize, cols: usize) {
    if buf.dim() != (rows, cols) {
        *buf = Array2::zeros((rows, cols));
    }
}

/// Makes `buf` a `(rows, cols)` array reusing its allocation: for buffers over a ragged
/// tensor's flat values, whose row count changes with every batch. Shrinking is free and
/// growing zero-fills only the new part, instead of a fresh zeroed allocation per step.
pub(crate) fn ensure_rows(buf: &mut Array2<f32>, rows: usize, cols: usize) {
    if buf.dim() == (rows, cols) {
        return;
    }
    let old = std::mem::replace(buf, Array2::zeros((0, 0)));
    // Buffers built here are standard layout from offset 0, so the vector is the data.
    let (mut v, offset) = old.into_raw_vec_and_offset();
    if offset != Some(0) {
        v.clear();
    }
    v.resize(rows * cols, 0.0);
    *buf = Array2::from_shape_vec((rows, cols), v).unwrap_or_else(|_| Array2::zeros((rows, cols)));
}

/// The per-use state of a shared layer (its training buffers, grouped in one `S`): the active
/// use's state lives in the layer, the others wait here, and switching swaps them.
#[derive(Clone, Debug, Default)]
pub(crate) struct PerUse<S> {
    parked: Vec<S>,
    active: usize,
}

impl<S: Default> PerUse<S> {
    /// Makes room for `uses` states; the current one becomes use 0's.
    pub(crate) fn set_uses(&mut self, uses: usize, current: &mut S) {
        self.select(0, current);
        self.parked = (0..uses.max(1)).map(|_| S::default()).collect();
        self.active = 0;
    }

    /// Swaps use `index`'s state into `current`, parking the active use's. An index past the
    /// uses set makes room for it (a layer moved into a model that shares it more often,
    /// such as a trained sub-model assigned to a shared field).
    pub(crate) fn select(&mut self, index: usize, current: &mut S) {
        if index == self.active {
            return;
        }
        if index >= self.parked.len() {
            self.parked.resize_with(index + 1, S::default);
        }
        std::mem::swap(&mut self.parked[self.active], current);
        std::mem::swap(&mut self.parked[index], current);
        self.active = index;
    }
}

/// The buffer sets of a shared layer's uses. The active use's buffers live in the layer's own
/// fields (so its methods need not know about sharing); the others wait here, and switching
/// swaps them in and out without copying.
#[derive(Clone, Debug, Default)]
pub(crate) struct UseSlots<const N: usize> {
    slots: Vec<[Array2<f32>; N]>,
    active: usize,
}

impl<const N: usize> UseSlots<N> {
    /// Makes room for `uses` buffer sets; the current buffers become use 0's.
    pub(crate) fn set_uses(&mut self, uses: usize, current: [&mut Array2<f32>; N]) {
        self.select(0, current);
        self.slots = (0..uses.max(1))
            .map(|_| std::array::from_fn(|_| Array2::zeros((0, 0))))
            .collect();
        self.active = 0;
    }

    /// The index of the active use (0 for a layer that is not shared).
    pub(crate) fn active(&self) -> usize {
        self.active
    }

    /// Swaps use `index`'s buffers into `current` (the layer's fields), parking the active
    /// use's. An index past the uses set makes room for it (see [`PerUse::select`]).
    pub(crate) fn select(&mut self, index: usize, current: [&mut Array2<f32>; N]) {
        if index == self.active {
            return;
        }
        if index >= self.slots.len() {
            self.slots
                .resize_with(index + 1, || std::array::from_fn(|_| Array2::zeros((0, 0))));
        }
        let mut current = current;
        for slot in [self.active, index] {
            for (parked, field) in self.slots[slot].iter_mut().zip(current.iter_mut()) {
                std::mem::swap(parked, *field);
            }
        }
        self.active = index;
    }
}
