//! W5 of issue 13, the convnet workload: the keras-io "Simple MNIST convnet" without its
//! dropout (input 28x28x1 -> conv2d(32, 3, relu) -> max_pooling_2d(2) -> conv2d(64, 3, relu)
//! -> max_pooling_2d(2) -> flatten -> dense(10, softmax)), categorical cross-entropy, Adam(1e-3),
//! batch 128; data 12 800 uniform random images in [0, 1) with random labels (the peers' data,
//! ../shared/peers/python/w5.py).
//!
//! Figures, in the issue table's units (divan prints items/s where a counter is set):
//! - `train_epoch`: one `fit` epoch over the 12 800 images (train samples/s).
//! - `train_step`: one `train_on_batch` on 128 images.
//! - `predict_1024`: `predict` on 1024 images (inference samples/s).
//! - `predict_1`: `predict` on 1 image (single-image latency).
//!
//! `cargo bench --bench w5`

use ndarray::Array4;
use stratic::__private::Rng;
use stratic::prelude::*;

model! {
    struct Convnet {
        input(shape = [28, 28, 1])
            -> conv2d(32, kernel_size = [3, 3], activation = relu)
            -> max_pooling_2d(pool_size = [2, 2])
            -> conv2d(64, 3, activation = relu)
            -> max_pooling_2d(2)
            -> flatten()
            -> dense(10, activation = softmax)
    }
}

const SAMPLES: usize = 12_800;
const CLASSES: usize = 10;
const BATCH: usize = 128;

fn main() {
    divan::main();
}

fn data(n: usize) -> (Array4<f32>, Array2<f32>) {
    let mut rng = Rng::new(0);
    let x = Array4::from_shape_fn((n, 28, 28, 1), |_| rng.next_f32());
    let mut y = Array2::zeros((n, CLASSES));
    for mut row in y.rows_mut() {
        row[rng.below(CLASSES)] = 1.0;
    }
    (x, y)
}

fn compiled() -> Compiled<Convnet, Adam> {
    Convnet::with_seed(1).compile(Adam::new(0.001), Loss::categorical_crossentropy())
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

/// One epoch of `fit` over 12 800 images, batch 128.
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
    let model = Convnet::with_seed(1);
    bencher
        .counter(divan::counter::ItemsCount::new(1024usize))
        .bench_local(|| {
            model
                .predict(divan::black_box(x.view()))
                .expect("shapes are right")
        });
}

/// Single-image latency.
#[divan::bench]
fn predict_1(bencher: divan::Bencher) {
    let (x, _) = data(1);
    let model = Convnet::with_seed(1);
    bencher.bench_local(|| {
        model
            .predict(divan::black_box(x.view()))
            .expect("shapes are right")
    });
}
