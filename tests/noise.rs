//! The noise layers end to end through `model!`: the identity in predict and evaluate, active
//! in fit, reproducible from `with_seed`.

use ndarray::{Array3, Array4};
use stratic::prelude::*;

model! {
    /// Every noise layer in a row: predict must return the input.
    struct AllNoise {
        input(shape = [3, 4, 2])
            -> gaussian_noise(0.5)
            -> gaussian_dropout(0.3)
            -> spatial_dropout_2d(0.4)
            -> reshape([12, 2])
            -> spatial_dropout_1d(0.4, seed = 3)
    }

    /// A small classifier with noise between its layers.
    struct NoisyHead {
        input(shape = [6, 2])
            -> gaussian_noise(0.1)
            -> spatial_dropout_1d(0.25)
            -> flatten()
            -> dense(16, activation = relu)
            -> gaussian_dropout(0.2)
            -> dense(2, activation = softmax)
    }
}

#[test]
fn predict_is_the_identity() {
    let x = Array4::from_shape_fn((5, 3, 4, 2), |(b, h, w, c)| {
        (b * 24 + h * 8 + w * 2 + c) as f32 / 10.0 - 3.0
    });
    let y = AllNoise::with_seed(3).predict(x.view()).unwrap();
    assert_eq!(y.into_raw_vec_and_offset().0, x.into_raw_vec_and_offset().0);
}

fn fit(seed: u64) -> Vec<f32> {
    let x = Array3::from_shape_fn((64, 6, 2), |(r, t, c)| {
        ((r * 7 + t * 3 + c) % 11) as f32 / 11.0 - 0.5
    });
    let y = Array1::from_shape_fn(64, |r| ((r * 7) % 11 > 5) as u8 as f32);
    let mut model = NoisyHead::with_seed(seed)
        .compile(Adam::new(0.01), Loss::sparse_categorical_crossentropy());
    let history = model
        .fit(
            x.view(),
            y.view(),
            &FitOptions::default()
                .epochs(4)
                .batch_size(16)
                .seed(5)
                .verbose(0),
        )
        .unwrap();
    // Evaluation runs in inference mode: twice the same result.
    let a = model.evaluate(x.view(), y.view(), 16).unwrap();
    let b = model.evaluate(x.view(), y.view(), 16).unwrap();
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    history.loss().to_vec()
}

#[test]
fn training_repeats_with_the_seed() {
    let a = fit(11);
    assert_eq!(a, fit(11));
    assert_ne!(a, fit(12));
    assert!(a.iter().all(|l| l.is_finite()), "{a:?}");
}
