//! Keras' `TimeDistributed` wrapper: `time_distributed(dense(8))` applies the layer written
//! inside to every step of a `(batch, steps, ...)` tensor, the same weights at every step:
//! `(batch, steps, ...) -> (batch, steps, inner output ...)`.
//!
//! Tensors flow as rows with every axis but the last folded into them, so a step of
//! `(batch, steps, ...)` is a sample of the inner layer's `(batch · steps, ...)`: the inner
//! layer runs once over all steps at once, as Keras' `TimeDistributed` reshapes to.
//!
//! Weights as Keras 3 names them: the inner layer's under its own name
//! (`time_distributed/dense/kernel`; file group `layer`, or `layer/cell` for a recurrent
//! layer inside).

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use crate::shape::spec::{
    InputSpec, LayerSpec, MaskFlow, ParamKind, ParamSpec, RuleInput, WeightSpec,
};
use crate::shape::{layer_spec, Arity, Config, Dim, Layout, RuleError, TensorSpec};

/// `time_distributed(layer)`.
pub static TIME_DISTRIBUTED: LayerSpec = LayerSpec {
    name: "time_distributed",
    class_name: "TimeDistributed",
    doc: "Applies the layer written inside to every step of `(batch, steps, ...)` with the same weights (`time_distributed(dense(8))`): `(batch, steps, ...)` -> `(batch, steps, inner output ...)`. The inner layer sees each step as a sample, `(batch, ...)`; a layer that reads across samples' steps (a recurrent layer) needs steps inside each step, `(batch, steps, inner steps, features)`.",
    params: &[ParamSpec::required("layer", ParamKind::Layer)],
    input: InputSpec::float(3).layouts(&[Layout::Dense]),
    arity: Arity::One,
    shareable: false,
    output: time_distributed_rule,
    weights: time_distributed_weights,
    runs: time_distributed_runs,
    id_bound: None,
    runtime: "TimeDistributed",
    // The mask is over the outer steps, each of which the inner layer computes alone.
    mask: MaskFlow::Passes,
};

/// The layer inside a time-distributed configuration: its spec and configuration, if it is a
/// registered layer that can be wrapped (one input, no mask of its own, not a wrapper).
pub fn time_distributed_inner(config: &Config) -> Option<(&'static LayerSpec, Config)> {
    let (name, inner) = config.layer("layer")?;
    let spec = layer_spec(name)?;
    wrappable(spec).then_some((spec, inner))
}

fn wrappable(spec: &LayerSpec) -> bool {
    spec.arity == Arity::One
        && !matches!(spec.mask, MaskFlow::Makes(_))
        && !spec.params.iter().any(|p| p.kind == ParamKind::Layer)
}

/// The spec of one step of `input`: the steps axis folded into the batch.
pub fn step_spec(input: &TensorSpec) -> TensorSpec {
    TensorSpec {
        batch: Dim::Unknown,
        dims: input.dims.iter().skip(1).copied().collect(),
        ..input.clone()
    }
}

/// The inner layer's rule input on one step, named by its DSL name (it has no name of its
/// own in the model), so its messages say which layer they are about.
fn inner_rule<'a>(
    spec: &'static LayerSpec,
    config: &'a Config,
    step: &'a [TensorSpec],
) -> RuleInput<'a> {
    RuleInput {
        name: spec.name,
        config,
        inputs: step,
    }
}

/// The inner layer's rule on one step, the steps axis put back in front.
fn time_distributed_rule(rule: &RuleInput<'_>) -> Result<TensorSpec, RuleError> {
    let layer = rule.name;
    let Some((spec, inner)) = time_distributed_inner(rule.config) else {
        let found = rule
            .config
            .layer("layer")
            .map_or("nothing".to_string(), |(n, _)| format!("`{n}(...)`"));
        return Err(RuleError::new(format!(
            "layer '{layer}' (TimeDistributed) needs a one-input layer inside that makes no mask and wraps no other layer, e.g. `time_distributed(dense(8))`; found {found}"
        )));
    };
    let input = rule.input();
    let step = [step_spec(input)];
    let out = spec
        .output_spec(&inner_rule(spec, &inner, &step))
        .map_err(|e| {
            RuleError::new(format!(
            "layer '{layer}' (TimeDistributed) applies `{}` to each step, {} of its input {}: {}",
            spec.name,
            step[0].shape_string(),
            input.shape_string(),
            e.message
        ))
        })?;
    let mut dims = Vec::with_capacity(out.dims.len() + 1);
    dims.push(input.dims.first().copied().unwrap_or(Dim::Unknown));
    dims.extend(out.dims.iter().copied());
    Ok(TensorSpec {
        batch: input.batch,
        dims,
        ..out
    })
}

/// `s` as a `&'static str`, each distinct string leaked once: weight names are static, and a
/// wrapped layer's are its own prefixed with its name, known only from the configuration.
pub fn intern(s: String) -> &'static str {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(&known) = names.get(s.as_str()) {
        return known;
    }
    let leaked: &'static str = Box::leak(s.into_boxed_str());
    names.insert(leaked);
    leaked
}

/// The name of the inner layer's weight `variable` under the wrapper: `dense/kernel`.
pub fn distributed_name(inner: &str, variable: &str) -> &'static str {
    intern(format!("{inner}/{variable}"))
}

fn time_distributed_weights(rule: &RuleInput<'_>) -> Vec<WeightSpec> {
    let Some((spec, inner)) = time_distributed_inner(rule.config) else {
        return Vec::new();
    };
    let step = [step_spec(rule.input())];
    spec.weight_specs(&inner_rule(spec, &inner, &step))
        .into_iter()
        .map(|w| WeightSpec {
            name: distributed_name(spec.name, w.name),
            keras_group: if w.keras_group.is_empty() {
                "layer"
            } else {
                intern(format!("layer/{}", w.keras_group))
            },
            ..w
        })
        .collect()
}

/// What the runtime does not run yet: what the inner layer does not on one step.
fn time_distributed_runs(rule: &RuleInput<'_>) -> Result<(), String> {
    match time_distributed_inner(rule.config) {
        Some((spec, inner)) => {
            let step = [step_spec(rule.input())];
            (spec.runs)(&inner_rule(spec, &inner, &step))
        }
        None => Err("it needs a layer inside".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::spec::ParamValue;
    use crate::shape::weight_counts;

    fn wrap(name: &str, inner: Vec<(&'static str, ParamValue)>) -> Config {
        let spec = layer_spec(name).unwrap();
        let c = spec.configure(inner);
        TIME_DISTRIBUTED.configure(vec![(
            "layer",
            ParamValue::Layer(spec.name.into(), c.values().to_vec().into()),
        )])
    }

    fn rule_on<'a>(config: &'a Config, input: &'a [TensorSpec]) -> RuleInput<'a> {
        RuleInput {
            name: "time_distributed",
            config,
            inputs: input,
        }
    }

    #[test]
    fn shapes_and_weights_follow_keras() {
        let config = wrap("dense", vec![("units", ParamValue::Int(8))]);
        let input = [TensorSpec::dense(vec![Dim::Known(10), Dim::Known(16)])];
        let rule = rule_on(&config, &input);
        assert_eq!(
            TIME_DISTRIBUTED.output_spec(&rule).unwrap().shape_string(),
            "(None, 10, 8)"
        );
        let w = TIME_DISTRIBUTED.weight_specs(&rule);
        let names: Vec<_> = w.iter().map(|w| (w.name, w.keras_group)).collect();
        assert_eq!(names, [("dense/kernel", "layer"), ("dense/bias", "layer")]);
        // Keras' summary of TimeDistributed(Dense(8)) on (10, 16): 16·8 + 8.
        assert_eq!(weight_counts(&w), Some((136, 0)));
        // A convolution over the frames of a video: (None, 4, 6, 6, 3) -> (None, 4, 4, 4, 5).
        let config = wrap(
            "conv2d",
            vec![
                ("filters", ParamValue::Int(5)),
                ("kernel_size", ParamValue::Ints(vec![3].into())),
            ],
        );
        let input = [TensorSpec::dense(
            [4, 6, 6, 3].into_iter().map(Dim::Known).collect(),
        )];
        let out = TIME_DISTRIBUTED
            .output_spec(&rule_on(&config, &input))
            .unwrap();
        assert_eq!(out.shape_string(), "(None, 4, 4, 4, 5)");
    }

    #[test]
    fn refuses_what_cannot_run_on_one_step() {
        // An LSTM over (batch, 10, 16) sees each step as (None, 16): not a sequence.
        let config = wrap("lstm", vec![("units", ParamValue::Int(3))]);
        let input = [TensorSpec::dense(vec![Dim::Known(10), Dim::Known(16)])];
        let e = TIME_DISTRIBUTED
            .output_spec(&rule_on(&config, &input))
            .unwrap_err();
        assert!(
            e.message
                .contains("applies `lstm` to each step, (None, 16)"),
            "{e}"
        );
        let config = wrap("masking", vec![]);
        let e = TIME_DISTRIBUTED
            .output_spec(&rule_on(&config, &input))
            .unwrap_err();
        assert!(e.message.contains("found `masking(...)`"), "{e}");
        assert_eq!(intern("a/b".to_string()), intern(String::from("a/b")));
    }
}
