//! The layer specs, one file per family, and the registry that lists them.
//!
//! # Adding a layer
//!
//! A layer is two files and two registration lines, with no edit in the macro, the loaders or
//! the facade (see `flatten`, the first layer added this way):
//! 1. **The spec**, `core/src/shape/layers/<family>.rs`: a `static` [`LayerSpec`] with the
//!    DSL and Keras names, the parameters with Keras' defaults, the input spec, the
//!    output-shape rule, the weights, and what the runtime does not run yet. Register it in
//!    [`LAYERS`] below.
//! 2. **The runtime**, `core/src/runtime/layers/<family>.rs`: a type named by the spec's
//!    `runtime` that implements `Layer` (build from the [`Config`](super::Config), inference
//!    `call`, training `forward`, `backward`, weights in Keras order). Register it in
//!    `runtime::layers` (its `pub use` and the conformance list `for_each_layer!`).
//!
//! The macro binds arguments against the spec's parameters, checks the input against the
//! input spec and the rule, counts parameters from the weight specs, and builds the runtime
//! type from the config; `load_keras` compares the config key by key with Keras' `config.json`
//! and finds the weights through their specs. The conformance test builds every registered
//! layer and checks its real output shape and weights against the spec.

mod activation;
mod dense;
mod dropout;
mod embedding;
mod flatten;
mod merge;
mod pooling;
mod to_dense;

pub use activation::ACTIVATION;
pub use dense::{DenseConfig, DENSE};
pub use dropout::DROPOUT;
pub use embedding::{EmbeddingConfig, EMBEDDING};
pub use flatten::FLATTEN;
pub use merge::{
    merge_output, MergeConfig, MergeOp, ADD, AVERAGE, CONCATENATE, DOT, MAXIMUM, MERGES, MINIMUM,
    MULTIPLY, SUBTRACT,
};
pub use pooling::{
    PoolingMode, GLOBAL_AVERAGE_POOLING_1D, GLOBAL_MAX_POOLING_1D, GLOBAL_SUM_POOLING_1D,
};
pub use to_dense::TO_DENSE;

use super::spec::{Arity, LayerSpec};
use super::Layout;

/// Every layer `model!` knows, one line each.
pub static LAYERS: &[&LayerSpec] = &[
    &DENSE,
    &ACTIVATION,
    &EMBEDDING,
    &GLOBAL_AVERAGE_POOLING_1D,
    &GLOBAL_MAX_POOLING_1D,
    &GLOBAL_SUM_POOLING_1D,
    &TO_DENSE,
    &FLATTEN,
    &CONCATENATE,
    &ADD,
    &SUBTRACT,
    &MULTIPLY,
    &AVERAGE,
    &MAXIMUM,
    &MINIMUM,
    &DOT,
    &DROPOUT,
];

/// The spec of the layer the DSL calls `name`.
pub fn layer_spec(name: &str) -> Option<&'static LayerSpec> {
    LAYERS.iter().copied().find(|s| s.name == name)
}

/// The names of the one-input layers that take tensors of `layout`, for messages that name
/// the alternatives.
pub fn layers_taking(layout: Layout) -> Vec<&'static str> {
    LAYERS
        .iter()
        .filter(|s| s.arity == Arity::One && s.input.takes(layout))
        .map(|s| s.name)
        .collect()
}
