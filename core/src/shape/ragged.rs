//! Shape rules of the layers that take ragged tensors, and the ragged rank.
//!
//! # The ragged rank
//!
//! A ragged tensor of shape `(batch, d1, ..., dn)` stores its values flat, with one row
//! partition (`row_splits`) per ragged axis. Its *ragged rank* is the number of partitions.
//! Keras' rule for `Input(shape = ..., ragged = True)` (the placeholder it builds): the ragged
//! rank is **the index of the last `None` in the batch shape** (batch axis = 0). So
//! `shape = [None]` gives `(None, None)`, ragged rank 1; `shape = [None, 4]` gives
//! `(None, None, 4)`, ragged rank 1 (every token carries 4 values); `shape = [None, None]` gives
//! ragged rank 2. Axes after the ragged rank are the uniform inner axes of the flat values.
//!
//! A `TensorSpec` with [`Layout::Ragged`] therefore carries its ragged rank implicitly, through
//! [`ragged_rank`]. `type_spec = RaggedTensorSpec(shape = [...], dtype = ..., ragged_rank = r)`
//! is checked by [`ragged_type_spec_rank`]: without `ragged_rank` it describes exactly the input
//! `ragged = true` with the same shape would (the rule above). TensorFlow's own default,
//! `rank - 1`, coincides whenever the last axis is `None`; when the last axis is known,
//! TensorFlow would make it a partition of uniform length, which holds the same data as the
//! dense inner axis the Keras rule gives, so the two are equivalent inputs. An explicit
//! `ragged_rank` may exceed the Keras rule only over known axes (uniform partitions, stored as
//! inner axes), and must cover every `None`: an unknown inner axis would leave the flat values
//! without a fixed shape.

use super::{DType, Dim, Initializer, Layout, RuleError, TensorSpec};

/// The layers that take a ragged tensor, for messages that name the alternatives.
pub const RAGGED_LAYERS: [&str; 7] = [
    "embedding",
    "dense",
    "activation",
    "global_average_pooling_1d",
    "global_max_pooling_1d",
    "global_sum_pooling_1d",
    "to_dense",
];

/// The ragged rank of `spec` by Keras' rule: the index of its last `None` dimension, counting
/// the batch axis as 0. Zero for a spec with no unknown dimension after the batch axis (which
/// is not a valid ragged spec).
pub fn ragged_rank(spec: &TensorSpec) -> usize {
    spec.dims
        .iter()
        .rposition(|d| *d == Dim::Unknown)
        .map_or(0, |i| i + 1)
}

/// Checks the `ragged_rank` of a `RaggedTensorSpec` against its shape (batch axis first, as
/// `type_spec` shapes are) and returns the ragged rank of the equivalent input, i.e. what
/// [`ragged_rank`] gives for the spec it describes (see the module docs).
///
/// **Errors**: `ragged_rank` outside `1..rank` (TensorFlow: "must be less than rank"; 0 would be
/// a dense tensor, use `TensorSpec`), a shape without a `None` axis after the batch axis, or
/// a `None` axis after `ragged_rank`.
pub fn ragged_type_spec_rank(
    shape: &[Option<i64>],
    ragged_rank: Option<i64>,
) -> Result<usize, String> {
    let rank = shape.len();
    let last_none = shape
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(_, d)| d.is_none())
        .map(|(i, _)| i)
        .next_back();
    let Some(keras_rank) = last_none else {
        return Err(format!(
            "a `RaggedTensorSpec` needs a `None` dimension after the batch axis to be ragged; received shape {}",
            shape_list(shape)
        ));
    };
    let Some(r) = ragged_rank else {
        return Ok(keras_rank);
    };
    if r < 1 || r as usize >= rank.max(1) {
        return Err(format!(
            "`ragged_rank` must be at least 1 and less than the rank of the shape ({rank}); received ragged_rank={r} for shape {}{}",
            shape_list(shape),
            if r == 0 {
                ": a ragged rank of 0 is a dense tensor, use `TensorSpec(...)`"
            } else {
                ""
            }
        ));
    }
    if (r as usize) < keras_rank {
        return Err(format!(
            "dimension {keras_rank} of the `RaggedTensorSpec` shape {} is `None` but lies after ragged_rank={r}: the axes after the ragged ones are the uniform axes of the flat values and must be known; raise `ragged_rank` to {keras_rank} or give the dimension's size",
            shape_list(shape)
        ));
    }
    Ok(keras_rank)
}

fn shape_list(shape: &[Option<i64>]) -> String {
    let dims: Vec<String> = shape
        .iter()
        .map(|d| d.map_or("None".to_string(), |n| n.to_string()))
        .collect();
    format!("[{}]", dims.join(", "))
}

/// The configuration of an `Embedding` layer (Keras' constructor arguments).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EmbeddingConfig {
    /// The vocabulary size: ids must lie in `[0, input_dim)`.
    pub input_dim: usize,
    /// The size of each embedding vector.
    pub output_dim: usize,
    /// How the table is initialised; Keras' default is `uniform`, U(-0.05, 0.05)
    /// ([`Initializer::RandomUniform`]).
    pub embeddings_initializer: Initializer,
}

impl EmbeddingConfig {
    /// Keras' defaults for `Embedding(input_dim, output_dim)`.
    pub fn new(input_dim: usize, output_dim: usize) -> Self {
        EmbeddingConfig {
            input_dim,
            output_dim,
            embeddings_initializer: Initializer::RandomUniform,
        }
    }
}

/// Keras' `Embedding`: integer ids `(batch, ...)` -> `(batch, ..., output_dim)`. The input must
/// have an integer dtype; it may be dense or ragged (the output keeps the layout and the ragged
/// rank, one vector per id), not sparse.
pub fn embedding_output(
    layer: &str,
    input: &TensorSpec,
    input_dim: usize,
    output_dim: usize,
) -> Result<TensorSpec, RuleError> {
    for (name, v) in [("input_dim", input_dim), ("output_dim", output_dim)] {
        if v == 0 {
            return Err(RuleError::new(format!(
                "Both `input_dim` and `output_dim` of layer '{layer}' (Embedding) should be positive, received {name}=0"
            )));
        }
    }
    if !input.dtype.is_integer() {
        return Err(RuleError::new(format!(
            "layer '{layer}' (Embedding) expects integer ids, but received {} {}: declare the input with an integer dtype, e.g. `input(shape = [None], ragged = true, dtype = i32)`",
            input.dtype,
            input.shape_string()
        )));
    }
    if input.layout == Layout::Sparse {
        let mut e = RuleError::new(format!(
            "layer '{layer}' (Embedding) cannot take a sparse input {}: use `to_dense()` first, or a ragged input for variable-length ids",
            input.shape_string()
        ));
        e.alternatives = vec!["to_dense"];
        return Err(e);
    }
    let mut out = input.clone();
    out.dims.push(Dim::Known(output_dim));
    out.dtype = DType::F32;
    Ok(out)
}

/// The number of weights of an `Embedding` layer: its `[input_dim, output_dim]` table.
pub fn embedding_params(input_dim: usize, output_dim: usize) -> usize {
    input_dim * output_dim
}

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

    /// The DSL layer name.
    pub fn layer_name(self) -> &'static str {
        match self {
            PoolingMode::Average => "global_average_pooling_1d",
            PoolingMode::Max => "global_max_pooling_1d",
            PoolingMode::Sum => "global_sum_pooling_1d",
        }
    }

    /// The Keras class name used in messages.
    pub fn class_name(self) -> &'static str {
        match self {
            PoolingMode::Average => "GlobalAveragePooling1D",
            PoolingMode::Max => "GlobalMaxPooling1D",
            PoolingMode::Sum => "GlobalSumPooling1D",
        }
    }
}

/// Keras' `GlobalAveragePooling1D` / `GlobalMaxPooling1D` (channels last), and the sum:
/// `(batch, steps, features) -> (batch, features)`. The input must be of rank 3 (Keras'
/// `InputSpec(ndim=3)`) and floating point. A ragged input must be ragged along the steps axis
/// only (ragged rank 1): the reduction runs over each row's values, never over padding, and
/// the output is dense. A sparse input is refused.
pub fn global_pooling_1d_output(
    layer: &str,
    input: &TensorSpec,
    mode: PoolingMode,
) -> Result<TensorSpec, RuleError> {
    let class = mode.class_name();
    if input.dims.len() != 2 {
        return Err(RuleError::new(format!(
            "Input 0 of layer '{layer}' ({class}) is incompatible with the layer: expected ndim=3, found ndim={}. Full shape received: {}",
            input.ndim(),
            input.shape_string()
        )));
    }
    if !input.dtype.is_float() {
        let mut e = RuleError::new(format!(
            "layer '{layer}' ({class}) expects a floating-point input, but received {} {}: integer ids go through `embedding(...)` first",
            input.dtype,
            input.shape_string()
        ));
        e.alternatives = vec!["embedding"];
        return Err(e);
    }
    if input.layout == Layout::Sparse {
        let mut e = RuleError::new(format!(
            "layer '{layer}' ({class}) cannot take a sparse input {}: use `to_dense()` first",
            input.shape_string()
        ));
        e.alternatives = vec!["to_dense"];
        return Err(e);
    }
    if input.layout == Layout::Ragged && ragged_rank(input) != 1 {
        let mut e = RuleError::new(format!(
            "layer '{layer}' ({class}) pools over a ragged steps axis, so its input must be ragged along axis 1 only, with a known feature axis; received {} (ragged rank {})",
            input,
            ragged_rank(input)
        ));
        e.alternatives = vec!["to_dense"];
        return Err(e);
    }
    Ok(TensorSpec {
        batch: input.batch,
        dims: vec![input.dims[1]],
        dtype: input.dtype,
        layout: Layout::Dense,
    })
}

/// `to_dense(pad = ...)`: a ragged (or sparse) tensor made dense, the same shape with
/// `Layout::Dense`; ragged axes stay `None` (their size is the longest row of each batch).
/// A dense input is refused: there is nothing to convert.
pub fn to_dense_output(layer: &str, input: &TensorSpec) -> Result<TensorSpec, RuleError> {
    if input.layout == Layout::Dense {
        return Err(RuleError::new(format!(
            "layer '{layer}' (to_dense) converts a ragged or sparse tensor, but its input {} is already dense: remove it",
            input.shape_string()
        )));
    }
    let mut out = input.clone();
    out.layout = Layout::Dense;
    Ok(out)
}

/// The error for a ragged tensor reaching a layer that cannot take it, naming those that can
/// (the macro calls it for every layer kind not in [`RAGGED_LAYERS`]).
pub fn ragged_refused(layer: &str, class: &str, input: &TensorSpec) -> RuleError {
    let mut e = RuleError::new(format!(
        "layer '{layer}' ({class}) cannot take a ragged input {input}: pool over the ragged axis first (`global_average_pooling_1d()`, `global_max_pooling_1d()`, `global_sum_pooling_1d()`) or pad it with `to_dense()`; the layers that take ragged tensors are {}",
        RAGGED_LAYERS.join(", ")
    ));
    e.alternatives = RAGGED_LAYERS.to_vec();
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ragged(dims: &[Option<usize>], dtype: DType) -> TensorSpec {
        TensorSpec {
            batch: Dim::Unknown,
            dims: dims
                .iter()
                .map(|d| d.map_or(Dim::Unknown, Dim::Known))
                .collect(),
            dtype,
            layout: Layout::Ragged,
        }
    }

    #[test]
    fn ragged_rank_is_the_last_none() {
        assert_eq!(ragged_rank(&ragged(&[None], DType::I32)), 1);
        assert_eq!(ragged_rank(&ragged(&[None, Some(4)], DType::F32)), 1);
        assert_eq!(ragged_rank(&ragged(&[None, None], DType::I32)), 2);
        assert_eq!(
            ragged_rank(&ragged(&[Some(3), None, Some(2)], DType::I32)),
            2
        );
        assert_eq!(ragged_rank(&ragged(&[Some(3)], DType::I32)), 0);
    }

    #[test]
    fn type_spec_ragged_rank() {
        // Defaults to the Keras rule, so it matches `ragged = true` with the same shape.
        assert_eq!(ragged_type_spec_rank(&[None, None], None), Ok(1));
        assert_eq!(ragged_type_spec_rank(&[None, None, Some(4)], None), Ok(1));
        // A known axis may be declared a (uniform) partition: same data.
        assert_eq!(
            ragged_type_spec_rank(&[None, None, Some(4)], Some(2)),
            Ok(1)
        );
        let e = ragged_type_spec_rank(&[None, None], Some(2)).unwrap_err();
        assert!(e.contains("less than the rank"), "{e}");
        let e = ragged_type_spec_rank(&[None, None], Some(0)).unwrap_err();
        assert!(e.contains("TensorSpec"), "{e}");
        let e = ragged_type_spec_rank(&[None, None, None], Some(1)).unwrap_err();
        assert!(e.contains("raise `ragged_rank` to 2"), "{e}");
        let e = ragged_type_spec_rank(&[None, Some(3)], None).unwrap_err();
        assert!(e.contains("needs a `None`"), "{e}");
    }

    #[test]
    fn embedding_needs_integers_and_appends_output_dim() {
        let ids = ragged(&[None], DType::I32);
        let out = embedding_output("embedding", &ids, 10_000, 32).unwrap();
        assert_eq!(out.shape_string(), "(None, None, 32)");
        assert_eq!(out.layout, Layout::Ragged);
        assert_eq!(out.dtype, DType::F32);
        assert_eq!(ragged_rank(&out), 1);
        let mut dense = TensorSpec::dense(vec![Dim::Known(10)]);
        dense.dtype = DType::I64;
        let out = embedding_output("embedding", &dense, 5, 3).unwrap();
        assert_eq!(
            (out.shape_string(), out.layout),
            ("(None, 10, 3)".into(), Layout::Dense)
        );
        let e = embedding_output("emb", &TensorSpec::dense(vec![Dim::Known(4)]), 5, 3);
        assert!(e.unwrap_err().message.contains("expects integer ids"));
        let e = embedding_output("emb", &ids, 0, 3).unwrap_err();
        assert!(e.message.contains("input_dim=0"), "{e}");
        let mut sparse = ids.clone();
        sparse.layout = Layout::Sparse;
        let e = embedding_output("emb", &sparse, 5, 3).unwrap_err();
        assert_eq!(e.alternatives, vec!["to_dense"]);
        assert_eq!(embedding_params(10_000, 32), 320_000);
    }

    #[test]
    fn pooling_reduces_the_ragged_axis_to_dense() {
        let emb = ragged(&[None, Some(32)], DType::F32);
        for (mode, _) in PoolingMode::ALL {
            let out = global_pooling_1d_output("pool", &emb, mode).unwrap();
            assert_eq!(out.shape_string(), "(None, 32)");
            assert_eq!(out.layout, Layout::Dense);
        }
        // Dense (batch, steps, features) works as in Keras.
        let dense = TensorSpec::dense(vec![Dim::Known(7), Dim::Known(5)]);
        let out = global_pooling_1d_output("pool", &dense, PoolingMode::Average).unwrap();
        assert_eq!(out.shape_string(), "(None, 5)");
        // Rank 2 (ids not yet embedded) is refused with Keras' ndim message.
        let e = global_pooling_1d_output("pool", &ragged(&[None], DType::F32), PoolingMode::Max)
            .unwrap_err();
        assert!(e.message.contains("expected ndim=3, found ndim=2"), "{e}");
        let e = global_pooling_1d_output(
            "pool",
            &ragged(&[None, Some(4)], DType::I32),
            PoolingMode::Sum,
        )
        .unwrap_err();
        assert_eq!(e.alternatives, vec!["embedding"]);
        // Ragged along the feature axis: not a steps pooling.
        let e = global_pooling_1d_output(
            "pool",
            &ragged(&[None, None], DType::F32),
            PoolingMode::Average,
        )
        .unwrap_err();
        assert!(e.message.contains("ragged rank 2"), "{e}");
    }

    #[test]
    fn ragged_flows_through_dense_and_to_dense() {
        let emb = ragged(&[None, Some(32)], DType::F32);
        let out = super::super::dense_output("dense", &emb, 8).unwrap();
        assert_eq!(
            (out.shape_string(), out.layout),
            ("(None, None, 8)".into(), Layout::Ragged)
        );
        // The ragged axis last (ids, or unembedded values) has no known last axis for Dense.
        assert!(super::super::dense_output("dense", &ragged(&[None], DType::F32), 8).is_err());
        let d = to_dense_output("to_dense", &emb).unwrap();
        assert_eq!(
            (d.shape_string(), d.layout),
            ("(None, None, 32)".into(), Layout::Dense)
        );
        assert!(to_dense_output("to_dense", &d).is_err());
        let e = ragged_refused("flatten", "Flatten", &emb);
        assert!(e.message.contains("global_average_pooling_1d"), "{e}");
        assert!(e.alternatives.contains(&"to_dense"));
    }
}
