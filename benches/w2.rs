//! W2 of benches/README.md, the MLP workload: input 784 -> dense 256 relu -> dense 256 relu
//! -> dense 10, sparse categorical cross-entropy from logits, Adam(1e-3), batch 128, data
//! 60 000 x 784 uniform in [0, 1) with labels uniform in 0..10 (the peers' data).
//!
//! Figures, in the issue table's units (divan prints items/s where a counter is set):
//! - `train_step`: one `train_on_batch` on 128 samples (samples/s = 128 / time).
//! - `train_epoch`: one `fit` epoch over the 60 000 samples (shuffled, Keras' defaults).
//! - `predict_1024`: `predict` on 1024 rows (inference samples/s).
//! - `predict_1`: `predict` on 1 row (single-sample latency).
//! - `predict_8`: `predict` on 8 rows (a small batch).
//! - `fit_setup`: `fit` with `epochs(0)`, the finiteness check on and off (its cost).
//!
//! `cargo bench --bench w2`

use stratic::__private::Rng;
use stratic::prelude::*;

model! {
    struct Mlp {
        input(shape = [784])
            -> dense(256, activation = relu)
            -> dense(256, activation = relu)
            -> dense(10)
    }
}

const SAMPLES: usize = 60_000;
const FEATURES: usize = 784;
const CLASSES: usize = 10;
const BATCH: usize = 128;

fn main() {
    divan::main();
}

fn data(n: usize) -> (Array2<f32>, Array1<i32>) {
    let mut rng = Rng::new(0);
    let x = Array2::from_shape_fn((n, FEATURES), |_| rng.next_f32());
    let y = Array1::from_shape_fn(n, |_| rng.below(CLASSES) as i32);
    (x, y)
}

fn compiled() -> Compiled<Mlp, Adam> {
    Mlp::with_seed(1).compile(
        Adam::new(0.001),
        Loss::SparseCategoricalCrossentropy { from_logits: true },
    )
}

/// One training step on a batch of 128.
#[divan::bench]
fn train_step(bencher: divan::Bencher) {
    let (x, y) = data(BATCH);
    let mut model = compiled();
    bencher
        .counter(divan::counter::ItemsCount::new(BATCH))
        .bench_local(|| {
            model
                .train_on_batch(divan::black_box(x.view()), y.view())
                .expect("shapes are right")
        });
}

/// One epoch of `fit` over 60 000 samples, batch 128.
#[divan::bench(sample_count = 3, sample_size = 1)]
fn train_epoch(bencher: divan::Bencher) {
    let (x, y) = data(SAMPLES);
    let mut model = compiled();
    let options = FitOptions::default().batch_size(BATCH).seed(2).verbose(0);
    bencher
        .counter(divan::counter::ItemsCount::new(SAMPLES))
        .bench_local(|| {
            model
                .fit(divan::black_box(x.view()), y.view(), &options)
                .expect("valid data")
        });
}

/// Inference on a batch of 1024.
#[divan::bench]
fn predict_1024(bencher: divan::Bencher) {
    let (x, _) = data(1024);
    let model = Mlp::with_seed(1);
    bencher
        .counter(divan::counter::ItemsCount::new(1024usize))
        .bench_local(|| {
            model
                .predict(divan::black_box(x.view()))
                .expect("shapes are right")
        });
}

/// Single-sample latency.
#[divan::bench]
fn predict_1(bencher: divan::Bencher) {
    let (x, _) = data(1);
    let model = Mlp::with_seed(1);
    bencher.bench_local(|| {
        model
            .predict(divan::black_box(x.view()))
            .expect("shapes are right")
    });
}

/// Small-batch inference: 8 rows (the few-row product, in two groups of four, with AVX2).
#[divan::bench]
fn predict_8(bencher: divan::Bencher) {
    let (x, _) = data(8);
    let model = Mlp::with_seed(1);
    bencher
        .counter(divan::counter::ItemsCount::new(8usize))
        .bench_local(|| {
            model
                .predict(divan::black_box(x.view()))
                .expect("shapes are right")
        });
}

/// What `fit` does before its first step, over the 60 000 samples (`epochs(0)`: the input
/// and target checks, the targets' conversion), with `check` the finiteness pass of
/// `FitOptions::check_finite` on or off: the difference is that pass's cost.
#[divan::bench(args = [true, false], sample_count = 20, sample_size = 1)]
fn fit_setup(bencher: divan::Bencher, check: bool) {
    let (x, y) = data(SAMPLES);
    let mut model = compiled();
    let options = FitOptions::default()
        .epochs(0)
        .verbose(0)
        .check_finite(check);
    bencher
        .counter(divan::counter::ItemsCount::new(SAMPLES))
        .bench_local(|| {
            model
                .fit(divan::black_box(x.view()), y.view(), &options)
                .expect("valid data")
        });
}
