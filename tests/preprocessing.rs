//! Preprocessing layers end to end through `model!`.

use ndarray::array;
use stratic::prelude::*;

model! {
    /// Pixels to about `[-1, 1]` (x / 128 - 1).
    struct Rescale {
        input(shape = [3]) -> rescaling(0.0078125, offset = -1.0)
    }

    /// A rescaling in front of a trained layer.
    struct RescaledHead {
        input(shape = [3]) -> rescaling(0.5, 1.0) -> dense(1)
    }
}

#[test]
fn rescaling_predicts_x_times_scale_plus_offset() {
    let x = array![[0.0f32, 127.5, 255.0], [51.0, 204.0, 25.5]];
    let y = Rescale::new().predict(x.view()).unwrap();
    for (a, b) in y.iter().zip(x.iter()) {
        assert!((a - (b / 128.0 - 1.0)).abs() < 1e-6, "{a} for {b}");
    }
}

#[test]
fn a_rescaled_model_trains() {
    let x = Array2::from_shape_fn((32, 3), |(r, c)| ((r * 5 + c * 7) % 13) as f32);
    let y = x
        .map_axis(ndarray::Axis(1), |row| row.sum() * 0.1)
        .insert_axis(ndarray::Axis(1));
    let mut model = RescaledHead::with_seed(1).compile(Adam::new(0.05), Loss::mse());
    let history = model
        .fit(
            x.view(),
            y.view(),
            &FitOptions::default().epochs(30).batch_size(8).verbose(0),
        )
        .unwrap();
    let loss = history.loss();
    assert!(loss[loss.len() - 1] < loss[0] * 0.5, "{loss:?}");
}
