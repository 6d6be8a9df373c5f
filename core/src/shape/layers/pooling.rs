//! Keras' global pooling over the steps axis (`GlobalAveragePooling1D`, `GlobalMaxPooling1D`),
//! and the sum: one family, the reduction taken from the layer's name.

use crate::shape::ragged_rank;
use crate::shape::spec::{no_weights, InputSpec, LayerSpec, RuleInput};
use crate::shape::{Arity, Dim, Layout, RuleError, TensorSpec};

/// The reduction of a global pooling layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PoolingMode {
    /// The mean over the steps (Keras' `GlobalAveragePooling1D`).
    Average,
    /// The maximum over the steps (Keras' `GlobalMaxPooling1D`).
    Max,
    /// The sum over the steps (`tf.reduce_sum` over the ragged axis; no Keras layer).
    Sum,
}

impl PoolingMode {
    /// Every mode with its DSL layer name.
    pub const ALL: [(PoolingMode, &'static str); 3] = [
        (PoolingMode::Average, "global_average_pooling_1d"),
        (PoolingMode::Max, "global_max_pooling_1d"),
        (PoolingMode::Sum, "global_sum_pooling_1d"),
    ];

    /// The mode of the layer named `name` (`global_max_pooling_1d`).
    pub fn from_layer_name(name: &str) -> Option<PoolingMode> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(m, _)| *m)
    }
}

// Rank 3 (Keras' `InputSpec(ndim=3)`), floating point; ragged along the steps axis, where the
// reduction runs over each row's values and never over padding.
const POOLING_INPUT: InputSpec = InputSpec::float(3)
    .ndim(3)
    .layouts(&[Layout::Dense, Layout::Ragged]);

const fn global_pooling(
    name: &'static str,
    class_name: &'static str,
    doc: &'static str,
) -> LayerSpec {
    LayerSpec {
        name,
        class_name,
        doc,
        params: &[],
        input: POOLING_INPUT,
        arity: Arity::One,
        shareable: true,
        output: pooling_rule,
        weights: no_weights,
        runs: pooling_runs,
        id_bound: None,
        runtime: "GlobalPooling",
        mask: crate::shape::spec::MaskFlow::Refuses,
    }
}

/// `global_average_pooling_1d()`.
pub static GLOBAL_AVERAGE_POOLING_1D: LayerSpec = LayerSpec {
    // Keras averages over the unmasked steps; the mean has no steps left to mask.
    mask: crate::shape::spec::MaskFlow::Reads(|_| false),
    ..global_pooling(
        "global_average_pooling_1d",
        "GlobalAveragePooling1D",
        "The mean over the steps: `(batch, steps, features) -> (batch, features)`. On ragged input, over each row's own steps; after `masking`, over the unmasked steps.",
    )
};

/// `global_max_pooling_1d()`.
pub static GLOBAL_MAX_POOLING_1D: LayerSpec = global_pooling(
    "global_max_pooling_1d",
    "GlobalMaxPooling1D",
    "The maximum over the steps: `(batch, steps, features) -> (batch, features)`. On ragged input, over each row's own steps.",
);

/// `global_sum_pooling_1d()` (no Keras class: `tf.reduce_sum` over the steps).
pub static GLOBAL_SUM_POOLING_1D: LayerSpec = global_pooling(
    "global_sum_pooling_1d",
    "GlobalSumPooling1D",
    "The sum over the steps: `(batch, steps, features) -> (batch, features)`. On ragged input, over each row's own steps.",
);

/// `(batch, steps, features) -> (batch, features)`; a ragged input must be ragged along the
/// steps axis only (ragged rank 1), and the output is dense.
fn pooling_rule(rule: &RuleInput<'_>) -> Result<TensorSpec, RuleError> {
    let input = rule.input();
    if input.layout == Layout::Ragged && ragged_rank(input) != 1 {
        return Err(RuleError::new(format!(
            "layer '{}' pools over a ragged steps axis, so its input must be ragged along axis 1 only, with a known feature axis; received {} (ragged rank {})",
            rule.name,
            input,
            ragged_rank(input)
        )));
    }
    Ok(TensorSpec {
        batch: input.batch,
        dims: vec![input.dims[1]],
        dtype: input.dtype,
        layout: Layout::Dense,
    })
}

fn pooling_runs(rule: &RuleInput<'_>) -> Result<(), String> {
    let input = rule.input();
    if input.layout == Layout::Dense && input.dims.contains(&Dim::Unknown) {
        return Err(format!(
            "its input {} has a length known only at run time (from `to_dense()`), which it does not take yet; pool the ragged tensor itself instead",
            input.shape_string()
        ));
    }
    Ok(())
}
