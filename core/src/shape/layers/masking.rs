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

    #[test]
    fn each_layer_passes_reads_or_refuses_the_mask() {
        use crate::shape::layers::{layer_spec, BIDIRECTIONAL, LSTM};
        let seq = LSTM.configure(vec![
            ("units", ParamValue::Int(2)),
            ("return_sequences", ParamValue::Bool(true)),
        ]);
        let last = LSTM.configure(vec![("units", ParamValue::Int(2))]);
        assert_eq!(LSTM.output_mask("lstm", &seq, true), Ok(true));
        assert_eq!(LSTM.output_mask("lstm", &last, true), Ok(false));
        assert_eq!(LSTM.output_mask("lstm", &seq, false), Ok(false));
        let bi = |inner: &crate::shape::Config| {
            BIDIRECTIONAL.configure(vec![(
                "layer",
                ParamValue::Layer("lstm".into(), inner.values().to_vec().into()),
            )])
        };
        assert_eq!(BIDIRECTIONAL.output_mask("b", &bi(&seq), true), Ok(true));
        assert_eq!(BIDIRECTIONAL.output_mask("b", &bi(&last), true), Ok(false));
        let pool = layer_spec("global_average_pooling_1d").unwrap();
        assert_eq!(
            pool.output_mask("p", &pool.configure(vec![]), true),
            Ok(false)
        );
        let dense = layer_spec("dense").unwrap();
        let config = dense.configure(vec![("units", ParamValue::Int(3))]);
        assert_eq!(dense.output_mask("dense", &config, true), Ok(true));
        let flatten = layer_spec("flatten").unwrap();
        let config = flatten.configure(vec![]);
        assert_eq!(flatten.output_mask("flatten", &config, false), Ok(false));
        let e = flatten.output_mask("flatten", &config, true).unwrap_err();
        assert!(
            e.contains("'flatten' (Flatten) does not take a masked input"),
            "{e}"
        );
        assert!(e.contains("`lstm`"), "{e}");
    }
}
