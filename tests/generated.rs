//! What `model!` generates, seen from a user: construction, naming, predict and its runtime
//! shape check, fixed-size array input, constant inputs, rank-3 inputs, and training.

use stratic::ndarray::{Array3, ArrayView3, Axis};
use stratic::prelude::*;
use stratic::Error;

model! {
    /// The seed model.
    pub struct Regressor {
        input(shape = [4]) -> dense(8)
    }

    /// Named layers and a named input.
    struct Named {
        input(shape = [3], name = "features")
            -> dense(4, activation = relu, name = "hidden")
            -> dense(2)
            -> activation(softmax)
    }

    /// Dense on a rank-3 input acts on the last axis.
    struct Sequence {
        input(shape = [3, 4]) -> dense(2, use_bias = false)
    }
}

const TABLE: [[f32; 4]; 2] = [[1.0, 0.0, -1.0, 2.0], [0.5, 0.5, 0.5, 0.5]];

model! {
    /// A constant input.
    struct Constant {
        input(shape = [4], input_tensor = TABLE) -> dense(3)
    }
}

#[test]
fn with_seed_is_reproducible_and_new_is_keras_default_init() {
    let a = Regressor::with_seed(42).weights();
    let b = Regressor::with_seed(42).weights();
    let c = Regressor::with_seed(43).weights();
    assert_eq!(a, b);
    assert_ne!(a, c);
    let weights = Regressor::new().weights();
    let keys: Vec<&str> = weights.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["dense/kernel", "dense/bias"]);
    // glorot_uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out)); zero bias.
    let limit = (6.0f32 / (4.0 + 8.0)).sqrt();
    let kernel = &weights[0].1;
    assert_eq!(kernel.shape(), [4, 8]);
    assert!(kernel.iter().all(|v| v.abs() <= limit));
    assert!(kernel.iter().any(|v| *v != 0.0));
    assert!(weights[1].1.iter().all(|v| *v == 0.0));
}

#[test]
fn fields_are_named_as_keras_names_layers() {
    let m = Named::with_seed(1);
    assert_eq!(m.hidden.kernel().dim(), (3, 4));
    assert_eq!(m.dense.kernel().dim(), (4, 2));
    let keys: Vec<String> = m.weights().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        ["hidden/kernel", "hidden/bias", "dense/kernel", "dense/bias"]
    );
}

#[test]
fn predict_checks_the_shape_and_names_the_input() {
    let m = Named::with_seed(1);
    let err = m.predict(Array2::<f32>::zeros((5, 4)).view()).unwrap_err();
    match &err {
        Error::InputShape {
            input,
            expected,
            actual,
            ..
        } => {
            assert_eq!(input, "features");
            assert_eq!(expected, "(None, 3)");
            assert_eq!(actual, &vec![5, 4]);
        }
        other => panic!("expected InputShape, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("features") && text.contains("(None, 3)"),
        "{text}"
    );
    let y = m.predict(Array2::<f32>::ones((5, 3)).view()).unwrap();
    assert_eq!(y.dim(), (5, 2));
    for row in y.axis_iter(Axis(0)) {
        assert!((row.sum() - 1.0).abs() < 1e-6, "softmax rows sum to one");
    }
}

#[test]
fn predict_array_equals_predict() {
    let m = Regressor::with_seed(3);
    let rows = [[1.0f32, 2.0, 3.0, 4.0], [-1.0, 0.5, 0.0, 2.0]];
    let a = m.predict_array(&rows).unwrap();
    let b = m.predict(stratic::ndarray::aview2(&rows)).unwrap();
    assert_eq!(stratic::ndarray::aview2(&a), b);
}

#[test]
fn constant_input() {
    let m = Constant::with_seed(5);
    let x = Constant::input_tensor();
    assert_eq!(x, stratic::ndarray::aview2(&TABLE));
    assert_eq!(
        m.predict_input_tensor().unwrap(),
        m.predict(x.view()).unwrap()
    );
}

#[test]
fn dense_on_rank_3_applies_to_the_last_axis() {
    let m = Sequence::with_seed(9);
    let x = Array3::<f32>::from_shape_fn((2, 3, 4), |(i, j, k)| (i * 12 + j * 4 + k) as f32 / 10.0);
    let y: Array3<f32> = m.predict(x.view()).unwrap();
    assert_eq!(y.dim(), (2, 3, 2));
    let kernel = m.dense.kernel();
    for i in 0..2 {
        let expected = x.index_axis(Axis(0), i).dot(&kernel);
        let got = y.index_axis(Axis(0), i);
        for (a, b) in got.iter().zip(expected.iter()) {
            assert!((a - b).abs() < 1e-5);
        }
    }
    let _: fn(&Sequence, ArrayView3<f32>) -> Result<Array3<f32>, Error> = |m, x| m.predict(x);
}

#[test]
fn fit_reduces_the_loss_and_validates_targets() {
    let x = Array2::from_shape_fn((64, 4), |(i, j)| ((i * 7 + j * 3) % 11) as f32 / 11.0);
    let y = x.map_axis(Axis(1), |r| r.sum()).insert_axis(Axis(1));
    let y = stratic::ndarray::concatenate(Axis(1), &[y.view(); 8]).unwrap();
    let mut model = Regressor::with_seed(11).compile(Adam::new(0.01), Loss::mse());
    let options = FitOptions::default()
        .epochs(30)
        .batch_size(16)
        .seed(1)
        .verbose(0);
    let history = model.fit(x.view(), y.view(), &options).unwrap();
    let loss = history.loss();
    assert_eq!(loss.len(), 30);
    assert!(loss[29] < loss[0] * 0.1, "{loss:?}");
    let evaluated = model.evaluate(x.view(), y.view(), 32).unwrap().loss;
    assert!(evaluated < loss[0]);

    let bad_y = Array2::<f32>::zeros((64, 7));
    assert!(matches!(
        model.fit(x.view(), bad_y.view(), &options),
        Err(Error::TargetShape { .. })
    ));
    let short_y = Array2::<f32>::zeros((63, 8));
    assert!(matches!(
        model.fit(x.view(), short_y.view(), &options),
        Err(Error::SampleCount { .. })
    ));
    assert!(matches!(
        model.fit(x.view(), y.view(), &FitOptions::default().batch_size(0)),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn train_on_batch_is_one_fit_step() {
    let x = Array2::from_shape_fn((10, 4), |(i, j)| (i as f32 - j as f32) / 7.0);
    let y = Array2::from_shape_fn((10, 8), |(i, j)| ((i + j) % 3) as f32);
    let mut stepped = Regressor::with_seed(5).compile(RMSprop::new(0.01), Loss::mse());
    let mut fitted = Regressor::with_seed(5).compile(RMSprop::new(0.01), Loss::mse());
    let first = stepped.train_on_batch(x.view(), y.view()).unwrap();
    let history = fitted
        .fit(
            x.view(),
            y.view(),
            &FitOptions::default()
                .batch_size(10)
                .shuffle(false)
                .verbose(0),
        )
        .unwrap();
    assert_eq!(first, history.loss()[0]);
    assert_eq!(stepped.model().weights(), fitted.model().weights());
    let second = stepped.train_on_batch(x.view(), y.view()).unwrap();
    assert!(second < first);
    // Targets given as (rows, 8) of another element type take the same path.
    let yi = y.mapv(|v| v as i32);
    assert!(stepped.train_on_batch(x.view(), yi.view()).is_ok());
    assert!(matches!(
        stepped.train_on_batch(x.view(), Array2::<f32>::zeros((10, 3)).view()),
        Err(Error::TargetShape { .. })
    ));
}
