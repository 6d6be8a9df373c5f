//! The layer specs, one file per family, and the registry that lists them.
//!
//! # Adding a layer
//!
//! A layer is two files and two registration lines, with no edit in the macro, the loaders or
//! the facade. `flatten` was the first added this way; its two files are the example:
//! 1. **The spec**, `core/src/shape/layers/flatten.rs`: a `static` [`LayerSpec`] with the DSL
//!    and Keras names, the parameters with Keras' defaults, the input spec, the output-shape
//!    rule, the weights, and what the runtime does not run yet. Registered by a line in
//!    [`LAYERS`] below (with its `mod` and `pub use`).
//! 2. **The runtime**, `core/src/runtime/layers/flatten.rs`: the type the spec's `runtime`
//!    names, implementing `BuildLayer` (built from the [`Config`](super::Config) and the input
//!    specs) and `Layer` (inference `call`, training `forward`, `backward`, weights in Keras
//!    order). Registered by a line in `runtime::layers::build_dyn` (with its `mod` and
//!    `pub use`).
//!
//! The macro binds arguments against the spec's parameters, checks the input against the
//! input spec and the rule, counts parameters from the weight specs, and builds the runtime
//! type from the config; `load_keras` compares the config key by key with Keras' `config.json`
//! and finds the weights through their specs. The conformance test (`core/tests/conformance.rs`)
//! builds every registered layer and checks its real output shape and weights against the
//! spec; `core/tests/keras_layers.rs` checks it against a Keras fixture. A new kind of
//! parameter (a `ParamKind`) is the one thing that needs the macro: its check and its value.

mod activation;
mod bidirectional;
mod conv;
mod custom;
mod dense;
mod dropout;
mod embedding;
mod flatten;
mod masking;
mod merge;
mod normalization;
mod pooling;
mod preprocessing;
mod recurrent;
mod reshape;
mod spatial;
mod time_distributed;
mod to_dense;
mod window_pooling;

pub use activation::ACTIVATION;
pub use bidirectional::{bidirectional_inner, directed_name, MergeMode, BIDIRECTIONAL};
pub use conv::{conv_geometry, spatial_rank, ConvGeometry, Padding, Window, CONV1D, CONV2D};
pub use custom::CUSTOM;
pub use dense::{DenseConfig, DENSE};
pub use dropout::{
    DROPOUT, GAUSSIAN_DROPOUT, GAUSSIAN_NOISE, SPATIAL_DROPOUT_1D, SPATIAL_DROPOUT_2D,
};
pub use embedding::{EmbeddingConfig, EMBEDDING};
pub use flatten::FLATTEN;
pub use masking::MASKING;
pub use merge::{
    merge_output, MergeConfig, MergeOp, ADD, AVERAGE, CONCATENATE, DOT, MAXIMUM, MERGES, MINIMUM,
    MULTIPLY, SUBTRACT,
};
pub use normalization::{
    norm_axis, BatchNormConfig, LayerNormConfig, NormAxis, BATCH_NORMALIZATION, LAYER_NORMALIZATION,
};
pub use pooling::{
    PoolingMode, GLOBAL_AVERAGE_POOLING_1D, GLOBAL_MAX_POOLING_1D, GLOBAL_SUM_POOLING_1D,
};
pub use preprocessing::{
    keras_extra_variables, CATEGORY_ENCODING, NORMALIZATION, NORMALIZATION_EPSILON, RESCALING,
};
pub use recurrent::{cell_of, CellKind, RecurrentConfig, GRU, LSTM, SIMPLE_RNN};
pub use reshape::{reshape_target, RESHAPE};
pub use spatial::{
    spatial_map, SpatialMap, CROPPING_1D, CROPPING_2D, UP_SAMPLING_1D, UP_SAMPLING_2D,
    ZERO_PADDING_1D, ZERO_PADDING_2D,
};
pub use time_distributed::{
    distributed_name, intern, step_spec, time_distributed_inner, TIME_DISTRIBUTED,
};
pub use to_dense::TO_DENSE;
pub use window_pooling::{
    pooling_windows, AVERAGE_POOLING_1D, AVERAGE_POOLING_2D, GLOBAL_AVERAGE_POOLING_2D,
    GLOBAL_MAX_POOLING_2D, MAX_POOLING_1D, MAX_POOLING_2D,
};

use super::spec::{Arity, LayerSpec, MaskFlow};
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
    &CONV1D,
    &CONV2D,
    &MAX_POOLING_1D,
    &MAX_POOLING_2D,
    &AVERAGE_POOLING_1D,
    &AVERAGE_POOLING_2D,
    &GLOBAL_MAX_POOLING_2D,
    &GLOBAL_AVERAGE_POOLING_2D,
    &RESHAPE,
    &ZERO_PADDING_1D,
    &ZERO_PADDING_2D,
    &CROPPING_1D,
    &CROPPING_2D,
    &UP_SAMPLING_1D,
    &UP_SAMPLING_2D,
    &CONCATENATE,
    &ADD,
    &SUBTRACT,
    &MULTIPLY,
    &AVERAGE,
    &MAXIMUM,
    &MINIMUM,
    &DOT,
    &DROPOUT,
    &BATCH_NORMALIZATION,
    &LAYER_NORMALIZATION,
    &LSTM,
    &GRU,
    &SIMPLE_RNN,
    &BIDIRECTIONAL,
    &TIME_DISTRIBUTED,
    &MASKING,
    &GAUSSIAN_NOISE,
    &GAUSSIAN_DROPOUT,
    &SPATIAL_DROPOUT_1D,
    &SPATIAL_DROPOUT_2D,
    &NORMALIZATION,
    &RESCALING,
    &CATEGORY_ENCODING,
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

/// The layer reference as Markdown, generated from the registry: one section per layer with
/// its Keras class, what it computes, its parameters (kind, default, positional) and what it
/// accepts. The facade's `guide::layers` page is this text, kept in step by a test.
pub fn reference_markdown() -> String {
    use super::spec::{DTypeClass, ParamDefault, ParamKind};
    use std::fmt::Write;
    let mut out = String::from(
        "# Layers\n\nEvery layer `model!` knows, generated from the layer specs (`stratic::shape::LAYERS`): \
         the DSL call, Keras' class, the arguments with Keras' defaults, and what the layer accepts. \
         Positional arguments may also be given as `key = value`; every layer also takes `name = \"...\"`. \
         A tensor after `masking()` carries Keras' mask over its time steps: each layer says what it does \
         with it, and a layer that says nothing takes no masked input (a compile error).\n",
    );
    for s in LAYERS {
        let _ = write!(
            out,
            "\n## `{}` (Keras `{}`)\n\n{}\n\n",
            s.name, s.class_name, s.doc
        );
        if s.params.is_empty() {
            out.push_str("No arguments.\n\n");
        } else {
            out.push_str("| argument | takes | default | positional |\n|---|---|---|---|\n");
            for p in s.params {
                let kind = match p.kind {
                    ParamKind::PositiveInt => "a positive integer".to_string(),
                    ParamKind::Int => "an integer".to_string(),
                    ParamKind::Number => "a number".to_string(),
                    ParamKind::Bool => "`true` or `false`".to_string(),
                    ParamKind::Activation => "an activation".to_string(),
                    ParamKind::Initializer => "an initializer".to_string(),
                    ParamKind::DType => "a dtype".to_string(),
                    ParamKind::Dims => "a list of dims".to_string(),
                    ParamKind::Ints => "an integer or a list of integers".to_string(),
                    ParamKind::Floats => "a list of numbers".to_string(),
                    ParamKind::IntPairs => {
                        "an integer, a list of integers, or a list of `[before, after]` pairs"
                            .to_string()
                    }
                    ParamKind::Str => "a string".to_string(),
                    ParamKind::Choice(c) => c
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    ParamKind::Path => "a path".to_string(),
                    ParamKind::TypeSpec => "a type spec".to_string(),
                    ParamKind::Tensors => "a list of tensors, e.g. `[a, b]`".to_string(),
                    ParamKind::Regularizer => {
                        "a regularizer: `l1(0.01)`, `l2(0.01)`, `l1_l2(l1 = .., l2 = ..)`"
                            .to_string()
                    }
                    ParamKind::Layer => "a layer call, e.g. `gru(3)`".to_string(),
                };
                let default = match &p.default {
                    ParamDefault::Required => "required".to_string(),
                    ParamDefault::Value(v) => format!("`{v}`"),
                };
                let positional = if p.positional { "yes" } else { "no" };
                let _ = writeln!(out, "| `{}` | {kind} | {default} | {positional} |", p.name);
            }
            out.push('\n');
        }
        let rank = match s.input.max_ndim {
            Some(m) if m == s.input.min_ndim => format!("rank {m}"),
            Some(m) => format!("rank {} to {m}", s.input.min_ndim),
            None => format!("rank {} or more", s.input.min_ndim),
        };
        let dtype = match s.input.dtype {
            DTypeClass::Float => "floating point",
            DTypeClass::Integer => "integer ids",
            DTypeClass::Any => "any dtype",
        };
        let layouts: Vec<&str> = s
            .input
            .layouts
            .iter()
            .map(|l| match l {
                Layout::Dense => "dense",
                Layout::Sparse => "sparse",
                Layout::Ragged => "ragged",
            })
            .collect();
        let many = if s.arity == Arity::Many {
            "a list of tensors, each "
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "Input: {many}{rank} (batch axis included), {dtype}, {}.",
            layouts.join(" or ")
        );
        let mask = match s.mask {
            MaskFlow::Refuses => None,
            MaskFlow::Passes => Some("passes it on (acts on each step alone)"),
            MaskFlow::Reads(_) => Some("reads it: masked steps are skipped"),
            MaskFlow::Makes(_) => Some("makes one for the layers after it"),
        };
        if let Some(mask) = mask {
            let _ = writeln!(out, "\nMask (Keras' mask over time steps): {mask}.");
        }
    }
    out
}
