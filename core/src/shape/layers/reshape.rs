//! Keras' `Reshape`: the values of each sample, in row-major (channels last) order, regrouped
//! into `target_shape`; one axis may be `-1`, inferred from the others.

use crate::shape::spec::{
    no_weights, runs_always, InputSpec, LayerSpec, ParamKind, ParamSpec, RuleInput,
};
use crate::shape::{Arity, Dim, RuleError, TensorSpec};

/// `reshape(target_shape)`.
pub static RESHAPE: LayerSpec = LayerSpec {
    name: "reshape",
    class_name: "Reshape",
    doc: "Regroups the values of each sample, in row-major order, into `target_shape` (the axes after the batch axis; one may be `-1`): `(batch, d1, ..., dn) -> (batch, *target_shape)`.",
    params: &[ParamSpec::required("target_shape", ParamKind::Ints)],
    input: InputSpec::float(2),
    arity: Arity::One,
    shareable: false,
    output: reshape_rule,
    weights: no_weights,
    runs: runs_always,
    id_bound: None,
    runtime: "Reshape",
    mask: crate::shape::spec::MaskFlow::Refuses,
};

/// The target dims with the `-1` resolved, for an input of `features` values per sample.
pub fn reshape_target(rule: &RuleInput<'_>) -> Result<Vec<usize>, RuleError> {
    let layer = rule.name;
    let target = rule.config.ints("target_shape");
    let shown = format!(
        "[{}]",
        target
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let input = rule.input();
    let Some(features) = input.features() else {
        return Err(RuleError::new(format!(
            "layer '{layer}' (Reshape) needs every dimension after the batch axis known; received {}",
            input.shape_string()
        )));
    };
    if target.iter().filter(|&&d| d == -1).count() > 1 {
        return Err(RuleError::new(format!(
            "layer '{layer}' (Reshape): there can only be one unknown dimension (-1) in `target_shape`. Received: target_shape={shown}"
        )));
    }
    if target.is_empty() || target.iter().any(|&d| d == 0 || d < -1) {
        return Err(RuleError::new(format!(
            "layer '{layer}' (Reshape): `target_shape` takes positive sizes and at most one -1. Received: target_shape={shown}"
        )));
    }
    let known = target
        .iter()
        .filter(|&&d| d > 0)
        .try_fold(1usize, |acc, &d| acc.checked_mul(usize::try_from(d).ok()?));
    let mismatch = |known: String| {
        RuleError::new(format!(
            "layer '{layer}' (Reshape): the input {} has {features} values per sample, but target_shape={shown} holds {known}; the total size must not change",
            input.shape_string()
        ))
    };
    let Some(known) = known else {
        return Err(mismatch("more than this machine can address".into()));
    };
    let free = if target.contains(&-1) {
        if known == 0 || features % known != 0 {
            return Err(mismatch(format!("a multiple of {known}")));
        }
        features / known
    } else {
        if known != features {
            return Err(mismatch(known.to_string()));
        }
        1
    };
    Ok(target
        .iter()
        .map(|&d| if d == -1 { free } else { d as usize })
        .collect())
}

fn reshape_rule(rule: &RuleInput<'_>) -> Result<TensorSpec, RuleError> {
    let dims = reshape_target(rule)?;
    Ok(TensorSpec {
        dims: dims.into_iter().map(Dim::Known).collect(),
        ..rule.input().clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::ParamValue;

    fn output(dims: &[usize], target: &[i64]) -> Result<TensorSpec, RuleError> {
        let config = RESHAPE.configure(vec![(
            "target_shape",
            ParamValue::Ints(target.to_vec().into()),
        )]);
        RESHAPE.output_spec(&RuleInput {
            name: "reshape",
            config: &config,
            inputs: &[TensorSpec::dense(
                dims.iter().map(|&d| Dim::Known(d)).collect(),
            )],
        })
    }

    #[test]
    fn reshape_keeps_the_count_and_infers_one_axis() {
        assert_eq!(
            output(&[2, 12], &[4, 6]).unwrap().shape_string(),
            "(None, 4, 6)"
        );
        assert_eq!(
            output(&[24], &[-1, 3]).unwrap().shape_string(),
            "(None, 8, 3)"
        );
        let e = output(&[24], &[5, 5]).unwrap_err();
        assert!(
            e.message.contains("24 values") && e.message.contains("holds 25"),
            "{e}"
        );
        let e = output(&[24], &[-1, -1]).unwrap_err();
        assert!(e.message.contains("only be one"), "{e}");
        let e = output(&[24], &[-1, 5]).unwrap_err();
        assert!(e.message.contains("multiple of 5"), "{e}");
        let e = output(&[24], &[0, 24]).unwrap_err();
        assert!(e.message.contains("positive"), "{e}");
    }
}
