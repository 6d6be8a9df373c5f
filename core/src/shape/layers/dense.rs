//! Keras' `Dense`: `activation(x · kernel + bias)` over the last axis.

use crate::shape::spec::{
    known_or_zero, runs_always, InputSpec, LayerSpec, ParamKind, ParamSpec, ParamValue, RuleInput,
    WeightSpec,
};
use crate::shape::{Activation, Config, Dim, Initializer, Layout, RuleError, TensorSpec};

/// `dense(units, activation, use_bias, kernel_initializer, bias_initializer,
/// kernel_regularizer, bias_regularizer, activity_regularizer)`.
pub static DENSE: LayerSpec = LayerSpec {
    name: "dense",
    class_name: "Dense",
    doc: "`activation(x · kernel + bias)` over the last axis: `(batch, ..., d) -> (batch, ..., units)`. Takes sparse inputs of rank 2 (a sparse x dense product) and ragged inputs (on their flat values).",
    params: &[
        ParamSpec::required("units", ParamKind::PositiveInt),
        ParamSpec::optional(
            "activation",
            ParamKind::Activation,
            ParamValue::Activation(Activation::Linear),
        )
        .positional(),
        ParamSpec::optional("use_bias", ParamKind::Bool, ParamValue::Bool(true)),
        ParamSpec::optional(
            "kernel_initializer",
            ParamKind::Initializer,
            ParamValue::Initializer(Initializer::GlorotUniform),
        )
        .not_compared(),
        ParamSpec::optional(
            "bias_initializer",
            ParamKind::Initializer,
            ParamValue::Initializer(Initializer::Zeros),
        )
        .not_compared(),
        ParamSpec::optional("kernel_regularizer", ParamKind::Regularizer, ParamValue::None),
        ParamSpec::optional("bias_regularizer", ParamKind::Regularizer, ParamValue::None),
        ParamSpec::optional("activity_regularizer", ParamKind::Regularizer, ParamValue::None),
    ],
    input: InputSpec::float(2).layouts(&[Layout::Dense, Layout::Sparse, Layout::Ragged]),
    arity: crate::shape::Arity::One,
    shareable: true,
    output: dense_rule,
    weights: dense_weights,
    runs: runs_always,
    id_bound: None,
    runtime: "Dense",
    mask: crate::shape::spec::MaskFlow::Passes,
};

/// The configuration of a `Dense` layer, typed (Keras' constructor arguments).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DenseConfig {
    /// Output size.
    pub units: usize,
    /// Activation applied after the affine map.
    pub activation: Activation,
    /// Whether the layer has a bias.
    pub use_bias: bool,
    /// How the kernel is initialised.
    pub kernel_initializer: Initializer,
    /// How the bias is initialised.
    pub bias_initializer: Initializer,
}

impl DenseConfig {
    /// Keras' defaults for `Dense(units)`.
    pub fn new(units: usize) -> Self {
        DenseConfig {
            units,
            activation: Activation::Linear,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
        }
    }

    /// The typed view of a [`Config`] bound against [`DENSE`].
    pub fn from_config(config: &Config) -> Self {
        DenseConfig {
            units: config.usize("units"),
            activation: config.activation("activation"),
            use_bias: config.bool("use_bias"),
            kernel_initializer: config.initializer("kernel_initializer"),
            bias_initializer: config.initializer("bias_initializer"),
        }
    }

    /// The generic [`Config`] of this configuration.
    pub fn to_config(&self) -> Config {
        DENSE.configure(vec![
            ("units", ParamValue::Int(self.units as i64)),
            ("activation", ParamValue::Activation(self.activation)),
            ("use_bias", ParamValue::Bool(self.use_bias)),
            (
                "kernel_initializer",
                ParamValue::Initializer(self.kernel_initializer),
            ),
            (
                "bias_initializer",
                ParamValue::Initializer(self.bias_initializer),
            ),
        ])
    }
}

/// Keras' `Dense`: `(batch, ..., d) -> (batch, ..., units)`. The last axis must be known
/// (it sizes the kernel). A sparse input must be of rank 2 (the sparse x dense product); a
/// ragged input must have a uniform (known) last axis, which is how the layer applies to its
/// flat values. Rank, dtype and layout are checked by [`DENSE`]'s input spec first.
fn dense_rule(rule: &RuleInput<'_>) -> Result<TensorSpec, RuleError> {
    let (layer, input) = (rule.name, rule.input());
    let units = rule.config.usize("units");
    if units == 0 {
        return Err(RuleError::new(format!(
            "Received an invalid value for `units` of layer '{layer}', expected a positive integer. Received: units=0"
        )));
    }
    if input.last() == Dim::Unknown {
        return Err(RuleError::new(format!(
            "The last dimension of the inputs to layer '{layer}' (Dense) should be defined. Found None. Full input shape received: {}. The last axis sizes the kernel, so it must be a number, e.g. shape = [None, 4]",
            input.shape_string()
        )));
    }
    if input.layout == Layout::Sparse && input.dims.len() != 1 {
        return Err(RuleError::new(format!(
            "layer '{layer}' (Dense) takes a sparse input of rank 2 only, but received {}: use `to_dense()` first",
            input.shape_string()
        )));
    }
    let mut out = input.clone();
    if let Some(last) = out.dims.last_mut() {
        *last = Dim::Known(units);
    }
    // Dense on a sparse input produces a dense output (sparse x dense product).
    if out.layout == Layout::Sparse {
        out.layout = Layout::Dense;
    }
    Ok(out)
}

fn dense_weights(rule: &RuleInput<'_>) -> Vec<WeightSpec> {
    let c = DenseConfig::from_config(rule.config);
    let input_dim = known_or_zero(rule.input().last());
    let mut w = vec![WeightSpec::trainable(
        "kernel",
        vec![input_dim, c.units],
        c.kernel_initializer,
    )];
    if c.use_bias {
        w.push(WeightSpec::trainable(
            "bias",
            vec![c.units],
            c.bias_initializer,
        ));
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::{weight_counts, DType};

    fn spec(dims: &[Option<usize>]) -> TensorSpec {
        TensorSpec::dense(
            dims.iter()
                .map(|d| d.map_or(Dim::Unknown, Dim::Known))
                .collect(),
        )
    }

    fn output(input: &TensorSpec, units: usize) -> Result<TensorSpec, RuleError> {
        let config = DenseConfig::new(units).to_config();
        DENSE.output_spec(&RuleInput {
            name: "dense",
            config: &config,
            inputs: std::slice::from_ref(input),
        })
    }

    #[test]
    fn a_weight_regularizer_needs_its_weight() {
        use crate::shape::Regularizer;
        let rule = |use_bias: bool, param: &'static str| {
            let config = DENSE.configure(vec![
                ("units", ParamValue::Int(2)),
                ("use_bias", ParamValue::Bool(use_bias)),
                (param, ParamValue::Regularizer(Regularizer::l2(0.01))),
            ]);
            DENSE.output_spec(&RuleInput {
                name: "dense",
                config: &config,
                inputs: &[spec(&[Some(3)])],
            })
        };
        assert!(rule(true, "bias_regularizer").is_ok());
        let e = rule(false, "bias_regularizer").unwrap_err().message;
        assert!(
            e.contains("no `bias` weight (`use_bias = false`)") && e.contains("bias_regularizer"),
            "{e}"
        );
        assert!(rule(false, "kernel_regularizer").is_ok());
        assert!(rule(false, "activity_regularizer").is_ok());
    }

    #[test]
    fn dense_replaces_last_axis() {
        let out = output(&spec(&[Some(3), Some(4)]), 8).unwrap();
        assert_eq!(out.shape_string(), "(None, 3, 8)");
        let config = DenseConfig::new(8).to_config();
        let input = [spec(&[Some(4)])];
        let rule = RuleInput {
            name: "dense",
            config: &config,
            inputs: &input,
        };
        assert_eq!(weight_counts(&DENSE.weight_specs(&rule)), Some((40, 0)));
        let mut no_bias = DenseConfig::new(8);
        no_bias.use_bias = false;
        let config = no_bias.to_config();
        let rule = RuleInput {
            config: &config,
            ..rule
        };
        assert_eq!(weight_counts(&DENSE.weight_specs(&rule)), Some((32, 0)));
    }

    #[test]
    fn dense_refuses_unknown_last_axis_and_ints() {
        let e = output(&spec(&[None]), 8).unwrap_err();
        assert!(e.message.contains("should be defined"), "{e}");
        let mut ints = spec(&[Some(4)]);
        ints.dtype = DType::I32;
        let e = output(&ints, 8).unwrap_err();
        assert!(e.message.contains("embedding"), "{e}");
        let e = output(&spec(&[]), 8).unwrap_err();
        assert!(e.message.contains("min_ndim=2"), "{e}");
    }

    #[test]
    fn dense_on_sparse_is_dense() {
        let mut sparse = spec(&[Some(20)]);
        sparse.layout = Layout::Sparse;
        let out = output(&sparse, 4).unwrap();
        assert_eq!(out.layout, Layout::Dense);
    }

    #[test]
    fn overflowing_weight_counts_are_an_error() {
        let e = output(&spec(&[Some(1 << 40)]), 1 << 40).unwrap_err();
        assert!(e.message.contains("more weights"), "{e}");
    }

    #[test]
    fn config_round_trips() {
        let mut c = DenseConfig::new(3);
        c.activation = Activation::Relu;
        c.use_bias = false;
        assert_eq!(DenseConfig::from_config(&c.to_config()), c);
    }
}
