//! Merge layers: one training step (forward + backward) of each merge on two `(128, 256)`
//! inputs, the size of W2's hidden layers at its batch of 128.
//!
//! `cargo bench --bench merge`

use stratic::__private::{Merge, MergeLayer};
use stratic::prelude::*;
use stratic::shape::{MergeConfig, MergeOp};

fn main() {
    divan::main();
}

const ROWS: usize = 128;
const COLS: usize = 256;

#[divan::bench(args = ["concatenate", "add", "multiply", "maximum", "dot", "dot_normalize"])]
fn train_step(bencher: divan::Bencher, op: &str) {
    let mut config = MergeConfig::new(
        MergeOp::from_name(op.trim_end_matches("_normalize")).unwrap_or(MergeOp::Add),
    );
    config.normalize = op.ends_with("_normalize");
    let mut merge = Merge::new(config, 2);
    let a = Array2::from_shape_fn((ROWS, COLS), |(r, c)| {
        ((r * 31 + c * 17) % 97) as f32 * 0.02 - 1.0
    });
    let b = Array2::from_shape_fn((ROWS, COLS), |(r, c)| {
        ((r * 13 + c * 7) % 89) as f32 * 0.02 - 0.9
    });
    let xs = [a.view(), b.view()];
    merge.forward_train(&xs);
    let g = Array2::<f32>::ones(merge.output().dim());
    bencher.bench_local(|| {
        merge.forward_train(divan::black_box(&xs));
        merge.backward(&xs, g.view());
    });
}
