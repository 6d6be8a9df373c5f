//! Keras' `Flatten`: every axis after the batch axis joined into one, in row-major (channels
//! last) order.

use crate::shape::spec::{no_weights, runs_always, InputSpec, LayerSpec, RuleInput};
use crate::shape::{Arity, Dim, RuleError, TensorSpec};

/// `flatten()`.
pub static FLATTEN: LayerSpec = LayerSpec {
    name: "flatten",
    class_name: "Flatten",
    doc: "Joins every axis after the batch axis into one, in row-major (H, W, C) order: `(batch, d1, ..., dn) -> (batch, d1 · ... · dn)`; every `di` must be known.",
    params: &[],
    input: InputSpec::float(1),
    arity: Arity::One,
    shareable: true,
    output: flatten_rule,
    weights: no_weights,
    runs: runs_always,
    id_bound: None,
    runtime: "Flatten",
    mask: crate::shape::spec::MaskFlow::Refuses,
};

/// `(batch, d1, ..., dn) -> (batch, d1 · ... · dn)`; a rank-1 input `(batch,)` gives
/// `(batch, 1)`, as in Keras.
fn flatten_rule(rule: &RuleInput<'_>) -> Result<TensorSpec, RuleError> {
    let input = rule.input();
    let Some(features) = input.features() else {
        let message = if input.dims.contains(&Dim::Unknown) {
            format!(
                "layer '{}' (Flatten) needs every dimension after the batch axis known, to size what follows it; received {}",
                rule.name,
                input.shape_string()
            )
        } else {
            format!(
                "layer '{}' (Flatten): {} has more values per sample than this machine can address",
                rule.name,
                input.shape_string()
            )
        };
        return Err(RuleError::new(message));
    };
    Ok(TensorSpec {
        dims: vec![Dim::Known(features)],
        ..input.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::Config;

    fn output(dims: Vec<Dim>) -> Result<TensorSpec, RuleError> {
        let input = TensorSpec::dense(dims);
        FLATTEN.output_spec(&RuleInput {
            name: "flatten",
            config: &Config::default(),
            inputs: &[input],
        })
    }

    #[test]
    fn joins_every_axis_after_the_batch() {
        let out = output(vec![Dim::Known(5), Dim::Known(5), Dim::Known(64)]).unwrap();
        assert_eq!(out.shape_string(), "(None, 1600)");
        assert_eq!(output(vec![]).unwrap().shape_string(), "(None, 1)");
    }

    #[test]
    fn refuses_unknown_and_overflowing_dims() {
        let e = output(vec![Dim::Unknown, Dim::Known(4)]).unwrap_err();
        assert!(e.message.contains("every dimension"), "{e}");
        let e = output(vec![Dim::Known(1 << 40), Dim::Known(1 << 40)]).unwrap_err();
        assert!(e.message.contains("more values"), "{e}");
    }
}
