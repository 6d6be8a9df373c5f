//! A user's own layer (Keras' `Layer` subclass): a type implementing the runtime
//! [`Layer`](crate::Layer) and [`CustomLayer`](crate::CustomLayer) traits, declared to the
//! macro with `custom_layer!(Type, ...)`. Not in the registry: it is no word of the DSL, but
//! the type's own name in a chain. Its shape rule is the one `custom_layer!` declares: the
//! input's shape, or the input's with the last axis of `units`.

use crate::shape::spec::{
    no_weights, runs_always, InputSpec, LayerSpec, ParamKind, ParamSpec, ParamValue, RuleInput,
};
use crate::shape::{Arity, Dim, Layout, RuleError, TensorSpec};

/// The spec every user's layer is checked with; its configuration says the shape rule.
pub static CUSTOM: LayerSpec = LayerSpec {
    name: "custom",
    class_name: "Custom",
    doc: "A user's own layer: the input's shape, or with `units` the input's with a last axis of `units`.",
    params: &[ParamSpec::optional("units", ParamKind::Int, ParamValue::Int(0))],
    input: InputSpec::float(2).layouts(&[Layout::Dense]),
    arity: Arity::One,
    shareable: false,
    output: custom_rule,
    // Its weights are the type's own: counted at run time (`summary()`, `weights()`).
    weights: no_weights,
    runs: runs_always,
    id_bound: None,
    runtime: "Custom",
    // The type's own `Layer` never receives a mask.
    mask: crate::shape::spec::MaskFlow::Refuses,
};

fn custom_rule(rule: &RuleInput<'_>) -> Result<TensorSpec, RuleError> {
    let input = rule.input();
    let units = rule.config.int("units");
    let mut out = input.clone();
    if units > 0 {
        if let Some(last) = out.dims.last_mut() {
            *last = Dim::Known(units as usize);
        }
    }
    if out.dims.last().and_then(|d| d.known()).is_none() {
        return Err(RuleError::new(format!(
            "layer '{}' needs its input's last axis known; received {}",
            rule.name,
            input.shape_string()
        )));
    }
    Ok(out)
}
