//! `to_dense(pad)`: a ragged tensor made dense, padded to the longest row of each batch.

use crate::shape::spec::{
    no_weights, InputSpec, LayerSpec, ParamKind, ParamSpec, ParamValue, RuleInput,
};
use crate::shape::{ragged_rank, Arity, Layout, RuleError, TensorSpec};

/// `to_dense(pad = 0.0)`.
pub static TO_DENSE: LayerSpec = LayerSpec {
    name: "to_dense",
    class_name: "ToDense",
    doc: "A ragged tensor made dense (`tf.RaggedTensor.to_tensor`), padded with `pad` to the longest row of each batch; ragged axes stay `None`.",
    params: &[ParamSpec::optional("pad", ParamKind::Number, ParamValue::Float(0.0)).positional()],
    // Dense is accepted here so that the rule can say there is nothing to convert.
    input: InputSpec::float(2).layouts(&[Layout::Dense, Layout::Sparse, Layout::Ragged]),
    arity: Arity::One,
    shareable: true,
    output: to_dense_rule,
    weights: no_weights,
    runs: to_dense_runs,
    id_bound: None,
    runtime: "ToDense",
    mask: crate::shape::spec::MaskFlow::Refuses,
};

/// The same shape with `Layout::Dense`; ragged axes stay `None` (their size is the longest
/// row of each batch). A dense input is refused: there is nothing to convert.
fn to_dense_rule(rule: &RuleInput<'_>) -> Result<TensorSpec, RuleError> {
    let input = rule.input();
    if input.layout == Layout::Dense {
        return Err(RuleError::new(format!(
            "layer '{}' (to_dense) converts a ragged or sparse tensor, but its input {} is already dense: remove it",
            rule.name,
            input.shape_string()
        )));
    }
    let mut out = input.clone();
    out.layout = Layout::Dense;
    Ok(out)
}

fn to_dense_runs(rule: &RuleInput<'_>) -> Result<(), String> {
    let input = rule.input();
    if input.layout == Layout::Ragged && ragged_rank(input) == 1 {
        Ok(())
    } else {
        Err(format!(
            "`to_dense()` runs on ragged tensors with one ragged axis yet, received {input}"
        ))
    }
}
