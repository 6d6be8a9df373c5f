//! Keras' `Activation` layer: an activation applied element-wise, the shape unchanged.

use crate::shape::spec::{
    no_weights, runs_always, InputSpec, LayerSpec, ParamKind, ParamSpec, RuleInput,
};
use crate::shape::{Activation, Arity, Layout, RuleError, TensorSpec};

/// `activation(activation)`.
pub static ACTIVATION: LayerSpec = LayerSpec {
    name: "activation",
    class_name: "Activation",
    doc: "An activation applied element-wise; the shape is unchanged. Takes ragged inputs (on their flat values).",
    params: &[ParamSpec::required("activation", ParamKind::Activation)],
    // Element-wise, so it applies to a ragged tensor's flat values; a sparse tensor is refused,
    // since most activations do not map zero to zero and would make it dense.
    input: InputSpec::float(1).layouts(&[Layout::Dense, Layout::Ragged]),
    arity: Arity::One,
    shareable: true,
    output: activation_rule,
    weights: no_weights,
    runs: runs_always,
    id_bound: None,
    runtime: "ActivationLayer",
    mask: crate::shape::spec::MaskFlow::Passes,
};

fn activation_rule(rule: &RuleInput<'_>) -> Result<TensorSpec, RuleError> {
    let input = rule.input();
    if rule.config.activation("activation") == Activation::Softmax && input.dims.is_empty() {
        return Err(RuleError::new(format!(
            "layer '{}': softmax needs an axis besides the batch axis, received {}",
            rule.name,
            input.shape_string()
        )));
    }
    Ok(input.clone())
}
