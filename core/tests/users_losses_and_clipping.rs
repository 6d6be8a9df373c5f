//! The user-facing pieces of core that the facade's tests exercise end to end, checked here
//! too so that core's own suite (which mutation testing runs) sees them: a closure loss keeps
//! its name and value, clipping reports its kind, and a Dense model over a sparse input
//! exports to ONNX as a dense input.

use ndarray::{array, Array2};
use stratic::prelude::*;
use stratic_core::{Clip, ClipGradients, Optimizer};

model! {
    struct SparseDense {
        input(shape = [4], sparse = true) -> dense(2)
    }

    struct Net {
        input(shape = [2]) -> dense(1, use_bias = false)
    }
}

#[test]
fn a_closure_loss_keeps_its_name_and_computes_its_rows() {
    let loss = Loss::from_fn("abs_sum", |p, t, mut g| {
        let d = p.sum() - t.sum();
        g.fill(d.signum());
        d.abs()
    });
    assert_eq!(loss.name(), "abs_sum");
    let (p, t) = (
        array![[1.0f32, 2.0], [0.0, -1.0]],
        array![[0.0f32, 0.0], [0.0, 0.0]],
    );
    let mut grad = Array2::zeros((0, 0));
    // Rows 3 and 1, averaged; each gradient the row's sign over the 2 rows.
    assert_eq!(loss.compute(p.view(), t.view(), &mut grad).unwrap(), 2.0);
    assert_eq!(grad, array![[0.5f32, 0.5], [-0.5, -0.5]]);
}

#[test]
fn only_global_clipping_asks_for_the_whole_gradient_norm() {
    assert_eq!(SGD::new(1.0).global_clipnorm(2.5).global_clip(), Some(2.5));
    assert_eq!(SGD::new(1.0).clipnorm(2.5).global_clip(), None);
    assert_eq!(SGD::new(1.0).clipvalue(2.5).global_clip(), None);
    assert_eq!(SGD::new(1.0).global_clip(), None);
    assert_eq!(SGD::new(1.0).clipvalue(0.5).clip(), Clip::Value(0.5));
    // One step of SGD(1) on one weight vector: the global norm scales the whole gradient.
    let x = array![[3.0f32, 4.0]];
    let y = array![[0.0f32]];
    let step = |opt: stratic_core::Clipped<SGD>| {
        let mut m = Net::with_seed(1).compile(opt, Loss::mse());
        let w0 = m.model().weights()[0].1.clone();
        m.train_on_batch(x.view(), y.view()).unwrap();
        &w0 - &m.model().weights()[0].1
    };
    let free = step(SGD::new(1.0).global_clipnorm(1e9));
    let norm = free.iter().map(|g| g * g).sum::<f32>().sqrt();
    let clipped = step(SGD::new(1.0).global_clipnorm(norm / 2.0));
    for (c, f) in clipped.iter().zip(&free) {
        assert!((c - f / 2.0).abs() < 1e-5 * f.abs().max(1.0), "{c} vs {f}");
    }
}

#[test]
fn dense_over_a_sparse_input_exports_as_a_dense_input() {
    let bytes = SparseDense::with_seed(0).to_onnx().expect("export");
    assert!(!bytes.is_empty());
}
