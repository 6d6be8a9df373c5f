//! Weights in and out: safetensors (`save_weights` / `load_weights`) and, with the `keras`
//! feature, Keras' own files (`.weights.h5`, `.keras`).
//!
//! Every loader works in two passes: it first collects what the file holds (names, shapes,
//! dtypes) and compares it with what the model has, reporting every mismatch in one
//! [`Error::WeightMismatch`]; only when everything matches are the values written, so a failed
//! load leaves the model unchanged.

#[cfg(feature = "keras")]
mod hdf5;
#[cfg(feature = "keras")]
mod hdf5_write;
#[cfg(feature = "keras")]
mod keras;
#[cfg(feature = "keras")]
mod keras_save;
mod safetensors_io;

#[cfg(feature = "keras")]
pub use hdf5::{Hdf5Dataset, Hdf5File};
#[cfg(feature = "keras")]
pub use hdf5_write::Hdf5Tree;
#[cfg(feature = "keras")]
pub use keras::{
    compare_architecture, keras_weight_paths, keras_weights_bytes, load_keras, load_keras_bytes,
    load_keras_weights, load_keras_weights_bytes, load_keras_weights_with, load_keras_with,
    read_keras_archive, save_keras_weights, KerasArchive, MAX_KERAS_ENTRY_BYTES,
};
#[cfg(feature = "keras")]
pub use keras_save::{keras_bytes, keras_config, save_keras};
pub use safetensors_io::{from_safetensors, to_safetensors, MAX_HEADER_BYTES};

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use super::{Error, Model, ParamMut};
use crate::runtime::error::{
    DTypeMismatch, FileFormat, FileProblem, ShapeMismatch, WeightMismatch,
};

/// The default of [`LoadLimits::max_file_bytes`]: 4 GiB, a billion `f32` weights.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 4 << 30;

/// Bounds on what the file loaders read, against a corrupt or hostile file (or a path such
/// as `/dev/zero`) exhausting memory: a loader reads the whole file before parsing it.
///
/// ```
/// # use stratic::weights::LoadLimits;
/// let limits = LoadLimits::default().max_file_bytes(64 << 20);
/// assert_eq!(limits.max_file_bytes, 64 << 20);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadLimits {
    /// The largest file read, in bytes; a larger one is [`Error::WeightFile`] with
    /// [`FileProblem::TooLarge`], before anything is allocated for it.
    pub max_file_bytes: u64,
}

impl Default for LoadLimits {
    fn default() -> Self {
        LoadLimits {
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
        }
    }
}

impl LoadLimits {
    /// Sets the largest file read, in bytes.
    pub fn max_file_bytes(mut self, bytes: u64) -> Self {
        self.max_file_bytes = bytes;
        self
    }
}

/// What a file holds for one weight, before it is checked against the model.
pub(crate) struct FoundWeight<'a> {
    /// The key the model knows the weight by (`dense/kernel`).
    pub key: String,
    /// How the file names it, for messages (the same key for safetensors, the HDF5 path for
    /// Keras files).
    pub file_name: String,
    pub shape: Vec<usize>,
    /// The element type's name in the file's terms; `None` when it is `float32`.
    pub foreign_dtype: Option<String>,
    /// The values, little-endian `f32`, when the dtype is `float32`.
    pub data: &'a [u8],
}

/// Checks `found` against the model's weights and, if everything matches, writes the values.
/// `expected_dtype` names `float32` in the file's terms for messages.
pub(crate) fn apply<M: Model>(
    model: &mut M,
    found: Vec<FoundWeight<'_>>,
    expected_dtype: &str,
    name_for: &dyn Fn(&str) -> String,
) -> Result<(), Error> {
    let mut expected: Vec<(String, Vec<usize>)> = Vec::new();
    model.visit_weights(&mut |p| {
        expected.push((format!("{}/{}", p.layer, p.variable), p.shape.to_vec()));
    });
    let mut by_key: HashMap<&str, &FoundWeight<'_>> = HashMap::with_capacity(found.len());
    let mut mismatch = WeightMismatch::default();
    for f in &found {
        if by_key.insert(f.key.as_str(), f).is_some() {
            // Two file entries for one weight: the second is one the model cannot take.
            mismatch.unexpected.push(f.file_name.clone());
        }
    }
    let known: HashMap<&str, &[usize]> = expected
        .iter()
        .map(|(k, s)| (k.as_str(), s.as_slice()))
        .collect();
    for f in &found {
        match known.get(f.key.as_str()) {
            None => mismatch.unexpected.push(f.file_name.clone()),
            Some(shape) => {
                if let Some(d) = &f.foreign_dtype {
                    mismatch.dtypes.push(DTypeMismatch {
                        key: f.file_name.clone(),
                        expected: expected_dtype.to_string(),
                        found: d.clone(),
                    });
                }
                if *shape != f.shape.as_slice() {
                    mismatch.shapes.push(ShapeMismatch {
                        key: f.file_name.clone(),
                        expected: shape.to_vec(),
                        found: f.shape.clone(),
                    });
                }
            }
        }
    }
    for (k, _) in &expected {
        if !by_key.contains_key(k.as_str()) {
            mismatch.missing.push(name_for(k));
        }
    }
    mismatch.unexpected.sort();
    mismatch.unexpected.dedup();
    if !mismatch.is_empty() {
        return Err(Error::WeightMismatch(Box::new(mismatch)));
    }
    let mut unwritten = Vec::new();
    let mut write = |p: ParamMut<'_>| {
        let key = format!("{}/{}", p.layer, p.variable);
        match by_key.get(key.as_str()) {
            // Shapes were checked above, so the byte count is 4 per element.
            Some(f) => {
                for (dst, src) in p.value.iter_mut().zip(f.data.chunks_exact(4)) {
                    *dst = f32::from_le_bytes([src[0], src[1], src[2], src[3]]);
                }
            }
            None => unwritten.push(key),
        }
    };
    // Trainable weights, then the state training updates without the optimizer.
    model.visit_params(&mut write);
    model.visit_state(&mut write);
    if let Some(key) = unwritten.into_iter().next() {
        return Err(Error::Weight {
            key,
            message: "the model did not visit this weight when loading".into(),
        });
    }
    Ok(())
}

/// Reads a whole file of `format` of at most `limits.max_file_bytes`, as a typed error on
/// failure. The size is checked before reading and enforced while reading, since a file's
/// stated length can be 0 (a device, a pipe) or grow meanwhile.
pub(crate) fn read_file(
    path: &Path,
    format: FileFormat,
    limits: &LoadLimits,
) -> Result<Vec<u8>, Error> {
    let max = limits.max_file_bytes;
    let too_large = |size: String| {
        Error::file(
            format,
            FileProblem::TooLarge,
            format!(
                "{}: {size} bytes, above the limit of {max} (LoadLimits::max_file_bytes)",
                path.display()
            ),
        )
    };
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, &e))?;
    let stated = file.metadata().map_err(|e| Error::io(path, &e))?.len();
    if stated > max {
        return Err(too_large(stated.to_string()));
    }
    let mut bytes = Vec::new();
    // The stated length is only a hint (0 for a device); never more than the cap up front.
    bytes
        .try_reserve_exact(stated as usize)
        .map_err(|_| too_large(stated.to_string()))?;
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, &e))?;
    if bytes.len() as u64 > max {
        return Err(too_large(format!("more than {max}")));
    }
    Ok(bytes)
}

/// Saves every weight of `model` to `path` in safetensors, keyed `"layer/variable"`.
pub fn save_weights<M: Model>(model: &M, path: &Path) -> Result<(), Error> {
    let bytes = to_safetensors(model)?;
    std::fs::write(path, bytes).map_err(|e| Error::io(path, &e))
}

/// Loads every weight of `model` from the safetensors file `path`; see
/// [`from_safetensors`]. Files above [`DEFAULT_MAX_FILE_BYTES`] are refused; see
/// [`load_weights_with`] to change that.
pub fn load_weights<M: Model>(model: &mut M, path: &Path) -> Result<(), Error> {
    load_weights_with(model, path, &LoadLimits::default())
}

/// [`load_weights`] within `limits`.
///
/// # Errors
/// [`Error::WeightFile`] with [`FileProblem::TooLarge`] for a file above
/// `limits.max_file_bytes`, and every error of [`from_safetensors`].
pub fn load_weights_with<M: Model>(
    model: &mut M,
    path: &Path,
    limits: &LoadLimits,
) -> Result<(), Error> {
    let bytes = read_file(path, FileFormat::Safetensors, limits)?;
    from_safetensors(model, &bytes)
}
