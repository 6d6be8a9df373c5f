//! The layer spec: everything the macro, the runtime, the summary and the loaders know of a
//! layer, as data. One [`LayerSpec`] per layer lives in its family's file under
//! [`layers`](super::layers); the registry [`LAYERS`](super::LAYERS) lists them all.
//!
//! A spec holds Keras' names, the parameters with their defaults (Keras' `get_config`), a
//! declarative input spec (Keras' `InputSpec`), the output-shape rule (Keras'
//! `compute_output_shape`), and the weights with their shapes, trainability, initializers and
//! Keras paths. The macro binds a call's arguments into a [`Config`] against the spec and runs
//! [`LayerSpec::output`]; the runtime builds its layer from the same `Config`.

use std::borrow::Cow;
use std::fmt;

use super::regularizer::{regularizes, Regularizer};
use super::{Activation, DType, Dim, Initializer, Layout, RuleError, TensorSpec};

/// What kind of value a parameter takes, as written in the DSL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// A positive integer (`units`).
    PositiveInt,
    /// An integer, checked by the rule that uses it (`axis`, `batch_size`).
    Int,
    /// A number, integer or not (`pad = -1.0`).
    Number,
    /// `true` or `false`.
    Bool,
    /// An activation name (`relu`).
    Activation,
    /// An initializer name (`glorot_uniform`).
    Initializer,
    /// A dtype name (`f32`).
    DType,
    /// A list of dims: integers or `None` (`shape = [None, 4]`).
    Dims,
    /// An integer or a list of integers (`kernel_size = 3` or `[3, 3]`).
    Ints,
    /// An integer, a list of integers, or a list of `[before, after]` pairs
    /// (`padding = [[1, 2], [0, 0]]`); pairs are kept flattened in the [`Config`].
    IntPairs,
    /// A string literal.
    Str,
    /// One bare name of a fixed vocabulary (`padding = same`), listed in the spec.
    Choice(&'static [&'static str]),
    /// A path to a Rust item (`input_tensor = DATA`).
    Path,
    /// `TensorSpec(...)`, `SparseTensorSpec(...)` or `RaggedTensorSpec(...)`.
    TypeSpec,
    /// A list of tensors (`[q, d]`), a merge's inputs; not part of the config.
    Tensors,
    /// A regularizer, `l1(0.01)`, `l2(0.01)` or `l1_l2(l1 = 0.01, l2 = 0.01)`, or `None`.
    Regularizer,
    /// A layer call written inside another's (`bidirectional(gru(3))`): a registered layer,
    /// its own arguments bound against its spec; the wrapper's rule says which it takes.
    Layer,
    /// A list of numbers (`mean = [0.5, 2.0]`), or `None`.
    Floats,
}

/// A parameter's value in a [`Config`].
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    /// An integer.
    Int(i64),
    /// A number.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A string, or a name of a [`ParamKind::Choice`] vocabulary.
    Str(Cow<'static, str>),
    /// An activation.
    Activation(Activation),
    /// An initializer.
    Initializer(Initializer),
    /// A list of integers (an integer given alone is a list of one).
    Ints(Cow<'static, [i64]>),
    /// A regularizer.
    Regularizer(Regularizer),
    /// A nested layer ([`ParamKind::Layer`]): its DSL name and its whole configuration,
    /// defaults filled in.
    Layer(
        Cow<'static, str>,
        Cow<'static, [(&'static str, ParamValue)]>,
    ),
    /// A list of numbers.
    Floats(Cow<'static, [f64]>),
    /// Keras' `None`: the parameter is not set.
    None,
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Int(v) => write!(f, "{v}"),
            ParamValue::Float(v) => write!(f, "{v}"),
            ParamValue::Bool(v) => write!(f, "{v}"),
            ParamValue::Str(s) => f.write_str(s),
            ParamValue::Activation(a) => f.write_str(a.name()),
            ParamValue::Initializer(i) => f.write_str(i.name()),
            ParamValue::Ints(v) => {
                let items: Vec<String> = v.iter().map(i64::to_string).collect();
                write!(f, "[{}]", items.join(", "))
            }
            ParamValue::Regularizer(r) => write!(f, "{r}"),
            ParamValue::Layer(name, values) => {
                let items: Vec<String> = values.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "{name}({})", items.join(", "))
            }
            ParamValue::Floats(v) => {
                let items: Vec<String> = v.iter().map(f64::to_string).collect();
                write!(f, "[{}]", items.join(", "))
            }
            ParamValue::None => f.write_str("None"),
        }
    }
}

/// Whether a parameter must be given, and its default otherwise.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamDefault {
    /// The call must give it (`units` of `dense`).
    Required,
    /// Keras' default.
    Value(ParamValue),
}

/// One parameter of a layer, in Keras' order.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    /// The name, Keras' argument name.
    pub name: &'static str,
    /// What values it takes.
    pub kind: ParamKind,
    /// Required, or its default.
    pub default: ParamDefault,
    /// Whether it may be given by position (the leading ones, as in Keras).
    pub positional: bool,
    /// Whether `load_keras` compares it with the saved `config.json` (its key there is the
    /// same name). Initializers are not compared: they do not change what a loaded model does.
    pub compared: bool,
}

impl ParamSpec {
    /// A required parameter, given by position.
    pub const fn required(name: &'static str, kind: ParamKind) -> Self {
        ParamSpec {
            name,
            kind,
            default: ParamDefault::Required,
            positional: true,
            compared: true,
        }
    }

    /// An optional parameter with Keras' default, given as `key = value`.
    pub const fn optional(name: &'static str, kind: ParamKind, default: ParamValue) -> Self {
        ParamSpec {
            name,
            kind,
            default: ParamDefault::Value(default),
            positional: false,
            compared: true,
        }
    }

    /// This parameter may also be given by position.
    pub const fn positional(mut self) -> Self {
        self.positional = true;
        self
    }

    /// This parameter is not compared with a saved Keras config.
    pub const fn not_compared(mut self) -> Self {
        self.compared = false;
        self
    }

    /// Whether the call must give it.
    pub fn is_required(&self) -> bool {
        self.default == ParamDefault::Required
    }
}

/// The dtypes a layer's input may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DTypeClass {
    /// `float32` or `float64`.
    Float,
    /// Integer ids.
    Integer,
    /// Any dtype.
    Any,
}

impl DTypeClass {
    /// Whether `dtype` belongs to the class.
    pub fn admits(self, dtype: DType) -> bool {
        match self {
            DTypeClass::Float => dtype.is_float(),
            DTypeClass::Integer => dtype.is_integer(),
            DTypeClass::Any => true,
        }
    }
}

/// What a layer accepts, declared (Keras' `InputSpec`): ranks include the batch axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputSpec {
    /// The smallest rank accepted.
    pub min_ndim: usize,
    /// The largest rank accepted (`None`: any); equal to `min_ndim` for Keras' `ndim`.
    pub max_ndim: Option<usize>,
    /// The dtypes accepted.
    pub dtype: DTypeClass,
    /// The layouts accepted: dense always, sparse and ragged where the layer runs on them.
    pub layouts: &'static [Layout],
}

impl InputSpec {
    /// A dense floating-point input of at least `min_ndim` axes.
    pub const fn float(min_ndim: usize) -> Self {
        InputSpec {
            min_ndim,
            max_ndim: None,
            dtype: DTypeClass::Float,
            layouts: &[Layout::Dense],
        }
    }

    /// Exactly `ndim` axes.
    pub const fn ndim(mut self, ndim: usize) -> Self {
        self.min_ndim = ndim;
        self.max_ndim = Some(ndim);
        self
    }

    /// The layouts accepted.
    pub const fn layouts(mut self, layouts: &'static [Layout]) -> Self {
        self.layouts = layouts;
        self
    }

    /// The dtypes accepted.
    pub const fn dtype(mut self, dtype: DTypeClass) -> Self {
        self.dtype = dtype;
        self
    }

    /// Whether the layer takes tensors of `layout`.
    pub fn takes(&self, layout: Layout) -> bool {
        self.layouts.contains(&layout)
    }
}

/// How many inputs a layer takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    /// One tensor, written in a chain: `x -> dense(8)`.
    One,
    /// A list of tensors: `concatenate([a, b])`.
    Many,
}

/// One weight of a built layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightSpec {
    /// The variable's name under the layer, as Keras' variable path has it: `kernel`, or for
    /// a layer with parts `lstm_cell/kernel`. The weight's key is `"<layer>/<name>"`.
    pub name: &'static str,
    /// The shape.
    pub shape: Vec<usize>,
    /// Whether the optimizer updates it (moving statistics are weights it does not update).
    pub trainable: bool,
    /// How it is initialised.
    pub initializer: Initializer,
    /// The group under the layer's own in a Keras `.weights.h5` file (`""`, or `cell`,
    /// `forward_layer/cell`); variables are numbered per group (`vars/0`, `vars/1`, ...).
    pub keras_group: &'static str,
}

impl WeightSpec {
    /// A trainable weight directly under the layer in Keras' files.
    pub fn trainable(name: &'static str, shape: Vec<usize>, initializer: Initializer) -> Self {
        WeightSpec {
            name,
            shape,
            trainable: true,
            initializer,
            keras_group: "",
        }
    }

    /// A non-trainable weight (moving statistics) directly under the layer in Keras' files:
    /// training updates it, the optimizer does not.
    pub fn non_trainable(name: &'static str, shape: Vec<usize>, initializer: Initializer) -> Self {
        WeightSpec {
            trainable: false,
            ..WeightSpec::trainable(name, shape, initializer)
        }
    }

    /// The number of values, or `None` if it overflows `usize`.
    pub fn len(&self) -> Option<usize> {
        self.shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
    }

    /// Whether the weight holds no value.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }
}

/// The weight counts of a layer: `(trainable, non-trainable)`, or `None` on overflow.
pub fn weight_counts(weights: &[WeightSpec]) -> Option<(usize, usize)> {
    let (mut trainable, mut frozen) = (0usize, 0usize);
    for w in weights {
        let n = w.len()?;
        if w.trainable {
            trainable = trainable.checked_add(n)?;
        } else {
            frozen = frozen.checked_add(n)?;
        }
    }
    trainable.checked_add(frozen)?;
    Some((trainable, frozen))
}

/// A layer's configuration: every parameter of its spec with its value, defaults filled in
/// (Keras' `get_config`). The macro builds it from a call; the runtime builds the layer from it.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Config {
    values: Vec<(&'static str, ParamValue)>,
}

impl Config {
    /// A configuration from `(parameter, value)` pairs, as generated code writes it.
    pub fn new(values: Vec<(&'static str, ParamValue)>) -> Self {
        Config { values }
    }

    /// Every parameter with its value, in the spec's order.
    pub fn values(&self) -> &[(&'static str, ParamValue)] {
        &self.values
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Sets `name` to `value`, adding it if absent.
    pub fn set(&mut self, name: &'static str, value: ParamValue) {
        match self.values.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => *v = value,
            None => self.values.push((name, value)),
        }
    }

    /// An integer parameter (0 if absent or of another kind).
    pub fn int(&self, name: &str) -> i64 {
        match self.get(name) {
            Some(ParamValue::Int(v)) => *v,
            Some(ParamValue::Float(v)) => *v as i64,
            _ => 0,
        }
    }

    /// A non-negative integer parameter as a size (0 if absent or negative).
    pub fn usize(&self, name: &str) -> usize {
        usize::try_from(self.int(name)).unwrap_or(0)
    }

    /// A number parameter (0 if absent).
    pub fn float(&self, name: &str) -> f64 {
        match self.get(name) {
            Some(ParamValue::Float(v)) => *v,
            Some(ParamValue::Int(v)) => *v as f64,
            _ => 0.0,
        }
    }

    /// A boolean parameter (false if absent).
    pub fn bool(&self, name: &str) -> bool {
        matches!(self.get(name), Some(ParamValue::Bool(true)))
    }

    /// An activation parameter (`linear` if absent).
    pub fn activation(&self, name: &str) -> Activation {
        match self.get(name) {
            Some(ParamValue::Activation(a)) => *a,
            _ => Activation::Linear,
        }
    }

    /// An initializer parameter (`zeros` if absent).
    pub fn initializer(&self, name: &str) -> Initializer {
        match self.get(name) {
            Some(ParamValue::Initializer(i)) => *i,
            _ => Initializer::Zeros,
        }
    }

    /// A string or choice parameter (empty if absent).
    pub fn str(&self, name: &str) -> &str {
        match self.get(name) {
            Some(ParamValue::Str(s)) => s,
            _ => "",
        }
    }

    /// A regularizer parameter (`None` if absent or not set).
    pub fn regularizer(&self, name: &str) -> Option<Regularizer> {
        match self.get(name) {
            Some(ParamValue::Regularizer(r)) => Some(*r),
            _ => None,
        }
    }

    /// A nested-layer parameter: the layer's DSL name and its configuration (`None` if
    /// absent or of another kind).
    pub fn layer(&self, name: &str) -> Option<(&str, Config)> {
        match self.get(name) {
            Some(ParamValue::Layer(layer, values)) => Some((layer, Config::new(values.to_vec()))),
            _ => None,
        }
    }

    /// A list-of-numbers parameter, a number given alone as a list of one; `None` if absent
    /// or not set.
    pub fn floats(&self, name: &str) -> Option<Vec<f64>> {
        match self.get(name) {
            Some(ParamValue::Floats(v)) => Some(v.to_vec()),
            Some(ParamValue::Float(v)) => Some(vec![*v]),
            _ => None,
        }
    }

    /// A list-of-integers parameter, an integer given alone as a list of one (empty if absent).
    pub fn ints(&self, name: &str) -> Vec<i64> {
        match self.get(name) {
            Some(ParamValue::Ints(v)) => v.to_vec(),
            Some(ParamValue::Int(v)) => vec![*v],
            _ => Vec::new(),
        }
    }
}

/// The arguments of a shape rule: the layer's name, its configuration and its inputs.
#[derive(Clone, Copy, Debug)]
pub struct RuleInput<'a> {
    /// The layer's name in the model, for messages.
    pub name: &'a str,
    /// The layer's configuration.
    pub config: &'a Config,
    /// The specs of the inputs (one unless the layer is [`Arity::Many`]).
    pub inputs: &'a [TensorSpec],
}

impl RuleInput<'_> {
    /// The first (for most layers, the only) input.
    pub fn input(&self) -> &TensorSpec {
        &self.inputs[0]
    }
}

/// Everything known of one layer; see the module docs.
#[derive(Debug)]
pub struct LayerSpec {
    /// The DSL name: `dense`.
    pub name: &'static str,
    /// Keras' class name: `Dense`.
    pub class_name: &'static str,
    /// One sentence for the reference docs: what the layer computes.
    pub doc: &'static str,
    /// The parameters, in Keras' order.
    pub params: &'static [ParamSpec],
    /// What the layer accepts.
    pub input: InputSpec,
    /// One input, or a list.
    pub arity: Arity,
    /// Whether one layer value may be applied several times (a shared layer; its runtime
    /// keeps one buffer set per use).
    pub shareable: bool,
    /// The output-shape rule, run after the generic input check.
    pub output: fn(&RuleInput<'_>) -> Result<TensorSpec, RuleError>,
    /// The weights for a configuration and inputs that passed the rule.
    pub weights: fn(&RuleInput<'_>) -> Vec<WeightSpec>,
    /// What the runtime does not run yet, for inputs that passed the rule: the reason, which
    /// the macro shows after `layer 'name' (Class): `.
    pub runs: fn(&RuleInput<'_>) -> Result<(), String>,
    /// For a layer that takes integer ids: the exclusive upper bound of an id (Embedding's
    /// `input_dim`); a model checks the ids of its inputs against it before any work.
    pub id_bound: Option<fn(&Config) -> usize>,
    /// The runtime type implementing it, in `stratic_core::runtime::layers`.
    pub runtime: &'static str,
    /// What it does with Keras' mask over time steps.
    pub mask: MaskFlow,
}

/// How a layer treats Keras' mask over the time steps of a `(batch, steps, features)` tensor
/// (Keras' `supports_masking` and `compute_mask`). The macro knows statically which tensors
/// carry a mask, so a model without one pays nothing.
#[derive(Clone, Copy, Debug)]
pub enum MaskFlow {
    /// Takes no masked input: the macro refuses one (Keras 3 drops the mask with a warning,
    /// which would silently average or read the padding).
    Refuses,
    /// Acts on each step alone: the mask passes on unchanged, the runtime never sees it.
    Passes,
    /// Reads the mask (its runtime receives `Input::Masked`); the output carries it when the
    /// function of the configuration says so (`return_sequences`).
    Reads(fn(&Config) -> bool),
    /// Puts a new mask on its output when the function of the configuration says so
    /// (`masking`).
    Makes(fn(&Config) -> bool),
}

/// The `weights` of a layer without weights.
pub fn no_weights(_: &RuleInput<'_>) -> Vec<WeightSpec> {
    Vec::new()
}

/// The `runs` of a layer the runtime runs on every input its rule accepts.
pub fn runs_always(_: &RuleInput<'_>) -> Result<(), String> {
    Ok(())
}

impl LayerSpec {
    /// Whether the output of the layer named `name` carries a mask, for an input that does
    /// (`input_masked`) or not; the reason when it cannot take the masked input.
    pub fn output_mask(
        &self,
        name: &str,
        config: &Config,
        input_masked: bool,
    ) -> Result<bool, String> {
        match self.mask {
            MaskFlow::Makes(makes) => Ok(makes(config)),
            MaskFlow::Passes => Ok(input_masked),
            MaskFlow::Reads(keeps) => Ok(input_masked && keeps(config)),
            MaskFlow::Refuses if input_masked => {
                let takers: Vec<String> = super::layers::LAYERS
                    .iter()
                    .filter(|s| matches!(s.mask, MaskFlow::Reads(_)))
                    .map(|s| format!("`{}`", s.name))
                    .collect();
                Err(format!(
                    "layer '{name}' ({}) does not take a masked input yet, but its input carries the mask a `masking` layer or an `embedding(mask_zero = true)` before it made: the masked steps would count here. Read the mask before this layer with {} (only a returned sequence keeps it), or remove the mask",
                    self.class_name,
                    takers.join(", ")
                ))
            }
            MaskFlow::Refuses => Ok(false),
        }
    }

    /// The configuration of a call that gives `given`: every parameter the call does not
    /// give takes its default. Required parameters missing from `given` stay absent (the
    /// binder reports them).
    pub fn configure(&self, given: Vec<(&'static str, ParamValue)>) -> Config {
        let mut values = Vec::with_capacity(self.params.len());
        for p in self.params {
            if p.kind == ParamKind::Tensors {
                continue;
            }
            if let Some((_, v)) = given.iter().find(|(n, _)| *n == p.name) {
                values.push((p.name, v.clone()));
            } else if let ParamDefault::Value(v) = &p.default {
                values.push((p.name, v.clone()));
            }
        }
        Config { values }
    }

    /// The parameter `name`.
    pub fn param(&self, name: &str) -> Option<&'static ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Checks the inputs against [`input`](LayerSpec::input) and applies the shape rule: the
    /// output spec, or why the layer cannot take these inputs (Keras-style, naming the layer,
    /// what was expected and what was received).
    pub fn output_spec(&self, rule: &RuleInput<'_>) -> Result<TensorSpec, RuleError> {
        if rule.inputs.is_empty() {
            return Err(RuleError::new(format!(
                "layer '{}' ({}) was called on no input",
                rule.name, self.class_name
            )));
        }
        if self.arity == Arity::One {
            self.check_input(rule.name, None, rule.input())?;
        }
        let out = (self.output)(rule)?;
        let weights = (self.weights)(rule);
        if weight_counts(&weights).is_none() {
            return Err(RuleError::new(format!(
                "layer '{}' ({}) would have more weights than this machine can address: {}; use smaller sizes",
                rule.name,
                self.class_name,
                weights
                    .iter()
                    .map(|w| format!("{} {:?}", w.name, w.shape))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        self.check_regularized_weights(rule, &weights)?;
        Ok(out)
    }

    /// A weight regularizer needs its weight: `bias_regularizer` on a layer without a bias
    /// (`use_bias = false`) would regularize nothing. `activity_regularizer` acts on the
    /// output and always applies.
    fn check_regularized_weights(
        &self,
        rule: &RuleInput<'_>,
        weights: &[WeightSpec],
    ) -> Result<(), RuleError> {
        for p in self.params {
            if p.kind != ParamKind::Regularizer || p.name == "activity_regularizer" {
                continue;
            }
            if rule.config.regularizer(p.name).is_none() {
                continue;
            }
            if weights.iter().any(|w| regularizes(p.name, w.name)) {
                continue;
            }
            let weight = p.name.trim_end_matches("_regularizer");
            // The flag that removed the weight, as Keras names it.
            let flag = match weight {
                "bias" => "use_bias",
                "gamma" => "scale",
                "beta" => "center",
                _ => "",
            };
            let why = if rule.config.get(flag) == Some(&ParamValue::Bool(false)) {
                format!(" (`{flag} = false`)")
            } else {
                String::new()
            };
            return Err(RuleError::new(format!(
                "layer '{}' ({}) has no `{weight}` weight{why}, so `{}` has nothing to regularize; remove it",
                rule.name, self.class_name, p.name
            )));
        }
        Ok(())
    }

    /// The generic part of the check (Keras' `assert_input_compatibility`): rank, dtype and
    /// layout of one input. `index` is the input's position for layers that take several.
    pub fn check_input(
        &self,
        layer: &str,
        index: Option<usize>,
        input: &TensorSpec,
    ) -> Result<(), RuleError> {
        let class = self.class_name;
        let which = index.map_or("0".to_string(), |i| i.to_string());
        let spec = &self.input;
        let ndim = input.ndim();
        let rank_ok = ndim >= spec.min_ndim && spec.max_ndim.is_none_or(|m| ndim <= m);
        if !rank_ok {
            let expected = match spec.max_ndim {
                Some(m) if m == spec.min_ndim => format!("ndim={m}"),
                Some(m) => format!("min_ndim={}, max_ndim={m}", spec.min_ndim),
                None => format!("min_ndim={}", spec.min_ndim),
            };
            let hint = if ndim < spec.min_ndim && ndim == 1 {
                ". Give the input a feature axis, e.g. shape = [4]".to_string()
            } else if ndim < spec.min_ndim {
                format!(
                    ". {class} takes {} axes after the batch axis",
                    spec.min_ndim - 1
                )
            } else {
                String::new()
            };
            return Err(RuleError::new(format!(
                "Input {which} of layer '{layer}' ({class}) is incompatible with the layer: expected {expected}, found ndim={ndim}. Full shape received: {}{hint}",
                input.shape_string()
            )));
        }
        if !spec.takes(input.layout) {
            let kind = match input.layout {
                Layout::Sparse => "sparse",
                Layout::Ragged => "ragged",
                Layout::Dense => "dense",
            };
            let takers = super::layers_taking(input.layout);
            let how = match input.layout {
                Layout::Ragged => "pool over the ragged axis first (`global_average_pooling_1d()`, `global_max_pooling_1d()`, `global_sum_pooling_1d()`) or pad it with `to_dense()`",
                _ => "use `to_dense()` first",
            };
            return Err(RuleError::new(format!(
                "layer '{layer}' ({class}) cannot take a {kind} input {}: {how}; the layers that take {kind} tensors are {}",
                input.shape_string(),
                takers.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
            )));
        }
        if !spec.dtype.admits(input.dtype) {
            let message = match spec.dtype {
                DTypeClass::Integer => format!(
                    "layer '{layer}' ({class}) expects integer ids, but received {} {}: declare the input `dtype = i32`: `input(shape = [7], dtype = i32)` for rows of 7 ids, `input(shape = [None], ragged = true, dtype = i32)` for rows of any length",
                    input.dtype,
                    input.shape_string()
                ),
                _ => format!(
                    "layer '{layer}' ({class}) expects a floating-point input, but received {} {}: Keras would cast it to float, `model!` does not; integer ids go through `embedding(input_dim, output_dim)` first, and numbers are declared `dtype = f32`",
                    input.dtype,
                    input.shape_string()
                ),
            };
            return Err(RuleError::new(message));
        }
        Ok(())
    }

    /// The weights of a layer that passed [`output_spec`](LayerSpec::output_spec).
    pub fn weight_specs(&self, rule: &RuleInput<'_>) -> Vec<WeightSpec> {
        (self.weights)(rule)
    }
}

/// The known size of `d`, or 0: weights are sized from known axes only (the rules refuse
/// unknown ones before weights are asked for).
pub fn known_or_zero(d: Dim) -> usize {
    d.known().unwrap_or(0)
}
