//! Keras' recurrent layers, one family: `lstm`, `gru` and `simple_rnn` over `(batch, time,
//! features)`, dense or ragged along the time axis (each row then runs for its own length).
//!
//! Weights as Keras 3 saves them, under the cell: `lstm_cell/kernel` `(features, 4 units)`,
//! `lstm_cell/recurrent_kernel` `(units, 4 units)`, `lstm_cell/bias` `(4 units)`, gates in
//! Keras' order (i, f, c, o for LSTM; z, r, h for GRU, whose bias is `(2, 3 units)` with
//! `reset_after`, and `(3 units)` without: Keras' v1 GRU has no recurrent bias).

use crate::shape::ragged_rank;
use crate::shape::spec::{
    known_or_zero, InputSpec, LayerSpec, ParamKind, ParamSpec, ParamValue, RuleInput, WeightSpec,
};
use crate::shape::{Activation, Arity, Config, Dim, Initializer, Layout, RuleError, TensorSpec};

/// Which recurrent cell a layer runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CellKind {
    /// Keras' `LSTMCell`: four gates (i, f, c, o) and a carry.
    Lstm,
    /// Keras' `GRUCell`: three gates (z, r, h).
    Gru,
    /// Keras' `SimpleRNNCell`: `h = activation(x · kernel + h · recurrent_kernel + bias)`.
    Simple,
}

impl CellKind {
    /// The kind of the layer the DSL calls `name`.
    pub fn from_layer_name(name: &str) -> Option<CellKind> {
        match name {
            "lstm" => Some(CellKind::Lstm),
            "gru" => Some(CellKind::Gru),
            "simple_rnn" => Some(CellKind::Simple),
            _ => None,
        }
    }

    /// The number of gate blocks of `units` columns in the kernels.
    pub fn gates(self) -> usize {
        match self {
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
            CellKind::Simple => 1,
        }
    }
}

/// The configuration of a recurrent layer, typed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecurrentConfig {
    /// The cell.
    pub cell: CellKind,
    /// The size of the state.
    pub units: usize,
    /// The candidate's (and LSTM's output) activation.
    pub activation: Activation,
    /// The gates' activation (`linear` for `simple_rnn`, which has none).
    pub recurrent_activation: Activation,
    /// Whether the cell has a bias.
    pub use_bias: bool,
    /// How the input kernel is initialised.
    pub kernel_initializer: Initializer,
    /// How the recurrent kernel is initialised.
    pub recurrent_initializer: Initializer,
    /// How the bias is initialised.
    pub bias_initializer: Initializer,
    /// LSTM: the forget gate's bias starts at 1 (Keras' `unit_forget_bias`).
    pub unit_forget_bias: bool,
    /// Whether the output is the whole sequence of states or the last one.
    pub return_sequences: bool,
    /// Whether each row is read from its end to its start.
    pub go_backwards: bool,
    /// GRU: the reset gate is applied after the recurrent product (Keras 3's default);
    /// `false` is Keras' v1 GRU, the reset gate applied to the state before the product of
    /// the candidate's block, `(r * h) · recurrent_kernel[:, 2 units..]`.
    pub reset_after: bool,
}

impl RecurrentConfig {
    /// The typed view of a [`Config`] bound against the spec of `cell`.
    pub fn from_config(cell: CellKind, config: &Config) -> Self {
        RecurrentConfig {
            cell,
            units: config.usize("units"),
            activation: config.activation("activation"),
            recurrent_activation: config.activation("recurrent_activation"),
            use_bias: config.bool("use_bias"),
            kernel_initializer: config.initializer("kernel_initializer"),
            recurrent_initializer: config.initializer("recurrent_initializer"),
            bias_initializer: config.initializer("bias_initializer"),
            unit_forget_bias: cell == CellKind::Lstm && config.bool("unit_forget_bias"),
            return_sequences: config.bool("return_sequences"),
            go_backwards: config.bool("go_backwards"),
            reset_after: cell == CellKind::Gru && config.bool("reset_after"),
        }
    }

    /// The bias shape: `[gates · units]`, or `[2, 3 · units]` for a GRU with `reset_after`
    /// (an input and a recurrent bias).
    pub fn bias_shape(&self) -> Vec<usize> {
        let width = self.cell.gates().saturating_mul(self.units);
        if self.reset_after {
            vec![2, width]
        } else {
            vec![width]
        }
    }
}

// Rank 3 (Keras' `InputSpec(ndim=3)`), floating point; ragged along the time axis.
const RECURRENT_INPUT: InputSpec = InputSpec::float(3)
    .ndim(3)
    .layouts(&[Layout::Dense, Layout::Ragged]);

const fn activation(name: &'static str, a: Activation) -> ParamSpec {
    ParamSpec::optional(name, ParamKind::Activation, ParamValue::Activation(a))
}

const fn init(name: &'static str, i: Initializer) -> ParamSpec {
    ParamSpec::optional(name, ParamKind::Initializer, ParamValue::Initializer(i)).not_compared()
}

const fn flag(name: &'static str, value: bool) -> ParamSpec {
    ParamSpec::optional(name, ParamKind::Bool, ParamValue::Bool(value))
}

const fn rate(name: &'static str) -> ParamSpec {
    ParamSpec::optional(name, ParamKind::Number, ParamValue::Float(0.0))
}

const fn regularizer(name: &'static str) -> ParamSpec {
    ParamSpec::optional(name, ParamKind::Regularizer, ParamValue::None)
}

// Keras' four: of `cell/kernel`, `cell/recurrent_kernel`, `cell/bias`, and of the output.
const REG_KERNEL: ParamSpec = regularizer("kernel_regularizer");
const REG_RECURRENT: ParamSpec = regularizer("recurrent_regularizer");
const REG_BIAS: ParamSpec = regularizer("bias_regularizer");
const REG_ACTIVITY: ParamSpec = regularizer("activity_regularizer");

const UNITS: ParamSpec = ParamSpec::required("units", ParamKind::PositiveInt);
const SEED: ParamSpec =
    ParamSpec::optional("seed", ParamKind::Int, ParamValue::None).not_compared();

/// `lstm(units, ...)`, Keras' parameters in Keras' order.
pub static LSTM: LayerSpec = LayerSpec {
    name: "lstm",
    class_name: "LSTM",
    doc: "Long short-term memory over the time axis: `(batch, time, features) -> (batch, units)`, or `(batch, time, units)` with `return_sequences`. On ragged input each row runs for its own length.",
    params: &[
        UNITS,
        activation("activation", Activation::Tanh),
        activation("recurrent_activation", Activation::Sigmoid),
        flag("use_bias", true),
        init("kernel_initializer", Initializer::GlorotUniform),
        init("recurrent_initializer", Initializer::Orthogonal),
        init("bias_initializer", Initializer::Zeros),
        flag("unit_forget_bias", true),
        REG_KERNEL,
        REG_RECURRENT,
        REG_BIAS,
        REG_ACTIVITY,
        rate("dropout"),
        rate("recurrent_dropout"),
        SEED,
        flag("return_sequences", false),
        flag("return_state", false),
        flag("go_backwards", false),
        flag("stateful", false),
        flag("unroll", false),
    ],
    input: RECURRENT_INPUT,
    arity: Arity::One,
    shareable: false,
    output: recurrent_rule,
    weights: recurrent_weights,
    runs: recurrent_runs,
    id_bound: None,
    runtime: "Recurrent",
    mask: crate::shape::spec::MaskFlow::Reads(returns_sequences),
};

/// `gru(units, ...)`, Keras' parameters in Keras' order.
pub static GRU: LayerSpec = LayerSpec {
    name: "gru",
    class_name: "GRU",
    doc: "Gated recurrent unit over the time axis: `(batch, time, features) -> (batch, units)`, or `(batch, time, units)` with `return_sequences`; `reset_after` as Keras 3 (true by default). On ragged input each row runs for its own length.",
    params: &[
        UNITS,
        activation("activation", Activation::Tanh),
        activation("recurrent_activation", Activation::Sigmoid),
        flag("use_bias", true),
        init("kernel_initializer", Initializer::GlorotUniform),
        init("recurrent_initializer", Initializer::Orthogonal),
        init("bias_initializer", Initializer::Zeros),
        REG_KERNEL,
        REG_RECURRENT,
        REG_BIAS,
        REG_ACTIVITY,
        rate("dropout"),
        rate("recurrent_dropout"),
        SEED,
        flag("return_sequences", false),
        flag("return_state", false),
        flag("go_backwards", false),
        flag("stateful", false),
        flag("unroll", false),
        flag("reset_after", true),
    ],
    input: RECURRENT_INPUT,
    arity: Arity::One,
    shareable: false,
    output: recurrent_rule,
    weights: recurrent_weights,
    runs: recurrent_runs,
    id_bound: None,
    runtime: "Recurrent",
    mask: crate::shape::spec::MaskFlow::Reads(returns_sequences),
};

/// `simple_rnn(units, ...)`, Keras' parameters in Keras' order.
pub static SIMPLE_RNN: LayerSpec = LayerSpec {
    name: "simple_rnn",
    class_name: "SimpleRNN",
    doc: "A fully connected recurrence, `h = activation(x · kernel + h · recurrent_kernel + bias)`: `(batch, time, features) -> (batch, units)`, or `(batch, time, units)` with `return_sequences`. On ragged input each row runs for its own length.",
    params: &[
        UNITS,
        activation("activation", Activation::Tanh),
        flag("use_bias", true),
        init("kernel_initializer", Initializer::GlorotUniform),
        init("recurrent_initializer", Initializer::Orthogonal),
        init("bias_initializer", Initializer::Zeros),
        REG_KERNEL,
        REG_RECURRENT,
        REG_BIAS,
        REG_ACTIVITY,
        rate("dropout"),
        rate("recurrent_dropout"),
        SEED,
        flag("return_sequences", false),
        flag("return_state", false),
        flag("go_backwards", false),
        flag("stateful", false),
        flag("unroll", false),
    ],
    input: RECURRENT_INPUT,
    arity: Arity::One,
    shareable: false,
    output: recurrent_rule,
    weights: recurrent_weights,
    runs: recurrent_runs,
    id_bound: None,
    runtime: "Recurrent",
    mask: crate::shape::spec::MaskFlow::Reads(returns_sequences),
};

fn class(rule: &RuleInput<'_>) -> &'static str {
    match cell_of(rule.config) {
        CellKind::Lstm => "LSTM",
        CellKind::Gru => "GRU",
        CellKind::Simple => "SimpleRNN",
    }
}

/// Whether a recurrent layer's output carries its input's mask: a sequence does (Keras'
/// `compute_mask`), the last state does not.
fn returns_sequences(config: &Config) -> bool {
    config.bool("return_sequences")
}

/// The cell of a recurrent layer's configuration. The family shares its rules, which tell
/// the layers apart by the parameters only one has (`RuleInput` does not carry the spec).
pub fn cell_of(config: &Config) -> CellKind {
    if config.get("unit_forget_bias").is_some() {
        CellKind::Lstm
    } else if config.get("reset_after").is_some() {
        CellKind::Gru
    } else {
        CellKind::Simple
    }
}

/// `(batch, time, features) -> (batch, units)`, or `(batch, time, units)` with
/// `return_sequences` (ragged stays ragged); the rules Keras checks in its constructor
/// (units, dropout rates), the feature axis known, `unroll` refused.
fn recurrent_rule(rule: &RuleInput<'_>) -> Result<TensorSpec, RuleError> {
    let (layer, input) = (rule.name, rule.input());
    let class = class(rule);
    let units = rule.config.int("units");
    if units <= 0 {
        return Err(RuleError::new(format!(
            "Received an invalid value for argument `units` of layer '{layer}' ({class}), expected a positive integer. Received: units={units}"
        )));
    }
    for name in ["dropout", "recurrent_dropout"] {
        let r = rule.config.float(name);
        if !(0.0..1.0).contains(&r) {
            return Err(RuleError::new(format!(
                "Invalid value received for argument `{name}` of layer '{layer}' ({class}). Expected a float value between 0 and 1 (1 excluded). Received: {name}={r}"
            )));
        }
    }
    if rule.config.bool("unroll") {
        return Err(RuleError::new(format!(
            "`unroll = true` of layer '{layer}' ({class}) is not supported: the recurrence runs as a loop over the steps with one matrix product per step, which is what unrolling would buy; remove `unroll`"
        )));
    }
    for name in ["activation", "recurrent_activation"] {
        if rule.config.activation(name) == Activation::Softmax {
            return Err(RuleError::new(format!(
                "`{name} = softmax` of layer '{layer}' ({class}) is not supported: the cell's activations act on each value, softmax on a whole row; use `tanh` or `sigmoid`"
            )));
        }
    }
    if input.layout == Layout::Ragged && ragged_rank(input) != 1 {
        return Err(RuleError::new(format!(
            "layer '{layer}' ({class}) runs over a ragged time axis, so its input must be ragged along axis 1 only, with a known feature axis; received {input} (ragged rank {})",
            ragged_rank(input)
        )));
    }
    if input.last() == Dim::Unknown {
        return Err(RuleError::new(format!(
            "The last dimension of the inputs to layer '{layer}' ({class}) should be defined. Found None. Full input shape received: {}. The feature axis sizes the kernel",
            input.shape_string()
        )));
    }
    let units = Dim::Known(units as usize);
    let dims = if rule.config.bool("return_sequences") {
        vec![input.dims[0], units]
    } else {
        vec![units]
    };
    let layout = if rule.config.bool("return_sequences") {
        input.layout
    } else {
        Layout::Dense
    };
    Ok(TensorSpec {
        batch: input.batch,
        dims,
        dtype: input.dtype,
        layout,
    })
}

fn recurrent_weights(rule: &RuleInput<'_>) -> Vec<WeightSpec> {
    let c = RecurrentConfig::from_config(cell_of(rule.config), rule.config);
    let features = known_or_zero(rule.input().last());
    let width = c.cell.gates().saturating_mul(c.units);
    let (kernel, recurrent, bias) = match c.cell {
        CellKind::Lstm => (
            "lstm_cell/kernel",
            "lstm_cell/recurrent_kernel",
            "lstm_cell/bias",
        ),
        CellKind::Gru => (
            "gru_cell/kernel",
            "gru_cell/recurrent_kernel",
            "gru_cell/bias",
        ),
        CellKind::Simple => (
            "simple_rnn_cell/kernel",
            "simple_rnn_cell/recurrent_kernel",
            "simple_rnn_cell/bias",
        ),
    };
    let in_cell = |w: WeightSpec| WeightSpec {
        keras_group: "cell",
        ..w
    };
    let mut w = vec![
        in_cell(WeightSpec::trainable(
            kernel,
            vec![features, width],
            c.kernel_initializer,
        )),
        in_cell(WeightSpec::trainable(
            recurrent,
            vec![c.units, width],
            c.recurrent_initializer,
        )),
    ];
    if c.use_bias {
        w.push(in_cell(WeightSpec::trainable(
            bias,
            c.bias_shape(),
            c.bias_initializer,
        )));
    }
    w
}

/// What the runtime does not run yet.
fn recurrent_runs(rule: &RuleInput<'_>) -> Result<(), String> {
    let input = rule.input();
    if input.layout == Layout::Dense && input.dims.first() == Some(&Dim::Unknown) {
        return Err(format!(
            "its dense input {} has a number of steps known only at run time, which it does not take yet: declare the steps (`shape = [20, 8]`) or feed ragged rows (`ragged = true`), which run each at its own length",
            input.shape_string()
        ));
    }
    for (name, what) in [
        ("return_state", "`return_state = true` (several outputs)"),
        ("stateful", "`stateful = true`"),
    ] {
        if rule.config.bool(name) {
            return Err(format!("{what} does not run yet"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::weight_counts;

    fn output(
        spec: &LayerSpec,
        input: TensorSpec,
        given: Vec<(&'static str, ParamValue)>,
    ) -> Result<(TensorSpec, Vec<WeightSpec>), RuleError> {
        let config = spec.configure(given);
        let inputs = [input];
        let rule = RuleInput {
            name: spec.name,
            config: &config,
            inputs: &inputs,
        };
        let out = spec.output_spec(&rule)?;
        Ok((out, spec.weight_specs(&rule)))
    }

    fn seq(t: Option<usize>, f: usize) -> TensorSpec {
        TensorSpec::dense(vec![t.map_or(Dim::Unknown, Dim::Known), Dim::Known(f)])
    }

    #[test]
    fn shapes_and_weights_follow_keras() {
        let units = || ("units", ParamValue::Int(4));
        let (out, w) = output(&LSTM, seq(Some(5), 3), vec![units()]).unwrap();
        assert_eq!(out.shape_string(), "(None, 4)");
        assert_eq!(w[0].shape, vec![3, 16]);
        assert_eq!(w[1].shape, vec![4, 16]);
        assert_eq!(w[2].shape, vec![16]);
        assert_eq!(w[1].initializer, Initializer::Orthogonal);
        assert_eq!(w[0].name, "lstm_cell/kernel");
        assert_eq!(weight_counts(&w), Some((128, 0)));
        let (out, w) = output(
            &GRU,
            seq(Some(5), 3),
            vec![units(), ("return_sequences", ParamValue::Bool(true))],
        )
        .unwrap();
        assert_eq!(out.shape_string(), "(None, 5, 4)");
        assert_eq!(w[2].shape, vec![2, 12]);
        // Keras' v1 GRU: one bias, of the input projection.
        let (_, w) = output(
            &GRU,
            seq(Some(5), 3),
            vec![units(), ("reset_after", ParamValue::Bool(false))],
        )
        .unwrap();
        assert_eq!(w[2].shape, vec![12]);
        assert_eq!(weight_counts(&w), Some((3 * 12 + 4 * 12 + 12, 0)));
        let (_, w) = output(&SIMPLE_RNN, seq(Some(5), 3), vec![units()]).unwrap();
        assert_eq!(weight_counts(&w), Some((3 * 4 + 4 * 4 + 4, 0)));
        let mut ragged = seq(None, 3);
        ragged.layout = Layout::Ragged;
        let (out, _) = output(
            &LSTM,
            ragged.clone(),
            vec![units(), ("return_sequences", ParamValue::Bool(true))],
        )
        .unwrap();
        assert_eq!(out.layout, Layout::Ragged);
        let (out, _) = output(&LSTM, ragged, vec![units()]).unwrap();
        assert_eq!(out.layout, Layout::Dense);
    }

    #[test]
    fn rules_refuse_what_keras_refuses() {
        let e = output(
            &LSTM,
            TensorSpec::dense(vec![Dim::Known(3)]),
            vec![("units", ParamValue::Int(4))],
        )
        .unwrap_err();
        assert!(e.message.contains("expected ndim=3, found ndim=2"), "{e}");
        let e = output(&GRU, seq(Some(5), 3), vec![("units", ParamValue::Int(0))]).unwrap_err();
        assert!(e.message.contains("units=0"), "{e}");
        let e = output(
            &SIMPLE_RNN,
            seq(Some(5), 3),
            vec![
                ("units", ParamValue::Int(2)),
                ("recurrent_dropout", ParamValue::Float(1.0)),
            ],
        )
        .unwrap_err();
        assert!(e.message.contains("recurrent_dropout=1"), "{e}");
        let e = output(
            &LSTM,
            seq(Some(5), 3),
            vec![
                ("units", ParamValue::Int(2)),
                ("unroll", ParamValue::Bool(true)),
            ],
        )
        .unwrap_err();
        assert!(e.message.contains("not supported"), "{e}");
    }

    #[test]
    fn runs_names_what_is_missing() {
        let config = LSTM.configure(vec![
            ("units", ParamValue::Int(2)),
            ("return_state", ParamValue::Bool(true)),
        ]);
        let inputs = [seq(Some(5), 3)];
        let rule = RuleInput {
            name: "lstm",
            config: &config,
            inputs: &inputs,
        };
        assert!((LSTM.runs)(&rule).unwrap_err().contains("return_state"));
        let config = LSTM.configure(vec![("units", ParamValue::Int(2))]);
        let inputs = [seq(None, 3)];
        let rule = RuleInput {
            config: &config,
            inputs: &inputs,
            ..rule
        };
        assert!((LSTM.runs)(&rule).unwrap_err().contains("ragged"));
        let config = GRU.configure(vec![
            ("units", ParamValue::Int(2)),
            ("reset_after", ParamValue::Bool(false)),
        ]);
        let inputs = [seq(Some(5), 3)];
        let rule = RuleInput {
            config: &config,
            inputs: &inputs,
            ..rule
        };
        assert_eq!((GRU.runs)(&rule), Ok(()));
    }
}
