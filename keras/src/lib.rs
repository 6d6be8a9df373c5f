//! `model!` source from a Keras `.keras` file's `config.json`, so a model trained in Keras is
//! declared in Rust without writing it out by hand.
//!
//! Every layer is looked up in the layer registry by its Keras class, and its configuration is
//! read through the layer's spec: arguments are written only where they differ from the spec's
//! defaults (required ones by position), and layer names are kept. A layer, argument or input
//! the registry cannot express is listed with its Keras class instead of silently wrong code.

use std::collections::HashMap;
use std::fmt::Write;

mod check;
pub use check::{check_keras_file, check_keras_parts, CheckReport};

use serde_json::Value;
use stratic_core::shape::{
    Activation, Arity, Initializer, LayerInfo, LayerSpec, ParamDefault, ParamKind, ParamValue,
    Regularizer, LAYERS,
};

/// What the generated declaration cannot express.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported {
    /// The layer's name in the file.
    pub layer: String,
    /// Its Keras class.
    pub class_name: String,
    /// What is not supported: the class itself, or an argument with its value.
    pub what: String,
}

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "layer '{}' ({}): {}",
            self.layer, self.class_name, self.what
        )
    }
}

/// Why no declaration could be generated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeclareError {
    /// The file is not a Keras archive, or its `config.json` is not a model Keras wrote.
    Malformed(String),
    /// Layers or arguments the registry cannot express, every one of them.
    Unsupported(Vec<Unsupported>),
}

impl std::fmt::Display for DeclareError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeclareError::Malformed(m) => write!(f, "not a Keras model config: {m}"),
            DeclareError::Unsupported(list) => {
                writeln!(f, "the model uses what `model!` does not support yet:")?;
                for u in list {
                    writeln!(f, "  - {u}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for DeclareError {}

/// The `model!` declaration (a struct named `name`) of the model a `.keras` file holds.
///
/// # Errors
/// [`DeclareError::Malformed`] for bytes that are not a Keras archive with a model config;
/// [`DeclareError::Unsupported`] listing every layer or argument that cannot be declared.
pub fn declare_keras_file(bytes: &[u8], name: &str) -> Result<String, DeclareError> {
    let archive = stratic_core::read_keras_archive(bytes)
        .map_err(|e| DeclareError::Malformed(e.to_string()))?;
    declare(&archive.config, name)
}

/// The `model!` declaration of a Keras `config.json` (`model.to_json()`), as [`declare_keras_file`].
///
/// # Errors
/// As [`declare_keras_file`].
pub fn declare(config_json: &str, name: &str) -> Result<String, DeclareError> {
    let root: Value =
        serde_json::from_str(config_json).map_err(|e| DeclareError::Malformed(e.to_string()))?;
    let class = root.get("class_name").and_then(Value::as_str).unwrap_or("");
    let config = root.get("config").unwrap_or(&Value::Null);
    let layers = config
        .get("layers")
        .and_then(Value::as_array)
        .ok_or_else(|| DeclareError::Malformed("no `config.layers` list".into()))?;
    let mut problems = Vec::new();
    let body = match class {
        "Sequential" => sequential(config, layers, &mut problems),
        "Functional" | "Model" => functional(config, layers, &mut problems),
        other => {
            return Err(DeclareError::Malformed(format!(
                "a model of class `{other}`; expected Sequential or Functional"
            )))
        }
    };
    if !problems.is_empty() {
        return Err(DeclareError::Unsupported(problems));
    }
    let mut out = String::from("model! {\n");
    let _ = writeln!(out, "    pub struct {name} {{");
    for line in body {
        let _ = writeln!(out, "        {line}");
    }
    out.push_str("    }\n}\n");
    Ok(out)
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// `input(...)` for an InputLayer config (or a Sequential model's build shape).
fn input_call(config: &Value, keep_name: bool, problems: &mut Vec<Unsupported>) -> String {
    let name = str_of(config, "name");
    let shape = config
        .get("batch_shape")
        .or_else(|| config.get("batch_input_shape"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let dims: Vec<String> = shape
        .iter()
        .skip(1)
        .map(|d| d.as_u64().map_or("None".to_string(), |n| n.to_string()))
        .collect();
    let mut args = vec![format!("shape = [{}]", dims.join(", "))];
    let dtype = config
        .get("dtype")
        .and_then(|d| {
            d.as_str()
                .or_else(|| d.pointer("/config/name").and_then(Value::as_str))
        })
        .unwrap_or("float32");
    let rust = match dtype {
        "float32" => None,
        "float64" => Some("f64"),
        "int32" => Some("i32"),
        "int64" => Some("i64"),
        "uint8" => Some("u8"),
        "bool" => Some("bool"),
        other => {
            problems.push(Unsupported {
                layer: name.to_string(),
                class_name: "InputLayer".into(),
                what: format!("dtype {other}"),
            });
            None
        }
    };
    // Ids of any length run as ragged rows here (Keras pads them, or takes one row at a time).
    if rust.is_some_and(|t| t.starts_with('i') || t == "u8") && dims.iter().any(|d| d == "None") {
        args.push("ragged = true".into());
    }
    if let Some(t) = rust {
        args.push(format!("dtype = {t}"));
    }
    if config.get("sparse").and_then(Value::as_bool) == Some(true) {
        args.push("sparse = true".into());
    }
    if keep_name && !name.is_empty() {
        args.push(format!("name = {name:?}"));
    }
    format!("input({})", args.join(", "))
}

/// The spec of a Keras class.
fn spec_of(class_name: &str) -> Option<&'static LayerSpec> {
    LAYERS.iter().copied().find(|s| s.class_name == class_name)
}

/// A Keras config value as the value of a parameter of `kind`, if it is one.
fn param_value(kind: ParamKind, v: &Value) -> Option<ParamValue> {
    Some(match kind {
        // LayerNormalization saves its one axis as a list (`[-1]`).
        ParamKind::PositiveInt | ParamKind::Int => ParamValue::Int(match v {
            Value::Array(items) if items.len() == 1 => items.first()?.as_i64()?,
            other => other.as_i64()?,
        }),
        ParamKind::Number => ParamValue::Float(v.as_f64()?),
        ParamKind::Bool => ParamValue::Bool(v.as_bool()?),
        ParamKind::Activation => ParamValue::Activation(Activation::from_name(v.as_str()?)?),
        ParamKind::Initializer => {
            let class = v
                .as_str()
                .or_else(|| v.get("class_name").and_then(Value::as_str))?;
            ParamValue::Initializer(Initializer::from_name(&LayerInfo::snake_case(class))?)
        }
        ParamKind::Ints => match v {
            Value::Array(items) => ParamValue::Ints(
                items
                    .iter()
                    .map(Value::as_i64)
                    .collect::<Option<Vec<i64>>>()?
                    .into(),
            ),
            other => ParamValue::Int(other.as_i64()?),
        },
        ParamKind::IntPairs => {
            let mut flat = Vec::new();
            for item in v
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(std::slice::from_ref(v))
            {
                match item {
                    Value::Array(pair) => {
                        for x in pair {
                            flat.push(x.as_i64()?);
                        }
                    }
                    other => flat.push(other.as_i64()?),
                }
            }
            ParamValue::Ints(flat.into())
        }
        ParamKind::Str | ParamKind::Choice(_) => ParamValue::Str(v.as_str()?.to_string().into()),
        // `null`, a number for every value, or a list (`Normalization`'s `mean`).
        ParamKind::Floats => match v {
            Value::Null => ParamValue::None,
            Value::Array(items) => ParamValue::Floats(
                items
                    .iter()
                    .map(Value::as_f64)
                    .collect::<Option<Vec<f64>>>()?
                    .into(),
            ),
            other => ParamValue::Floats(vec![other.as_f64()?].into()),
        },
        // `null`, or `{"class_name": "L2", "config": {"l2": 0.01}}`.
        ParamKind::Regularizer if v.is_null() => ParamValue::None,
        ParamKind::Regularizer => {
            let factor = |key: &str| -> Option<f64> {
                match v.get("config").and_then(|c| c.get(key)) {
                    None => Some(0.0),
                    Some(x) => x.as_f64(),
                }
            };
            let (l1, l2) = (factor("l1")?, factor("l2")?);
            ParamValue::Regularizer(match v.get("class_name").and_then(Value::as_str)? {
                "L1" => Regularizer::l1(l1),
                "L2" => Regularizer::l2(l2),
                "L1L2" => Regularizer::l1_l2(l1, l2),
                _ => return None,
            })
        }
        // `{"class_name": "GRU", "config": {...}}`: the nested layer's own configuration.
        ParamKind::Layer => {
            let spec = spec_of(v.get("class_name").and_then(Value::as_str)?)?;
            let config = v.get("config")?;
            let given = spec
                .params
                .iter()
                .filter(|p| p.kind != ParamKind::Tensors && p.kind != ParamKind::Layer)
                .filter_map(|p| Some((p.name, param_value(p.kind, config.get(p.name)?)?)))
                .collect();
            let values = spec.configure(given).values().to_vec();
            ParamValue::Layer(spec.name.into(), values.into())
        }
        _ => return None,
    })
}

/// Whether a saved value is the default: Keras saves a per-axis tuple (`[1, 1]`) where the
/// spec's default is one value for every axis (`1`).
fn same_value(default: &ParamValue, saved: &ParamValue) -> bool {
    fn per_axis(v: &ParamValue) -> Option<Vec<i64>> {
        match v {
            ParamValue::Int(i) => Some(vec![*i]),
            ParamValue::Ints(items) => Some(items.to_vec()),
            _ => None,
        }
    }
    match (per_axis(default), per_axis(saved)) {
        (Some(d), Some(s)) if d.len() == 1 => !s.is_empty() && s.iter().all(|x| *x == d[0]),
        (Some(d), Some(s)) => d == s,
        _ => default == saved,
    }
}

/// How a value is written in the DSL.
fn dsl_value(v: &ParamValue, kind: ParamKind) -> String {
    match (v, kind) {
        (ParamValue::Float(f), _) if f.fract() == 0.0 => format!("{f:.1}"),
        (ParamValue::Str(s), ParamKind::Str) => format!("{s:?}"),
        (ParamValue::Ints(v), _) if v.len() > 1 && v.iter().all(|x| *x == v[0]) => v[0].to_string(),
        // Pairs, as Keras writes them for rank 2: symmetric ones as one count per axis.
        (ParamValue::Ints(v), ParamKind::IntPairs) if v.len() == 4 => {
            if v[0] == v[1] && v[2] == v[3] {
                format!("[{}, {}]", v[0], v[2])
            } else {
                format!("[[{}, {}], [{}, {}]]", v[0], v[1], v[2], v[3])
            }
        }
        (other, _) => other.to_string(),
    }
}

/// Keras config keys that carry no meaning here when they hold these values.
fn inert(key: &str, v: &Value) -> bool {
    matches!(key, "name" | "dtype" | "module" | "registered_name")
        || v.is_null()
        || v == &Value::Bool(false)
        || (key == "trainable" && v == &Value::Bool(true))
        || (key == "data_format" && v.as_str() == Some("channels_last"))
        // Keras' Embedding default; initializers' own settings are read with their class.
        || (key == "keepdims" && v == &Value::Bool(false))
        // Batch renormalization's momentum means nothing while `renorm` is false (which is
        // inert; `renorm = true` is listed as unsupported).
        || key == "renorm_momentum"
        // What a recurrent layer outputs at masked steps: ragged rows have none to output.
        || key == "zero_output_for_mask"
}

/// `layer(args)` for a Keras layer, through its spec.
fn layer_call(
    layer: &Value,
    problems: &mut Vec<Unsupported>,
) -> Option<(String, &'static LayerSpec)> {
    let config = layer.get("config").unwrap_or(&Value::Null);
    let name = str_of(config, "name").to_string();
    let (mut args, spec) = layer_args(layer, problems)?;
    if config.get("trainable") == Some(&Value::Bool(false)) {
        args.push("trainable = false".into());
    }
    args.push(format!("name = {name:?}"));
    Some((format!("{}({})", spec.name, args.join(", ")), spec))
}

/// A saved Keras value with the keys that differ between two copies of one layer removed
/// (its name, the ids Keras gives shared objects), and `go_backwards` too.
fn mirrored(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "name" | "shared_object_id" | "go_backwards")
                })
                .map(|(k, v)| (k.clone(), mirrored(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(mirrored).collect()),
        other => other.clone(),
    }
}

/// The arguments of a Keras layer's call (without its name), through its spec; a nested
/// layer (`Bidirectional`'s `layer`) written as a call of its own.
fn layer_args(
    layer: &Value,
    problems: &mut Vec<Unsupported>,
) -> Option<(Vec<String>, &'static LayerSpec)> {
    let class = str_of(layer, "class_name");
    let config = layer.get("config").unwrap_or(&Value::Null);
    let name = str_of(config, "name").to_string();
    let Some(spec) = spec_of(class) else {
        problems.push(Unsupported {
            layer: name,
            class_name: class.to_string(),
            what: "this layer".into(),
        });
        return None;
    };
    let mut args = Vec::new();
    let mut known = Vec::new();
    for p in spec.params.iter().filter(|p| p.kind != ParamKind::Tensors) {
        known.push(p.name);
        let Some(saved) = config.get(p.name) else {
            continue;
        };
        if p.kind == ParamKind::Layer {
            let (inner, inner_spec) = layer_args(saved, problems)?;
            let call = format!("{}({})", inner_spec.name, inner.join(", "));
            args.push(if p.is_required() {
                call
            } else {
                format!("{} = {call}", p.name)
            });
            // Keras saves the backward copy too; the mirror of `layer` is what it builds anyway.
            if let Some(back) = config.get("backward_layer") {
                known.push("backward_layer");
                if mirrored(back) != mirrored(saved) {
                    problems.push(Unsupported {
                        layer: name.clone(),
                        class_name: class.to_string(),
                        what: "a `backward_layer` other than the mirror of `layer`".into(),
                    });
                }
            }
            continue;
        }
        // Keras' `None` for a parameter whose default is unset (`seed`): nothing to write.
        if saved.is_null() && matches!(p.default, ParamDefault::Value(ParamValue::None)) {
            continue;
        }
        let Some(value) = param_value(p.kind, saved) else {
            problems.push(Unsupported {
                layer: name.clone(),
                class_name: class.to_string(),
                what: format!("`{}` = {saved}", p.name),
            });
            continue;
        };
        match &p.default {
            ParamDefault::Required => args.push(dsl_value(&value, p.kind)),
            ParamDefault::Value(d) if same_value(d, &value) => {}
            ParamDefault::Value(_) => {
                args.push(format!("{} = {}", p.name, dsl_value(&value, p.kind)))
            }
        }
    }
    if let Some(map) = config.as_object() {
        for (key, v) in map {
            if !known.contains(&key.as_str()) && !inert(key, v) {
                problems.push(Unsupported {
                    layer: name.clone(),
                    class_name: class.to_string(),
                    what: format!("`{key}` = {v}"),
                });
            }
        }
    }
    Some((args, spec))
}

fn sequential(config: &Value, layers: &[Value], problems: &mut Vec<Unsupported>) -> Vec<String> {
    let mut terms = Vec::new();
    let mut rest = layers;
    match layers.first() {
        Some(l) if str_of(l, "class_name") == "InputLayer" => {
            terms.push(input_call(
                l.get("config").unwrap_or(&Value::Null),
                true,
                problems,
            ));
            rest = &layers[1..];
        }
        _ => {
            let shape = config
                .get("build_input_shape")
                .cloned()
                .unwrap_or(Value::Null);
            let c = serde_json::json!({ "batch_shape": shape });
            terms.push(input_call(&c, false, problems));
        }
    }
    for l in rest {
        if let Some((call, _)) = layer_call(l, problems) {
            terms.push(call);
        }
    }
    let mut lines = vec![terms[0].clone()];
    lines.extend(terms[1..].iter().map(|t| format!("    -> {t}")));
    lines
}

/// The `(layer, node)` each Keras tensor in `v` comes from, in order.
fn histories(v: &Value, out: &mut Vec<(String, u64)>) {
    match v {
        Value::Object(m) => {
            if let Some(h) = m.get("keras_history").and_then(Value::as_array) {
                if let (Some(l), Some(n)) = (
                    h.first().and_then(Value::as_str),
                    h.get(1).and_then(Value::as_u64),
                ) {
                    out.push((l.to_string(), n));
                    return;
                }
            }
            m.values().for_each(|x| histories(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| histories(x, out)),
        _ => {}
    }
}

/// A Rust name for the tensor of use `node` of layer `layer`.
fn tensor_name(layer: &str, node: u64, uses: usize) -> String {
    let base: String = layer
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let base = if base.starts_with(|c: char| c.is_ascii_digit()) {
        format!("t_{base}")
    } else {
        base
    };
    if uses > 1 {
        format!("{base}_{node}")
    } else {
        base
    }
}

fn functional(config: &Value, layers: &[Value], problems: &mut Vec<Unsupported>) -> Vec<String> {
    let mut lines = Vec::new();
    let uses: HashMap<String, usize> = layers
        .iter()
        .map(|l| {
            let n = l
                .get("inbound_nodes")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            (
                str_of(l.get("config").unwrap_or(&Value::Null), "name").to_string(),
                n.max(1),
            )
        })
        .collect();
    let name_of =
        |layer: &str, node: u64| tensor_name(layer, node, uses.get(layer).copied().unwrap_or(1));
    for l in layers {
        let config = l.get("config").unwrap_or(&Value::Null);
        let name = str_of(config, "name");
        if str_of(l, "class_name") == "InputLayer" {
            lines.push(format!(
                "let {} = {};",
                name_of(name, 0),
                input_call(config, true, problems)
            ));
            continue;
        }
        let Some((call, spec)) = layer_call(l, problems) else {
            continue;
        };
        let nodes = l
            .get("inbound_nodes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let shared = nodes.len() > 1;
        if shared {
            lines.push(format!(
                "let {} = {call};",
                tensor_name(name, 0, 1) + "_layer"
            ));
        }
        for (k, node) in nodes.iter().enumerate() {
            let mut inputs = Vec::new();
            histories(node, &mut inputs);
            let args: Vec<String> = inputs.iter().map(|(l, n)| name_of(l, *n)).collect();
            let applied = if shared {
                format!("{}_layer", tensor_name(name, 0, 1))
            } else {
                call.clone()
            };
            let expr = match spec.arity {
                Arity::Many => {
                    // A merge's list goes first among its arguments.
                    let inner = call
                        .trim_start_matches(spec.name)
                        .trim_start_matches('(')
                        .trim_end_matches(')');
                    format!("{}([{}], {inner})", spec.name, args.join(", "))
                }
                Arity::One => format!("{} -> {applied}", args.first().cloned().unwrap_or_default()),
            };
            lines.push(format!("let {} = {expr};", name_of(name, k as u64)));
        }
    }
    let mut outputs = Vec::new();
    if let Some(o) = config.get("output_layers") {
        histories_of_pairs(o, &mut outputs);
    }
    let outs: Vec<String> = outputs.iter().map(|(l, n)| name_of(l, *n)).collect();
    lines.push(if outs.len() == 1 {
        outs[0].clone()
    } else {
        format!("({})", outs.join(", "))
    });
    lines
}

/// `[["score", 0, 0], ...]` or `["score", 0, 0]`: the layers and nodes of a model's outputs.
fn histories_of_pairs(v: &Value, out: &mut Vec<(String, u64)>) {
    match v.as_array() {
        Some(a) if a.first().is_some_and(Value::is_string) => {
            if let (Some(l), Some(n)) = (a[0].as_str(), a.get(1).and_then(Value::as_u64)) {
                out.push((l.to_string(), n));
            }
        }
        Some(a) => a.iter().for_each(|x| histories_of_pairs(x, out)),
        None => {}
    }
}
