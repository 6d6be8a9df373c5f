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
