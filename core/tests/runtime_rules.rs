//! The runtime's rules: every misuse is a typed `Error` naming what was expected and received.

mod common;

use common::{Mlp, Regressor};
use ndarray::{array, Array1, Array2, Array3, ArrayD, IxDyn};
use stratic_core::{Adam, Error, FitOptions, Loss, Model, RMSprop, SGD};

fn data(n: usize) -> (Array2<f32>, Array2<f32>) {
    let x = Array2::from_shape_fn((n, 4), |(i, j)| ((i * 7 + j * 3) % 11) as f32 / 11.0 - 0.5);
    let y = Array2::from_shape_fn((n, 2), |(i, j)| ((i + 2 * j) % 5) as f32 / 5.0);
    (x, y)
}

fn quiet() -> FitOptions {
    FitOptions::default().verbose(0).shuffle(false)
}

#[test]
fn wrong_input_shape_names_input_expected_and_actual() {
    let model = Mlp::with_seed(1);
    let x = Array2::<f32>::zeros((3, 5));
    match model.predict(x.view()) {
        Err(Error::InputShape {
            input,
            expected,
            actual,
            message,
        }) => {
            assert_eq!(input, "input");
            assert_eq!(expected, "(None, 4)");
            assert_eq!(actual, vec![3, 5]);
            assert!(message.contains("axis 1"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let mut c = model.compile(SGD::default(), Loss::mse());
    let y = Array2::<f32>::zeros((3, 2));
    assert!(matches!(
        c.fit(x.view(), y.view(), &quiet()),
        Err(Error::InputShape { .. })
    ));
}

#[test]
fn wrong_target_shape_and_sample_count() {
    let (x, _) = data(12);
    let mut c = Mlp::with_seed(1).compile(SGD::default(), Loss::mse());
    let y = Array2::<f32>::zeros((12, 3));
    match c.fit(x.view(), y.view(), &quiet()) {
        Err(Error::TargetShape {
            expected, actual, ..
        }) => {
            assert_eq!(expected, "(12, 2)");
            assert_eq!(actual, vec![12, 3]);
        }
        other => panic!("{other:?}"),
    }
    let y = Array3::<f32>::zeros((12, 2, 1));
    assert!(matches!(
        c.fit(x.view(), y.view(), &quiet()),
        Err(Error::TargetShape { .. })
    ));
    let y = Array2::<f32>::zeros((11, 2));
    assert_eq!(
        c.fit(x.view(), y.view(), &quiet()).unwrap_err(),
        Error::SampleCount {
            inputs: 12,
            targets: 11
        }
    );
    assert!(matches!(
        c.evaluate(x.view(), y.view(), 4),
        Err(Error::SampleCount { .. })
    ));
}

#[test]
fn invalid_arguments() {
    let (x, y) = data(4);
    let mut c = Mlp::with_seed(1).compile(SGD::default(), Loss::mse());
    match c.fit(x.view(), y.view(), &quiet().batch_size(0)) {
        Err(Error::InvalidArgument { name, .. }) => assert_eq!(name, "batch_size"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        c.evaluate(x.view(), y.view(), 0),
        Err(Error::InvalidArgument {
            name: "batch_size",
            ..
        })
    ));
    let mut c = Mlp::with_seed(1).compile(SGD::new(0.1).momentum(2.0), Loss::mse());
    assert!(matches!(
        c.fit(x.view(), y.view(), &quiet()),
        Err(Error::InvalidArgument {
            name: "momentum",
            ..
        })
    ));
}

#[test]
fn sparse_labels_are_validated_and_accepted_with_or_without_trailing_axis() {
    let (x, _) = data(6);
    let loss = Loss::SparseCategoricalCrossentropy { from_logits: true };
    let labels = array![0u8, 1, 1, 0, 1, 0];
    let mut a = Mlp::with_seed(3).compile(SGD::new(0.1), loss);
    let mut b = Mlp::with_seed(3).compile(SGD::new(0.1), loss);
    let ha = a.fit(x.view(), labels.view(), &quiet().epochs(2)).unwrap();
    let column = labels.mapv(|v| v as i64).insert_axis(ndarray::Axis(1));
    let hb = b.fit(x.view(), column.view(), &quiet().epochs(2)).unwrap();
    assert_eq!(ha, hb);
    assert!(ha.loss()[1] < ha.loss()[0]);
    for bad in [
        array![0.0f32, 1.0, 2.0, 0.0, 1.0, 0.0],
        array![0.0, 1.0, 0.5, 0.0, 1.0, 0.0],
    ] {
        match a.fit(x.view(), bad.view(), &quiet()) {
            Err(Error::TargetShape { message, .. }) => {
                assert!(message.contains("class ids in [0, 2)"), "{message}");
                assert!(message.contains("row 2"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
    // One-hot targets are not class ids.
    let onehot = Array2::<f32>::zeros((6, 2));
    assert!(matches!(
        a.fit(x.view(), onehot.view(), &quiet()),
        Err(Error::TargetShape { .. })
    ));
}

#[test]
fn weights_by_key() {
    let mut model = Mlp::with_seed(1);
    let keys: Vec<String> = model.weights().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        [
            "dense/kernel",
            "dense/bias",
            "dense_1/kernel",
            "dense_1/bias"
        ]
    );
    let bias = Array1::from(vec![0.5f32, -0.5]).into_dyn();
    model.set_weight("dense_1/bias", bias.view()).unwrap();
    assert_eq!(model.weights()[3].1, bias);
    match model.set_weight("dense_2/bias", bias.view()) {
        Err(Error::Weight { key, message }) => {
            assert_eq!(key, "dense_2/bias");
            assert!(message.contains("dense_1/bias"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    match model.set_weight("dense/kernel", ArrayD::zeros(IxDyn(&[5, 4])).view()) {
        Err(Error::Weight { key, message }) => {
            assert_eq!(key, "dense/kernel");
            assert!(message.contains("[4, 5]"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn non_finite_loss_names_epoch_and_batch() {
    let (mut x, y) = data(12);
    x[[5, 2]] = f32::NAN;
    let mut c = Mlp::with_seed(1).compile(Adam::default(), Loss::mse());
    // Refused before training by default; a model without input names is named by position.
    assert!(matches!(
        c.fit(x.view(), y.view(), &quiet().batch_size(4)),
        Err(Error::NonFiniteInput { ref input, row: 5, column: 2, .. }) if input == "input 0"
    ));
    assert_eq!(
        c.fit(
            x.view(),
            y.view(),
            &quiet().batch_size(4).check_finite(false)
        )
        .unwrap_err(),
        Error::NonFiniteLoss { epoch: 0, batch: 1 }
    );
}

#[test]
fn integer_and_f64_targets_train_like_f32() {
    let (x, _) = data(10);
    let y = Array2::from_shape_fn((10, 8), |(i, j)| ((i + j) % 3) as i32);
    let run = |h: &dyn Fn(&mut stratic_core::Compiled<Regressor, RMSprop>) -> Vec<f32>| {
        let mut c = Regressor::with_seed(4).compile(RMSprop::default(), Loss::mse());
        h(&mut c)
    };
    let opts = quiet().epochs(2).batch_size(3);
    let a = run(&|c| c.fit(x.view(), y.view(), &opts).unwrap().loss().to_vec());
    let yf = y.mapv(|v| v as f64);
    let b = run(&|c| c.fit(x.view(), yf.view(), &opts).unwrap().loss().to_vec());
    let yu = y.mapv(|v| v as usize);
    let d = run(&|c| c.fit(x.view(), yu.view(), &opts).unwrap().loss().to_vec());
    assert_eq!(a, b);
    assert_eq!(a, d);
}

#[test]
fn epoch_loss_is_the_sample_weighted_mean_of_batch_losses() {
    // With a zero learning rate the weights never move, so every batch loss is the loss of
    // fixed predictions and the epoch loss must equal the loss over the whole data set, even
    // with a smaller last batch (10 = 4 + 4 + 2).
    let (x, _) = data(10);
    let y = Array2::from_shape_fn((10, 8), |(i, j)| (i * j) as f32 / 20.0);
    let mut c = Regressor::with_seed(2).compile(SGD::new(0.0), Loss::mse());
    let h = c
        .fit(x.view(), y.view(), &quiet().batch_size(4).epochs(2))
        .unwrap();
    let pred = c.predict(x.view()).unwrap();
    let whole = Loss::mse().value(pred.view(), y.view()).unwrap();
    for l in h.loss() {
        assert!(
            (l - whole).abs() <= 1e-6 * whole.abs().max(1.0),
            "{l} vs {whole}"
        );
    }
    let e = c.evaluate(x.view(), y.view(), 3).unwrap().loss;
    assert!((e - whole).abs() <= 1e-6 * whole.abs().max(1.0));
}

#[test]
fn seeded_shuffle_is_reproducible() {
    let (x, y) = data(12);
    let fit = |opts: FitOptions| {
        let mut c = Mlp::with_seed(5).compile(SGD::new(0.1), Loss::mse());
        let h = c.fit(x.view(), y.view(), &opts).unwrap();
        (h, c.into_model().weights())
    };
    let base = FitOptions::default().verbose(0).batch_size(4).epochs(2);
    let a = fit(base.clone().seed(9));
    let b = fit(base.clone().seed(9));
    let c = fit(base.clone().seed(10));
    let d = fit(base.clone().shuffle(false));
    assert_eq!(a, b);
    assert_ne!(a.1, c.1);
    assert_ne!(a.1, d.1);
}

#[test]
fn verbose_lines_follow_keras() {
    let (x, y) = data(10);
    let mut c = Mlp::with_seed(1).compile(SGD::default(), Loss::mse());
    let mut out = Vec::new();
    let h = c
        .fit_with_output(
            x.view(),
            y.view(),
            &FitOptions::default().epochs(2).batch_size(4),
            &mut out,
        )
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(lines[0], "Epoch 1/2");
    assert_eq!(lines[2], "Epoch 2/2");
    let loss = format!("- loss: {:.4}", h.loss()[1]);
    assert!(lines[3].starts_with("3/3 ━━━━━━━━━━━━━━━━━━━━ "), "{text}");
    assert!(lines[3].ends_with(&loss), "{text}");
    let mut out = Vec::new();
    c.fit_with_output(
        x.view(),
        y.view(),
        &FitOptions::default().verbose(2),
        &mut out,
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.starts_with("1/1 - "), "{text}");
    let mut out = Vec::new();
    c.fit_with_output(
        x.view(),
        y.view(),
        &FitOptions::default().verbose(0),
        &mut out,
    )
    .unwrap();
    assert!(out.is_empty());
    assert!(matches!(
        c.fit(x.view(), y.view(), &FitOptions::default().verbose(3)),
        Err(Error::InvalidArgument {
            name: "verbose",
            ..
        })
    ));
}

#[test]
fn rank_one_targets_need_a_single_output() {
    // Keras expands (n,) targets only against (n, 1) predictions; this model has 2 outputs.
    let (x, _) = data(4);
    let mut c = Mlp::with_seed(1).compile(SGD::default(), Loss::mse());
    let y = Array1::<f32>::zeros(4);
    assert!(matches!(
        c.fit(x.view(), y.view(), &quiet()),
        Err(Error::TargetShape { .. })
    ));
}
