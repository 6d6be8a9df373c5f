//! Helpers shared by the facade's integration tests (`#[macro_use] mod common;`).
#![allow(dead_code)] // Each test crate uses some of the helpers.

/// Checks every weight's backward gradient against central finite differences of the loss,
/// and that `count` weights were checked. `$build` makes a fresh compiled model with
/// `SGD::new(1.0)`, so that one `train_on_batch` moves each weight by minus its gradient.
#[macro_export]
macro_rules! check_gradients {
    ($build:expr, $x:expr, $y:expr, eps = $eps:expr, count = $count:expr) => {{
        let mut stepped = $build;
        let before = stepped.model().weights();
        stepped.train_on_batch($x, $y).unwrap();
        let after = stepped.model().weights();
        let mut probe = $build;
        let eps: f32 = $eps;
        let mut checked = 0usize;
        for ((key, w0), (_, w1)) in before.iter().zip(&after) {
            for i in 0..w0.len() {
                let analytic = w0.as_slice().unwrap()[i] - w1.as_slice().unwrap()[i];
                let mut loss_at = |delta: f32| {
                    let mut w = w0.clone();
                    w.as_slice_mut().unwrap()[i] += delta;
                    probe.model_mut().set_weight(key, w.view()).unwrap();
                    let l = probe.evaluate($x, $y, 64).unwrap().loss;
                    probe.model_mut().set_weight(key, w0.view()).unwrap();
                    l
                };
                let numeric = (loss_at(eps) - loss_at(-eps)) / (2.0 * eps);
                assert!(
                    (numeric - analytic).abs() <= 2e-3 + 2e-2 * numeric.abs(),
                    "{key}[{i}]: finite differences {numeric}, backward {analytic}"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, $count);
    }};
}

/// Copies every weight of `from` into `to` (two declarations of one architecture).
pub fn copy_weights<A: stratic::Model, B: stratic::Model>(from: &A, to: &mut B) {
    for (key, w) in from.weights() {
        to.set_weight(&key, w.view()).expect("the same weights");
    }
}

/// The largest absolute difference of two arrays of one shape.
pub fn max_diff(a: &stratic::ndarray::Array2<f32>, b: &stratic::ndarray::Array2<f32>) -> f32 {
    assert_eq!(a.dim(), b.dim());
    (a - b).iter().fold(0.0f32, |m, d| m.max(d.abs()))
}

/// The weights of both models, keys and values, within `tol`.
pub fn assert_same_weights<A: stratic::Model, B: stratic::Model>(a: &A, b: &B, tol: f32) {
    let (wa, wb) = (a.weights(), b.weights());
    assert_eq!(wa.len(), wb.len());
    for ((ka, va), (kb, vb)) in wa.iter().zip(&wb) {
        assert_eq!(ka, kb);
        let d = (va - vb).iter().fold(0.0f32, |m, d| m.max(d.abs()));
        assert!(d < tol, "{ka} differs by {d} after training");
    }
}

/// Three epochs of batches of 8 in order: two models see the same batches.
pub fn in_order() -> stratic::prelude::FitOptions {
    stratic::prelude::FitOptions::default()
        .epochs(3)
        .batch_size(8)
        .shuffle(false)
        .verbose(0)
}

/// A masked model on padded rows equals the same layers on the ragged rows (the ragged path
/// reading each row at its own length): its outputs within 1e-6, and its weights within 1e-5
/// after the same training. Returns both compiled models.
#[macro_export]
macro_rules! assert_masked_equals_ragged {
    ($masked:expr, $plain:expr, $padded:expr, $ragged:expr, $y:expr) => {{
        let masked = $masked;
        let mut plain = $plain;
        common::copy_weights(&masked, &mut plain);
        let a = masked.predict($padded).expect("predict");
        let b = plain.predict($ragged).expect("predict");
        assert!(
            common::max_diff(&a, &b) < 1e-6,
            "{}",
            common::max_diff(&a, &b)
        );
        let mut masked = masked.compile(SGD::new(0.1), Loss::mse());
        let mut plain = plain.compile(SGD::new(0.1), Loss::mse());
        let ha = masked.fit($padded, $y, &common::in_order()).expect("fit");
        let hb = plain.fit($ragged, $y, &common::in_order()).expect("fit");
        for (la, lb) in ha.loss().iter().zip(hb.loss()) {
            assert!((la - lb).abs() < 1e-5 * lb.abs().max(1.0), "{la} vs {lb}");
        }
        common::assert_same_weights(masked.model(), plain.model(), 1e-5);
        (masked, plain)
    }};
}
