//! Zero padding, cropping and up-sampling end to end through `model!`: shapes in the summary,
//! values against the same operation written with ndarray slicing, gradients through `fit`.

use stratic::ndarray::{s, Array3, Array4};
use stratic::prelude::*;

model! {
    /// Every 2D layer of the family in one chain, on a 4x5 image of 2 channels.
    struct Image {
        input(shape = [4, 5, 2])
            -> zero_padding_2d([[1, 2], [0, 1]])
            -> cropping_2d([[1, 0], [2, 1]])
            -> up_sampling_2d([2, 3])
    }

    /// The 1D layers, on 6 steps of 3 channels.
    struct Steps {
        input(shape = [6, 3])
            -> zero_padding_1d([2, 1])
            -> cropping_1d(1)
            -> up_sampling_1d(3)
    }

    /// Padding between convolutions, as a "same" convolution written by hand, trained.
    struct Padded {
        input(shape = [6, 6, 1])
            -> zero_padding_2d(1)
            -> conv2d(3, 3, activation = tanh)
            -> up_sampling_2d(2)
            -> cropping_2d([2, 2])
            -> flatten()
            -> dense(1)
    }
}

fn image(n: usize) -> Array4<f32> {
    Array4::from_shape_fn((n, 4, 5, 2), |(b, i, j, c)| {
        (b * 100 + i * 10 + j) as f32 + 0.5 * c as f32
    })
}

#[test]
fn the_summary_shows_keras_shapes() {
    let text = Image::with_seed(0).summary().to_string();
    for shape in ["(None, 7, 6, 2)", "(None, 6, 3, 2)", "(None, 12, 9, 2)"] {
        assert!(text.contains(shape), "{shape} missing from\n{text}");
    }
    let text = Steps::with_seed(0).summary().to_string();
    for shape in ["(None, 9, 3)", "(None, 7, 3)", "(None, 21, 3)"] {
        assert!(text.contains(shape), "{shape} missing from\n{text}");
    }
}

#[test]
fn image_layers_match_ndarray_slicing() {
    let x = image(3);
    let y = Image::with_seed(0).predict(x.view()).unwrap();
    // Padding: 1 row above, 2 below, none left, 1 right.
    let mut padded = Array4::<f32>::zeros((3, 7, 6, 2));
    padded.slice_mut(s![.., 1..5, 0..5, ..]).assign(&x);
    // Cropping: 1 row at the top, 2 columns at the left and 1 at the right.
    let cropped = padded.slice(s![.., 1.., 2..5, ..]).to_owned();
    let want = Array4::from_shape_fn((3, 12, 9, 2), |(b, i, j, c)| cropped[[b, i / 2, j / 3, c]]);
    assert_eq!(y.shape(), want.shape());
    assert_eq!(
        y.into_raw_vec_and_offset().0,
        want.into_raw_vec_and_offset().0
    );
}

#[test]
fn step_layers_match_ndarray_slicing() {
    let x = Array3::from_shape_fn((2, 6, 3), |(b, t, c)| (b * 100 + t * 10 + c) as f32);
    let y = Steps::with_seed(0).predict(x.view()).unwrap();
    let mut padded = Array3::<f32>::zeros((2, 9, 3));
    padded.slice_mut(s![.., 2..8, ..]).assign(&x);
    let cropped = padded.slice(s![.., 1..8, ..]).to_owned();
    let want = Array3::from_shape_fn((2, 21, 3), |(b, t, c)| cropped[[b, t / 3, c]]);
    assert_eq!(y.shape(), want.shape());
    assert_eq!(
        y.into_raw_vec_and_offset().0,
        want.into_raw_vec_and_offset().0
    );
}

#[test]
fn gradients_flow_through_padding_up_sampling_and_cropping() {
    let x = Array4::from_shape_fn((32, 6, 6, 1), |(b, i, j, _)| {
        ((b * 7 + i * 3 + j) % 11) as f32 / 11.0
    });
    // A target the convolution can learn: the mean of each image.
    let y = x
        .mean_axis(stratic::ndarray::Axis(1))
        .and_then(|m| m.mean_axis(stratic::ndarray::Axis(1)))
        .unwrap()
        .into_shape_with_order((32, 1))
        .unwrap();
    let mut model = Padded::with_seed(1).compile(Adam::new(0.01), Loss::MeanSquaredError);
    let options = FitOptions::default()
        .epochs(30)
        .batch_size(8)
        .seed(1)
        .verbose(0);
    let history = model.fit(x.view(), y.view(), &options).unwrap();
    let loss = history.loss();
    assert!(loss[29] < loss[0] * 0.2, "{loss:?}");
}
