//! W6 of issue 15, an LSTM over ragged token rows: vocabulary 10 000, lengths uniform in
//! [1, 120], 6 400 sequences, batch 64 -> embedding 32 -> lstm 32 -> dense 1 sigmoid, binary
//! cross-entropy, Adam(1e-3) (../shared/peers/python/w6.py). Each row runs for its own length:
//! no padding, no mask. Measures training throughput over an epoch and inference throughput
//! at batch 256 (the peers' sizes).
//!
//! `cargo bench --bench w6`

use stratic::ndarray::Array2;
use stratic::prelude::*;
use stratic::RaggedTensor;
use stratic_core::Rng;

const VOCAB: usize = 10_000;
const SAMPLES: usize = 6_400;
const MAXLEN: usize = 120;
const BATCH: usize = 64;
const INFER_BATCH: usize = 256;

fn main() {
    divan::main();
}

model! {
    struct W6 {
        input(shape = [None], ragged = true, dtype = i32)
            -> embedding(10_000, 32)
            -> lstm(32)
            -> dense(1, activation = sigmoid)
    }
}

/// The peers' W6 data: 6 400 sequences, lengths uniform in [1, 120], tokens uniform in the
/// vocabulary, random 0/1 labels.
fn data() -> (RaggedTensor<i32>, Array2<f32>) {
    let mut rng = Rng::new(0);
    let lengths: Vec<usize> = (0..SAMPLES).map(|_| 1 + rng.below(MAXLEN)).collect();
    let total: usize = lengths.iter().sum();
    let tokens: Vec<i32> = (0..total).map(|_| rng.below(VOCAB) as i32).collect();
    let x = RaggedTensor::from_row_lengths(tokens, &lengths).expect("valid lengths");
    let y = Array2::from_shape_fn((SAMPLES, 1), |_| rng.below(2) as f32);
    (x, y)
}

/// One epoch of `fit` (batch 64, shuffled as Keras' default), counted in samples.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn train_epoch(bencher: divan::Bencher) {
    let (x, y) = data();
    let mut model = W6::with_seed(1).compile(Adam::new(0.001), Loss::binary_crossentropy());
    let options = FitOptions::default().batch_size(BATCH).seed(2).verbose(0);
    bencher
        .counter(divan::counter::ItemsCount::new(SAMPLES))
        .bench_local(|| {
            model
                .fit(divan::black_box(&x), y.view(), &options)
                .expect("valid data")
        });
}

/// Inference over the 6 400 sequences in batches of 256, counted in samples.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn infer(bencher: divan::Bencher) {
    let (x, _) = data();
    let model = W6::with_seed(1);
    let batches: Vec<RaggedTensor<i32>> = (0..SAMPLES)
        .step_by(INFER_BATCH)
        .map(|start| {
            let rows: Vec<usize> = (start..(start + INFER_BATCH).min(SAMPLES)).collect();
            let mut b = RaggedTensor::default();
            x.gather_rows(&rows, &mut b);
            b
        })
        .collect();
    bencher
        .counter(divan::counter::ItemsCount::new(SAMPLES))
        .bench_local(|| {
            for b in &batches {
                divan::black_box(model.predict(divan::black_box(b)).expect("valid data"));
            }
        });
}
