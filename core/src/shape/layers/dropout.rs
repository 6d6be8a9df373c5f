//! Keras' dropout family: `dropout(rate, seed)`, active only in training.

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
};

/// The shape is unchanged; `rate` must lie in `[0, 1)` (Keras' check).
fn dropout_rule(rule: &RuleInput<'_>) -> Result<TensorSpec, RuleError> {
    let rate = rule.config.float("rate");
    if !(0.0..1.0).contains(&rate) {
        return Err(RuleError::new(format!(
            "Invalid value received for argument `rate` of layer '{}' (Dropout). Expected a float value between 0 and 1 (1 excluded). Received: rate={rate}",
            rule.name
        )));
    }
    Ok(rule.input().clone())
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
}
