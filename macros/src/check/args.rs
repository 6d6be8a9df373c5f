//! Binding a call's arguments to a layer's parameters: positional then `key = value`, each
//! checked for its kind. Unknown, duplicated, missing and ill-typed arguments are reported here,
//! once for every layer.

use proc_macro2::Span;
use stratic_core::shape::{
    closest, Activation, DType, Initializer, ParamDefault, ParamValue, Regularizer, ACTIVATIONS,
    INITIALIZERS, REGULARIZERS,
};

use crate::ast::{Arg, Call, Value};
use crate::ctxt::Ctxt;

/// What kind of value a parameter takes: core's, shared with the layer specs.
pub use stratic_core::shape::ParamKind as Kind;
/// One parameter of a layer: core's spec of it.
pub use stratic_core::shape::ParamSpec as Param;

/// A parameter of the input layer or a type spec, which have no config to fill: an optional
/// one has no default.
pub const fn param(name: &'static str, kind: Kind, required: bool, positional: bool) -> Param {
    Param {
        name,
        kind,
        default: if required {
            ParamDefault::Required
        } else {
            ParamDefault::Value(ParamValue::None)
        },
        positional,
        compared: false,
    }
}

/// Keras layer arguments that no layer here takes yet: naming one gets "not supported yet"
/// rather than a "did you mean" for a name that merely looks alike.
const KERAS_ARGUMENTS_NOT_SUPPORTED: &[&str] = &[
    "kernel_regularizer",
    "bias_regularizer",
    "activity_regularizer",
    "kernel_constraint",
    "bias_constraint",
    "embeddings_regularizer",
    "embeddings_constraint",
    "lora_rank",
    "input_length",
    "dtype",
    "autocast",
];

/// The arguments every layer takes besides its own: its name, whether its weights train, and
/// Keras' first-layer shortcut.
pub static COMMON: [Param; 4] = [
    param("name", Kind::Str, false, false),
    param("trainable", Kind::Bool, false, false),
    param("input_shape", Kind::Dims, false, false),
    param("batch_input_shape", Kind::Dims, false, false),
];

/// An argument bound to a parameter.
pub struct BoundArg<'a> {
    pub param: &'static str,
    pub value: &'a Value,
    /// The key (or, for a positional argument, the value): where to point.
    pub span: Span,
}

/// The arguments of one call, bound to the layer's parameters.
pub struct Bound<'a> {
    pub args: Vec<BoundArg<'a>>,
    /// Whether an argument was refused for its value (and reported): the layer's rule then
    /// runs on no default in its place.
    pub rejected: bool,
}

impl<'a> Bound<'a> {
    pub fn get(&self, name: &str) -> Option<&BoundArg<'a>> {
        self.args.iter().find(|a| a.param == name)
    }

    pub fn value(&self, name: &str) -> Option<&'a Value> {
        self.get(name).map(|a| a.value)
    }

    pub fn span_of(&self, name: &str) -> Option<Span> {
        self.get(name).map(|a| a.span)
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        match self.value(name)? {
            Value::Int { value, .. } => Some(*value),
            _ => None,
        }
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.value(name)? {
            Value::Bool { value, .. } => Some(*value),
            _ => None,
        }
    }

    pub fn str(&self, name: &str) -> Option<String> {
        match self.value(name)? {
            Value::Str(s) => Some(s.value()),
            _ => None,
        }
    }

    /// The items of a list value (`[q, d]`).
    pub fn list(&self, name: &str) -> &'a [Value] {
        match self.value(name) {
            Some(Value::List { items, .. }) => items,
            _ => &[],
        }
    }

    pub fn dims(&self, name: &str) -> Option<Vec<Option<i64>>> {
        dims_of(self.value(name)?)
    }

    pub fn dtype(&self, name: &str) -> Option<DType> {
        match self.value(name)? {
            Value::Ident(id) => DType::from_name(&id.to_string()),
            _ => None,
        }
    }
}

impl Bound<'_> {
    /// The bound values of `params` as a layer config takes them (kind-checked already).
    pub fn config_values(&self, params: &[Param]) -> Vec<(&'static str, ParamValue)> {
        params
            .iter()
            .filter_map(|p| Some((p.name, config_value(p.kind, self.value(p.name)?)?)))
            .collect()
    }
}

/// A checked argument as a config value.
fn config_value(kind: Kind, value: &Value) -> Option<ParamValue> {
    Some(match (kind, value) {
        (Kind::Number, Value::Int { value, .. }) => ParamValue::Float(*value as f64),
        // One number stands for every value of the axis, as Keras broadcasts it.
        (Kind::Floats, Value::Int { .. } | Value::Float { .. }) => {
            ParamValue::Floats(vec![number(value)?].into())
        }
        (Kind::Floats, Value::List { items, .. }) => ParamValue::Floats(
            items
                .iter()
                .map(number)
                .collect::<Option<Vec<f64>>>()?
                .into(),
        ),
        (_, Value::Int { value, .. }) => ParamValue::Int(*value),
        (_, Value::Float { value, .. }) => ParamValue::Float(*value),
        (_, Value::Bool { value, .. }) => ParamValue::Bool(*value),
        (_, Value::Str(s)) => ParamValue::Str(s.value().into()),
        (Kind::Activation, Value::Ident(id)) => {
            ParamValue::Activation(Activation::from_name(&id.to_string())?)
        }
        (Kind::Initializer, Value::Ident(id)) => {
            ParamValue::Initializer(Initializer::from_name(&id.to_string())?)
        }
        (Kind::Choice(_), Value::Ident(id)) => ParamValue::Str(id.to_string().into()),
        (Kind::IntPairs, Value::List { items, .. }) => ParamValue::Ints(
            items
                .iter()
                .try_fold(Vec::new(), |mut out, v| {
                    match v {
                        Value::Int { value, .. } => out.push(*value),
                        Value::List { items, .. } => {
                            for v in items {
                                let Value::Int { value, .. } = v else {
                                    return None;
                                };
                                out.push(*value);
                            }
                        }
                        _ => return None,
                    }
                    Some(out)
                })?
                .into(),
        ),
        (Kind::Regularizer, Value::Call(c)) => {
            ParamValue::Regularizer(regularizer(c, "", "", &mut |_, _| {})?)
        }
        (Kind::Layer, Value::Call(c)) => {
            let spec = stratic_core::shape::layer_spec(&c.name.to_string())?;
            // Checked already (`check_kind`); binding again only gathers the values.
            let cx = Ctxt::new();
            let bound = bind(&cx, c, spec.name, spec.params);
            let values = spec.configure(bound.config_values(spec.params));
            let ok = cx.check().is_ok();
            ok.then(|| ParamValue::Layer(spec.name.into(), values.values().to_vec().into()))?
        }
        (Kind::Ints, Value::List { items, .. }) => ParamValue::Ints(
            items
                .iter()
                .map(|v| match v {
                    Value::Int { value, .. } => Some(*value),
                    _ => None,
                })
                .collect::<Option<Vec<i64>>>()?
                .into(),
        ),
        (_, Value::None(_)) => ParamValue::None,
        _ => return None,
    })
}

/// A number literal as `f64`.
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Int { value, .. } => Some(*value as f64),
        Value::Float { value, .. } => Some(*value),
        _ => None,
    }
}

/// The dims of a list value, if it is one of integers and `None`s.
pub fn dims_of(value: &Value) -> Option<Vec<Option<i64>>> {
    match value {
        Value::List { items, .. } => items
            .iter()
            .map(|v| match v {
                Value::Int { value, .. } => Some(Some(*value)),
                Value::None(_) => Some(None),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// Binds `call`'s arguments to `params` (plus [`COMMON`]). Every problem is reported to `cx`;
/// the arguments that did bind are returned either way, so the layer can still be checked.
pub fn bind<'a>(cx: &Ctxt, call: &'a Call, layer: &str, params: &'static [Param]) -> Bound<'a> {
    // `trainable` freezes weights: the input layer has none.
    let all = || {
        params.iter().chain(
            COMMON
                .iter()
                .filter(|p| layer != "input" || p.name != "trainable"),
        )
    };
    let positional: Vec<&Param> = params.iter().filter(|p| p.positional).collect();
    let mut bound: Vec<BoundArg<'a>> = Vec::new();
    let mut next_pos = 0;
    let mut seen_key = false;
    // Parameters given at all, even with a bad value: those are not "missing", and giving
    // them again is a duplicate.
    let mut given: Vec<(&str, &Arg)> = Vec::new();
    let mut rejected = false;
    for arg in &call.args {
        let param = match &arg.key {
            None => {
                let next = positional.get(next_pos);
                if seen_key {
                    let fix = next.map_or(String::new(), |p| {
                        format!(
                            ": move it before them, or write `{} = {}`",
                            p.name,
                            value_text(&arg.value)
                        )
                    });
                    cx.error(
                        arg.value.span(),
                        format!(
                            "positional arguments must come before `key = value` arguments{fix}"
                        ),
                    );
                }
                let Some(p) = next else {
                    let names: Vec<String> =
                        positional.iter().map(|p| format!("`{}`", p.name)).collect();
                    cx.error(
                        arg.value.span(),
                        format!(
                            "too many positional arguments: `{layer}` takes {} ({}); give the others as `key = value`",
                            positional.len(),
                            if names.is_empty() { "none".to_string() } else { names.join(", ") }
                        ),
                    );
                    continue;
                };
                next_pos += 1;
                if seen_key {
                    // Already reported; still mark the parameter given (so it is not also
                    // reported missing) without binding it.
                    given.push((p.name, arg));
                    continue;
                }
                *p
            }
            Some(k) => {
                seen_key = true;
                let name = k.to_string();
                match all().find(|p| p.name == name) {
                    Some(p) => p,
                    None => {
                        unknown_argument(cx, k.span(), &name, layer, all().map(|p| p.name));
                        continue;
                    }
                }
            }
        };
        if let Some((_, prev)) = given.iter().find(|(n, _)| *n == param.name) {
            let how = if prev.key.is_some() {
                format!("as `{} = {}`", param.name, value_text(&prev.value))
            } else {
                format!("by position (`{}`)", value_text(&prev.value))
            };
            cx.error(
                arg.span(),
                format!(
                    "duplicate argument `{}` for `{layer}`: it is already given {how}; give it once",
                    param.name
                ),
            );
            continue;
        }
        given.push((param.name, arg));
        if !check_kind(cx, arg, param, layer) {
            rejected = true;
        } else {
            bound.push(BoundArg {
                param: param.name,
                value: &arg.value,
                span: arg.span(),
            });
        }
    }
    for p in params.iter().filter(|p| p.is_required()) {
        if !given.iter().any(|(n, _)| *n == p.name) {
            cx.error(
                call.name.span(),
                format!(
                    "`{layer}` is missing its required argument `{}`{}",
                    p.name,
                    example_for(layer, p.name)
                ),
            );
        }
    }
    Bound {
        args: bound,
        rejected,
    }
}

/// How a value reads in the source, for messages that suggest a rewrite.
fn value_text(value: &Value) -> String {
    match value {
        Value::Int { value, .. } => value.to_string(),
        Value::Float { value, .. } => value.to_string(),
        Value::Bool { value, .. } => value.to_string(),
        Value::Str(s) => format!("{:?}", s.value()),
        Value::None(_) => "None".to_string(),
        Value::Ident(i) => i.to_string(),
        Value::Path(p) => quote::quote!(#p).to_string().replace(' ', ""),
        Value::List { items, .. } => format!(
            "[{}]",
            items.iter().map(value_text).collect::<Vec<_>>().join(", ")
        ),
        Value::Call(c) => format!("{}(...)", c.name),
        Value::Chain(_) => "x -> ...".to_string(),
        Value::Invalid(_) => "...".to_string(),
    }
}

fn example_for(layer: &str, param: &str) -> &'static str {
    match (layer, param) {
        ("dense", "units") => ", e.g. `dense(8)`",
        ("activation", "activation") => ", e.g. `activation(relu)`",
        (_, "shape") => ", e.g. `shape = [4]`",
        _ => "",
    }
}

fn unknown_argument<'n>(
    cx: &Ctxt,
    span: Span,
    name: &str,
    layer: &str,
    valid: impl Iterator<Item = &'n str> + Clone,
) {
    let list: Vec<String> = valid.clone().map(|n| format!("`{n}`")).collect();
    if KERAS_ARGUMENTS_NOT_SUPPORTED.contains(&name) {
        cx.error(
            span,
            format!(
                "`{name}` is a Keras argument that `{layer}` does not support yet; `{layer}` takes {}",
                list.join(", ")
            ),
        );
        return;
    }
    let hint = if name == "shape" && valid.clone().any(|n| n == "input_shape") {
        // Keras' layers take the input's shape as `input_shape` (only the first one).
        "did you mean `input_shape` (on the first layer)? ".to_string()
    } else {
        closest(name, valid).map_or(String::new(), |c| format!("did you mean `{c}`? "))
    };
    cx.error(
        span,
        format!(
            "unknown argument `{name}` for `{layer}`; {hint}`{layer}` takes {}",
            list.join(", ")
        ),
    );
}

/// Checks that `arg`'s value fits `param`'s kind; reports and returns false if not.
fn check_kind(cx: &Ctxt, arg: &Arg, param: &Param, layer: &str) -> bool {
    let value = &arg.value;
    if let Value::Invalid(_) = value {
        return false; // already reported by the parser
    }
    let name = param.name;
    let found = value.describe();
    let wrong = |expected: &str| {
        cx.error(
            value.span(),
            format!("`{name}` of `{layer}` takes {expected}, found {found}"),
        );
        false
    };
    match param.kind {
        Kind::Floats => match value {
            Value::Int { .. } | Value::Float { .. } | Value::None(_) => true,
            Value::List { items, .. } => {
                let mut ok = true;
                for item in items {
                    if !matches!(item, Value::Int { .. } | Value::Float { .. } | Value::Invalid(_)) {
                        cx.error(
                            item.span(),
                            format!("a value in `{name}` of `{layer}` is a number, found {}", item.describe()),
                        );
                        ok = false;
                    }
                    ok &= !matches!(item, Value::Invalid(_));
                }
                ok
            }
            _ => wrong("a list of numbers"),
        },
        Kind::Number => match value {
            Value::Int { .. } | Value::Float { .. } => true,
            _ => wrong("a number"),
        },
        Kind::PositiveInt => match value {
            Value::Int { value: n, .. } if *n > 0 => true,
            Value::Int { value: n, .. } => {
                cx.error(
                    value.span(),
                    format!("Received an invalid value for `{name}`, expected a positive integer. Received: {name}={n}"),
                );
                false
            }
            _ => wrong("a positive integer"),
        },
        Kind::Int => match value {
            Value::Int { .. } => true,
            _ => wrong("an integer"),
        },
        Kind::Bool => match value {
            Value::Bool { .. } => true,
            Value::Ident(id) if id == "True" || id == "False" => {
                let fixed = id.to_string().to_lowercase();
                cx.error(
                    value.span(),
                    format!("`{name}` of `{layer}` takes `true` or `false`: write `{name} = {fixed}` (Rust's spelling, not Python's)"),
                );
                false
            }
            _ => wrong("`true` or `false`"),
        },
        Kind::Activation => named(
            cx,
            value,
            name,
            layer,
            "an activation",
            ACTIVATIONS.map(|(_, n)| n).as_slice(),
        ),
        Kind::Initializer => named(
            cx,
            value,
            name,
            layer,
            "an initializer",
            INITIALIZERS.map(|(_, n)| n).as_slice(),
        ),
        Kind::DType => named(
            cx,
            value,
            name,
            layer,
            "a dtype",
            DType::ALL.map(|(_, n)| n).as_slice(),
        ),
        Kind::Dims => match value {
            Value::List { items, .. } => {
                let mut ok = true;
                for item in items {
                    if !matches!(item, Value::Int { .. } | Value::None(_) | Value::Invalid(_)) {
                        cx.error(
                            item.span(),
                            format!(
                                "a dimension in `{name}` is an integer or `None`, found {}",
                                item.describe()
                            ),
                        );
                        ok = false;
                    }
                    ok &= !matches!(item, Value::Invalid(_));
                }
                ok
            }
            Value::Int { value: n, .. } => {
                cx.error(
                    value.span(),
                    format!("`{name}` takes a list of dimensions: write `{name} = [{n}]`"),
                );
                false
            }
            _ => wrong("a list of dimensions such as `[4]` or `[None, 8]`"),
        },
        Kind::Str => match value {
            Value::Str(_) => true,
            Value::Ident(id) => {
                cx.error(
                    value.span(),
                    format!("`{name}` takes a string: write `{name} = \"{id}\"`"),
                );
                false
            }
            _ => wrong("a string"),
        },
        Kind::Path => match value {
            Value::Ident(_) | Value::Path(_) => true,
            _ => wrong("the path of a Rust `const` or `static` array"),
        },
        Kind::Tensors => match value {
            Value::List { items, .. } => {
                let mut ok = true;
                for item in items {
                    if !matches!(item, Value::Ident(_) | Value::Call(_) | Value::Chain(_)) {
                        if !matches!(item, Value::Invalid(_)) {
                            cx.error(
                                item.span(),
                                format!("the inputs of `{layer}` are names of tensors bound with `let`, found {}", item.describe()),
                            );
                        }
                        ok = false;
                    }
                }
                ok
            }
            _ => wrong("a list of tensors such as `[q, d]`"),
        },
        Kind::Ints => match value {
            Value::Int { .. } => true,
            Value::List { items, .. } if !items.is_empty() => {
                let mut ok = true;
                for item in items {
                    if !matches!(item, Value::Int { .. } | Value::Invalid(_)) {
                        cx.error(
                            item.span(),
                            format!(
                                "`{name}` of `{layer}` takes integers, found {}",
                                item.describe()
                            ),
                        );
                        ok = false;
                    }
                    ok &= !matches!(item, Value::Invalid(_));
                }
                ok
            }
            _ => wrong("an integer or a list of integers such as `3` or `[3, 3]`"),
        },
        Kind::IntPairs => match value {
            Value::Int { .. } => true,
            Value::List { items, .. } if !items.is_empty() => {
                let pairs = items.iter().all(|i| matches!(i, Value::List { .. }));
                let mut ok = true;
                for item in items {
                    let good = match item {
                        Value::Int { .. } => !pairs,
                        Value::List { items, .. } => {
                            pairs
                                && items.len() == 2
                                && items.iter().all(|i| matches!(i, Value::Int { .. }))
                        }
                        _ => false,
                    };
                    if !good && !matches!(item, Value::Invalid(_)) {
                        let message = match item {
                            Value::List { .. } if !pairs => format!(
                                "`{name}` of `{layer}` mixes counts and `[before, after]` pairs: write one count per axis (`[1, 2]`) or a pair per axis (`[[1, 1], [2, 2]]`)"
                            ),
                            Value::Int { .. } => format!(
                                "`{name}` of `{layer}` mixes counts and `[before, after]` pairs: write this axis as a pair too, e.g. `[1, 1]`"
                            ),
                            Value::List { .. } => format!(
                                "`{name}` of `{layer}` takes `[before, after]` pairs of two integers, found {}",
                                item.describe()
                            ),
                            _ => format!(
                                "`{name}` of `{layer}` takes integers or `[before, after]` pairs, found {}",
                                item.describe()
                            ),
                        };
                        cx.error(item.span(), message);
                    }
                    ok &= good;
                }
                ok
            }
            _ => wrong("an integer, a list of integers, or a list of pairs such as `1`, `[1, 2]` or `[[1, 1], [2, 2]]`"),
        },
        Kind::Choice(choices) => match value {
            Value::Str(s) => choice(cx, value.span(), &s.value(), name, layer, choices),
            Value::Ident(id) => choice(cx, id.span(), &id.to_string(), name, layer, choices),
            _ => wrong(&format!(
                "one of {}",
                choices
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        },
        Kind::Regularizer => match value {
            Value::None(_) => true,
            Value::Call(c) => {
                regularizer(c, name, layer, &mut |span, msg| cx.error(span, msg)).is_some()
            }
            _ => wrong("a regularizer: `l1(0.01)`, `l2(0.01)` or `l1_l2(l1 = 0.01, l2 = 0.01)`"),
        },
        Kind::Layer => match value {
            Value::Call(c) => {
                let inner = c.name.to_string();
                match stratic_core::shape::layer_spec(&inner) {
                    Some(spec) if spec.arity == stratic_core::shape::Arity::One => {
                        // Its own sink, to know whether this call bound cleanly.
                        let inner_cx = Ctxt::new();
                        bind(&inner_cx, c, spec.name, spec.params);
                        // The wrapper is the layer of the model: its name and freezing are
                        // the wrapper's to take (Keras names the copies after it).
                        for arg in &c.args {
                            if let Some(k) = arg.key.as_ref().filter(|k| COMMON.iter().any(|p| *k == p.name)) {
                                inner_cx.error(
                                    k.span(),
                                    format!("`{k}` of the layer inside `{layer}` is not taken: give it to `{layer}` itself"),
                                );
                            }
                        }
                        match inner_cx.check() {
                            Ok(()) => true,
                            Err(e) => {
                                cx.push(e);
                                false
                            }
                        }
                    }
                    _ => {
                        let names = stratic_core::shape::LAYERS.iter().map(|s| s.name);
                        let hint = closest(&inner, names)
                            .map_or(String::new(), |c| format!("; did you mean `{c}`?"));
                        cx.error(
                            c.name.span(),
                            format!("`{name}` of `{layer}` takes a layer call such as `gru(3)`, and `{inner}` is not a layer{hint}"),
                        );
                        false
                    }
                }
            }
            _ => wrong("a layer call such as `gru(3)`"),
        },
        Kind::TypeSpec => match value {
            Value::Call(_) => true,
            _ => wrong("`TensorSpec(...)`, `SparseTensorSpec(...)` or `RaggedTensorSpec(...)`"),
        },
    }
}

/// A regularizer call, `l2(0.01)` or `l1_l2(l1 = 0.01, l2 = 0.02)`: its factors by position
/// or by key, each a non-negative number (Keras' check), with Keras' defaults. Problems go to
/// `report`; `None` if there was one.
fn regularizer(
    call: &Call,
    param: &str,
    layer: &str,
    report: &mut dyn FnMut(Span, String),
) -> Option<Regularizer> {
    let name = call.name.to_string();
    let Some((_, kind, (l1, l2))) = REGULARIZERS.iter().find(|(n, _, _)| *n == name) else {
        let names = REGULARIZERS.map(|(n, _, _)| n);
        let hint = closest(&name, names).map_or(String::new(), |c| format!("did you mean `{c}`? "));
        report(
            call.name.span(),
            format!(
                "unknown regularizer `{name}` for `{param}` of `{layer}`; {hint}expected `l1(0.01)`, `l2(0.01)` or `l1_l2(l1 = 0.01, l2 = 0.01)`"
            ),
        );
        return None;
    };
    let keys: &[&str] = match name.as_str() {
        "l1" => &["l1"],
        "l2" => &["l2"],
        _ => &["l1", "l2"],
    };
    let mut factors = [*l1, *l2];
    let mut given: Vec<&str> = Vec::new();
    let mut ok = true;
    for (i, arg) in call.args.iter().enumerate() {
        let key = match &arg.key {
            Some(k) => k.to_string(),
            None => match keys.get(i) {
                Some(k) => (*k).to_string(),
                None => {
                    report(
                        arg.value.span(),
                        format!(
                            "`{name}` takes {} argument(s): {}",
                            keys.len(),
                            keys.join(", ")
                        ),
                    );
                    ok = false;
                    continue;
                }
            },
        };
        let Some(&key) = keys.iter().find(|k| **k == key) else {
            report(
                arg.span(),
                format!(
                    "unknown argument `{key}` for `{name}`; it takes {}",
                    keys.join(", ")
                ),
            );
            ok = false;
            continue;
        };
        if given.contains(&key) {
            report(
                arg.span(),
                format!("duplicate argument `{key}` for `{name}`"),
            );
            ok = false;
            continue;
        }
        given.push(key);
        let value = match &arg.value {
            Value::Int { value, .. } => *value as f64,
            Value::Float { value, .. } => *value,
            Value::Invalid(_) => {
                ok = false;
                continue;
            }
            other => {
                report(
                    other.span(),
                    format!(
                        "`{key}` of `{name}` takes a number, found {}",
                        other.describe()
                    ),
                );
                ok = false;
                continue;
            }
        };
        // Written to refuse NaN and infinities too.
        if !(value >= 0.0 && value.is_finite()) {
            report(
                arg.value.span(),
                format!(
                    "Invalid value for argument {key}: expected a non-negative float. Received: {key}={value}"
                ),
            );
            ok = false;
            continue;
        }
        factors[usize::from(key == "l2")] = value;
    }
    ok.then_some(Regularizer {
        kind: *kind,
        l1: factors[0],
        l2: factors[1],
    })
}

/// One name of a parameter's own vocabulary (`padding = same` or `"same"`), with "did you mean".
fn choice(cx: &Ctxt, span: Span, s: &str, param: &str, layer: &str, choices: &[&str]) -> bool {
    if choices.contains(&s) {
        return true;
    }
    let hint = closest(s, choices.iter().copied())
        .map_or(String::new(), |c| format!("did you mean `{c}`? "));
    let list = choices
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ");
    cx.error(
        span,
        format!("unknown {param} `{s}` for `{layer}`; {hint}expected one of {list}"),
    );
    false
}

/// A bare name from a fixed vocabulary (activation, initializer, dtype), with "did you mean".
fn named(cx: &Ctxt, value: &Value, param: &str, layer: &str, what: &str, valid: &[&str]) -> bool {
    let list = valid
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match value {
        Value::Ident(id) => {
            let s = id.to_string();
            // Keras' own spellings (`float32`, `silu`) are accepted too.
            let accepted = valid.contains(&s.as_str())
                || (what == "a dtype" && DType::from_name(&s).is_some())
                || (what == "an activation" && Activation::from_name(&s).is_some());
            if accepted {
                return true;
            }
            let hint = closest(&s, valid.iter().copied())
                .map_or(String::new(), |c| format!("did you mean `{c}`? "));
            cx.error(
                id.span(),
                format!(
                    "unknown {} `{s}` for `{param}`; {hint}expected one of {list}",
                    &what[what.find(' ').map_or(0, |i| i + 1)..]
                ),
            );
            false
        }
        Value::Str(s) => {
            cx.error(
                value.span(),
                format!(
                    "`{param}` of `{layer}` takes a bare name, not a string: write `{param} = {}`",
                    s.value()
                ),
            );
            false
        }
        _ => {
            cx.error(
                value.span(),
                format!(
                    "`{param}` of `{layer}` takes {what} ({list}), found {}",
                    value.describe()
                ),
            );
            false
        }
    }
}
