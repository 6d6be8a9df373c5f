//! Keras' `Embedding`: integer ids to vectors, one row of a table per id.

use crate::shape::spec::{
    runs_always, DTypeClass, InputSpec, LayerSpec, ParamKind, ParamSpec, ParamValue, RuleInput,
    WeightSpec,
};
use crate::shape::{Arity, Config, DType, Dim, Initializer, Layout, RuleError, TensorSpec};

/// `embedding(input_dim, output_dim, embeddings_initializer, embeddings_regularizer,
/// activity_regularizer, mask_zero)`.
pub static EMBEDDING: LayerSpec = LayerSpec {
    name: "embedding",
    class_name: "Embedding",
    doc: "Integer ids to vectors: `(batch, ...)` ids in `[0, input_dim)` -> `(batch, ..., output_dim)`, one table row per id. Takes dense ids (`input(shape = [T], dtype = i32)`) or ragged ids (one vector per id, the row partitions kept). With `mask_zero = true` (dense ids only) id 0 is padding: its steps are masked for the recurrent layers and `global_average_pooling_1d` after it (Keras' mask), and `input_dim` counts the reserved 0.",
    params: &[
        ParamSpec::required("input_dim", ParamKind::PositiveInt),
        ParamSpec::required("output_dim", ParamKind::PositiveInt),
        // Keras' default is `uniform`, U(-0.05, 0.05).
        ParamSpec::optional(
            "embeddings_initializer",
            ParamKind::Initializer,
            ParamValue::Initializer(Initializer::RandomUniform),
        )
        .not_compared(),
        ParamSpec::optional("embeddings_regularizer", ParamKind::Regularizer, ParamValue::None),
        ParamSpec::optional("activity_regularizer", ParamKind::Regularizer, ParamValue::None),
        ParamSpec::optional("mask_zero", ParamKind::Bool, ParamValue::Bool(false)),
    ],
    input: InputSpec::float(1)
        .dtype(DTypeClass::Integer)
        .layouts(&[Layout::Dense, Layout::Ragged]),
    arity: Arity::One,
    shareable: true,
    output: embedding_rule,
    weights: embedding_weights,
    // Dense and ragged ids both run (sparse ones are refused by `input`).
    runs: runs_always,
    id_bound: Some(|c: &Config| c.usize("input_dim")),
    runtime: "Embedding",
    // Keras' `compute_mask`: `ids != 0` when `mask_zero`.
    mask: crate::shape::spec::MaskFlow::Makes(|c: &Config| c.bool("mask_zero")),
};

/// The configuration of an `Embedding` layer, typed (Keras' constructor arguments).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EmbeddingConfig {
    /// The vocabulary size: ids must lie in `[0, input_dim)`.
    pub input_dim: usize,
    /// The size of each embedding vector.
    pub output_dim: usize,
    /// How the table is initialised; Keras' default is `uniform`, U(-0.05, 0.05)
    /// ([`Initializer::RandomUniform`]).
    pub embeddings_initializer: Initializer,
    /// Keras' `mask_zero`: id 0 marks a padded step, masked for the layers after it.
    pub mask_zero: bool,
}

impl EmbeddingConfig {
    /// Keras' defaults for `Embedding(input_dim, output_dim)`.
    pub fn new(input_dim: usize, output_dim: usize) -> Self {
        EmbeddingConfig {
            input_dim,
            output_dim,
            embeddings_initializer: Initializer::RandomUniform,
            mask_zero: false,
        }
    }

    /// The typed view of a [`Config`] bound against [`EMBEDDING`].
    pub fn from_config(config: &Config) -> Self {
        EmbeddingConfig {
            input_dim: config.usize("input_dim"),
            output_dim: config.usize("output_dim"),
            embeddings_initializer: config.initializer("embeddings_initializer"),
            mask_zero: config.bool("mask_zero"),
        }
    }

    /// The generic [`Config`] of this configuration.
    pub fn to_config(&self) -> Config {
        EMBEDDING.configure(vec![
            ("input_dim", ParamValue::Int(self.input_dim as i64)),
            ("output_dim", ParamValue::Int(self.output_dim as i64)),
            (
                "embeddings_initializer",
                ParamValue::Initializer(self.embeddings_initializer),
            ),
            ("mask_zero", ParamValue::Bool(self.mask_zero)),
        ])
    }
}

/// `(batch, ...)` ids -> `(batch, ..., output_dim)`; the output keeps the layout and the
/// ragged rank, one vector per id.
fn embedding_rule(rule: &RuleInput<'_>) -> Result<TensorSpec, RuleError> {
    let c = EmbeddingConfig::from_config(rule.config);
    for (name, v) in [("input_dim", c.input_dim), ("output_dim", c.output_dim)] {
        if v == 0 {
            return Err(RuleError::new(format!(
                "Both `input_dim` and `output_dim` of layer '{}' (Embedding) should be positive, received {name}=0",
                rule.name
            )));
        }
    }
    let mut out = rule.input().clone();
    if rule.config.bool("mask_zero") && out.layout == Layout::Ragged {
        return Err(RuleError::new(format!(
            "layer '{}' (Embedding) takes `mask_zero = true` on dense ids only: ragged rows run each at its own length and have no padding to mask; remove `mask_zero`, or feed zero-padded dense ids (`input(shape = [T], dtype = i32)`)",
            rule.name
        )));
    }
    out.dims.push(Dim::Known(c.output_dim));
    out.dtype = DType::F32;
    Ok(out)
}

fn embedding_weights(rule: &RuleInput<'_>) -> Vec<WeightSpec> {
    let c = EmbeddingConfig::from_config(rule.config);
    vec![WeightSpec::trainable(
        "embeddings",
        vec![c.input_dim, c.output_dim],
        c.embeddings_initializer,
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(input: TensorSpec, c: EmbeddingConfig) -> Result<TensorSpec, RuleError> {
        let config = c.to_config();
        EMBEDDING.output_spec(&RuleInput {
            name: "embedding",
            config: &config,
            inputs: &[input],
        })
    }

    fn ids(layout: Layout) -> TensorSpec {
        TensorSpec {
            batch: Dim::Unknown,
            dims: vec![Dim::Unknown],
            dtype: DType::I32,
            layout,
        }
    }

    #[test]
    fn adds_the_vector_axis_and_keeps_the_layout() {
        let out = output(ids(Layout::Ragged), EmbeddingConfig::new(10, 3)).unwrap();
        assert_eq!(out.shape_string(), "(None, None, 3)");
        assert_eq!((out.dtype, out.layout), (DType::F32, Layout::Ragged));
        // Dense `(batch, 7)` ids: a dense `(batch, 7, 3)` tensor, which runs.
        let dense = TensorSpec {
            dims: vec![Dim::Known(7)],
            ..ids(Layout::Dense)
        };
        let out = output(dense.clone(), EmbeddingConfig::new(10, 3)).unwrap();
        assert_eq!(out.shape_string(), "(None, 7, 3)");
        assert_eq!((out.dtype, out.layout), (DType::F32, Layout::Dense));
        let config = EmbeddingConfig::new(10, 3).to_config();
        let inputs = [dense];
        let rule = RuleInput {
            name: "embedding",
            config: &config,
            inputs: &inputs,
        };
        assert!((EMBEDDING.runs)(&rule).is_ok());
    }

    #[test]
    fn refuses_floats_sparse_and_zero_sizes() {
        let mut floats = ids(Layout::Ragged);
        floats.dtype = DType::F32;
        let e = output(floats, EmbeddingConfig::new(10, 3)).unwrap_err();
        assert!(e.message.contains("expects integer ids"), "{e}");
        let e = output(ids(Layout::Sparse), EmbeddingConfig::new(10, 3)).unwrap_err();
        assert!(e.message.contains("cannot take a sparse input"), "{e}");
        let e = output(ids(Layout::Ragged), EmbeddingConfig::new(0, 3)).unwrap_err();
        assert!(e.message.contains("input_dim=0"), "{e}");
    }

    #[test]
    fn mask_zero_makes_a_mask_on_dense_ids_and_is_refused_on_ragged_ones() {
        let c = EmbeddingConfig {
            mask_zero: true,
            ..EmbeddingConfig::new(10, 3)
        };
        let config = c.to_config();
        assert_eq!(EMBEDDING.output_mask("e", &config, false), Ok(true));
        let plain = EmbeddingConfig::new(10, 3).to_config();
        assert_eq!(EMBEDDING.output_mask("e", &plain, false), Ok(false));
        let dense = TensorSpec {
            dims: vec![Dim::Known(7)],
            ..ids(Layout::Dense)
        };
        assert_eq!(output(dense, c).unwrap().shape_string(), "(None, 7, 3)");
        let e = output(ids(Layout::Ragged), c).unwrap_err();
        assert!(e.message.contains("on dense ids only"), "{e}");
    }

    #[test]
    fn the_config_keeps_output_dim_under_its_keras_name() {
        let config = EmbeddingConfig::new(12, 4).to_config();
        assert_eq!(config.usize("output_dim"), 4);
        assert!(config.get("units").is_none());
        assert_eq!((EMBEDDING.id_bound.unwrap())(&config), 12);
    }
}
