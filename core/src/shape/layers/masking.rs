//! Keras' `Masking`: marks the time steps whose features all equal `mask_value` as padding,
//! for the recurrent layers and the average pooling after it to skip.

use crate::shape::spec::{
    no_weights, runs_always, InputSpec, LayerSpec, MaskFlow, ParamKind, ParamSpec, ParamValue,
    RuleInput,
};
use crate::shape::{Arity, Layout, RuleError, TensorSpec};

/// `masking(mask_value = 0.0)`.
pub static MASKING: LayerSpec = LayerSpec {
    name: "masking",
    class_name: "Masking",
    doc: "Masks the steps of `(batch, steps, features)` whose features all equal `mask_value`: they are set to 0, and the recurrent layers and `global_average_pooling_1d` after it skip them (Keras' mask). Shape unchanged.",
    params: &[
        ParamSpec::optional("mask_value", ParamKind::Number, ParamValue::Float(0.0)).positional(),
    ],
    // Keras masks any rank; the layers that read a mask here take `(batch, steps, features)`.
    input: InputSpec::float(3).ndim(3).layouts(&[Layout::Dense]),
    arity: Arity::One,
    shareable: false,
    output: masking_rule,
    weights: no_weights,
    runs: masking_runs,
    id_bound: None,
    runtime: "Masking",
    mask: MaskFlow::Makes(|_| true),
};

/// The shape unchanged; the steps must be known (the mask is read step by step of a dense
/// tensor of known steps).
fn masking_rule(rule: &RuleInput<'_>) -> Result<TensorSpec, RuleError> {
    Ok(rule.input().clone())
}

fn masking_runs(rule: &RuleInput<'_>) -> Result<(), String> {
    let input = rule.input();
    if input.dims.first().and_then(|d| d.known()).is_none() {
        return Err(format!(
            "its input {} has a number of steps known only at run time, which the layers reading a mask do not take yet: declare the steps (`shape = [20, 8]`), or feed ragged rows (`ragged = true`), which need no mask",
            input.shape_string()
        ));
    }
    runs_always(rule)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::Dim;

    #[test]
    fn keeps_the_shape_and_makes_a_mask() {
        let config = MASKING.configure(vec![]);
        assert_eq!(config.float("mask_value"), 0.0);
        let inputs = [TensorSpec::dense(vec![Dim::Known(5), Dim::Known(3)])];
        let rule = RuleInput {
            name: "masking",
            config: &config,
            inputs: &inputs,
        };
        assert_eq!(MASKING.output_spec(&rule).unwrap(), inputs[0]);
        assert_eq!(MASKING.output_mask("masking", &config, false), Ok(true));
        assert_eq!((MASKING.runs)(&rule), Ok(()));
        let inputs = [TensorSpec::dense(vec![Dim::Unknown, Dim::Known(3)])];
        let rule = RuleInput {
            inputs: &inputs,
            ..rule
        };
        assert!((MASKING.runs)(&rule).unwrap_err().contains("steps"));
    }
}
