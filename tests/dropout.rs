//! `dropout` end to end through `model!`: the identity in predict and evaluate, active in fit,
//! reproducible from `with_seed`.

use stratic::prelude::*;

model! {
    /// Dropout alone: predict must return the input.
    struct Drop {
        input(shape = [5]) -> dropout(0.5)
    }

    /// A small classifier with dropout between its layers.
    struct DropHead {
        input(shape = [4]) -> dense(16, activation = relu) -> dropout(0.25) -> dense(2, activation = softmax)
    }
}

#[test]
fn predict_is_the_identity() {
    let x = Array2::from_shape_fn((6, 5), |(r, c)| (r * 5 + c) as f32 - 7.0);
    let y = Drop::with_seed(3).predict(x.view()).unwrap();
    assert_eq!(y, x);
}

fn fit(seed: u64) -> Vec<f32> {
    let x = Array2::from_shape_fn((64, 4), |(r, c)| ((r * 7 + c * 3) % 11) as f32 / 11.0 - 0.5);
    let y = Array1::from_shape_fn(64, |r| ((r * 7) % 11 > 5) as u8 as f32);
    let mut model =
        DropHead::with_seed(seed).compile(Adam::new(0.01), Loss::sparse_categorical_crossentropy());
    let history = model
        .fit(
            x.view(),
            y.view(),
            &FitOptions::default()
                .epochs(5)
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
