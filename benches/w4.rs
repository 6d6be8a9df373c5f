//! W4 of benches/README.md, ragged sequences: i32 tokens, vocabulary 10 000, lengths uniform
//! in [1, 100], batch 64 -> embedding 32 -> mean over each sequence -> dense 1 sigmoid, binary
//! cross-entropy, Adam(1e-3). Measures training throughput over an epoch of 12 800 sequences
//! (the peers' data size), and one training step on a batch of 64.
//!
//! `cargo bench --bench w4`

use stratic::ndarray::{s, Array2};
use stratic::prelude::*;
use stratic::RaggedTensor;
use stratic_core::Rng;

const VOCAB: usize = 10_000;
const SAMPLES: usize = 12_800;
const BATCH: usize = 64;

fn main() {
    divan::main();
}

model! {
    struct W4 {
        input(shape = [None], ragged = true, dtype = i32)
            -> embedding(10_000, 32)
            -> global_average_pooling_1d()
            -> dense(1, activation = sigmoid)
    }
}

/// The peers' W4 data: 12 800 sequences, lengths uniform in [1, 100], tokens uniform in the
/// vocabulary, random 0/1 labels.
fn data() -> (RaggedTensor<i32>, Array2<f32>) {
    let mut rng = Rng::new(0);
    let lengths: Vec<usize> = (0..SAMPLES).map(|_| 1 + rng.below(100)).collect();
    let total: usize = lengths.iter().sum();
    let tokens: Vec<i32> = (0..total).map(|_| rng.below(VOCAB) as i32).collect();
    let x = RaggedTensor::from_row_lengths(tokens, &lengths).expect("valid lengths");
    let y = Array2::from_shape_fn((SAMPLES, 1), |_| rng.below(2) as f32);
    (x, y)
}

/// One epoch of `fit` (batch 64, shuffled as Keras' default), counted in samples.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn train_epoch(bencher: divan::Bencher) {
    let (x, y) = data();
    let mut model = W4::with_seed(1).compile(Adam::new(0.001), Loss::binary_crossentropy());
    let options = FitOptions::default().batch_size(BATCH).seed(2).verbose(0);
    bencher
        .counter(divan::counter::ItemsCount::new(SAMPLES))
        .bench_local(|| {
            model
                .fit(divan::black_box(&x), y.view(), &options)
                .expect("valid data")
        });
}

/// One training step on a batch of 64 sequences.
#[divan::bench]
fn train_step(bencher: divan::Bencher) {
    let (x, y) = data();
    let rows: Vec<usize> = (0..BATCH).collect();
    let mut batch = RaggedTensor::default();
    x.gather_rows(&rows, &mut batch);
    let yb = y.slice(s![..BATCH, ..]).to_owned();
    let mut model = W4::with_seed(1).compile(Adam::new(0.001), Loss::binary_crossentropy());
    bencher
        .counter(divan::counter::ItemsCount::new(BATCH))
        .bench_local(|| {
            model
                .train_on_batch(divan::black_box(&batch), yb.view())
                .expect("valid data")
        });
}
