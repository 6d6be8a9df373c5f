//! Keras' gradient clipping (`clipnorm`, `clipvalue`, `global_clipnorm`) on any optimizer:
//! one SGD step of learning rate 1 moves every weight by minus its gradient, so the clipped
//! step is checked against the unclipped one, clipped by the formulas written out here.

use stratic::ndarray::{Array2, ArrayD};
use stratic::prelude::*;

model! {
    struct Net {
        input(shape = [3]) -> dense(4, activation = tanh) -> dense(2)
    }

    /// The regularizer's gradient is part of what is clipped, as in Keras.
    struct Regularized {
        input(shape = [3]) -> dense(4, activation = tanh, kernel_regularizer = l2(0.5)) -> dense(2)
    }
}

fn data() -> (Array2<f32>, Array2<f32>) {
    let x = Array2::from_shape_fn((5, 3), |(i, j)| ((i * 3 + j) as f32 * 0.7).sin() * 2.0);
    let y = Array2::from_shape_fn((5, 2), |(i, j)| (i + 2 * j) as f32 - 3.0);
    (x, y)
}

/// Each weight's change in one step of `optimizer` (SGD at learning rate 1: the gradient).
macro_rules! step {
    ($model:ty, $optimizer:expr) => {{
        let (x, y) = data();
        let mut m = <$model>::with_seed(4).compile($optimizer, Loss::mse());
        let before = m.model().weights();
        m.train_on_batch(x.view(), y.view()).expect("step");
        let after = m.model().weights();
        before
            .into_iter()
            .zip(after)
            .map(|((k, b), (_, a))| (k, b - a))
            .collect::<Vec<(String, ArrayD<f32>)>>()
    }};
}

fn norm(g: &ArrayD<f32>) -> f64 {
    g.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt()
}

fn assert_close(got: &[(String, ArrayD<f32>)], want: &[(String, ArrayD<f64>)]) {
    for ((k, g), (_, w)) in got.iter().zip(want) {
        for (a, b) in g.iter().zip(w) {
            assert!(
                (f64::from(*a) - b).abs() <= 1e-6 + 1e-5 * b.abs(),
                "{k}: {a} against {b}"
            );
        }
    }
}

#[test]
fn clipnorm_scales_each_variable_to_the_norm() {
    let grads = step!(Net, SGD::new(1.0));
    let norms: Vec<f64> = grads.iter().map(|(_, g)| norm(g)).collect();
    // Between the smallest and the largest norm: some variables are clipped, some not.
    let max = (norms.iter().cloned().fold(f64::MAX, f64::min)
        + norms.iter().cloned().fold(0.0, f64::max))
        / 2.0;
    let want: Vec<(String, ArrayD<f64>)> = grads
        .iter()
        .map(|(k, g)| {
            let f = if norm(g) > max { max / norm(g) } else { 1.0 };
            (k.clone(), g.mapv(|v| f64::from(v) * f))
        })
        .collect();
    assert!(norms.iter().any(|&n| n > max) && norms.iter().any(|&n| n < max));
    assert_close(&step!(Net, SGD::new(1.0).clipnorm(max as f32)), &want);
}

#[test]
fn clipvalue_clips_each_value() {
    let grads = step!(Net, SGD::new(1.0));
    let largest = grads
        .iter()
        .flat_map(|(_, g)| g.iter().map(|v| v.abs()))
        .fold(0.0f32, f32::max);
    let max = largest / 3.0;
    let want: Vec<(String, ArrayD<f64>)> = grads
        .iter()
        .map(|(k, g)| (k.clone(), g.mapv(|v| f64::from(v.clamp(-max, max)))))
        .collect();
    assert_close(&step!(Net, SGD::new(1.0).clipvalue(max)), &want);
}

#[test]
fn global_clipnorm_scales_the_whole_gradient_regularizers_included() {
    for regularized in [false, true] {
        let grads = if regularized {
            step!(Regularized, SGD::new(1.0))
        } else {
            step!(Net, SGD::new(1.0))
        };
        let total = grads
            .iter()
            .map(|(_, g)| norm(g).powi(2))
            .sum::<f64>()
            .sqrt();
        let max = total / 4.0;
        let want: Vec<(String, ArrayD<f64>)> = grads
            .iter()
            .map(|(k, g)| (k.clone(), g.mapv(|v| f64::from(v) * max / total)))
            .collect();
        let got = if regularized {
            step!(Regularized, SGD::new(1.0).global_clipnorm(max as f32))
        } else {
            step!(Net, SGD::new(1.0).global_clipnorm(max as f32))
        };
        assert_close(&got, &want);
        // Within the norm, nothing changes.
        let loose = if regularized {
            step!(
                Regularized,
                SGD::new(1.0).global_clipnorm((total * 2.0) as f32)
            )
        } else {
            step!(Net, SGD::new(1.0).global_clipnorm((total * 2.0) as f32))
        };
        let same: Vec<(String, ArrayD<f64>)> = grads
            .iter()
            .map(|(k, g)| (k.clone(), g.mapv(f64::from)))
            .collect();
        assert_close(&loose, &same);
    }
}

#[test]
fn clipping_with_a_stateful_optimizer_feeds_it_the_clipped_gradient() {
    // Adam's first step moves each weight by about the learning rate whatever the gradient's
    // size, so compare RMSprop, whose first step depends on the gradient's value.
    let (x, y) = data();
    let mut plain = Net::with_seed(4).compile(RMSprop::new(0.01), Loss::mse());
    let mut clipped = Net::with_seed(4).compile(RMSprop::new(0.01).clipvalue(1e-4), Loss::mse());
    plain.train_on_batch(x.view(), y.view()).unwrap();
    clipped.train_on_batch(x.view(), y.view()).unwrap();
    assert_ne!(plain.model().weights(), clipped.model().weights());
    assert_eq!(clipped.optimizer().learning_rate(), 0.01);
    assert_eq!(clipped.optimizer().clip(), stratic::Clip::Value(1e-4));
    assert_eq!(clipped.optimizer().inner().learning_rate(), 0.01);
}

#[test]
fn bad_clipping_is_refused_before_any_weight_moves() {
    let (x, y) = data();
    for (optimizer, name) in [
        (SGD::new(0.1).clipnorm(0.0), "clipnorm"),
        (SGD::new(0.1).clipnorm(f32::NAN), "clipnorm"),
        (SGD::new(0.1).clipnorm(-1.0), "clipnorm"),
    ] {
        let mut m = Net::with_seed(1).compile(optimizer, Loss::mse());
        let before = m.model().weights();
        match m.train_on_batch(x.view(), y.view()) {
            Err(stratic::Error::InvalidArgument { name: got, .. }) => assert_eq!(got, name),
            other => panic!("expected a refusal of {name}, got {other:?}"),
        }
        assert_eq!(m.model().weights(), before);
    }
    let mut twice =
        Net::with_seed(1).compile(SGD::new(0.1).clipnorm(1.0).clipvalue(1.0), Loss::mse());
    match twice.train_on_batch(x.view(), y.view()) {
        Err(stratic::Error::InvalidArgument { name, message }) => {
            assert_eq!(name, "clipvalue");
            assert!(message.contains("only one of"), "{message}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let mut infinite =
        Net::with_seed(1).compile(Adam::new(0.1).global_clipnorm(f32::INFINITY), Loss::mse());
    assert!(infinite.train_on_batch(x.view(), y.view()).is_err());
}
