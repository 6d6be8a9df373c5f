//! Keras files: `.weights.h5` (`model.save_weights`) and `.keras` (`model.save`, a zip of
//! `config.json`, `metadata.json` and `model.weights.h5`).
//!
//! In `.weights.h5` a layer's variables are `layers/<name>/vars/<i>` in the order Keras
//! creates them (kernel 0, bias 1), where `<name>` is the layer's class in snake case,
//! numbered by creation order among layers of that class (`dense`, `dense_1`, ...), whatever
//! the user named the layer.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use serde_json::Value;

use super::hdf5::Hdf5File;
use super::hdf5_write::Hdf5Tree;
use super::{apply, read_file, FoundWeight, LoadLimits};
use crate::runtime::error::{ArchitectureDifference, FileFormat, FileProblem};
use crate::runtime::{Error, Model};
use crate::shape::{Activation, Dim, LayerInfo, ParamKind, ParamValue, TensorSpec};

/// The most bytes one entry of a `.keras` archive may expand to (1 GiB): an entry whose
/// stated or actual size is larger is refused as a zip bomb.
pub const MAX_KERAS_ENTRY_BYTES: u64 = 1 << 30;

const ZIP_MAGIC: &[u8; 4] = b"PK\x03\x04";

/// The parts of a `.keras` archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KerasArchive {
    /// `config.json`: the architecture.
    pub config: String,
    /// `metadata.json` (Keras version, date), if present.
    pub metadata: Option<String>,
    /// `model.weights.h5`.
    pub weights: Vec<u8>,
}

fn zip_err(problem: FileProblem, message: impl Into<String>) -> Error {
    Error::file(FileFormat::Zip, problem, message)
}

/// Splits a `.keras` archive into its parts; each entry may expand to at most
/// [`MAX_KERAS_ENTRY_BYTES`].
pub fn read_keras_archive(bytes: &[u8]) -> Result<KerasArchive, Error> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| zip_err(FileProblem::Malformed, e.to_string()))?;
    let mut entry = |name: &str| -> Result<Option<Vec<u8>>, Error> {
        let file = match zip.by_name(name) {
            Ok(f) => f,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(zip_err(FileProblem::Malformed, format!("{name}: {e}"))),
        };
        if file.size() > MAX_KERAS_ENTRY_BYTES {
            return Err(zip_err(
                FileProblem::Unsafe,
                format!(
                    "{name} expands to {} bytes, above the bound of {MAX_KERAS_ENTRY_BYTES}",
                    file.size()
                ),
            ));
        }
        // The stated size may lie: never read more than the bound, whatever it says.
        let mut out = Vec::new();
        file.take(MAX_KERAS_ENTRY_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| zip_err(FileProblem::Malformed, format!("{name}: {e}")))?;
        if out.len() as u64 > MAX_KERAS_ENTRY_BYTES {
            return Err(zip_err(
                FileProblem::Unsafe,
                format!("{name} expands beyond the bound of {MAX_KERAS_ENTRY_BYTES} bytes"),
            ));
        }
        Ok(Some(out))
    };
    let missing = |name: &str| {
        zip_err(FileProblem::Malformed, format!("the archive has no {name}; a .keras file holds config.json, metadata.json and model.weights.h5"))
    };
    let config = entry("config.json")?.ok_or_else(|| missing("config.json"))?;
    let metadata = entry("metadata.json")?;
    let weights = entry("model.weights.h5")?.ok_or_else(|| missing("model.weights.h5"))?;
    let text = |name: &str, b: Vec<u8>| {
        String::from_utf8(b)
            .map_err(|_| zip_err(FileProblem::Malformed, format!("{name} is not UTF-8")))
    };
    Ok(KerasArchive {
        config: text("config.json", config)?,
        metadata: metadata.map(|m| text("metadata.json", m)).transpose()?,
        weights,
    })
}

/// For each weight of `model` (`dense/kernel`), its path in a Keras weights file
/// (`layers/dense/vars/0`), in the model's order.
///
/// Layers are numbered by class in the order of [`Model::layers`]; each layer's weights come
/// from its spec, numbered per group (`layers/lstm/cell/vars/0`). A model without layer
/// metadata is taken to consist of `Dense` layers.
pub fn keras_weight_paths<M: Model>(model: &M) -> Vec<(String, String)> {
    let mut next = file_layer_namer();
    let mut out = Vec::new();
    let layers = M::layers();
    if layers.is_empty() {
        let mut last_layer = String::new();
        let mut file_layer = String::new();
        let mut index = 0;
        model.visit_weights(&mut |p| {
            if p.layer != last_layer {
                last_layer = p.layer.to_string();
                file_layer = next("Dense");
                index = 0;
            }
            out.push((
                format!("{}/{}", p.layer, p.variable),
                format!("layers/{file_layer}/vars/{index}"),
            ));
            index += 1;
        });
        return out;
    }
    for l in layers {
        let file_layer = next(l.class_name());
        let mut per_group: HashMap<&str, usize> = HashMap::new();
        for w in &l.weights {
            let i = per_group.entry(w.keras_group).or_insert(0);
            let group = if w.keras_group.is_empty() {
                String::new()
            } else {
                format!("{}/", w.keras_group)
            };
            out.push((
                format!("{}/{}", l.name, w.name),
                format!("layers/{file_layer}/{group}vars/{i}"),
            ));
            *i += 1;
        }
    }
    out
}

/// Keras' names for a model's layers in its files: the class in snake case, numbered per
/// class in creation order (`dense`, `dense_1`, `conv2d`, ...).
fn file_layer_namer() -> impl FnMut(&str) -> String {
    let mut per_class: HashMap<String, usize> = HashMap::new();
    move |class: &str| {
        let snake = LayerInfo::snake_case(class);
        let n = per_class.entry(snake.clone()).or_insert(0);
        let name = if *n == 0 {
            snake
        } else {
            format!("{snake}_{n}")
        };
        *n += 1;
        name
    }
}

/// A Keras weights file (`.weights.h5`) of every weight of `model`, in the layout
/// `model.save_weights` writes: `layers/<layer>/vars/<i>` (nested parts such as
/// `layers/lstm/cell/vars/0` from the weight specs), an empty `vars` group for each layer
/// without weights and for the model itself.
pub fn keras_weights_bytes<M: Model>(model: &M) -> Result<Vec<u8>, Error> {
    // Keras files nest a sub-model as a model of its own (`layers/encoder/layers/...`), which
    // is not written yet; a flat file of its layers would load into no Keras model.
    if let Some(l) = M::layers().iter().find(|l| l.name.contains('/')) {
        let sub = l.name.split('/').next().unwrap_or_default();
        return Err(Error::InvalidArgument {
            name: "model",
            message: format!(
                "layer '{}' is in the sub-model '{sub}': Keras files of models made of models are not written yet; `save_weights` (safetensors) saves them",
                l.name
            ),
        });
    }
    // A user's layer has no Keras class to write.
    if let Some(l) = M::layers()
        .iter()
        .find(|l| std::ptr::eq(l.spec, &crate::shape::CUSTOM))
    {
        return Err(Error::InvalidArgument {
            name: "model",
            message: format!(
                "layer '{}' is a user's layer, which Keras files cannot name; `save_weights` (safetensors) saves it",
                l.name
            ),
        });
    }
    let mut tree = Hdf5Tree::new();
    tree.group("vars")?;
    let mut next = file_layer_namer();
    for l in M::layers() {
        let name = next(l.class_name());
        tree.group(&format!("layers/{name}/vars"))?;
    }
    let weights: HashMap<String, ndarray::ArrayD<f32>> = model.weights().into_iter().collect();
    for (key, path) in keras_weight_paths(model) {
        let Some(value) = weights.get(&key) else {
            return Err(config_err(format!(
                "the weight '{key}' is not in the model"
            )));
        };
        let data: Vec<f32> = value.iter().copied().collect();
        tree.dataset(&path, value.shape(), data)?;
    }
    // Keras' variables that are no weight here (a `Normalization`'s `count`: 0), without
    // which Keras refuses the file.
    for path in keras_extra_paths::<M>() {
        tree.dataset_i64(&path, &[], vec![0])?;
    }
    tree.to_bytes()
}

/// The file paths of the variables Keras keeps beyond a model's weights
/// ([`keras_extra_variables`](crate::shape::layers::keras_extra_variables)), numbered after
/// the layer's weights as Keras numbers them (all are directly under the layer).
fn keras_extra_paths<M: Model>() -> Vec<String> {
    let mut next = file_layer_namer();
    let mut out = Vec::new();
    for l in M::layers() {
        let file_layer = next(l.class_name());
        let extra = crate::shape::layers::keras_extra_variables(l.spec, &l.weights);
        for i in 0..extra.len() {
            out.push(format!("layers/{file_layer}/vars/{}", l.weights.len() + i));
        }
    }
    out
}

/// Writes [`keras_weights_bytes`] to `path`; see [`Model::save_keras_weights`].
pub fn save_keras_weights<M: Model>(model: &M, path: &Path) -> Result<(), Error> {
    let bytes = keras_weights_bytes(model)?;
    std::fs::write(path, bytes).map_err(|e| Error::io(path, &e))
}

/// Loads a Keras weights file (`.weights.h5`, or a `.keras` archive whose architecture is
/// not compared) from bytes; see [`Model::load_keras_weights`].
pub fn load_keras_weights_bytes<M: Model>(model: &mut M, bytes: &[u8]) -> Result<(), Error> {
    if bytes.starts_with(ZIP_MAGIC) {
        let archive = read_keras_archive(bytes)?;
        return load_h5(model, &archive.weights);
    }
    load_h5(model, bytes)
}

/// Loads a `.keras` archive from bytes; see [`Model::load_keras`].
pub fn load_keras_bytes<M: Model>(model: &mut M, bytes: &[u8]) -> Result<(), Error> {
    let archive = read_keras_archive(bytes)?;
    compare_architecture::<M>(&archive.config)?;
    load_h5(model, &archive.weights)
}

/// Loads the Keras weights file at `path`; see [`Model::load_keras_weights`]. Files above
/// [`DEFAULT_MAX_FILE_BYTES`](super::DEFAULT_MAX_FILE_BYTES) are refused; see
/// [`load_keras_weights_with`].
pub fn load_keras_weights<M: Model>(model: &mut M, path: &Path) -> Result<(), Error> {
    load_keras_weights_with(model, path, &LoadLimits::default())
}

/// [`load_keras_weights`] within `limits` (a larger file is [`Error::WeightFile`] with
/// [`FileProblem::TooLarge`]).
pub fn load_keras_weights_with<M: Model>(
    model: &mut M,
    path: &Path,
    limits: &LoadLimits,
) -> Result<(), Error> {
    load_keras_weights_bytes(model, &read_file(path, keras_format(path), limits)?)
}

/// Loads the `.keras` file at `path`; see [`Model::load_keras`]. Files above
/// [`DEFAULT_MAX_FILE_BYTES`](super::DEFAULT_MAX_FILE_BYTES) are refused; see
/// [`load_keras_with`].
pub fn load_keras<M: Model>(model: &mut M, path: &Path) -> Result<(), Error> {
    load_keras_with(model, path, &LoadLimits::default())
}

/// [`load_keras`] within `limits` (a larger file is [`Error::WeightFile`] with
/// [`FileProblem::TooLarge`]).
pub fn load_keras_with<M: Model>(
    model: &mut M,
    path: &Path,
    limits: &LoadLimits,
) -> Result<(), Error> {
    load_keras_bytes(model, &read_file(path, FileFormat::Zip, limits)?)
}

// The format a Keras file at `path` is read as, for the size error: a `.keras` archive is a
// zip, anything else HDF5.
fn keras_format(path: &Path) -> FileFormat {
    if path.extension().is_some_and(|e| e == "keras") {
        FileFormat::Zip
    } else {
        FileFormat::Hdf5
    }
}

fn load_h5<M: Model>(model: &mut M, bytes: &[u8]) -> Result<(), Error> {
    let datasets = Hdf5File::parse(bytes)?.datasets()?;
    let paths = keras_weight_paths(model);
    let key_of: HashMap<&str, &str> = paths
        .iter()
        .map(|(k, p)| (p.as_str(), k.as_str()))
        .collect();
    let path_of: HashMap<&str, &str> = paths
        .iter()
        .map(|(k, p)| (k.as_str(), p.as_str()))
        .collect();
    let extra = keras_extra_paths::<M>();
    let mut found = Vec::new();
    for d in &datasets {
        // The model's own variables live under `layers/` (and `vars/` for a model's direct
        // variables); `optimizer/` and metric states are training state this load ignores.
        if !(d.path.starts_with("layers/") || d.path.starts_with("vars/")) {
            continue;
        }
        // Keras' scalar integer variables that are no weight here (a `Normalization`'s
        // `count`) are read past; anything else at their path is reported as usual.
        if d.shape.is_empty() && d.dtype.starts_with("int") && extra.contains(&d.path) {
            continue;
        }
        let key = key_of
            .get(d.path.as_str())
            .map_or_else(|| d.path.clone(), |k| k.to_string());
        let file_name = match key_of.get(d.path.as_str()) {
            Some(k) => format!("{} ({k})", d.path),
            None => d.path.clone(),
        };
        found.push(FoundWeight {
            key,
            file_name,
            shape: d.shape.clone(),
            foreign_dtype: (d.dtype != "float32").then(|| d.dtype.clone()),
            data: d.data,
        });
    }
    apply(model, found, "float32", &|k| match path_of.get(k) {
        Some(p) => format!("{p} ({k})"),
        None => k.to_string(),
    })
}

fn config_err(message: impl Into<String>) -> Error {
    Error::file(FileFormat::KerasConfig, FileProblem::Malformed, message)
}

/// A layer as `config.json` describes it.
struct SavedLayer {
    class_name: String,
    name: String,
    /// Its `config` object.
    config: Value,
    /// The layers whose outputs it takes (Functional models), by name.
    inbound: Vec<String>,
}

/// The layer names of every `keras_history` under a layer's `inbound_nodes`.
fn history_layers(v: &Value, depth: usize, out: &mut Vec<String>) {
    // serde_json already bounds nesting at 128; this walk follows the same tree.
    if depth > 128 {
        return;
    }
    match v {
        Value::Object(m) => {
            if let Some(name) = m
                .get("keras_history")
                .and_then(|h| h.get(0))
                .and_then(Value::as_str)
            {
                out.push(name.to_string());
            }
            m.values().for_each(|x| history_layers(x, depth + 1, out));
        }
        Value::Array(a) => a.iter().for_each(|x| history_layers(x, depth + 1, out)),
        _ => {}
    }
}

/// Whether a saved batch shape (batch axis first) equals a declared spec.
fn same_shape(saved: &[Option<u64>], declared: &TensorSpec) -> bool {
    saved.len() == declared.ndim()
        && saved
            .iter()
            .skip(1)
            .zip(&declared.dims)
            .all(|(s, d)| match d {
                Dim::Known(n) => *s == Some(*n as u64),
                Dim::Unknown => s.is_none(),
            })
}

/// Compares the architecture in a `.keras` file's `config.json` with `M`'s declared layers
/// (class, units, activation, use_bias, in order, and the input shape). Every difference is
/// listed in [`Error::Architecture`], saved beside declared.
pub fn compare_architecture<M: Model>(config_json: &str) -> Result<(), Error> {
    let root: Value = serde_json::from_str(config_json).map_err(|e| config_err(e.to_string()))?;
    let layers = root
        .pointer("/config/layers")
        .and_then(Value::as_array)
        .ok_or_else(|| config_err("no `config.layers` list"))?;
    let mut inputs: Vec<(String, Vec<Option<u64>>)> = Vec::new();
    let mut saved = Vec::new();
    for l in layers {
        let class_name = l
            .get("class_name")
            .and_then(Value::as_str)
            .ok_or_else(|| config_err("a layer without `class_name`"))?;
        let c = l.get("config").unwrap_or(&Value::Null);
        if class_name == "InputLayer" {
            let shape = c
                .get("batch_shape")
                .or_else(|| c.get("batch_input_shape"))
                .and_then(Value::as_array)
                .ok_or_else(|| config_err("an InputLayer without `batch_shape`"))?;
            let name = c.get("name").and_then(Value::as_str).unwrap_or("input");
            inputs.push((name.to_string(), shape.iter().map(Value::as_u64).collect()));
            continue;
        }
        if saved.is_empty() && inputs.is_empty() {
            // A Sequential model saved without an InputLayer: the first layer's build shape.
            if let Some(s) = l
                .pointer("/build_config/input_shape")
                .and_then(Value::as_array)
            {
                inputs.push(("input".into(), s.iter().map(Value::as_u64).collect()));
            }
        }
        saved.push(SavedLayer {
            class_name: class_name.to_string(),
            name: c
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            config: c.clone(),
            inbound: {
                let mut names = Vec::new();
                if let Some(nodes) = l.get("inbound_nodes") {
                    history_layers(nodes, 0, &mut names);
                }
                names
            },
        });
    }
    let declared = M::layers();
    let mut diffs = Vec::new();
    let diff =
        |location: String, field: &str, saved: String, declared: String| ArchitectureDifference {
            location,
            field: field.to_string(),
            saved,
            declared,
        };
    if declared.is_empty() {
        diffs.push(diff(
            "model".into(),
            "metadata",
            format!("{} layers", saved.len()),
            "no layer metadata (`Model::layers()` is empty)".into(),
        ));
        return Err(Error::Architecture { differences: diffs });
    }
    // Input shapes. One input (a Sequential model): the first layer's input spec. Several (a
    // Functional one): each input is compared with the spec of the first layer it feeds when
    // that layer takes it alone (merges see several tensors and carry one spec).
    if let [(_, one)] = inputs.as_slice() {
        if !same_shape(one, &declared[0].input) {
            diffs.push(diff(
                "input".into(),
                "shape",
                keras_shape(one),
                declared[0].input.shape_string(),
            ));
        }
    } else {
        for (name, shape) in &inputs {
            let consumer = saved.iter().position(|l| l.inbound == [name.clone()]);
            if let Some(d) = consumer.and_then(|k| declared.get(k)) {
                if !same_shape(shape, &d.input) {
                    diffs.push(diff(
                        format!("input '{name}'"),
                        "shape",
                        keras_shape(shape),
                        d.input.shape_string(),
                    ));
                }
            }
        }
    }
    for i in 0..saved.len().max(declared.len()) {
        let location = |name: &str| format!("layer {} ({name})", i + 1);
        match (saved.get(i), declared.get(i)) {
            (Some(s), Some(d)) => {
                let loc = location(d.name);
                if s.class_name != d.class_name() {
                    diffs.push(diff(
                        loc.clone(),
                        "class",
                        s.class_name.clone(),
                        d.class_name().into(),
                    ));
                    continue;
                }
                for p in d.spec.params {
                    if !p.compared || p.kind == ParamKind::Tensors {
                        continue;
                    }
                    // A key Keras does not save (a layer of ours, or another Keras version)
                    // has nothing to compare.
                    let Some(saved) = s.config.get(p.name) else {
                        continue;
                    };
                    let declared = d.config.get(p.name).unwrap_or(&ParamValue::None);
                    if !same_value(saved, declared) {
                        diffs.push(diff(
                            loc.clone(),
                            p.name,
                            show_json(saved),
                            declared.to_string(),
                        ));
                    }
                }
            }
            (Some(s), None) => diffs.push(diff(
                location(&s.name),
                "layer",
                describe_saved(s),
                "(none)".into(),
            )),
            (None, Some(d)) => diffs.push(diff(
                location(d.name),
                "layer",
                "(none)".into(),
                describe_declared(d),
            )),
            (None, None) => {}
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(Error::Architecture { differences: diffs })
    }
}

fn keras_shape(dims: &[Option<u64>]) -> String {
    let parts: Vec<String> = dims
        .iter()
        .map(|d| d.map_or_else(|| "None".to_string(), |n| n.to_string()))
        .collect();
    if parts.len() == 1 {
        format!("({},)", parts[0])
    } else {
        format!("({})", parts.join(", "))
    }
}

/// A layer as the architecture list shows it: its class and leading parameters.
fn describe_saved(s: &SavedLayer) -> String {
    let mut out = s.class_name.clone();
    let shown: Vec<String> = ["units", "filters", "output_dim", "activation"]
        .iter()
        .filter_map(|k| s.config.get(*k).map(|v| format!("{k}={}", show_json(v))))
        .collect();
    if !shown.is_empty() {
        out.push_str(&format!("({})", shown.join(", ")));
    }
    out
}

fn describe_declared(d: &LayerInfo) -> String {
    let mut out = d.class_name().to_string();
    let shown: Vec<String> = d
        .spec
        .params
        .iter()
        .filter(|p| p.compared && p.kind != ParamKind::Tensors)
        .take(2)
        .filter_map(|p| d.config.get(p.name).map(|v| format!("{}={v}", p.name)))
        .collect();
    if !shown.is_empty() {
        out.push_str(&format!("({})", shown.join(", ")));
    }
    out
}

/// A saved config value as a person reads it: strings without quotes.
fn show_json(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether a saved config value means the declared one. Keras saves integer tuples as lists
/// (`kernel_size: [3, 3]`), which a single declared integer stands for on every axis.
fn same_value(saved: &Value, declared: &ParamValue) -> bool {
    match declared {
        ParamValue::Int(i) => match saved {
            Value::Array(items) => items.iter().all(|x| x.as_i64() == Some(*i)),
            other => other.as_i64() == Some(*i),
        },
        ParamValue::Float(f) => saved
            .as_f64()
            .is_some_and(|x| (x - f).abs() <= 1e-7 * f.abs().max(1.0)),
        ParamValue::Bool(b) => saved.as_bool() == Some(*b),
        ParamValue::Str(s) => saved.as_str() == Some(s.as_ref()),
        ParamValue::Activation(a) => {
            saved.as_str() == Some(a.name())
                || (*a == Activation::Swish && saved.as_str() == Some("silu"))
        }
        ParamValue::Initializer(i) => saved
            .as_str()
            .or_else(|| saved.get("class_name").and_then(Value::as_str))
            .is_some_and(|n| LayerInfo::snake_case(n) == i.name() || n == i.name()),
        ParamValue::Ints(v) => match saved {
            Value::Array(items) => {
                // Pairs (`padding: [[1, 1], [2, 2]]`) compare flattened, as they are declared.
                let saved: Vec<Option<i64>> = items
                    .iter()
                    .flat_map(|x| match x {
                        Value::Array(inner) => inner.iter().map(Value::as_i64).collect(),
                        other => vec![other.as_i64()],
                    })
                    .collect();
                let ours: Vec<Option<i64>> = v.iter().map(|x| Some(*x)).collect();
                saved == ours || (ours.len() == 1 && saved.iter().all(|x| *x == ours[0]))
            }
            other => v.len() == 1 && other.as_i64() == Some(v[0]),
        },
        // A number saved alone stands for every value, as Keras broadcasts it.
        ParamValue::Floats(v) => {
            let close = |x: Option<f64>, f: f64| {
                x.is_some_and(|x| (x - f).abs() <= 1e-7 * f.abs().max(1.0))
            };
            match saved {
                Value::Array(items) => {
                    items.len() == v.len()
                        && items
                            .iter()
                            .zip(v.iter())
                            .all(|(x, f)| close(x.as_f64(), *f))
                }
                other => v.len() == 1 && close(other.as_f64(), v[0]),
            }
        }
        // `{"class_name": "L2", "config": {"l2": 0.01}}`; a factor the class lacks is 0.
        ParamValue::Regularizer(r) => {
            let factor = |key: &str, ours: f64| {
                let theirs = saved
                    .get("config")
                    .and_then(|c| c.get(key))
                    .map_or(Some(0.0), Value::as_f64);
                theirs.is_some_and(|x| (x - ours).abs() <= 1e-7 * ours.abs().max(1.0))
            };
            saved.get("class_name").and_then(Value::as_str) == Some(r.class_name())
                && factor("l1", r.l1)
                && factor("l2", r.l2)
        }
        // `{"class_name": "GRU", "config": {...}}`: the class, then every compared parameter
        // Keras saved, as for a layer of its own.
        ParamValue::Layer(name, values) => {
            let Some(spec) = crate::shape::layer_spec(name) else {
                return false;
            };
            let config = saved.get("config");
            saved.get("class_name").and_then(Value::as_str) == Some(spec.class_name)
                && spec
                    .params
                    .iter()
                    .filter(|p| p.compared && p.kind != ParamKind::Tensors)
                    .all(|p| {
                        let Some(theirs) = config.and_then(|c| c.get(p.name)) else {
                            return true;
                        };
                        let ours = values
                            .iter()
                            .find(|(n, _)| *n == p.name)
                            .map_or(&ParamValue::None, |(_, v)| v);
                        same_value(theirs, ours)
                    })
        }
        ParamValue::None => saved.is_null(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::Regularizer;

    #[test]
    fn saved_regularizers_compare_by_class_and_factors() {
        let saved: Value = serde_json::from_str(
            r#"{"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.009999999776482582}, "registered_name": null}"#,
        )
        .unwrap();
        let l2 = |f| ParamValue::Regularizer(Regularizer::l2(f));
        assert!(same_value(&saved, &l2(0.01)));
        assert!(!same_value(&saved, &l2(0.02)));
        assert!(!same_value(
            &saved,
            &ParamValue::Regularizer(Regularizer::l1(0.01))
        ));
        assert!(!same_value(&saved, &ParamValue::None));
        assert!(!same_value(&Value::Null, &l2(0.01)));
        let both: Value =
            serde_json::from_str(r#"{"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.5}}"#)
                .unwrap();
        assert!(same_value(
            &both,
            &ParamValue::Regularizer(Regularizer::l1_l2(0.0, 0.5))
        ));
    }
}
