//! W1 of benches/README.md, the seed program's workload: input 4 -> dense 8, RMSprop(0.001),
//! mean squared error, batch 10. Measures one training step (forward, loss, backward, update)
//! and, for reference, one prediction of the batch.
//!
//! `cargo bench --bench w1`

use stratic::prelude::*;

model! {
    struct Seed {
        input(shape = [4]) -> dense(8)
    }
}

fn main() {
    divan::main();
}

// The peers' W1 data (../shared/peers): x = zeros(10, 4), y = ones(10, 8).
fn data() -> (Array2<f32>, Array2<f32>) {
    (Array2::zeros((10, 4)), Array2::ones((10, 8)))
}

#[divan::bench]
fn train_step(bencher: divan::Bencher) {
    let (x, y) = data();
    let mut model = Seed::with_seed(1).compile(RMSprop::new(0.001), Loss::mse());
    bencher.bench_local(|| {
        model
            .train_on_batch(divan::black_box(x.view()), y.view())
            .expect("shapes are right")
    });
}

#[divan::bench]
fn predict_batch(bencher: divan::Bencher) {
    let (x, _) = data();
    let model = Seed::with_seed(1);
    bencher.bench_local(|| {
        model
            .predict(divan::black_box(x.view()))
            .expect("shapes are right")
    });
}
