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

model! {
    /// Counts of each token.
    struct Counts {
        input(shape = [None], ragged = true, dtype = i32) -> category_encoding(5, output_mode = count)
    }

    /// One-hot vectors summed over each sample's ids: the counts again.
    struct SummedOneHot {
        input(shape = [None], ragged = true, dtype = i32)
            -> category_encoding(5, one_hot)
            -> global_sum_pooling_1d()
    }

    /// A bag-of-tokens classifier.
    struct BagHead {
        input(shape = [None], ragged = true, dtype = i32)
            -> category_encoding(6)
            -> dense(1, activation = sigmoid)
    }
}

#[test]
fn category_encoding_counts_encodes_and_trains() {
    let ids = RaggedTensor::from_rows(&[vec![0, 4, 4], vec![2], vec![], vec![1, 2, 3, 1]]).unwrap();
    let counts = Counts::new().predict(&ids).unwrap();
    let expected = array![
        [1.0f32, 0.0, 0.0, 0.0, 2.0],
        [0.0, 0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [0.0, 2.0, 1.0, 1.0, 0.0]
    ];
    assert_eq!(counts, expected);
    assert_eq!(SummedOneHot::new().predict(&ids).unwrap(), expected);
    // An id outside [0, num_tokens) is an error naming the layer, before any work.
    let bad = RaggedTensor::from_rows(&[vec![0, 5]]).unwrap();
    let e = Counts::new().predict(&bad).unwrap_err().to_string();
    assert!(e.contains("category_encoding"), "{e}");

    let y = array![[1.0f32], [0.0], [0.0], [1.0]];
    let mut model = BagHead::with_seed(3).compile(Adam::new(0.1), Loss::binary_crossentropy());
    let history = model
        .fit(
            &ids,
            y.view(),
            &FitOptions::default().epochs(20).batch_size(4).verbose(0),
        )
        .unwrap();
    let loss = history.loss();
    assert!(loss[loss.len() - 1] < loss[0], "{loss:?}");
}
