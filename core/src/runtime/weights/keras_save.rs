//! `save_keras`: a `.keras` archive Keras 3 opens with `keras.saving.load_model`. Its
//! `config.json` is written from what the model knows of itself (its layers' specs and
//! configurations, and the summary's connectivity), its weights by
//! [`keras_weights_bytes`](super::keras_weights_bytes), its `metadata.json` as Keras writes it.

use std::io::Write;
use std::path::Path;

use serde_json::{json, Map, Value};

use super::keras_weights_bytes;
use crate::runtime::error::{FileFormat, FileProblem};
use crate::runtime::{Error, Model};
use crate::shape::{DType, Dim, LayerInfo, Layout, ParamKind, ParamValue, TensorSpec};

/// The Keras version whose format this writes (the fixtures' version).
const KERAS_VERSION: &str = "3.15.1";

fn err(message: impl Into<String>) -> Error {
    Error::file(FileFormat::Zip, FileProblem::Malformed, message)
}

fn dtype_name(d: DType) -> &'static str {
    match d {
        DType::I32 => "int32",
        DType::I64 => "int64",
        _ => "float32",
    }
}

/// `[null, 8, 8, 2]`: the batch axis and every unknown axis `null`.
fn batch_shape(spec: &TensorSpec) -> Value {
    let mut dims = vec![Value::Null];
    dims.extend(spec.dims.iter().map(|d| match d {
        Dim::Known(n) => json!(n),
        Dim::Unknown => Value::Null,
    }));
    Value::Array(dims)
}

/// A configuration value as Keras' `get_config` holds it.
fn param_json(name: &str, kind: ParamKind, value: &ParamValue) -> Option<Value> {
    Some(match value {
        ParamValue::Int(i) => json!(i),
        ParamValue::Float(f) => json!(f),
        ParamValue::Bool(b) => json!(b),
        ParamValue::Str(s) => json!(s.as_ref()),
        ParamValue::Activation(a) => json!(a.name()),
        ParamValue::Initializer(i) => json!(i.name()),
        ParamValue::Regularizer(r) => {
            let mut config = Map::new();
            if r.class_name() != "L2" {
                config.insert("l1".into(), json!(r.l1));
            }
            if r.class_name() != "L1" {
                config.insert("l2".into(), json!(r.l2));
            }
            json!({"module": "keras.regularizers", "class_name": r.class_name(),
                   "config": config, "registered_name": null})
        }
        // Pairs as Keras writes them: `[[top, bottom], [left, right]]` for rank 2.
        ParamValue::Ints(v) if kind == ParamKind::IntPairs && v.len() == 4 => {
            json!([[v[0], v[1]], [v[2], v[3]]])
        }
        // One value for every axis: Keras' layers take an integer there; a reshape's target
        // is always a tuple.
        ParamValue::Ints(v) if v.len() == 1 && name != "target_shape" => json!(v[0]),
        ParamValue::Ints(v) => json!(v.as_ref()),
        // The wrapped layer as Keras nests it: `{"class_name": "GRU", "config": {...}}`.
        ParamValue::Layer(layer, values) => {
            let spec = crate::shape::layer_spec(layer)?;
            let mut config = Map::new();
            config.insert("name".into(), json!(spec.name));
            config.insert("trainable".into(), json!(true));
            config.insert("dtype".into(), json!("float32"));
            for p in spec.params {
                if let Some(v) = values
                    .iter()
                    .find(|(n, _)| *n == p.name)
                    .and_then(|(_, v)| param_json(p.name, p.kind, v))
                {
                    config.insert(p.name.into(), v);
                }
            }
            json!({"module": "keras.layers", "class_name": spec.class_name,
                   "config": config, "registered_name": null})
        }
        ParamValue::Floats(v) => json!(v.as_ref()),
        ParamValue::None => Value::Null,
    })
}

/// One layer as it appears in a model's `config.json` (without its inbound nodes).
fn layer_json(l: &LayerInfo) -> Value {
    let mut config = Map::new();
    config.insert("name".into(), json!(l.name));
    let trainable = !matches!(l.config.get("trainable"), Some(ParamValue::Bool(false)));
    config.insert("trainable".into(), json!(trainable));
    config.insert("dtype".into(), json!("float32"));
    for p in l.spec.params {
        if matches!(
            p.kind,
            ParamKind::Tensors | ParamKind::Path | ParamKind::TypeSpec | ParamKind::DType
        ) {
            continue;
        }
        if let Some(v) = l
            .config
            .get(p.name)
            .and_then(|v| param_json(p.name, p.kind, v))
        {
            config.insert(p.name.into(), v);
        }
    }
    let input_shape = if l.inputs.len() > 1 {
        Value::Array(l.inputs.iter().map(batch_shape).collect())
    } else {
        batch_shape(&l.input)
    };
    json!({
        "module": "keras.layers",
        "class_name": l.class_name(),
        "config": config,
        "registered_name": null,
        "build_config": {"input_shape": input_shape},
    })
}

fn input_layer(name: &str, spec: &TensorSpec) -> Value {
    json!({
        "module": "keras.layers",
        "class_name": "InputLayer",
        "config": {
            "batch_shape": batch_shape(spec),
            "dtype": dtype_name(spec.dtype),
            "sparse": spec.layout == Layout::Sparse,
            "ragged": false,
            "name": name,
        },
        "registered_name": null,
    })
}

/// `name[node][tensor]` or `name` (the summary's forms) as Keras' `[name, node, tensor]`.
fn history(reference: &str) -> (String, u64, u64) {
    let mut parts = reference.split('[');
    let name = parts.next().unwrap_or_default().to_string();
    let mut index = parts.map(|p| p.trim_end_matches(']').parse::<u64>().unwrap_or(0));
    (name, index.next().unwrap_or(0), index.next().unwrap_or(0))
}

/// The model's `config.json`, Sequential when the model was declared as one chain.
pub fn keras_config<M: Model>(model: &M, name: &str) -> Result<Value, Error> {
    let layers = M::layers();
    let summary = model.summary();
    let Some(first) = layers.first() else {
        return Err(err(
            "the model has no layer metadata (it was not declared with `model!`)",
        ));
    };
    if let Some(l) = layers.iter().find(|l| {
        l.inputs
            .iter()
            .any(|s| s.layout == Layout::Ragged && l.spec.class_name != "Embedding")
    }) {
        return Err(err(format!(
            "layer '{}' ({}) takes a ragged tensor, which Keras 3 models do not hold",
            l.name,
            l.class_name()
        )));
    }
    let input_names = M::input_names();
    if summary.sequential {
        let input_name = input_names.first().copied().unwrap_or("input_layer");
        let mut list = vec![input_layer(input_name, &first.input)];
        list.extend(layers.iter().map(layer_json));
        return Ok(json!({
            "module": "keras",
            "class_name": "Sequential",
            "config": {"name": name, "trainable": true, "dtype": "float32", "layers": list},
            "registered_name": null,
            "build_config": {"input_shape": batch_shape(&first.input)},
            "compile_config": null,
        }));
    }
    // Functional: each tensor's spec is the output of the layer (or the input) that made it.
    let spec_of = |layer: &str| -> Option<TensorSpec> {
        layers
            .iter()
            .find(|l| l.name == layer)
            .map(|l| l.output.clone())
    };
    let mut list = Vec::new();
    let mut input_specs: Vec<(String, TensorSpec)> = Vec::new();
    for row in &summary.rows {
        if row.class_name == "InputLayer" {
            // Its spec is the input spec of a layer it feeds.
            let spec = layers.iter().find_map(|l| {
                summary
                    .rows
                    .iter()
                    .find(|r| r.name == l.name)
                    .and_then(|r| r.connected_to.iter().position(|c| history(c).0 == row.name))
                    .and_then(|i| l.inputs.get(i % l.inputs.len().max(1)).cloned())
            });
            let Some(spec) = spec else {
                return Err(err(format!("input '{}' feeds no layer", row.name)));
            };
            let mut entry = input_layer(&row.name, &spec);
            entry["name"] = json!(row.name);
            entry["inbound_nodes"] = json!([]);
            list.push(entry);
            input_specs.push((row.name.clone(), spec));
            continue;
        }
        let Some(l) = layers.iter().find(|l| l.name == row.name) else {
            return Err(err(format!(
                "layer '{}' is not in the model's metadata",
                row.name
            )));
        };
        let tensor = |reference: &str| -> Value {
            let (name, node, index) = history(reference);
            let spec = spec_of(&name).or_else(|| {
                input_specs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, s)| s.clone())
            });
            let (shape, dtype) = spec
                .map(|s| (batch_shape(&s), dtype_name(s.dtype)))
                .unwrap_or((Value::Null, "float32"));
            json!({"class_name": "__keras_tensor__",
                   "config": {"shape": shape, "dtype": dtype,
                              "keras_history": [name, node, index]}})
        };
        let nodes: Vec<Value> = if l.inputs.len() > 1 {
            let args: Vec<Value> = row.connected_to.iter().map(|c| tensor(c)).collect();
            vec![json!({"args": [args], "kwargs": {}})]
        } else {
            row.connected_to
                .iter()
                .map(|c| json!({"args": [tensor(c)], "kwargs": {}}))
                .collect()
        };
        let mut entry = layer_json(l);
        entry["name"] = json!(l.name);
        entry["inbound_nodes"] = Value::Array(nodes);
        list.push(entry);
    }
    let input_layers: Vec<Value> = input_names.iter().map(|n| json!([n, 0, 0])).collect();
    let output_layers: Vec<Value> = M::output_names().iter().map(|n| json!([n, 0, 0])).collect();
    Ok(json!({
        "module": "keras.src.models.functional",
        "class_name": "Functional",
        "config": {"name": name, "trainable": true, "layers": list,
                   "input_layers": input_layers, "output_layers": output_layers},
        "registered_name": "Functional",
        "build_config": {"input_shape": null},
        "compile_config": null,
    }))
}

/// `YYYY-MM-DD@HH:MM:SS` (UTC), as Keras' metadata writes the date.
fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}@{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The whole `.keras` archive of `model`, named `name` inside.
pub fn keras_bytes<M: Model>(model: &M, name: &str) -> Result<Vec<u8>, Error> {
    let config = keras_config(model, name)?;
    let weights = keras_weights_bytes(model)?;
    let metadata = json!({"keras_version": KERAS_VERSION, "date_saved": now()});
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    // Stored, as Keras writes its archives.
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (entry, bytes) in [
        ("metadata.json", metadata.to_string().into_bytes()),
        ("config.json", config.to_string().into_bytes()),
        ("model.weights.h5", weights),
    ] {
        zip.start_file(entry, options)
            .and_then(|()| zip.write_all(&bytes).map_err(zip::result::ZipError::Io))
            .map_err(|e| err(format!("writing {entry}: {e}")))?;
    }
    let cursor = zip
        .finish()
        .map_err(|e| err(format!("finishing the archive: {e}")))?;
    Ok(cursor.into_inner())
}

/// Writes [`keras_bytes`] to `path`, the model named after the file; see
/// [`Model::save_keras`].
pub fn save_keras<M: Model>(model: &M, path: &Path) -> Result<(), Error> {
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("model")
        .to_string();
    let bytes = keras_bytes(model, &name)?;
    std::fs::write(path, bytes).map_err(|e| Error::io(path, &e))
}
