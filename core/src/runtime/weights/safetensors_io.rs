//! safetensors: 8 bytes of header length, a JSON header (name -> dtype, shape, offsets), the
//! data. Parsed by the `safetensors` crate after our own bounds checks, so every malformed
//! input is a typed error with a problem kind.

use safetensors::tensor::{Dtype, SafeTensorError, SafeTensors, TensorView};

use super::{apply, FoundWeight};
use crate::runtime::error::{FileFormat, FileProblem};
use crate::runtime::{Error, Model};

/// The largest header accepted, in bytes (the `safetensors` crate's own bound): a header is
/// read into memory whole, so a length field of 2^64 must not allocate.
pub const MAX_HEADER_BYTES: u64 = 100_000_000;

fn corrupt(problem: FileProblem, message: impl Into<String>) -> Error {
    Error::file(FileFormat::Safetensors, problem, message)
}

/// The model's weights as safetensors bytes, keyed `"layer/variable"`, `F32` little-endian.
pub fn to_safetensors<M: Model>(model: &M) -> Result<Vec<u8>, Error> {
    let mut entries: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    model.visit_weights(&mut |p| {
        let bytes = p.value.iter().flat_map(|v| v.to_le_bytes()).collect();
        entries.push((
            format!("{}/{}", p.layer, p.variable),
            p.shape.to_vec(),
            bytes,
        ));
    });
    let mut views = Vec::with_capacity(entries.len());
    for (key, shape, bytes) in &entries {
        let view = TensorView::new(Dtype::F32, shape.clone(), bytes)
            .map_err(|e| corrupt(FileProblem::Malformed, format!("weight '{key}': {e}")))?;
        views.push((key.as_str(), view));
    }
    safetensors::tensor::serialize(views, None)
        .map_err(|e| corrupt(FileProblem::Malformed, e.to_string()))
}

/// Loads every weight of `model` from safetensors bytes.
///
/// Every name, shape and dtype is checked first and all mismatches are reported together in
/// [`Error::WeightMismatch`]; the model is changed only when everything matches. A truncated
/// or corrupt file, an oversized header or offsets past the end are [`Error::WeightFile`].
pub fn from_safetensors<M: Model>(model: &mut M, bytes: &[u8]) -> Result<(), Error> {
    let Some(len_bytes) = bytes.first_chunk::<8>() else {
        return Err(corrupt(
            FileProblem::Truncated,
            format!(
                "{} bytes, fewer than the 8 of the header length",
                bytes.len()
            ),
        ));
    };
    let n = u64::from_le_bytes(*len_bytes);
    if n > MAX_HEADER_BYTES {
        return Err(corrupt(
            FileProblem::TooLarge,
            format!("header of {n} bytes, above the limit of {MAX_HEADER_BYTES}"),
        ));
    }
    let available = bytes.len() as u64 - 8;
    if n > available {
        return Err(corrupt(
            FileProblem::Truncated,
            format!("header of {n} bytes announced, {available} bytes follow"),
        ));
    }
    let st = SafeTensors::deserialize(bytes).map_err(classify)?;
    let mut found = Vec::new();
    for (name, view) in st.iter() {
        found.push(FoundWeight {
            key: name.to_string(),
            file_name: name.to_string(),
            shape: view.shape().to_vec(),
            foreign_dtype: (view.dtype() != Dtype::F32).then(|| view.dtype().to_string()),
            data: view.data(),
        });
    }
    found.sort_by(|a, b| a.key.cmp(&b.key));
    apply(model, found, "F32", &|k| k.to_string())
}

fn classify(e: SafeTensorError) -> Error {
    let problem = match &e {
        SafeTensorError::HeaderTooLarge => FileProblem::TooLarge,
        SafeTensorError::HeaderTooSmall | SafeTensorError::InvalidHeaderLength => {
            FileProblem::Truncated
        }
        SafeTensorError::InvalidOffset(_) | SafeTensorError::MetadataIncompleteBuffer => {
            FileProblem::OutOfBounds
        }
        _ => FileProblem::Malformed,
    };
    corrupt(problem, e.to_string())
}
