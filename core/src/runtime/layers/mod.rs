//! Built layers: weights plus the buffers training reuses.

mod activation;
mod dense;
mod dense_ragged;
mod embedding;
mod merge;
mod pooling;
mod to_dense;

pub use activation::ActivationLayer;
pub use dense::Dense;
pub use embedding::{check_dense_ids, check_ragged_ids, Embedding};
pub use merge::Merge;
pub use pooling::GlobalPooling;
pub use to_dense::ToDense;

use ndarray::Array2;

/// Makes `buf` a `(rows, cols)` array, reallocating only when the shape changed (in practice
/// when the batch size does), so steady-state steps allocate nothing.
pub(crate) fn ensure_shape(buf: &mut Array2<f32>, rows: usize, cols: usize) {
    if buf.dim() != (rows, cols) {
        *buf = Array2::zeros((rows, cols));
    }
}

/// Makes `buf` a `(rows, cols)` array reusing its allocation: for buffers over a ragged
/// tensor's flat values, whose row count changes with every batch. Shrinking is free and
/// growing zero-fills only the new part, instead of a fresh zeroed allocation per step.
pub(crate) fn ensure_rows(buf: &mut Array2<f32>, rows: usize, cols: usize) {
    if buf.dim() == (rows, cols) {
        return;
    }
    let old = std::mem::replace(buf, Array2::zeros((0, 0)));
    // Buffers built here are standard layout from offset 0, so the vector is the data.
    let (mut v, offset) = old.into_raw_vec_and_offset();
    if offset != Some(0) {
        v.clear();
    }
    v.resize(rows * cols, 0.0);
    *buf = Array2::from_shape_vec((rows, cols), v).unwrap_or_else(|_| Array2::zeros((rows, cols)));
}
