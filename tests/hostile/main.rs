//! The hostile-input suite of issue 19: what an attack on the library found, kept as tests
//! so that it cannot come back. Bad input must give a typed error (or, for a weights file,
//! load), never a panic, and must never leave a model's weights silently ruined.
//!
//! - [`nan`]: NaN and infinities in the data, predict, and gradients;
//! - [`schedules`]: learning-rate schedules that would write NaN or climb the loss;
//! - [`empty`]: calls with zero samples;
//! - [`files`]: a seeded corpus of truncated and byte-flipped weight files, and the size cap;
//! - [`send`]: which public types cross threads.

mod empty;
mod files;
mod nan;
mod schedules;
mod send;

use stratic::prelude::*;

model! {
    /// The repro of issue 19: a ReLU layer, whose `max(x, 0)` used to hide a NaN.
    pub struct Repro {
        input(shape = [4]) -> dense(8, activation = relu) -> dense(1)
    }

    /// A sparse input, which used to carry a NaN value through training the same way.
    pub struct SparseRepro {
        input(shape = [6], sparse = true, name = "words") -> dense(4, activation = relu) -> dense(1)
    }

    /// Ragged floats: sequences of 2-vectors, summed per row.
    pub struct RaggedRepro {
        input(shape = [None, 2], ragged = true, name = "readings")
            -> dense(3, activation = relu)
            -> global_sum_pooling_1d()
            -> dense(1)
    }

    /// Two named inputs, so errors can be seen to name the right one.
    pub struct TwoInputs {
        let query = input(shape = [3], name = "query");
        let doc = input(shape = [2], name = "doc");
        concatenate([query, doc]) -> dense(1)
    }
}

/// Every weight of `model`, for before/after comparisons.
pub fn snapshot<M: Model>(model: &M) -> Vec<(String, Vec<f32>)> {
    model
        .weights()
        .into_iter()
        .map(|(k, v)| (k, v.iter().copied().collect()))
        .collect()
}

/// Whether two snapshots are identical bit for bit (NaN included).
pub fn same_bits(a: &[(String, Vec<f32>)], b: &[(String, Vec<f32>)]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|((ka, va), (kb, vb))| {
            ka == kb
                && va.len() == vb.len()
                && va.iter().zip(vb).all(|(x, y)| x.to_bits() == y.to_bits())
        })
}

/// 32 samples of 4 features and their targets, deterministic.
pub fn data() -> (Array2<f32>, Array2<f32>) {
    let x = Array2::from_shape_fn((32, 4), |(i, j)| ((i * 7 + j * 3) % 11) as f32 / 11.0 - 0.4);
    let y = Array2::from_shape_fn((32, 1), |(i, _)| (i % 5) as f32 / 5.0);
    (x, y)
}

/// Silent, unshuffled, batches of 8.
pub fn quiet() -> FitOptions {
    FitOptions::default()
        .verbose(0)
        .shuffle(false)
        .batch_size(8)
}
