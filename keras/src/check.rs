//! `declare --check`: the weights a `.keras` file holds against the weights its generated
//! declaration has. Shapes are inferred through the file's graph with the layer specs' own
//! rules (what `model!` does at compile time), each layer's weights come from its spec, and
//! every dataset of `model.weights.h5` is matched by its Keras path and shape.

use std::collections::HashMap;

use serde_json::Value;
use stratic_core::shape::layers::keras_extra_variables;
use stratic_core::shape::{
    DType, Dim, LayerInfo, Layout, ParamDefault, ParamKind, RuleInput, TensorSpec,
};

use crate::{histories, param_value, spec_of, str_of, DeclareError};

/// What `--check` found: the weights compared, and every difference.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Weights found in the file with the declared path and shape.
    pub matched: usize,
    /// Every difference: a weight missing, of another shape, or one the model does not have.
    pub problems: Vec<String>,
}

fn input_spec(config: &Value) -> TensorSpec {
    let shape = config
        .get("batch_shape")
        .or_else(|| config.get("batch_input_shape"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let dims: Vec<Dim> = shape
        .iter()
        .skip(1)
        .map(|d| d.as_u64().map_or(Dim::Unknown, |n| Dim::Known(n as usize)))
        .collect();
    let dtype = match str_of(config, "dtype") {
        "int32" => DType::I32,
        "int64" => DType::I64,
        "float64" => DType::F64,
        _ => DType::F32,
    };
    let ids = matches!(dtype, DType::I32 | DType::I64);
    // As `declare` writes it: ids of any length are ragged rows.
    let layout = if config.get("sparse").and_then(Value::as_bool) == Some(true) {
        Layout::Sparse
    } else if ids && dims.contains(&Dim::Unknown) {
        Layout::Ragged
    } else {
        Layout::Dense
    };
    TensorSpec {
        batch: Dim::Unknown,
        dims,
        dtype,
        layout,
    }
}

/// Compares the weights file of a `.keras` archive with the weights its declaration has.
///
/// # Errors
/// [`DeclareError::Malformed`] for a file that is not a Keras archive or whose weights file
/// cannot be read; [`DeclareError::Unsupported`] when no declaration can be generated.
pub fn check_keras_file(bytes: &[u8]) -> Result<CheckReport, DeclareError> {
    let archive = stratic_core::read_keras_archive(bytes)
        .map_err(|e| DeclareError::Malformed(e.to_string()))?;
    check_keras_parts(&archive.config, &archive.weights)
}

/// [`check_keras_file`] on an archive's two parts: its `config.json` and its weights file.
///
/// # Errors
/// As [`check_keras_file`].
pub fn check_keras_parts(config_json: &str, weights: &[u8]) -> Result<CheckReport, DeclareError> {
    let malformed = |e: String| DeclareError::Malformed(e);
    crate::declare(config_json, "Checked")?;
    let root: Value = serde_json::from_str(config_json).map_err(|e| malformed(e.to_string()))?;
    let config = root.get("config").unwrap_or(&Value::Null);
    let layers = config
        .get("layers")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("no `config.layers` list".into()))?;
    let sequential = str_of(&root, "class_name") == "Sequential";
    let file = stratic_core::Hdf5File::parse(weights).map_err(|e| malformed(e.to_string()))?;
    let mut saved: HashMap<String, Vec<usize>> = file
        .datasets()
        .map_err(|e| malformed(e.to_string()))?
        .into_iter()
        .filter(|d| d.path.starts_with("layers/"))
        .map(|d| (d.path, d.shape))
        .collect();
    let mut report = CheckReport::default();
    // Each tensor's spec, by (layer, node); a Sequential model's previous output.
    let mut tensors: HashMap<(String, u64), TensorSpec> = HashMap::new();
    let mut previous: Option<TensorSpec> = None;
    if sequential && layers.first().map(|l| str_of(l, "class_name")) != Some("InputLayer") {
        let shape = config
            .get("build_input_shape")
            .cloned()
            .unwrap_or(Value::Null);
        previous = Some(input_spec(&serde_json::json!({ "batch_shape": shape })));
    }
    let mut per_class: HashMap<String, usize> = HashMap::new();
    for l in layers {
        let class = str_of(l, "class_name");
        let lc = l.get("config").unwrap_or(&Value::Null);
        let name = str_of(lc, "name").to_string();
        if class == "InputLayer" {
            let spec = input_spec(lc);
            tensors.insert((name, 0), spec.clone());
            previous = Some(spec);
            continue;
        }
        // `declare` succeeded, so every class has a spec.
        let Some(spec) = spec_of(class) else { continue };
        let given = spec
            .params
            .iter()
            .filter(|p| p.kind != ParamKind::Tensors)
            .filter_map(|p| {
                let v = lc.get(p.name).and_then(|v| param_value(p.kind, v));
                match (v, &p.default) {
                    (Some(v), _) => Some((p.name, v)),
                    (None, ParamDefault::Value(_)) => None,
                    (None, ParamDefault::Required) => None,
                }
            })
            .collect();
        let layer_config = spec.configure(given);
        let inputs: Vec<TensorSpec> = if sequential {
            previous.iter().cloned().collect()
        } else {
            let first = l
                .get("inbound_nodes")
                .and_then(Value::as_array)
                .and_then(|n| n.first())
                .cloned()
                .unwrap_or(Value::Null);
            let mut from = Vec::new();
            histories(&first, &mut from);
            from.iter()
                .filter_map(|k| tensors.get(k).cloned())
                .collect()
        };
        let rule = RuleInput {
            name: &name,
            config: &layer_config,
            inputs: &inputs,
        };
        let output = match spec.output_spec(&rule) {
            Ok(o) => o,
            Err(e) => {
                report
                    .problems
                    .push(format!("layer '{name}' ({class}): {e}"));
                continue;
            }
        };
        let uses = l
            .get("inbound_nodes")
            .and_then(Value::as_array)
            .map_or(1, |n| n.len().max(1));
        for node in 0..uses as u64 {
            tensors.insert((name.clone(), node), output.clone());
        }
        previous = Some(output);
        let snake = LayerInfo::snake_case(class);
        let n = per_class.entry(snake.clone()).or_insert(0);
        let file_layer = if *n == 0 {
            snake
        } else {
            format!("{snake}_{n}")
        };
        *n += 1;
        let mut per_group: HashMap<&str, usize> = HashMap::new();
        let specs = spec.weight_specs(&rule);
        // Keras' variables that are no weight of the declaration (an adapted
        // `Normalization`'s scalar `count`), after the layer's weights: not a difference.
        for k in 0..keras_extra_variables(spec, &specs).len() {
            let path = format!("layers/{file_layer}/vars/{}", specs.len() + k);
            if saved.get(&path).is_some_and(|shape| shape.is_empty()) {
                saved.remove(&path);
            }
        }
        for w in specs {
            let i = per_group.entry(w.keras_group).or_insert(0);
            let group = if w.keras_group.is_empty() {
                String::new()
            } else {
                format!("{}/", w.keras_group)
            };
            let path = format!("layers/{file_layer}/{group}vars/{i}");
            *i += 1;
            match saved.remove(&path) {
                Some(shape) if shape == w.shape => report.matched += 1,
                Some(shape) => report.problems.push(format!(
                    "layer '{name}' ({class}) weight `{}`: the declaration has shape {:?}, the file ({path}) {shape:?}",
                    w.name, w.shape
                )),
                None => report.problems.push(format!(
                    "layer '{name}' ({class}) weight `{}` of shape {:?}: not in the file ({path})",
                    w.name, w.shape
                )),
            }
        }
    }
    let mut extra: Vec<String> = saved.into_keys().collect();
    extra.sort();
    for path in extra {
        report.problems.push(format!(
            "{path}: in the file, but the declaration has no such weight"
        ));
    }
    Ok(report)
}
