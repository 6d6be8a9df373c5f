//! Keras' `TimeDistributed` through `model!`: `time_distributed(dense(n))` computes, at every
//! step, what a dense layer computes on that step alone; checked against a dense layer on
//! the rank-3 tensor (Keras' `Dense` acts on the last axis) with the same weights, in
//! outputs and in training, and its weights carry Keras' names.

use stratic::ndarray::{Array2, Array3};
use stratic::prelude::*;

model! {
    /// A per-step projection, then an LSTM over the projected steps.
    struct Distributed {
        input(shape = [6, 3])
            -> time_distributed(dense(5, activation = tanh))
            -> lstm(4)
            -> dense(1)
    }

    /// The same with the dense layer on the rank-3 tensor.
    struct Plain {
        input(shape = [6, 3])
            -> dense(5, activation = tanh)
            -> lstm(4)
            -> dense(1, name = "dense_1")
    }

    /// A convolution over the inner steps of each outer step, flattened per outer step.
    struct Frames {
        input(shape = [4, 5, 2])
            -> time_distributed(conv1d(3, 2, activation = relu))
            -> time_distributed(flatten())
            -> gru(2)
    }
}

fn data(n: usize) -> (Array3<f32>, Array2<f32>) {
    let mut rng = stratic_core::Rng::new(4);
    let x = Array3::from_shape_fn((n, 6, 3), |_| rng.uniform(-1.0, 1.0));
    let y = Array2::from_shape_fn((n, 1), |(b, _)| x[[b, 5, 0]] - x[[b, 0, 1]]);
    (x, y)
}

/// `Distributed`'s weights into `Plain`, keys mapped (`time_distributed/dense/kernel` ->
/// `dense/kernel`; the head `dense` -> `dense_1`).
fn copy_into_plain(from: &Distributed, to: &mut Plain) {
    for (key, w) in from.weights() {
        let key = match key.strip_prefix("time_distributed/") {
            Some(inner) => inner.to_string(),
            None => key.replacen("dense/", "dense_1/", 1),
        };
        to.set_weight(&key, w.view()).expect("the same weights");
    }
}

#[test]
fn weights_are_named_as_keras_and_counted() {
    let m = Distributed::with_seed(1);
    let keys: Vec<String> = m.weights().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        &keys[..2],
        [
            "time_distributed/dense/kernel",
            "time_distributed/dense/bias"
        ]
    );
    let shapes: Vec<Vec<usize>> = m
        .weights()
        .into_iter()
        .map(|(_, w)| w.shape().to_vec())
        .collect();
    assert_eq!(shapes[0], [3, 5]);
    assert_eq!(shapes[1], [5]);
}

#[test]
fn a_time_distributed_dense_layer_is_the_dense_layer_on_each_step() {
    let (x, y) = data(20);
    let td = Distributed::with_seed(1);
    let mut plain = Plain::with_seed(2);
    copy_into_plain(&td, &mut plain);
    let a = td.predict(x.view()).expect("predict");
    let b = plain.predict(x.view()).expect("predict");
    let d = (&a - &b).iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(d < 1e-6, "{d}");
    let options = FitOptions::default()
        .epochs(2)
        .batch_size(5)
        .shuffle(false)
        .verbose(0);
    let mut td = td.compile(SGD::new(0.1), Loss::mse());
    let mut plain = plain.compile(SGD::new(0.1), Loss::mse());
    let ha = td.fit(x.view(), y.view(), &options).expect("fit");
    let hb = plain.fit(x.view(), y.view(), &options).expect("fit");
    for (la, lb) in ha.loss().iter().zip(hb.loss()) {
        assert!((la - lb).abs() < 1e-5 * lb.abs().max(1.0), "{la} vs {lb}");
    }
    // The same updates: the gradients through the wrapper are the dense layer's.
    let mut again = Plain::with_seed(3);
    copy_into_plain(td.model(), &mut again);
    let c = again.predict(x.view()).expect("predict");
    let e = plain.model().predict(x.view()).expect("predict");
    let d = (&c - &e).iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(d < 1e-5, "{d}");
}

#[test]
fn wrapped_convolutions_over_frames_train() {
    let mut rng = stratic_core::Rng::new(8);
    let x = stratic::ndarray::Array4::from_shape_fn((12, 4, 5, 2), |_| rng.uniform(-1.0, 1.0));
    let y = Array2::from_shape_fn((12, 2), |(b, j)| x[[b, j, 0, 0]]);
    let m = Frames::with_seed(5);
    assert_eq!(m.predict(x.view()).expect("predict").dim(), (12, 2));
    let keys: Vec<String> = m.weights().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys[0], "time_distributed/conv1d/kernel");
    let mut m = m.compile(Adam::new(0.01), Loss::mse());
    let options = FitOptions::default().epochs(30).batch_size(4).verbose(0);
    let h = m.fit(x.view(), y.view(), &options).expect("fit");
    let (first, last) = (h.loss()[0], h.loss()[h.loss().len() - 1]);
    assert!(last < first, "{first} -> {last}");
}
