//! `call_training`: Keras' `model(x, training=True)`, for Monte-Carlo dropout. Dropout and noise
//! are active with new masks each call, and no weight or moving statistic changes.

use stratic::prelude::*;

model! {
    /// Dropout, noise and batch normalization: every layer whose training pass differs.
    struct Stochastic {
        input(shape = [4])
            -> dense(16, activation = relu)
            -> batch_normalization(momentum = 0.5)
            -> dropout(0.5)
            -> gaussian_noise(0.1)
            -> dense(3)
    }

    /// Batch normalization without randomness: its training pass uses the batch statistics.
    struct Bn {
        input(shape = [4]) -> dense(8) -> batch_normalization(momentum = 0.5) -> dense(3)
    }

    /// No stochastic layer and no state: training mode is inference.
    struct Plain {
        input(shape = [4]) -> dense(8, activation = tanh) -> dense(3)
    }
}

fn x() -> Array2<f32> {
    Array2::from_shape_fn((10, 4), |(r, c)| ((r * 5 + c * 3) % 7) as f32 / 7.0 - 0.4)
}

#[test]
fn with_dropout_each_call_draws_new_masks() {
    let mut m = Stochastic::with_seed(7);
    let a = m.call_training(x().view()).unwrap();
    let b = m.call_training(x().view()).unwrap();
    assert_eq!(a.dim(), (10, 3));
    assert_ne!(a, b);
    assert!(a.iter().chain(b.iter()).all(|v| v.is_finite()));
    // Not inference either.
    assert_ne!(a, m.predict(x().view()).unwrap());
}

#[test]
fn it_repeats_with_the_seed() {
    let a = Stochastic::with_seed(7).call_training(x().view()).unwrap();
    let b = Stochastic::with_seed(7).call_training(x().view()).unwrap();
    assert_eq!(a, b);
}

#[test]
fn without_a_stochastic_layer_it_is_predict() {
    let mut m = Plain::with_seed(3);
    let p = m.predict(x().view()).unwrap();
    let t = m.call_training(x().view()).unwrap();
    for (a, b) in p.iter().zip(t.iter()) {
        assert!((a - b).abs() <= 1e-6, "{a} vs {b}");
    }
}

#[test]
fn no_weight_and_no_moving_statistic_changes() {
    let mut m = Stochastic::with_seed(5);
    let before = m.weights();
    let p = m.predict(x().view()).unwrap();
    for _ in 0..3 {
        m.call_training(x().view()).unwrap();
    }
    assert_eq!(before, m.weights());
    assert_eq!(p, m.predict(x().view()).unwrap());
    // The moving statistics are among the weights compared.
    assert!(before.iter().any(|(k, _)| k.ends_with("/moving_mean")));
}

#[test]
fn through_compiled_it_leaves_training_unchanged() {
    // Two identical runs, one interrupted by training-mode calls: the same weights and moving
    // statistics after fit (no dropout, so the random stream the calls advance is not read).
    let y = Array2::from_shape_fn((10, 3), |(r, c)| ((r + c) % 3) as f32);
    let mut m = Bn::with_seed(2).compile(SGD::new(0.1), Loss::mse());
    let opts = FitOptions::default()
        .epochs(2)
        .batch_size(5)
        .seed(4)
        .verbose(0);
    m.fit(x().view(), y.view(), &opts).unwrap();
    let mut n = Bn::with_seed(2).compile(SGD::new(0.1), Loss::mse());
    n.fit(x().view(), y.view(), &opts).unwrap();
    n.call_training(x().view()).unwrap();
    m.fit(x().view(), y.view(), &opts).unwrap();
    n.fit(x().view(), y.view(), &opts).unwrap();
    assert_eq!(m.model().weights(), n.model().weights());
    // The training pass is not inference: it normalizes with the batch's statistics.
    assert_ne!(
        n.call_training(x().view()).unwrap(),
        n.predict(x().view()).unwrap()
    );
}

#[test]
fn inputs_are_checked_as_predict_checks_them() {
    let mut m = Stochastic::with_seed(1);
    let bad = Array2::<f32>::zeros((5, 3));
    let e = m.call_training(bad.view()).unwrap_err();
    assert!(matches!(e, Error::InputShape { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        m.predict(bad.view()).unwrap_err().to_string()
    );
}
