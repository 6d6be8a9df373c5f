//! Keras' `Bidirectional` wrapper: `bidirectional(gru(3, return_sequences = true))` runs a
//! forward copy of the recurrent layer written inside and a backward one (`go_backwards`
//! flipped, its sequence re-reversed along time), and merges their outputs.
//!
//! Weights as Keras 3 saves them: the forward copy's under `forward_<inner>/...` (file group
//! `forward_layer/cell`), then the backward copy's under `backward_<inner>/...`.

use super::recurrent::CellKind;
use crate::shape::spec::{
    InputSpec, LayerSpec, ParamKind, ParamSpec, ParamValue, RuleInput, WeightSpec,
};
use crate::shape::{layer_spec, Arity, Config, Dim, Layout, RuleError, TensorSpec};

/// How the two directions' outputs are merged (Keras' `merge_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeMode {
    /// Side by side on the last axis (twice the units).
    Concat,
    /// Added.
    Sum,
    /// Multiplied elementwise.
    Mul,
    /// Averaged.
    Ave,
}

impl MergeMode {
    /// The mode `merge_mode` names (`concat` for anything else: the macro checks the name).
    pub fn from_name(name: &str) -> MergeMode {
        match name {
            "sum" => MergeMode::Sum,
            "mul" => MergeMode::Mul,
            "ave" => MergeMode::Ave,
            _ => MergeMode::Concat,
        }
    }
}

/// The layer inside a bidirectional configuration: its spec and configuration, if it is a
/// registered recurrent layer.
pub fn bidirectional_inner(config: &Config) -> Option<(&'static LayerSpec, Config)> {
    let (name, inner) = config.layer("layer")?;
    let spec = layer_spec(name)?;
    CellKind::from_layer_name(spec.name)?;
    Some((spec, inner))
}

/// Whether a bidirectional layer's output carries its input's mask: with the inner layer's
/// `return_sequences` (Keras' `compute_mask`).
fn inner_returns_sequences(config: &Config) -> bool {
    bidirectional_inner(config).is_some_and(|(_, inner)| inner.bool("return_sequences"))
}

/// The variable path of a direction's copy of `name` (a recurrent weight), as Keras names it:
/// `forward_gru/gru_cell/kernel`. Static, as weight names are; `name` itself for any other.
pub fn directed_name(forward: bool, name: &'static str) -> &'static str {
    macro_rules! table {
        ($($cell:literal => $layer:literal),*) => {
            match (forward, name) {
                $(
                    (true, concat!($cell, "/kernel")) => concat!("forward_", $layer, "/", $cell, "/kernel"),
                    (true, concat!($cell, "/recurrent_kernel")) => concat!("forward_", $layer, "/", $cell, "/recurrent_kernel"),
                    (true, concat!($cell, "/bias")) => concat!("forward_", $layer, "/", $cell, "/bias"),
                    (false, concat!($cell, "/kernel")) => concat!("backward_", $layer, "/", $cell, "/kernel"),
                    (false, concat!($cell, "/recurrent_kernel")) => concat!("backward_", $layer, "/", $cell, "/recurrent_kernel"),
                    (false, concat!($cell, "/bias")) => concat!("backward_", $layer, "/", $cell, "/bias"),
                )*
                _ => name,
            }
        };
    }
    table!("lstm_cell" => "lstm", "gru_cell" => "gru", "simple_rnn_cell" => "simple_rnn")
}

/// `bidirectional(layer, merge_mode = concat)`, Keras' parameters in Keras' order.
pub static BIDIRECTIONAL: LayerSpec = LayerSpec {
    name: "bidirectional",
    class_name: "Bidirectional",
    doc: "Runs the recurrent layer written inside (`bidirectional(gru(3, return_sequences = true))`) forward and backward over each row and merges the two outputs (`merge_mode`: `concat`, `sum`, `mul` or `ave`). On ragged input the backward copy reads each row from its own end.",
    params: &[
        ParamSpec::required("layer", ParamKind::Layer),
        ParamSpec::optional(
            "merge_mode",
            ParamKind::Choice(&["concat", "sum", "mul", "ave"]),
            ParamValue::Str(std::borrow::Cow::Borrowed("concat")),
        ),
    ],
    input: InputSpec::float(3)
        .ndim(3)
        .layouts(&[Layout::Dense, Layout::Ragged]),
    arity: Arity::One,
    shareable: false,
    output: bidirectional_rule,
    weights: bidirectional_weights,
    runs: bidirectional_runs,
    id_bound: None,
    runtime: "Bidirectional",
    mask: crate::shape::spec::MaskFlow::Reads(inner_returns_sequences),
};

fn inner_rule<'a>(rule: &RuleInput<'a>, config: &'a Config) -> RuleInput<'a> {
    RuleInput {
        name: rule.name,
        config,
        inputs: rule.inputs,
    }
}

/// The inner layer's rule on the same input, then the merge: `concat` doubles the last axis.
fn bidirectional_rule(rule: &RuleInput<'_>) -> Result<TensorSpec, RuleError> {
    let layer = rule.name;
    let Some((spec, inner)) = bidirectional_inner(rule.config) else {
        let found = rule
            .config
            .layer("layer")
            .map_or("nothing".to_string(), |(n, _)| format!("`{n}(...)`"));
        return Err(RuleError::new(format!(
            "layer '{layer}' (Bidirectional) needs a recurrent layer inside: `lstm(...)`, `gru(...)` or `simple_rnn(...)`, e.g. `bidirectional(gru(8, return_sequences = true))`; found {found}"
        )));
    };
    let mut out = spec.output_spec(&inner_rule(rule, &inner))?;
    if MergeMode::from_name(rule.config.str("merge_mode")) == MergeMode::Concat {
        if let Some(last) = out.dims.last_mut() {
            *last = match *last {
                Dim::Known(n) => Dim::Known(n.saturating_mul(2)),
                d => d,
            };
        }
    }
    Ok(out)
}

fn bidirectional_weights(rule: &RuleInput<'_>) -> Vec<WeightSpec> {
    let Some((spec, inner)) = bidirectional_inner(rule.config) else {
        return Vec::new();
    };
    let once = spec.weight_specs(&inner_rule(rule, &inner));
    let direct = |forward: bool| {
        once.iter().map(move |w| WeightSpec {
            name: directed_name(forward, w.name),
            keras_group: if forward {
                "forward_layer/cell"
            } else {
                "backward_layer/cell"
            },
            ..w.clone()
        })
    };
    direct(true).chain(direct(false)).collect()
}

/// What the runtime does not run yet: what the inner layer does not.
fn bidirectional_runs(rule: &RuleInput<'_>) -> Result<(), String> {
    match bidirectional_inner(rule.config) {
        Some((spec, inner)) => (spec.runs)(&inner_rule(rule, &inner)),
        None => Err("it needs a recurrent layer inside".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::weight_counts;

    fn bidi(inner: Vec<(&'static str, ParamValue)>, mode: &'static str) -> Config {
        let gru = crate::shape::layers::GRU.configure(inner);
        BIDIRECTIONAL.configure(vec![
            (
                "layer",
                ParamValue::Layer("gru".into(), gru.values().to_vec().into()),
            ),
            ("merge_mode", ParamValue::Str(mode.into())),
        ])
    }

    #[test]
    fn shapes_and_weights_follow_keras() {
        let input = [TensorSpec::dense(vec![Dim::Known(9), Dim::Known(4)])];
        for (mode, width) in [("concat", 6), ("sum", 3), ("mul", 3), ("ave", 3)] {
            let config = bidi(
                vec![
                    ("units", ParamValue::Int(3)),
                    ("return_sequences", ParamValue::Bool(true)),
                ],
                mode,
            );
            let rule = RuleInput {
                name: "bidirectional",
                config: &config,
                inputs: &input,
            };
            let out = BIDIRECTIONAL.output_spec(&rule).unwrap();
            assert_eq!(out.shape_string(), format!("(None, 9, {width})"));
            let w = BIDIRECTIONAL.weight_specs(&rule);
            let names: Vec<_> = w.iter().map(|w| (w.name, w.keras_group)).collect();
            assert_eq!(
                names[0],
                ("forward_gru/gru_cell/kernel", "forward_layer/cell")
            );
            assert_eq!(
                names[5],
                ("backward_gru/gru_cell/bias", "backward_layer/cell")
            );
            // Keras: 2 x (4·9 + 3·9 + 2·9) = 2 x 81.
            assert_eq!(weight_counts(&w), Some((162, 0)));
        }
    }

    #[test]
    fn refuses_a_layer_that_is_not_recurrent() {
        let dense = crate::shape::layers::DENSE.configure(vec![("units", ParamValue::Int(3))]);
        let config = BIDIRECTIONAL.configure(vec![(
            "layer",
            ParamValue::Layer("dense".into(), dense.values().to_vec().into()),
        )]);
        let input = [TensorSpec::dense(vec![Dim::Known(9), Dim::Known(4)])];
        let rule = RuleInput {
            name: "bidirectional",
            config: &config,
            inputs: &input,
        };
        let e = BIDIRECTIONAL.output_spec(&rule).unwrap_err();
        assert!(e.message.contains("needs a recurrent layer inside"), "{e}");
        assert!(e.message.contains("`dense(...)`"), "{e}");
    }
}
