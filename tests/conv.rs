//! Convolutions and pooling end to end through `model!`: the keras-io "Simple MNIST convnet"
//! (without its dropout) compiles, trains, predicts and has Keras' summary.

use ndarray::{Array3, Array4};
use stratic::prelude::*;

model! {
    /// keras-io's MNIST convnet, word for word but the dropout.
    pub struct Convnet {
        input(shape = [28, 28, 1])
            -> conv2d(32, kernel_size = [3, 3], activation = relu)
            -> max_pooling_2d(pool_size = [2, 2])
            -> conv2d(64, 3, activation = relu)
            -> max_pooling_2d(2)
            -> flatten()
            -> dense(10, activation = softmax)
    }

    /// A small sequence model: causal dilated conv1d, pooling, global max.
    struct Sequence {
        input(shape = [12, 2])
            -> conv1d(4, 3, padding = causal, dilation_rate = 2, activation = tanh)
            -> average_pooling_1d(2)
            -> conv1d(4, 2, padding = same)
            -> global_max_pooling_1d()
            -> dense(2, activation = softmax)
    }

    /// A flat vector reshaped into a sequence, one axis inferred.
    struct Reshaped {
        input(shape = [12]) -> reshape([-1, 3]) -> conv1d(2, 2)
    }
}

#[test]
fn reshape_regroups_in_row_major_order() {
    let model = Reshaped::with_seed(0);
    let text = model.summary().to_string();
    assert!(text.contains("(None, 4, 3)"), "{text}");
    assert!(text.contains("(None, 3, 2)"), "{text}");
    let x = Array2::from_shape_fn((2, 12), |(b, i)| (b * 12 + i) as f32);
    assert_eq!(model.predict(x.view()).unwrap().dim(), (2, 3, 2));
}

#[test]
fn the_mnist_convnet_has_keras_parameter_counts() {
    let text = Convnet::with_seed(0).summary().to_string();
    for row in [
        "(None, 26, 26, 32)",
        "(None, 13, 13, 32)",
        "(None, 11, 11, 64)",
        "(None, 5, 5, 64)",
        "(None, 1600)",
        "320",
        "18,496",
        "16,010",
        "Total params: 34,826",
    ] {
        assert!(text.contains(row), "{row} missing from\n{text}");
    }
}

// Two classes of images: a bright square top-left, or bottom-right.
fn squares(n: usize) -> (Array4<f32>, Array1<f32>) {
    let x = Array4::from_shape_fn((n, 28, 28, 1), |(b, h, w, _)| {
        let (r, c) = if b % 2 == 0 { (4, 4) } else { (18, 18) };
        let inside = (r..r + 6).contains(&h) && (c..c + 6).contains(&w);
        if inside {
            1.0
        } else {
            0.05 * (((b * 31 + h * 7 + w) % 11) as f32 / 11.0)
        }
    });
    let y = Array1::from_shape_fn(n, |b| (b % 2) as f32);
    (x, y)
}

#[test]
fn the_mnist_convnet_trains_and_predicts() {
    let (x, y) = squares(32);
    let mut model =
        Convnet::with_seed(3).compile(Adam::new(0.002), Loss::sparse_categorical_crossentropy());
    let history = model
        .fit(
            x.view(),
            y.view(),
            &FitOptions::default()
                .epochs(3)
                .batch_size(16)
                .seed(7)
                .verbose(0),
        )
        .unwrap();
    let losses = history.loss();
    assert!(losses[losses.len() - 1] < 0.5 * losses[0], "{losses:?}");
    let p = model.model().predict(x.view()).unwrap();
    assert_eq!(p.dim(), (32, 10));
    for (b, row) in p.outer_iter().enumerate() {
        let best = row
            .iter()
            .enumerate()
            .fold((0, f32::MIN), |m, (i, &v)| if v > m.1 { (i, v) } else { m })
            .0;
        assert_eq!(best, b % 2, "sample {b}: {row}");
    }
}

#[test]
fn a_wrong_image_shape_is_a_typed_error() {
    let model = Convnet::with_seed(0);
    let bad = Array4::<f32>::zeros((2, 28, 27, 1));
    let e = model.predict(bad.view()).unwrap_err().to_string();
    assert!(e.contains("27"), "{e}");
}

#[test]
fn a_sequence_convnet_trains() {
    let x = Array3::from_shape_fn((32, 12, 2), |(b, t, c)| {
        let s = if b % 2 == 0 { 1.0 } else { -1.0 };
        s * ((t as f32 * 0.5 + c as f32).sin())
    });
    let y = Array1::from_shape_fn(32, |b| (b % 2) as f32);
    let mut model =
        Sequence::with_seed(1).compile(Adam::new(0.05), Loss::sparse_categorical_crossentropy());
    let history = model
        .fit(
            x.view(),
            y.view(),
            &FitOptions::default().epochs(30).batch_size(8).verbose(0),
        )
        .unwrap();
    let losses = history.loss();
    assert!(losses[losses.len() - 1] < 0.5 * losses[0], "{losses:?}");
    let text = model.model().summary().to_string();
    assert!(text.contains("conv1d (Conv1D)"), "{text}");
    assert!(text.contains("(None, 12, 4)"), "{text}");
    assert!(text.contains("(None, 6, 4)"), "{text}");
}
