//! Keras' preprocessing layers carried inside a model: `rescaling(scale, offset)`.

use crate::shape::spec::{
    no_weights, runs_always, InputSpec, LayerSpec, ParamKind, ParamSpec, ParamValue, RuleInput,
};
use crate::shape::{Arity, Layout, RuleError, TensorSpec};

/// `rescaling(scale, offset)`.
pub static RESCALING: LayerSpec = LayerSpec {
    name: "rescaling",
    class_name: "Rescaling",
    doc: "`x * scale + offset`, value by value (e.g. `rescaling(0.00392156863)`, 1 / 255, for pixels); the same in training and inference. Shape unchanged; takes ragged inputs (on their flat values).",
    params: &[
        ParamSpec::required("scale", ParamKind::Number),
        ParamSpec::optional("offset", ParamKind::Number, ParamValue::Float(0.0)).positional(),
    ],
    input: InputSpec::float(1).layouts(&[Layout::Dense, Layout::Ragged]),
    arity: Arity::One,
    shareable: false,
    output: rescaling_rule,
    weights: no_weights,
    runs: runs_always,
    id_bound: None,
    runtime: "Rescaling",
};

/// The shape is unchanged; `scale` and `offset` must be finite (an infinite literal would
/// turn every value into an infinity or a NaN).
fn rescaling_rule(rule: &RuleInput<'_>) -> Result<TensorSpec, RuleError> {
    for name in ["scale", "offset"] {
        let v = rule.config.float(name);
        if !v.is_finite() {
            return Err(RuleError::new(format!(
                "Invalid value received for argument `{name}` of layer '{}' (Rescaling). Expected a finite number. Received: {name}={v}",
                rule.name
            )));
        }
    }
    Ok(rule.input().clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::Dim;

    fn output(scale: f64, offset: f64) -> Result<TensorSpec, RuleError> {
        let config = RESCALING.configure(vec![
            ("scale", ParamValue::Float(scale)),
            ("offset", ParamValue::Float(offset)),
        ]);
        RESCALING.output_spec(&RuleInput {
            name: "rescaling",
            config: &config,
            inputs: &[TensorSpec::dense(vec![Dim::Known(2), Dim::Known(3)])],
        })
    }

    #[test]
    fn keeps_the_shape_and_refuses_infinite_factors() {
        assert_eq!(output(0.5, -1.0).unwrap().shape_string(), "(None, 2, 3)");
        assert!(output(-2.0, 0.0).is_ok());
        let e = output(f64::INFINITY, 0.0).unwrap_err().message;
        assert!(e.contains("scale=inf"), "{e}");
        assert!(output(1.0, f64::NEG_INFINITY).is_err());
    }
}
