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

/// A class of `keras.layers` (Keras 3) in the "Coming from Keras" table: a registered spec
/// with this class name is its stratic spelling; `spelled` is the spelling of the classes that
/// have no spec of their own (`ReLU` is `activation(relu)`); neither is "not supported".
#[derive(Clone, Copy, Debug)]
pub struct KerasLayer {
    /// Keras' class name.
    pub class: &'static str,
    /// The stratic spelling when no spec has this class name.
    pub spelled: Option<&'static str>,
}

const fn k(class: &'static str) -> KerasLayer {
    KerasLayer {
        class,
        spelled: None,
    }
}

const fn alias(class: &'static str, spelled: &'static str) -> KerasLayer {
    KerasLayer {
        class,
        spelled: Some(spelled),
    }
}

/// Every class of `keras.layers` in Keras 3, grouped as Keras' documentation groups them.
pub const KERAS_LAYERS: &[KerasLayer] = &[
    // Core.
    alias("Input", "`input(shape = [...])`"),
    alias("InputLayer", "`input(shape = [...])`"),
    k("Dense"),
    k("EinsumDense"),
    k("Activation"),
    k("Embedding"),
    k("Masking"),
    alias(
        "Lambda",
        "a type of your own declared with `custom_layer!` (see `guide::language`)",
    ),
    k("Identity"),
    // Convolution.
    k("Conv1D"),
    k("Conv2D"),
    k("Conv3D"),
    k("SeparableConv1D"),
    k("SeparableConv2D"),
    k("DepthwiseConv1D"),
    k("DepthwiseConv2D"),
    k("Conv1DTranspose"),
    k("Conv2DTranspose"),
    k("Conv3DTranspose"),
    // Pooling.
    k("MaxPooling1D"),
    k("MaxPooling2D"),
    k("MaxPooling3D"),
    k("AveragePooling1D"),
    k("AveragePooling2D"),
    k("AveragePooling3D"),
    k("GlobalMaxPooling1D"),
    k("GlobalMaxPooling2D"),
    k("GlobalMaxPooling3D"),
    k("GlobalAveragePooling1D"),
    k("GlobalAveragePooling2D"),
    k("GlobalAveragePooling3D"),
    // Recurrent.
    k("LSTM"),
    k("GRU"),
    k("SimpleRNN"),
    k("Bidirectional"),
    k("TimeDistributed"),
    k("RNN"),
    k("LSTMCell"),
    k("GRUCell"),
    k("SimpleRNNCell"),
    k("StackedRNNCells"),
    k("ConvLSTM1D"),
    k("ConvLSTM2D"),
    k("ConvLSTM3D"),
    // Preprocessing.
    k("Normalization"),
    k("Rescaling"),
    k("CategoryEncoding"),
    k("Discretization"),
    k("Hashing"),
    k("HashedCrossing"),
    k("StringLookup"),
    k("IntegerLookup"),
    k("TextVectorization"),
    k("Resizing"),
    k("CenterCrop"),
    k("RandomCrop"),
    k("RandomFlip"),
    k("RandomTranslation"),
    k("RandomRotation"),
    k("RandomZoom"),
    k("RandomContrast"),
    k("RandomBrightness"),
    k("MelSpectrogram"),
    k("Pipeline"),
    // Normalization.
    k("BatchNormalization"),
    k("LayerNormalization"),
    k("GroupNormalization"),
    k("UnitNormalization"),
    k("RMSNormalization"),
    k("SpectralNormalization"),
    // Regularization.
    k("Dropout"),
    k("SpatialDropout1D"),
    k("SpatialDropout2D"),
    k("SpatialDropout3D"),
    k("GaussianDropout"),
    k("GaussianNoise"),
    k("AlphaDropout"),
    k("ActivityRegularization"),
    // Attention.
    k("Attention"),
    k("AdditiveAttention"),
    k("MultiHeadAttention"),
    k("GroupedQueryAttention"),
    // Reshaping.
    k("Reshape"),
    k("Flatten"),
    k("RepeatVector"),
    k("Permute"),
    k("Cropping1D"),
    k("Cropping2D"),
    k("Cropping3D"),
    k("UpSampling1D"),
    k("UpSampling2D"),
    k("UpSampling3D"),
    k("ZeroPadding1D"),
    k("ZeroPadding2D"),
    k("ZeroPadding3D"),
    // Merging.
    k("Concatenate"),
    k("Add"),
    k("Subtract"),
    k("Multiply"),
    k("Average"),
    k("Maximum"),
    k("Minimum"),
    k("Dot"),
    // Activation layers.
    alias(
        "ReLU",
        "`activation(relu)` (no `max_value`, `negative_slope` or `threshold`)",
    ),
    alias("Softmax", "`activation(softmax)` (over the last axis)"),
    alias("ELU", "`activation(elu)` (alpha 1)"),
    k("LeakyReLU"),
    k("PReLU"),
    // Backend wrappers.
    k("TorchModuleWrapper"),
    k("JaxLayer"),
    k("FlaxLayer"),
    k("TFSMLayer"),
];

/// The registered layers that are not a Keras class: stratic's own.
pub const STRATIC_ONLY: &[&str] = &["Custom", "ToDense", "GlobalSumPooling1D"];

/// The "Coming from Keras" layer table as Markdown, generated from the registry and
/// [`KERAS_LAYERS`]: each Keras class with its `model!` call (positional arguments first, then
/// every other argument it takes), its spelling when it has no spec, or "not supported".
/// The facade's `guide::keras` page holds it between markers, kept in step by a test.
pub fn keras_layer_table() -> String {
    use std::fmt::Write;
    let mut out = String::from(
        "| Keras | `model!` (positional arguments) | other arguments (`key = value`) |\n|---|---|---|\n",
    );
    for kl in KERAS_LAYERS {
        let spec = LAYERS.iter().find(|s| s.class_name == kl.class);
        match (spec, kl.spelled) {
            (Some(s), _) => {
                let positional: Vec<&str> = s
                    .params
                    .iter()
                    .filter(|p| p.positional)
                    .map(|p| p.name)
                    .collect();
                let others: Vec<String> = s
                    .params
                    .iter()
                    .filter(|p| !p.positional)
                    .map(|p| format!("`{}`", p.name))
                    .collect();
                let args = if others.is_empty() {
                    "(no others)".to_string()
                } else {
                    others.join(", ")
                };
                let _ = writeln!(
                    out,
                    "| `{}` | `{}({})` | {args} |",
                    kl.class,
                    s.name,
                    positional.join(", ")
                );
            }
            (None, Some(spelled)) => {
                let _ = writeln!(out, "| `{}` | {spelled} | |", kl.class);
            }
            (None, None) => {
                let _ = writeln!(out, "| `{}` | not supported | |", kl.class);
            }
        }
    }
    let own: Vec<String> = LAYERS
        .iter()
        .filter(|s| STRATIC_ONLY.contains(&s.class_name) && s.class_name != "Custom")
        .map(|s| format!("`{}`", s.name))
        .collect();
    let _ = writeln!(
        out,
        "\nstratic's own, with no Keras class: {}.",
        own.join(", ")
    );
    out
}

#[cfg(test)]
mod keras_table_tests {
    use super::*;

    #[test]
    fn every_registered_layer_is_a_keras_class_or_declared_our_own() {
        for s in LAYERS {
            assert!(
                STRATIC_ONLY.contains(&s.class_name)
                    || KERAS_LAYERS.iter().any(|k| k.class == s.class_name),
                "layer `{}` (class {}) is missing from KERAS_LAYERS",
                s.name,
                s.class_name
            );
        }
    }

    #[test]
    fn no_spelling_shadows_a_spec() {
        for k in KERAS_LAYERS {
            if k.spelled.is_some() {
                assert!(
                    !LAYERS.iter().any(|s| s.class_name == k.class),
                    "`{}` has a spec now: drop its hand-written spelling",
                    k.class
                );
            }
        }
        let mut classes: Vec<&str> = KERAS_LAYERS.iter().map(|k| k.class).collect();
        classes.sort_unstable();
        let n = classes.len();
        classes.dedup();
        assert_eq!(classes.len(), n, "a Keras class is listed twice");
    }

    #[test]
    fn the_table_names_supported_and_unsupported_classes() {
        let t = keras_layer_table();
        assert!(
            t.contains("| `Dense` | `dense(units, activation)` |"),
            "{t}"
        );
        assert!(
            t.contains("| `MultiHeadAttention` | not supported |"),
            "{t}"
        );
        assert!(t.contains("`to_dense`"), "{t}");
        assert_eq!(
            t.lines().filter(|l| l.starts_with("| `")).count(),
            KERAS_LAYERS.len()
        );
    }
}
