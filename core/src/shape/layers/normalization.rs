//! Keras' normalization layers: `batch_normalization` (statistics per feature over the batch,
//! moving statistics for inference) and `layer_normalization` (statistics per sample).

use crate::shape::spec::{
    runs_always, InputSpec, LayerSpec, ParamKind, ParamSpec, ParamValue, RuleInput, WeightSpec,
};
use crate::shape::{Arity, Config, Initializer, RuleError, TensorSpec};

/// `batch_normalization(axis, momentum, epsilon, center, scale, beta_initializer,
/// gamma_initializer, moving_mean_initializer, moving_variance_initializer,
/// beta_regularizer, gamma_regularizer)`.
pub static BATCH_NORMALIZATION: LayerSpec = LayerSpec {
    name: "batch_normalization",
    class_name: "BatchNormalization",
    doc: "Normalizes each feature of `axis`: in training with the batch's mean and (biased) variance over every other axis, updating `moving = moving · momentum + batch · (1 - momentum)`; in inference, and in training when the layer is frozen (`trainable = false`, as Keras), with the moving statistics. Then `gamma · x̂ + beta`. `moving_mean` and `moving_variance` are non-trainable weights. Shape unchanged.",
    params: &[
        ParamSpec::optional("axis", ParamKind::Int, ParamValue::Int(-1)),
        ParamSpec::optional("momentum", ParamKind::Number, ParamValue::Float(0.99)),
        ParamSpec::optional("epsilon", ParamKind::Number, ParamValue::Float(0.001)),
        ParamSpec::optional("center", ParamKind::Bool, ParamValue::Bool(true)),
        ParamSpec::optional("scale", ParamKind::Bool, ParamValue::Bool(true)),
        ParamSpec::optional(
            "beta_initializer",
            ParamKind::Initializer,
            ParamValue::Initializer(Initializer::Zeros),
        )
        .not_compared(),
        ParamSpec::optional(
            "gamma_initializer",
            ParamKind::Initializer,
            ParamValue::Initializer(Initializer::Ones),
        )
        .not_compared(),
        ParamSpec::optional(
            "moving_mean_initializer",
            ParamKind::Initializer,
            ParamValue::Initializer(Initializer::Zeros),
        )
        .not_compared(),
        ParamSpec::optional(
            "moving_variance_initializer",
            ParamKind::Initializer,
            ParamValue::Initializer(Initializer::Ones),
        )
        .not_compared(),
        ParamSpec::optional("beta_regularizer", ParamKind::Regularizer, ParamValue::None),
        ParamSpec::optional("gamma_regularizer", ParamKind::Regularizer, ParamValue::None),
    ],
    input: InputSpec::float(2),
    arity: Arity::One,
    // Each use would update the moving statistics with its own batch; not shared for now.
    shareable: false,
    output: batch_normalization_rule,
    weights: batch_normalization_weights,
    runs: runs_always,
    id_bound: None,
    runtime: "BatchNormalization",
    mask: crate::shape::spec::MaskFlow::Refuses,
};

/// `layer_normalization(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
/// beta_regularizer, gamma_regularizer)`.
pub static LAYER_NORMALIZATION: LayerSpec = LayerSpec {
    name: "layer_normalization",
    class_name: "LayerNormalization",
    doc: "Normalizes each sample over `axis` with its own mean and (biased) variance, the same in training and inference, then `gamma · x̂ + beta` with `gamma` and `beta` sized by `axis`. Shape unchanged.",
    params: &[
        ParamSpec::optional("axis", ParamKind::Int, ParamValue::Int(-1)),
        ParamSpec::optional("epsilon", ParamKind::Number, ParamValue::Float(0.001)),
        ParamSpec::optional("center", ParamKind::Bool, ParamValue::Bool(true)),
        ParamSpec::optional("scale", ParamKind::Bool, ParamValue::Bool(true)),
        ParamSpec::optional(
            "beta_initializer",
            ParamKind::Initializer,
            ParamValue::Initializer(Initializer::Zeros),
        )
        .not_compared(),
        ParamSpec::optional(
            "gamma_initializer",
            ParamKind::Initializer,
            ParamValue::Initializer(Initializer::Ones),
        )
        .not_compared(),
        ParamSpec::optional("beta_regularizer", ParamKind::Regularizer, ParamValue::None),
        ParamSpec::optional("gamma_regularizer", ParamKind::Regularizer, ParamValue::None),
    ],
    input: InputSpec::float(2),
    arity: Arity::One,
    shareable: true,
    output: layer_normalization_rule,
    weights: layer_normalization_weights,
    runs: runs_always,
    id_bound: None,
    runtime: "LayerNormalization",
    mask: crate::shape::spec::MaskFlow::Passes,
};

/// Where a normalization's axis lies in the row-major values of one tensor: the values are
/// `(outer, size, inner)` blocks, `size` the axis' length and `inner` the values after it (1
/// for the last axis). `outer` (the batch and the axes before) is known only at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NormAxis {
    /// The axis, counted with the batch axis (1 ..= rank - 1).
    pub axis: usize,
    /// The axis' length: the size of `gamma`, `beta` and the moving statistics.
    pub size: usize,
    /// The number of values after the axis, per step along it.
    pub inner: usize,
}

/// The axis `axis` (negative counts from the end, as in Keras) of `input`: the batch axis is
/// refused (the statistics are per feature), and the axis and every axis after it must be
/// known (they size the weights and lay out the values).
pub fn norm_axis(input: &TensorSpec, axis: i64) -> Result<NormAxis, String> {
    let rank = input.ndim();
    let rank_i = i64::try_from(rank).unwrap_or(i64::MAX);
    let resolved = if axis < 0 { axis + rank_i } else { axis };
    if resolved < 1 || resolved >= rank_i {
        return Err(format!(
            "Invalid axis: {axis} for an input of rank {rank} {}: expected an axis in [{}, {}], not the batch axis (0 or {})",
            input.shape_string(),
            1 - rank_i,
            rank_i - 1,
            -rank_i
        ));
    }
    // `resolved` is in 1..rank, so it indexes `dims` (the axes after the batch axis) at - 1.
    let axis = usize::try_from(resolved).unwrap_or(1);
    let tail = input.dims.get(axis - 1..).unwrap_or(&[]);
    let mut known = tail.iter().map(|d| d.known());
    let Some(Some(size)) = known.next() else {
        return Err(format!(
            "axis {axis} of the input {} must be known: it sizes the layer's weights",
            input.shape_string()
        ));
    };
    let mut inner = 1usize;
    for d in known {
        let Some(d) = d else {
            return Err(format!(
                "the axes after axis {axis} of the input {} must be known to normalize over axis {axis}",
                input.shape_string()
            ));
        };
        inner = inner.checked_mul(d).ok_or_else(|| {
            format!(
                "the input {} has more values per sample than this machine can address",
                input.shape_string()
            )
        })?;
    }
    Ok(NormAxis { axis, size, inner })
}

/// The typed configuration of a `BatchNormalization` layer (Keras' constructor arguments).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormConfig {
    /// The feature axis (negative from the end).
    pub axis: i64,
    /// The moving statistics' decay per training step.
    pub momentum: f64,
    /// Added to the variance before its square root.
    pub epsilon: f64,
    /// Whether the layer has `beta`.
    pub center: bool,
    /// Whether the layer has `gamma`.
    pub scale: bool,
    /// How `beta` is initialised.
    pub beta_initializer: Initializer,
    /// How `gamma` is initialised.
    pub gamma_initializer: Initializer,
    /// How `moving_mean` is initialised.
    pub moving_mean_initializer: Initializer,
    /// How `moving_variance` is initialised.
    pub moving_variance_initializer: Initializer,
}

impl BatchNormConfig {
    /// The typed view of a [`Config`] bound against [`BATCH_NORMALIZATION`].
    pub fn from_config(config: &Config) -> Self {
        BatchNormConfig {
            axis: config.int("axis"),
            momentum: config.float("momentum"),
            epsilon: config.float("epsilon"),
            center: config.bool("center"),
            scale: config.bool("scale"),
            beta_initializer: config.initializer("beta_initializer"),
            gamma_initializer: config.initializer("gamma_initializer"),
            moving_mean_initializer: config.initializer("moving_mean_initializer"),
            moving_variance_initializer: config.initializer("moving_variance_initializer"),
        }
    }
}

/// The typed configuration of a `LayerNormalization` layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerNormConfig {
    /// The axis normalized over (negative from the end).
    pub axis: i64,
    /// Added to the variance before its square root.
    pub epsilon: f64,
    /// Whether the layer has `beta`.
    pub center: bool,
    /// Whether the layer has `gamma`.
    pub scale: bool,
    /// How `beta` is initialised.
    pub beta_initializer: Initializer,
    /// How `gamma` is initialised.
    pub gamma_initializer: Initializer,
}

impl LayerNormConfig {
    /// The typed view of a [`Config`] bound against [`LAYER_NORMALIZATION`].
    pub fn from_config(config: &Config) -> Self {
        LayerNormConfig {
            axis: config.int("axis"),
            epsilon: config.float("epsilon"),
            center: config.bool("center"),
            scale: config.bool("scale"),
            beta_initializer: config.initializer("beta_initializer"),
            gamma_initializer: config.initializer("gamma_initializer"),
        }
    }
}

/// `epsilon` must be positive (it keeps the square root away from 0), also once rounded to
/// the `f32` the layer computes in.
fn check_epsilon(rule: &RuleInput<'_>, class: &str) -> Result<(), RuleError> {
    let epsilon = rule.config.float("epsilon");
    // NaN is refused too.
    if epsilon.is_nan() || epsilon <= 0.0 {
        return Err(RuleError::new(format!(
            "Invalid value received for argument `epsilon` of layer '{}' ({class}). Expected a positive float. Received: epsilon={epsilon}",
            rule.name
        )));
    }
    if (epsilon as f32) <= 0.0 {
        return Err(RuleError::new(format!(
            "Invalid value received for argument `epsilon` of layer '{}' ({class}): epsilon={epsilon:e} is 0 in float32, which the layer computes in; use at least {:e}",
            rule.name,
            f32::from_bits(1)
        )));
    }
    Ok(())
}

fn check_axis(rule: &RuleInput<'_>, class: &str) -> Result<NormAxis, RuleError> {
    norm_axis(rule.input(), rule.config.int("axis"))
        .map_err(|m| RuleError::new(format!("layer '{}' ({class}): {m}", rule.name)))
}

/// The shape is unchanged; `momentum` in `[0, 1]`, `epsilon > 0`, and an axis of the input.
fn batch_normalization_rule(rule: &RuleInput<'_>) -> Result<TensorSpec, RuleError> {
    let class = BATCH_NORMALIZATION.class_name;
    let momentum = rule.config.float("momentum");
    if !(0.0..=1.0).contains(&momentum) {
        return Err(RuleError::new(format!(
            "Invalid value received for argument `momentum` of layer '{}' ({class}). Expected a float value between 0 and 1 (both included). Received: momentum={momentum}",
            rule.name
        )));
    }
    check_epsilon(rule, class)?;
    check_axis(rule, class)?;
    Ok(rule.input().clone())
}

/// The shape is unchanged; `epsilon > 0`, and an axis of the input.
fn layer_normalization_rule(rule: &RuleInput<'_>) -> Result<TensorSpec, RuleError> {
    let class = LAYER_NORMALIZATION.class_name;
    check_epsilon(rule, class)?;
    check_axis(rule, class)?;
    Ok(rule.input().clone())
}

/// The size of the weights: the axis' length (0 for inputs the rule refuses).
fn axis_size(rule: &RuleInput<'_>) -> usize {
    norm_axis(rule.input(), rule.config.int("axis")).map_or(0, |a| a.size)
}

/// Keras' order: gamma, beta, moving_mean, moving_variance.
fn batch_normalization_weights(rule: &RuleInput<'_>) -> Vec<WeightSpec> {
    let c = BatchNormConfig::from_config(rule.config);
    let n = axis_size(rule);
    let mut w = Vec::with_capacity(4);
    if c.scale {
        w.push(WeightSpec::trainable("gamma", vec![n], c.gamma_initializer));
    }
    if c.center {
        w.push(WeightSpec::trainable("beta", vec![n], c.beta_initializer));
    }
    w.push(WeightSpec::non_trainable(
        "moving_mean",
        vec![n],
        c.moving_mean_initializer,
    ));
    w.push(WeightSpec::non_trainable(
        "moving_variance",
        vec![n],
        c.moving_variance_initializer,
    ));
    w
}

/// Keras' order: gamma, beta.
fn layer_normalization_weights(rule: &RuleInput<'_>) -> Vec<WeightSpec> {
    let c = LayerNormConfig::from_config(rule.config);
    let n = axis_size(rule);
    let mut w = Vec::with_capacity(2);
    if c.scale {
        w.push(WeightSpec::trainable("gamma", vec![n], c.gamma_initializer));
    }
    if c.center {
        w.push(WeightSpec::trainable("beta", vec![n], c.beta_initializer));
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::{weight_counts, Dim};

    fn spec(dims: &[Option<usize>]) -> TensorSpec {
        TensorSpec::dense(
            dims.iter()
                .map(|d| d.map_or(Dim::Unknown, Dim::Known))
                .collect(),
        )
    }

    fn run(
        layer: &LayerSpec,
        given: Vec<(&'static str, ParamValue)>,
        input: TensorSpec,
    ) -> (Result<TensorSpec, RuleError>, Vec<WeightSpec>) {
        let config = layer.configure(given);
        let inputs = [input];
        let rule = RuleInput {
            name: layer.name,
            config: &config,
            inputs: &inputs,
        };
        let out = layer.output_spec(&rule);
        (out, layer.weight_specs(&rule))
    }

    #[test]
    fn axes_resolve_from_either_end_and_refuse_the_batch_axis() {
        let x = spec(&[Some(4), Some(5), Some(3)]);
        let last = norm_axis(&x, -1).unwrap();
        assert_eq!((last.axis, last.size, last.inner), (3, 3, 1));
        let first = norm_axis(&x, 1).unwrap();
        assert_eq!((first.axis, first.size, first.inner), (1, 4, 15));
        assert_eq!(norm_axis(&x, -3), Ok(first));
        assert_eq!(norm_axis(&x, 2).unwrap().inner, 3);
        for bad in [0, -4, 4, 9, i64::MIN] {
            assert!(
                norm_axis(&x, bad).unwrap_err().contains("Invalid axis"),
                "{bad}"
            );
        }
        assert!(norm_axis(&spec(&[Some(4), None]), 1)
            .unwrap_err()
            .contains("after axis 1"));
        assert!(norm_axis(&spec(&[None, Some(2)]), 1)
            .unwrap_err()
            .contains("must be known"));
        assert_eq!(norm_axis(&spec(&[None, Some(2)]), -1).unwrap().size, 2);
    }

    #[test]
    fn batch_normalization_weights_in_keras_order_with_moving_statistics_frozen() {
        let (out, w) = run(&BATCH_NORMALIZATION, vec![], spec(&[Some(6), Some(8)]));
        assert_eq!(out.unwrap().shape_string(), "(None, 6, 8)");
        let names: Vec<_> = w.iter().map(|w| (w.name, w.trainable)).collect();
        assert_eq!(
            names,
            [
                ("gamma", true),
                ("beta", true),
                ("moving_mean", false),
                ("moving_variance", false)
            ]
        );
        assert_eq!(weight_counts(&w), Some((16, 16)));
        let (_, w) = run(
            &BATCH_NORMALIZATION,
            vec![
                ("center", ParamValue::Bool(false)),
                ("axis", ParamValue::Int(1)),
            ],
            spec(&[Some(6), Some(8)]),
        );
        assert_eq!(weight_counts(&w), Some((6, 12)));
        assert_eq!(w[0].name, "gamma");
    }

    #[test]
    fn batch_normalization_refuses_bad_momentum_epsilon_and_axis() {
        let x = || spec(&[Some(4)]);
        let err = |given| run(&BATCH_NORMALIZATION, given, x()).0.unwrap_err().message;
        assert!(err(vec![("momentum", ParamValue::Float(1.5))]).contains("momentum=1.5"));
        assert!(err(vec![("momentum", ParamValue::Float(-0.1))]).contains("momentum"));
        assert!(err(vec![("epsilon", ParamValue::Float(0.0))]).contains("epsilon=0"));
        assert!(err(vec![("epsilon", ParamValue::Float(f64::NAN))]).contains("epsilon"));
        assert!(err(vec![("epsilon", ParamValue::Float(1e-50))]).contains("0 in float32"));
        let tiny = vec![("epsilon", ParamValue::Float(1e-44))];
        assert!(run(&BATCH_NORMALIZATION, tiny, x()).0.is_ok());
        assert!(err(vec![("axis", ParamValue::Int(2))]).contains("Invalid axis: 2"));
        for ok in [0.0, 1.0] {
            let given = vec![("momentum", ParamValue::Float(ok))];
            assert!(run(&BATCH_NORMALIZATION, given, x()).0.is_ok());
        }
    }

    #[test]
    fn layer_normalization_has_gamma_and_beta_and_the_same_rules() {
        let (out, w) = run(&LAYER_NORMALIZATION, vec![], spec(&[Some(3), Some(6)]));
        assert_eq!(out.unwrap().shape_string(), "(None, 3, 6)");
        assert_eq!(weight_counts(&w), Some((12, 0)));
        let (_, w) = run(
            &LAYER_NORMALIZATION,
            vec![("scale", ParamValue::Bool(false))],
            spec(&[Some(6)]),
        );
        assert_eq!(w.iter().map(|w| w.name).collect::<Vec<_>>(), ["beta"]);
        let (out, _) = run(
            &LAYER_NORMALIZATION,
            vec![("epsilon", ParamValue::Float(-1.0))],
            spec(&[Some(6)]),
        );
        assert!(out.unwrap_err().message.contains("epsilon=-1"));
        let (out, _) = run(
            &LAYER_NORMALIZATION,
            vec![("axis", ParamValue::Int(-3))],
            spec(&[Some(6)]),
        );
        assert!(out.unwrap_err().message.contains("Invalid axis: -3"));
    }
}
