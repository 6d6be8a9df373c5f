//! Keras' dropout family: `dropout(rate, seed)`, `gaussian_noise(stddev, seed)`,
//! `gaussian_dropout(rate, seed)` and `spatial_dropout_1d/2d(rate, seed)`, active only in
//! training.

use std::borrow::Cow;

use super::conv::channels_last;
use crate::shape::spec::{
    no_weights, runs_always, InputSpec, LayerSpec, ParamKind, ParamSpec, ParamValue, RuleInput,
};
use crate::shape::{Arity, RuleError, TensorSpec};

/// `dropout(rate, seed)`.
pub static DROPOUT: LayerSpec = LayerSpec {
    name: "dropout",
    class_name: "Dropout",
    doc: "In training, sets each value to 0 with probability `rate` and scales the kept ones by `1 / (1 - rate)`; the identity in inference. Shape unchanged.",
    params: &[
        ParamSpec::required("rate", ParamKind::Number),
        ParamSpec::optional("seed", ParamKind::Int, ParamValue::None).not_compared(),
    ],
    input: InputSpec::float(1),
    arity: Arity::One,
    shareable: false,
    output: dropout_rule,
    weights: no_weights,
    runs: runs_always,
    id_bound: None,
    runtime: "Dropout",
    mask: crate::shape::spec::MaskFlow::Passes,
};

/// `gaussian_noise(stddev, seed)`.
pub static GAUSSIAN_NOISE: LayerSpec = LayerSpec {
    name: "gaussian_noise",
    class_name: "GaussianNoise",
    doc: "In training, adds zero-centred normal noise of standard deviation `stddev` to every value; the identity in inference. Shape unchanged.",
    params: &[
        ParamSpec::required("stddev", ParamKind::Number),
        ParamSpec::optional("seed", ParamKind::Int, ParamValue::None).not_compared(),
    ],
    input: InputSpec::float(1),
    arity: Arity::One,
    shareable: false,
    output: gaussian_noise_rule,
    weights: no_weights,
    runs: runs_always,
    id_bound: None,
    runtime: "Noise",
    mask: crate::shape::spec::MaskFlow::Passes,
};

/// `gaussian_dropout(rate, seed)`.
pub static GAUSSIAN_DROPOUT: LayerSpec = LayerSpec {
    name: "gaussian_dropout",
    class_name: "GaussianDropout",
    doc: "In training, multiplies every value by normal noise of mean 1 and standard deviation `sqrt(rate / (1 - rate))`; the identity in inference. Shape unchanged.",
    params: &[
        ParamSpec::required("rate", ParamKind::Number),
        ParamSpec::optional("seed", ParamKind::Int, ParamValue::None).not_compared(),
    ],
    input: InputSpec::float(1),
    arity: Arity::One,
    shareable: false,
    output: gaussian_dropout_rule,
    weights: no_weights,
    runs: runs_always,
    id_bound: None,
    runtime: "Noise",
    mask: crate::shape::spec::MaskFlow::Passes,
};

/// `spatial_dropout_1d(rate, seed)`.
pub static SPATIAL_DROPOUT_1D: LayerSpec = LayerSpec {
    name: "spatial_dropout_1d",
    class_name: "SpatialDropout1D",
    doc: "In training, drops whole channels of a sequence `(batch, steps, channels)`: each (sample, channel) is set to 0 at every step with probability `rate`, the kept ones scaled by `1 / (1 - rate)`; the identity in inference. Shape unchanged.",
    params: &[
        ParamSpec::required("rate", ParamKind::Number),
        ParamSpec::optional("seed", ParamKind::Int, ParamValue::None).not_compared(),
    ],
    input: InputSpec::float(3).ndim(3),
    arity: Arity::One,
    shareable: false,
    output: spatial_dropout_rule,
    weights: no_weights,
    runs: runs_with_known_axes,
    id_bound: None,
    runtime: "Noise",
    mask: crate::shape::spec::MaskFlow::Passes,
};

/// `spatial_dropout_2d(rate, data_format, seed)`.
pub static SPATIAL_DROPOUT_2D: LayerSpec = LayerSpec {
    name: "spatial_dropout_2d",
    class_name: "SpatialDropout2D",
    doc: "In training, drops whole feature maps of an image `(batch, rows, cols, channels)`: each (sample, channel) is set to 0 everywhere with probability `rate`, the kept ones scaled by `1 / (1 - rate)`; the identity in inference. Shape unchanged.",
    params: &[
        ParamSpec::required("rate", ParamKind::Number),
        ParamSpec::optional(
            "data_format",
            ParamKind::Choice(DATA_FORMATS),
            ParamValue::Str(Cow::Borrowed("channels_last")),
        ),
        ParamSpec::optional("seed", ParamKind::Int, ParamValue::None).not_compared(),
    ],
    input: InputSpec::float(4).ndim(4),
    arity: Arity::One,
    shareable: false,
    output: spatial_dropout_rule,
    weights: no_weights,
    runs: runs_with_known_axes,
    id_bound: None,
    runtime: "Noise",
    mask: crate::shape::spec::MaskFlow::Passes,
};

const DATA_FORMATS: &[&str] = &["channels_last", "channels_first"];

/// The shape is unchanged; `rate` must lie in `[0, 1)` (Keras' check).
fn dropout_rule(rule: &RuleInput<'_>) -> Result<TensorSpec, RuleError> {
    rate_rule(rule, "Dropout")
}

/// `gaussian_dropout`'s rate rule: Keras admits `rate = 1`, whose noise has an infinite
/// standard deviation, so it is refused here with the others.
fn gaussian_dropout_rule(rule: &RuleInput<'_>) -> Result<TensorSpec, RuleError> {
    rate_rule(rule, "GaussianDropout")
}

/// The shape is unchanged; `rate` must lie in `[0, 1)`.
fn rate_rule(rule: &RuleInput<'_>, class: &str) -> Result<TensorSpec, RuleError> {
    let rate = rule.config.float("rate");
    if !(0.0..1.0).contains(&rate) {
        return Err(RuleError::new(format!(
            "Invalid value received for argument `rate` of layer '{}' ({class}). Expected a float value between 0 and 1 (1 excluded). Received: rate={rate}",
            rule.name
        )));
    }
    Ok(rule.input().clone())
}

/// The shape is unchanged; `stddev` must not be negative.
fn gaussian_noise_rule(rule: &RuleInput<'_>) -> Result<TensorSpec, RuleError> {
    let stddev = rule.config.float("stddev");
    // Written to refuse NaN too.
    if !(stddev >= 0.0 && stddev.is_finite()) {
        return Err(RuleError::new(format!(
            "Invalid value received for argument `stddev` of layer '{}' (GaussianNoise). Expected a non-negative float. Received: stddev={stddev}",
            rule.name
        )));
    }
    Ok(rule.input().clone())
}

/// Dropout's rate rule, channels last only.
fn spatial_dropout_rule(rule: &RuleInput<'_>) -> Result<TensorSpec, RuleError> {
    let class = if rule.input().ndim() == 3 {
        "SpatialDropout1D"
    } else {
        "SpatialDropout2D"
    };
    channels_last(rule, class)?;
    rate_rule(rule, class)
}

/// The runtime finds each row's sample from the sizes of the axes between batch and
/// channels, so it needs them known.
fn runs_with_known_axes(rule: &RuleInput<'_>) -> Result<(), String> {
    let input = rule.input();
    if input.features().is_none() {
        return Err(format!(
            "spatial dropout needs every axis but the batch known, found {}; give the input a fixed shape",
            input.shape_string()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::Dim;

    fn output(rate: f64) -> Result<TensorSpec, RuleError> {
        let config = DROPOUT.configure(vec![("rate", ParamValue::Float(rate))]);
        DROPOUT.output_spec(&RuleInput {
            name: "dropout",
            config: &config,
            inputs: &[TensorSpec::dense(vec![Dim::Known(4)])],
        })
    }

    #[test]
    fn keeps_the_shape_and_refuses_rates_outside_0_1() {
        assert_eq!(output(0.5).unwrap().shape_string(), "(None, 4)");
        assert!(output(0.0).is_ok());
        assert!(output(1.0).unwrap_err().message.contains("rate=1"));
        assert!(output(-0.1).is_err());
    }

    fn rule(
        spec: &'static LayerSpec,
        given: Vec<(&'static str, ParamValue)>,
        dims: Vec<Dim>,
    ) -> (Result<TensorSpec, RuleError>, Result<(), String>) {
        let config = spec.configure(given);
        let inputs = [TensorSpec::dense(dims)];
        let rule = RuleInput {
            name: spec.name,
            config: &config,
            inputs: &inputs,
        };
        (spec.output_spec(&rule), (spec.runs)(&rule))
    }

    #[test]
    fn gaussian_noise_refuses_a_negative_stddev() {
        let with = |v: f64| {
            rule(
                &GAUSSIAN_NOISE,
                vec![("stddev", ParamValue::Float(v))],
                vec![Dim::Known(3)],
            )
            .0
        };
        assert_eq!(with(0.0).unwrap().shape_string(), "(None, 3)");
        assert!(with(2.5).is_ok());
        assert!(with(-0.1).unwrap_err().message.contains("stddev=-0.1"));
        assert!(with(f64::NAN).is_err());
    }

    #[test]
    fn gaussian_dropout_refuses_rates_outside_0_1() {
        let with = |v: f64| {
            rule(
                &GAUSSIAN_DROPOUT,
                vec![("rate", ParamValue::Float(v))],
                vec![Dim::Known(3)],
            )
            .0
        };
        assert!(with(0.0).is_ok());
        let e = with(1.0).unwrap_err().message;
        assert!(
            e.contains("(GaussianDropout)") && e.contains("rate=1"),
            "{e}"
        );
        assert!(with(-0.2).is_err());
    }

    #[test]
    fn spatial_dropout_takes_channels_last_inputs_of_known_axes() {
        let rate = || ("rate", ParamValue::Float(0.5));
        let (out, runs) = rule(
            &SPATIAL_DROPOUT_1D,
            vec![rate()],
            vec![Dim::Known(5), Dim::Known(2)],
        );
        assert_eq!(out.unwrap().shape_string(), "(None, 5, 2)");
        assert!(runs.is_ok());
        let (out, runs) = rule(
            &SPATIAL_DROPOUT_1D,
            vec![rate()],
            vec![Dim::Unknown, Dim::Known(2)],
        );
        assert!(out.is_ok());
        assert!(runs.unwrap_err().contains("(None, None, 2)"));
        let e = rule(
            &SPATIAL_DROPOUT_1D,
            vec![("rate", ParamValue::Float(1.5))],
            vec![Dim::Known(5), Dim::Known(2)],
        )
        .0
        .unwrap_err()
        .message;
        assert!(e.contains("(SpatialDropout1D)"), "{e}");
        let image = || vec![Dim::Known(4), Dim::Known(4), Dim::Known(3)];
        assert!(rule(&SPATIAL_DROPOUT_2D, vec![rate()], image()).0.is_ok());
        let e = rule(
            &SPATIAL_DROPOUT_2D,
            vec![
                rate(),
                ("data_format", ParamValue::Str("channels_first".into())),
            ],
            image(),
        )
        .0
        .unwrap_err()
        .message;
        assert!(e.contains("channels_first"), "{e}");
        // The rank is Keras' `ndim`.
        assert!(rule(&SPATIAL_DROPOUT_2D, vec![rate()], vec![Dim::Known(4)])
            .0
            .is_err());
    }
}
