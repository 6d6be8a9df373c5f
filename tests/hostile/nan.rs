//! NaN and infinities: refused by `fit` before the first step (naming the input, row and
//! column), visible in `predict`, and never written into the weights when the check is off.

use stratic::ndarray::s;
use stratic::prelude::*;
use stratic::{Error, RaggedTensor, SparseOptions, SparseTensor};

use super::{data, quiet, same_bits, snapshot, RaggedRepro, Repro, SparseRepro, TwoInputs};

model! {
    /// A finite loss whose gradient overflows: a tiny first kernel times a huge input, a huge
    /// second kernel, and a loss linear in the logit.
    struct Overflow {
        input(shape = [1]) -> dense(1, use_bias = false) -> dense(1, use_bias = false)
    }
}

fn compiled() -> Compiled<Repro, SGD> {
    Repro::with_seed(3).compile(SGD::new(0.05), Loss::mse())
}

// The repro: one NaN among the 128 input values.
fn poisoned() -> (Array2<f32>, Array2<f32>) {
    let (mut x, y) = data();
    x[[20, 2]] = f32::NAN;
    (x, y)
}

#[test]
fn fit_refuses_a_nan_before_the_first_step() {
    let (x, y) = poisoned();
    let mut model = compiled();
    let before = snapshot(model.model());
    let err = model
        .fit(x.view(), y.view(), &quiet().epochs(20))
        .expect_err("a NaN in x");
    let Error::NonFiniteInput {
        input,
        row,
        column,
        value,
    } = &err
    else {
        panic!("expected NonFiniteInput, got {err:?}");
    };
    assert_eq!(
        (input.as_str(), *row, *column),
        (Repro::input_names()[0], 20, 2)
    );
    assert!(value.is_nan());
    assert!(err.to_string().contains("row 20, column 2"), "{err}");
    assert!(
        same_bits(&before, &snapshot(model.model())),
        "weights changed"
    );
}

#[test]
fn with_the_check_off_fit_ends_in_non_finite_loss_and_keeps_the_last_finite_weights() {
    let (x, y) = poisoned();
    let mut model = compiled();
    // Row 20 is in the third batch of 8 (unshuffled): two steps are taken, then the loss is
    // NaN and the step is not applied.
    let err = model
        .fit(x.view(), y.view(), &quiet().epochs(20).check_finite(false))
        .expect_err("a NaN loss");
    assert!(
        matches!(err, Error::NonFiniteLoss { epoch: 0, batch: 2 }),
        "{err:?}"
    );
    let after = snapshot(model.model());
    assert!(after.iter().all(|(_, v)| v.iter().all(|w| w.is_finite())));
    // The same two steps on the clean rows alone give exactly these weights.
    let mut twin = compiled();
    twin.fit(
        x.slice(s![..16, ..]),
        y.slice(s![..16, ..]),
        &quiet().check_finite(false),
    )
    .expect("clean data");
    assert!(same_bits(&after, &snapshot(twin.model())));
    assert!(
        !same_bits(&after, &snapshot(compiled().model())),
        "no step taken"
    );
}

#[test]
fn terminate_on_nan_stops_at_the_nan_with_the_check_off() {
    let (x, y) = poisoned();
    let mut model = compiled();
    let mut stop = TerminateOnNaN;
    let history = model
        .fit_with(x.view(), y.view(), &quiet().epochs(20).check_finite(false))
        .callback(&mut stop)
        .run()
        .expect("TerminateOnNaN stops instead of failing");
    assert_eq!(
        history.stopped,
        Some(StopReason::NonFiniteLoss { epoch: 0, batch: 2 })
    );
    assert!(snapshot(model.model())
        .iter()
        .all(|(_, v)| v.iter().all(|w| w.is_finite())));
}

// Each thing `fit` takes is checked and named: targets, sample weights, validation data, the
// second of two inputs, sparse values.
#[test]
fn every_input_of_fit_is_checked_and_named() {
    let (x, mut y) = data();
    let name_row_col = |e: Error| match e {
        Error::NonFiniteInput {
            input, row, column, ..
        } => (input, row, column),
        other => panic!("expected NonFiniteInput, got {other:?}"),
    };
    y[[7, 0]] = f32::INFINITY;
    let e = compiled().fit(x.view(), y.view(), &quiet()).unwrap_err();
    assert_eq!(name_row_col(e), ("y".to_string(), 7, 0));

    let (x, y) = data();
    let mut w = Array1::<f32>::ones(32);
    w[30] = f32::NAN;
    let e = compiled()
        .fit_with(x.view(), y.view(), &quiet())
        .sample_weight(w.view())
        .run()
        .unwrap_err();
    assert_eq!(name_row_col(e), ("sample_weight".to_string(), 30, 0));

    let (xv, yv) = poisoned();
    let e = compiled()
        .fit_with(x.view(), y.view(), &quiet())
        .validation_data(xv.view(), yv.view())
        .run()
        .unwrap_err();
    let input = format!("validation_data {}", Repro::input_names()[0]);
    assert_eq!(name_row_col(e), (input, 20, 2));

    let q = Array2::<f32>::zeros((5, 3));
    let mut d = Array2::<f32>::zeros((5, 2));
    d[[4, 1]] = f32::NEG_INFINITY;
    let t = Array2::<f32>::zeros((5, 1));
    let e = TwoInputs::with_seed(0)
        .compile(SGD::new(0.1), Loss::mse())
        .fit((q.view(), d.view()), t.view(), &quiet())
        .unwrap_err();
    assert_eq!(name_row_col(e), ("doc".to_string(), 4, 1));

    let words = SparseTensor::from_coo(
        array![[0i64, 1], [3, 4], [5, 0]].view(),
        array![1.0f32, f32::NAN, 2.0].view(),
        &[6, 6],
        SparseOptions::default(),
    )
    .unwrap();
    let mut model = SparseRepro::with_seed(0).compile(SGD::new(0.1), Loss::mse());
    let before = snapshot(model.model());
    let e = model
        .fit(&words, Array2::<f32>::zeros((6, 1)).view(), &quiet())
        .unwrap_err();
    assert_eq!(name_row_col(e), ("words".to_string(), 3, 4));
    assert!(same_bits(&before, &snapshot(model.model())));
    // With the check off, the sparse NaN ends in NonFiniteLoss, weights untouched (one batch).
    let e = model
        .fit(
            &words,
            Array2::<f32>::zeros((6, 1)).view(),
            &quiet().check_finite(false),
        )
        .unwrap_err();
    assert!(
        matches!(e, Error::NonFiniteLoss { epoch: 0, batch: 0 }),
        "{e:?}"
    );
    assert!(same_bits(&before, &snapshot(model.model())));
}

#[test]
fn predict_keeps_nan_visible() {
    let (x, _) = poisoned();
    let model = Repro::with_seed(3);
    // Every batch size: the few-row products (1-12 rows) and the general one.
    for rows in [1, 3, 8, 12, 32] {
        let start = 21 - rows.min(21);
        let xs = x.slice(s![start..start + rows, ..]);
        let out = model.predict(xs).unwrap();
        for (r, v) in out.iter().enumerate() {
            assert_eq!(v.is_nan(), start + r == 20, "{rows} rows, row {r}: {v}");
        }
    }
    let words = SparseTensor::from_coo(
        array![[1i64, 2]].view(),
        array![f32::NAN].view(),
        &[3, 6],
        SparseOptions::default(),
    )
    .unwrap();
    let out = SparseRepro::with_seed(0).predict(&words).unwrap();
    let nan: Vec<bool> = out.iter().map(|v| v.is_nan()).collect();
    assert_eq!(nan, vec![false, true, false]);
}

// A finite loss (about 3e38, linear in the logit) whose gradient overflows in backward: the
// update must not be applied.
#[test]
fn a_non_finite_gradient_never_reaches_the_weights() {
    let mut model = Overflow::with_seed(0).compile(
        SGD::new(0.1),
        Loss::BinaryCrossentropy {
            from_logits: true,
            label_smoothing: 0.0,
        },
    );
    let m = model.model_mut();
    m.set_weight("dense/kernel", array![[1e-30f32]].into_dyn().view())
        .unwrap();
    m.set_weight("dense_1/kernel", array![[3e38f32]].into_dyn().view())
        .unwrap();
    let before = snapshot(model.model());
    let (x, y) = (array![[1e30f32]], array![[0.0f32]]);
    let err = model.train_on_batch(x.view(), y.view()).unwrap_err();
    assert!(
        matches!(&err, Error::NonFiniteGradient { weight, .. } if weight == "dense/kernel"),
        "{err:?}"
    );
    assert!(same_bits(&before, &snapshot(model.model())));
    let err = model
        .fit(x.view(), y.view(), &quiet().epochs(3))
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::NonFiniteGradient {
                epoch: 0,
                batch: 0,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(same_bits(&before, &snapshot(model.model())));
}

// A ragged input's values are checked too: row 2 holds values 3..5 (2-vectors), so the NaN
// at flat element 7 is row 2, position 1 of its elements.
#[test]
fn ragged_values_are_checked_and_predict_keeps_their_nan() {
    let mut values = vec![0.5f32; 10];
    values[7] = f32::NAN;
    let x = RaggedTensor::from_parts(values, &[2], &[[0usize, 2, 3, 5]]).unwrap();
    let y = Array2::<f32>::zeros((3, 1));
    let mut model = RaggedRepro::with_seed(4).compile(SGD::new(0.1), Loss::mse());
    let before = snapshot(model.model());
    match model.fit(&x, y.view(), &quiet()).unwrap_err() {
        Error::NonFiniteInput {
            input, row, column, ..
        } => assert_eq!((input.as_str(), row, column), ("readings", 2, 1)),
        other => panic!("expected NonFiniteInput, got {other:?}"),
    }
    assert!(same_bits(&before, &snapshot(model.model())));
    let out = model.predict(&x).unwrap();
    let nan: Vec<bool> = out.iter().map(|v| v.is_nan()).collect();
    assert_eq!(nan, vec![false, false, true]);
}
