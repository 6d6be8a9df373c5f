//! Keras' preprocessing layers carried inside a model: `normalization(axis, mean, variance)`,
//! `rescaling(scale, offset)` and `category_encoding(num_tokens, output_mode)`.

use std::borrow::Cow;

use crate::shape::layers::norm_axis;
use crate::shape::spec::{
    no_weights, runs_always, DTypeClass, InputSpec, LayerSpec, ParamKind, ParamSpec, ParamValue,
    RuleInput, WeightSpec,
};
use crate::shape::{Arity, Config, DType, Dim, Initializer, Layout, RuleError, TensorSpec};

/// Keras' `backend.epsilon()`, the floor of the standard deviation in `normalization`
/// (`maximum(sqrt(variance), epsilon)`).
pub const NORMALIZATION_EPSILON: f64 = 1e-7;

/// `normalization(axis, mean, variance, invert)`.
pub static NORMALIZATION: LayerSpec = LayerSpec {
    name: "normalization",
    class_name: "Normalization",
    doc: "`(x - mean) / max(sqrt(variance), 1e-7)` per feature of `axis` (with `invert = true` Keras' de-normalization, `mean + x * max(sqrt(variance), 1e-7)`), the same in training and inference. `mean` and `variance` are given (`mean = [...], variance = [...]`, one value each per feature of the axis, or one for all; the layer then has no weights, as Keras), or left out and computed from data with `model.adapt_normalization(\"normalization\", x)`: then they are the non-trainable weights `mean` and `variance`, saved and loaded with the rest (Keras files also hold Keras' scalar `count`, which Keras 3 keeps at 0 and which is written as 0 and read past). Shape unchanged.",
    params: &[
        ParamSpec::optional("axis", ParamKind::Int, ParamValue::Int(-1)),
        ParamSpec::optional("mean", ParamKind::Floats, ParamValue::None),
        ParamSpec::optional("variance", ParamKind::Floats, ParamValue::None),
        ParamSpec::optional("invert", ParamKind::Bool, ParamValue::Bool(false)),
    ],
    input: InputSpec::float(2),
    arity: Arity::One,
    // One set of training buffers (as `rescaling`); sharing it would need one per use.
    shareable: false,
    output: normalization_rule,
    weights: normalization_weights,
    runs: runs_always,
    id_bound: None,
    runtime: "Normalization",
    mask: crate::shape::spec::MaskFlow::Refuses,
};

/// The axis must be one of the input's (not the batch axis); `mean` and `variance` are given
/// together or not at all, each with one value per feature of the axis (or one for all),
/// finite, the variance not negative.
fn normalization_rule(rule: &RuleInput<'_>) -> Result<TensorSpec, RuleError> {
    let input = rule.input();
    let axis = norm_axis(input, rule.config.int("axis")).map_err(RuleError::new)?;
    let (mean, variance) = (rule.config.floats("mean"), rule.config.floats("variance"));
    match (&mean, &variance) {
        (None, None) => {}
        (Some(_), None) | (None, Some(_)) => {
            return Err(RuleError::new(format!(
                "When setting values directly, both `mean` and `variance` must be set (layer '{}'). Received: mean={} and variance={}",
                rule.name,
                rule.config.get("mean").map_or("None".into(), ToString::to_string),
                rule.config.get("variance").map_or("None".into(), ToString::to_string),
            )))
        }
        (Some(m), Some(v)) => {
            for (name, values) in [("mean", m), ("variance", v)] {
                if values.len() != 1 && values.len() != axis.size {
                    return Err(RuleError::new(format!(
                        "`{name}` of layer '{}' (Normalization) has {} values, but axis {} of the input {} has {} features: give one value per feature, or one for all",
                        rule.name,
                        values.len(),
                        axis.axis,
                        input.shape_string(),
                        axis.size
                    )));
                }
                if let Some(bad) = values.iter().find(|x| !x.is_finite()) {
                    return Err(RuleError::new(format!(
                        "`{name}` of layer '{}' (Normalization) must be finite. Received: {bad}",
                        rule.name
                    )));
                }
            }
            if let Some(bad) = v.iter().find(|x| **x < 0.0) {
                return Err(RuleError::new(format!(
                    "`variance` of layer '{}' (Normalization) must not be negative. Received: {bad}",
                    rule.name
                )));
            }
        }
    }
    Ok(input.clone())
}

/// Keras' order, `mean` then `variance`, both non-trainable, and only when they are adapted
/// rather than given (Keras makes given ones constants, not variables).
fn normalization_weights(rule: &RuleInput<'_>) -> Vec<WeightSpec> {
    if rule.config.floats("mean").is_some() {
        return Vec::new();
    }
    let n = rule
        .inputs
        .first()
        .and_then(|s| norm_axis(s, rule.config.int("axis")).ok())
        .map_or(0, |a| a.size);
    vec![
        WeightSpec::non_trainable("mean", vec![n], Initializer::Zeros),
        WeightSpec::non_trainable("variance", vec![n], Initializer::Ones),
    ]
}

/// The variables Keras keeps for a layer beyond its weights here, after them in its files
/// (`vars/<weights>`, `vars/<weights + 1>`, ...): an adapted `Normalization`'s `count`, a
/// scalar `int64` that Keras 3 creates for files of older versions and never updates (so it
/// is 0), and that Keras' loader requires (it checks the number of variables). Empty for
/// every other layer.
pub fn keras_extra_variables(spec: &LayerSpec, weights: &[WeightSpec]) -> &'static [&'static str] {
    if std::ptr::eq(spec, &NORMALIZATION) && !weights.is_empty() {
        &["count"]
    } else {
        &[]
    }
}

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
    mask: crate::shape::spec::MaskFlow::Refuses,
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

/// `category_encoding(num_tokens, output_mode)`.
pub static CATEGORY_ENCODING: LayerSpec = LayerSpec {
    name: "category_encoding",
    class_name: "CategoryEncoding",
    doc: "Integer ids in `[0, num_tokens)` to vectors of `num_tokens`: `one_hot` encodes each id (`(batch, T) -> (batch, T, num_tokens)`, `(batch, 1) -> (batch, num_tokens)`), `multi_hot` marks the ids each sample holds and `count` counts them (`(batch, T) -> (batch, num_tokens)`). Takes dense or ragged ids.",
    params: &[
        ParamSpec::required("num_tokens", ParamKind::PositiveInt),
        ParamSpec::optional(
            "output_mode",
            ParamKind::Choice(OUTPUT_MODES),
            ParamValue::Str(Cow::Borrowed("multi_hot")),
        )
        .positional(),
    ],
    input: InputSpec::float(2)
        .ndim(2)
        .dtype(DTypeClass::Integer)
        .layouts(&[Layout::Dense, Layout::Ragged]),
    arity: Arity::One,
    shareable: false,
    output: category_encoding_rule,
    weights: no_weights,
    // Dense and ragged ids both run (sparse ones are refused by `input`).
    runs: runs_always,
    id_bound: Some(|c: &Config| c.usize("num_tokens")),
    runtime: "CategoryEncoding",
    mask: crate::shape::spec::MaskFlow::Refuses,
};

/// `CategoryEncoding`'s output modes.
const OUTPUT_MODES: &[&str] = &["one_hot", "multi_hot", "count"];

/// `one_hot` adds an axis of `num_tokens` (the ids stay ragged); `multi_hot` and `count`
/// replace the ids of each sample by one dense vector of `num_tokens`.
fn category_encoding_rule(rule: &RuleInput<'_>) -> Result<TensorSpec, RuleError> {
    let input = rule.input();
    let tokens = Dim::Known(rule.config.usize("num_tokens"));
    if rule.config.str("output_mode") == "one_hot" {
        let mut out = input.clone();
        // Keras: ids of shape `(batch, 1)` encode to `(batch, num_tokens)`, the axis of one
        // id replaced rather than kept.
        if out.dims.last() == Some(&Dim::Known(1)) {
            out.dims.pop();
        }
        out.dims.push(tokens);
        out.dtype = DType::F32;
        return Ok(out);
    }
    Ok(TensorSpec {
        batch: input.batch,
        dims: vec![tokens],
        dtype: DType::F32,
        layout: Layout::Dense,
    })
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

    #[test]
    fn category_encoding_adds_or_replaces_the_token_axis() {
        let ragged = || TensorSpec {
            dims: vec![Dim::Unknown],
            dtype: DType::I32,
            layout: Layout::Ragged,
            ..TensorSpec::dense(vec![])
        };
        let rule = |mode: &'static str, input: TensorSpec| {
            let config = CATEGORY_ENCODING.configure(vec![
                ("num_tokens", ParamValue::Int(5)),
                ("output_mode", ParamValue::Str(mode.into())),
            ]);
            let inputs = [input];
            let rule = RuleInput {
                name: "category_encoding",
                config: &config,
                inputs: &inputs,
            };
            (
                CATEGORY_ENCODING.output_spec(&rule),
                (CATEGORY_ENCODING.runs)(&rule),
            )
        };
        let (out, runs) = rule("one_hot", ragged());
        let out = out.unwrap();
        assert_eq!(
            (out.shape_string(), out.layout),
            ("(None, None, 5)".into(), Layout::Ragged)
        );
        assert!(runs.is_ok());
        for mode in ["multi_hot", "count"] {
            let out = rule(mode, ragged()).0.unwrap();
            assert_eq!(
                (out.shape_string(), out.layout),
                ("(None, 5)".into(), Layout::Dense)
            );
            assert_eq!(out.dtype, DType::F32);
        }
        // Float input is refused by the input spec; dense ids run.
        let floats = TensorSpec::dense(vec![Dim::Known(3)]);
        let e = rule("count", floats).0.unwrap_err().message;
        assert!(e.contains("expects integer ids"), "{e}");
        let ids = |n| TensorSpec {
            dtype: DType::I32,
            ..TensorSpec::dense(vec![Dim::Known(n)])
        };
        let (out, runs) = rule("count", ids(3));
        assert_eq!(out.unwrap().shape_string(), "(None, 5)");
        assert!(runs.is_ok());
        assert_eq!(
            rule("one_hot", ids(3)).0.unwrap().shape_string(),
            "(None, 3, 5)"
        );
        // One id per sample: Keras replaces that axis.
        assert_eq!(
            rule("one_hot", ids(1)).0.unwrap().shape_string(),
            "(None, 5)"
        );
    }
}
