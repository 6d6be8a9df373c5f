//! Recurrent layers end to end through `model!`: Keras' saved LSTM text model loads and
//! reproduces Keras' outputs, and LSTM, GRU and SimpleRNN models train on dense sequences and
//! on ragged token rows, each row at its own length.

use std::path::{Path, PathBuf};

use stratic::ndarray::{Array2, Array3};
use stratic::prelude::*;
use stratic::RaggedTensor;

model! {
    /// keras-files-layers/lstm_text.json's model, declared as its `dsl`: dense int ids.
    struct LstmText {
        input(shape = [7], dtype = i32) -> embedding(20, 5) -> lstm(4) -> dense(1, activation = sigmoid)
    }

    /// The same model on ragged rows: rows of 7 ids each are the same sequences.
    struct LstmTextRagged {
        input(shape = [None], ragged = true, dtype = i32)
            -> embedding(20, 5)
            -> lstm(4)
            -> dense(1, activation = sigmoid)
    }

    /// Token rows of any length, embedded, read by an LSTM, classified.
    struct RaggedText {
        input(shape = [None], ragged = true, dtype = i32)
            -> embedding(12, 6)
            -> lstm(8)
            -> dense(1, activation = sigmoid)
    }

    /// Keras' dropout of the inputs and of the state, active in training only.
    struct Dropping {
        input(shape = [None], ragged = true, dtype = i32)
            -> embedding(12, 6)
            -> lstm(8, dropout = 0.2, recurrent_dropout = 0.2, seed = 3)
            -> dense(1, activation = sigmoid)
    }

    /// `return_sequences` on ragged rows gives ragged states, pooled over each row.
    struct RaggedStates {
        input(shape = [None], ragged = true, dtype = i32)
            -> embedding(12, 6)
            -> gru(8, return_sequences = true)
            -> global_max_pooling_1d()
            -> dense(1, activation = sigmoid)
    }

    /// Both directions over ragged rows, each row reversed at its own length, pooled.
    struct BiRagged {
        input(shape = [None], ragged = true, dtype = i32)
            -> embedding(12, 6)
            -> bidirectional(gru(6, return_sequences = true))
            -> global_max_pooling_1d()
            -> dense(1, activation = sigmoid)
    }

    /// Both directions over dense sequences, averaged.
    struct BiDense {
        input(shape = [6, 2])
            -> bidirectional(lstm(5), merge_mode = ave)
            -> dense(1)
    }

    /// Keras' v1 GRU: the reset gate before the candidate's product, one bias.
    struct GruV1 {
        input(shape = [6, 2])
            -> gru(5, reset_after = false)
            -> dense(1)
    }

    /// Dense sequences through two stacked recurrent layers.
    struct Stacked {
        input(shape = [6, 2])
            -> gru(5, return_sequences = true, go_backwards = true)
            -> simple_rnn(3)
            -> dense(1)
    }
}

fn file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keras-files-layers")
        .join(name)
}

/// The fixture's inputs (4 rows of 7 ids) and Keras' outputs.
fn lstm_text_case() -> (Array2<i32>, Array2<f32>) {
    let text = std::fs::read_to_string(file("lstm_text.json")).expect("fixture");
    let j: serde_json::Value = serde_json::from_str(&text).expect("json");
    let rows: Vec<Vec<i32>> = serde_json::from_value(j["inputs"][0].clone()).expect("inputs");
    let out: Vec<Vec<f32>> = serde_json::from_value(j["outputs"][0].clone()).expect("outputs");
    let x = Array2::from_shape_vec((rows.len(), 7), rows.concat()).expect("x");
    let y = Array2::from_shape_vec((out.len(), 1), out.concat()).expect("y");
    (x, y)
}

fn assert_close(got: &Array2<f32>, want: &Array2<f32>, tol: f32) {
    assert_eq!(got.dim(), want.dim());
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol, "got {got}, want {want}");
    }
}

#[test]
fn keras_lstm_text_model_loads_and_reproduces_keras_outputs() {
    let (x, want) = lstm_text_case();
    // Both loaders: the .keras file (its architecture compared first) and the weights file.
    for keras_file in [true, false] {
        let mut model = LstmText::with_seed(1);
        let loaded = if keras_file {
            model.load_keras(file("lstm_text.keras"))
        } else {
            model.load_keras_weights(file("lstm_text.weights.h5"))
        };
        loaded.expect("loads");
        let got = model.predict(x.view()).expect("predict");
        assert_close(&got, &want, 1e-5);
    }
    let mut model = LstmText::with_seed(1);
    model
        .load_keras(file("lstm_text.keras"))
        .expect("load_keras");
    let names: Vec<String> = model.weights().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        names[1..4],
        [
            "lstm/lstm_cell/kernel",
            "lstm/lstm_cell/recurrent_kernel",
            "lstm/lstm_cell/bias"
        ]
    );
}

/// Ragged rows of the same 7 ids give the same outputs as the dense matrix.
#[test]
fn ragged_rows_of_the_fixture_give_keras_outputs_too() {
    let (x, want) = lstm_text_case();
    let rows: Vec<Vec<i32>> = x.rows().into_iter().map(|r| r.to_vec()).collect();
    let ragged = RaggedTensor::from_rows(&rows).expect("rows");
    let mut model = LstmTextRagged::with_seed(1);
    model
        .load_keras_weights(file("lstm_text.weights.h5"))
        .expect("load_keras_weights");
    assert_close(&model.predict(&ragged).expect("predict"), &want, 1e-5);
}

#[test]
fn summary_counts_keras_parameters() {
    let dense = LstmText::with_seed(0).summary().to_string();
    let ragged = LstmTextRagged::with_seed(0).summary().to_string();
    // LSTM(4) on 5 features: 4 · (5 + 4 + 1) · 4 = 160, as Keras' summary says.
    for (text, steps) in [(dense, "(None, 7, 5)"), (ragged, "(None, None, 5)")] {
        for row in [steps, "(None, 4)", "160", "Total params: 265"] {
            assert!(text.contains(row), "{row} missing from\n{text}");
        }
    }
}

/// Rows whose label is whether token 1 occurs in them, of lengths 1 to 9.
fn token_rows(n: usize) -> (RaggedTensor<i32>, Array2<f32>) {
    let mut rng = stratic_core::Rng::new(4);
    let mut rows = Vec::new();
    let mut y = Vec::new();
    for _ in 0..n {
        let len = 1 + rng.below(9);
        let row: Vec<i32> = (0..len).map(|_| 2 + rng.below(10) as i32).collect();
        let mut row = row;
        let positive = rng.below(2) == 1;
        if positive {
            let at = rng.below(len);
            row[at] = 1;
        }
        y.push(if positive { 1.0 } else { 0.0 });
        rows.push(row);
    }
    let x = RaggedTensor::from_rows(&rows).expect("rows");
    (x, Array2::from_shape_vec((n, 1), y).expect("y"))
}

#[test]
fn an_lstm_learns_over_ragged_rows() {
    let (x, y) = token_rows(256);
    let mut model = RaggedText::with_seed(3).compile(Adam::new(0.02), Loss::binary_crossentropy());
    let options = FitOptions::default().epochs(15).batch_size(32).verbose(0);
    let history = model.fit(&x, y.view(), &options).expect("fit");
    let loss = history.loss();
    assert!(
        loss[loss.len() - 1] < 0.5 * loss[0],
        "the loss fell too little: {loss:?}"
    );
    let p = model.predict(&x).expect("predict");
    let correct = p
        .iter()
        .zip(&y)
        .filter(|(p, y)| (**p > 0.5) == (**y > 0.5))
        .count();
    assert!(correct as f64 / 256.0 > 0.9, "accuracy {correct}/256");
}

#[test]
fn ragged_states_pool_over_each_row_and_train() {
    let (x, y) = token_rows(256);
    let mut model =
        RaggedStates::with_seed(5).compile(Adam::new(0.02), Loss::binary_crossentropy());
    let options = FitOptions::default().epochs(10).batch_size(32).verbose(0);
    let history = model.fit(&x, y.view(), &options).expect("fit");
    let loss = history.loss();
    assert!(loss[loss.len() - 1] < 0.5 * loss[0], "{loss:?}");
    // A row's prediction does not depend on the other rows of its batch (no padding).
    let p = model.model().predict(&x).expect("predict");
    let first = RaggedTensor::from_rows(&[x.row(0).expect("row 0").to_vec()]).expect("row");
    let alone = model.model().predict(&first).expect("predict");
    assert!((p[[0, 0]] - alone[[0, 0]]).abs() < 1e-6);
}

#[test]
fn dropout_trains_and_inference_repeats() {
    let (x, y) = token_rows(256);
    let mut model = Dropping::with_seed(3).compile(Adam::new(0.02), Loss::binary_crossentropy());
    let options = FitOptions::default().epochs(15).batch_size(32).verbose(0);
    let history = model.fit(&x, y.view(), &options).expect("fit");
    let loss = history.loss();
    assert!(loss[loss.len() - 1] < 0.6 * loss[0], "{loss:?}");
    let a = model.model().predict(&x).expect("predict");
    let b = model.model().predict(&x).expect("predict");
    assert_eq!(a, b, "no dropout in inference");
}

#[test]
fn stacked_recurrent_layers_train_on_dense_sequences() {
    // The target is the sum of the first feature over the steps.
    let mut rng = stratic_core::Rng::new(8);
    let x = Array3::from_shape_fn((64, 6, 2), |_| rng.uniform(-1.0, 1.0));
    let y = Array2::from_shape_fn((64, 1), |(b, _)| {
        (0..6).map(|t| x[[b, t, 0]]).sum::<f32>() / 3.0
    });
    let mut model = Stacked::with_seed(2).compile(Adam::new(0.01), Loss::mse());
    let options = FitOptions::default().epochs(30).batch_size(16).verbose(0);
    let history = model.fit(x.view(), y.view(), &options).expect("fit");
    let loss = history.loss();
    assert!(loss[loss.len() - 1] < 0.3 * loss[0], "{loss:?}");
    // A wrong number of steps is a typed error naming the expected shape.
    let bad = Array3::<f32>::zeros((2, 5, 2));
    let err = model.model().predict(bad.view()).unwrap_err().to_string();
    assert!(err.contains("6"), "{err}");
}

#[test]
fn a_bidirectional_gru_trains_over_ragged_rows_without_padding() {
    let (x, y) = token_rows(256);
    let mut model = BiRagged::with_seed(5).compile(Adam::new(0.02), Loss::binary_crossentropy());
    let options = FitOptions::default().epochs(10).batch_size(32).verbose(0);
    let history = model.fit(&x, y.view(), &options).expect("fit");
    let loss = history.loss();
    assert!(loss[loss.len() - 1] < 0.5 * loss[0], "{loss:?}");
    // The backward copy reads each row from its own end: alone or in a batch, the same.
    let p = model.model().predict(&x).expect("predict");
    for i in [0, 1, 7] {
        let row = RaggedTensor::from_rows(&[x.row(i).expect("row").to_vec()]).expect("row");
        let alone = model.model().predict(&row).expect("predict");
        assert!((p[[i, 0]] - alone[[0, 0]]).abs() < 1e-6, "row {i}");
    }
}

#[test]
fn a_bidirectional_lstm_trains_on_dense_sequences_and_counts_keras_parameters() {
    let text = BiDense::with_seed(0).summary().to_string();
    // Two LSTM(5) on 2 features: 2 · 4 · 5 · (2 + 5 + 1) = 320; `ave` keeps 5 units.
    for row in ["Bidirectional", "(None, 5)", "320"] {
        assert!(text.contains(row), "{row} missing from\n{text}");
    }
    // The target depends on the last steps as much as on the first.
    let mut rng = stratic_core::Rng::new(8);
    let x = Array3::from_shape_fn((64, 6, 2), |_| rng.uniform(-1.0, 1.0));
    let y = Array2::from_shape_fn((64, 1), |(b, _)| x[[b, 0, 0]] - x[[b, 5, 1]]);
    let mut model = BiDense::with_seed(2).compile(Adam::new(0.01), Loss::mse());
    let options = FitOptions::default().epochs(30).batch_size(16).verbose(0);
    let history = model.fit(x.view(), y.view(), &options).expect("fit");
    let loss = history.loss();
    assert!(loss[loss.len() - 1] < 0.3 * loss[0], "{loss:?}");
}

/// Rows of 7 ids, labelled by whether token 1 occurs in them.
fn dense_token_rows(n: usize) -> (Array2<i32>, Array2<f32>) {
    let mut rng = stratic_core::Rng::new(6);
    let mut x = Array2::from_shape_fn((n, 7), |_| 2 + rng.below(18) as i32);
    let mut y = Array2::zeros((n, 1));
    for (i, mut row) in x.rows_mut().into_iter().enumerate() {
        if rng.below(2) == 1 {
            row[rng.below(7)] = 1;
            y[[i, 0]] = 1.0;
        }
    }
    (x, y)
}

/// A training step on dense ids moves every weight exactly as the same step on ragged rows
/// of the same ids (the ragged path being the one checked by finite differences).
#[test]
fn a_step_on_dense_ids_is_the_step_on_the_same_ragged_rows() {
    let (x, y) = dense_token_rows(8);
    let rows: Vec<Vec<i32>> = x.rows().into_iter().map(|r| r.to_vec()).collect();
    let ragged = RaggedTensor::from_rows(&rows).expect("rows");
    let mut dense = LstmText::with_seed(9).compile(SGD::new(0.5), Loss::binary_crossentropy());
    let mut by_rows =
        LstmTextRagged::with_seed(9).compile(SGD::new(0.5), Loss::binary_crossentropy());
    assert_eq!(dense.model().weights(), by_rows.model().weights());
    let before = dense.model().weights();
    dense
        .train_on_batch(x.view(), y.view())
        .expect("dense step");
    by_rows
        .train_on_batch(&ragged, y.view())
        .expect("ragged step");
    let (a, b) = (dense.model().weights(), by_rows.model().weights());
    for (((key, w), (_, v)), (_, w0)) in a.iter().zip(&b).zip(&before) {
        assert_ne!(w, w0, "{key} did not move");
        for (p, q) in w.iter().zip(v) {
            assert!((p - q).abs() <= 1e-6, "{key}: {p} vs {q}");
        }
    }
}

#[test]
fn an_lstm_learns_over_dense_ids_in_batches() {
    let (x, y) = dense_token_rows(256);
    let mut model = LstmText::with_seed(3).compile(Adam::new(0.02), Loss::binary_crossentropy());
    // Batches of 32 of 256 shuffled samples: `fit` gathers the id rows.
    let options = FitOptions::default().epochs(15).batch_size(32).verbose(0);
    let history = model.fit(x.view(), y.view(), &options).expect("fit");
    let loss = history.loss();
    assert!(loss[loss.len() - 1] < 0.5 * loss[0], "{loss:?}");
    let eval = model.evaluate(x.view(), y.view(), 64).expect("evaluate");
    assert!(
        (eval.loss - loss[loss.len() - 1]).abs() < 0.1,
        "{eval:?} vs {loss:?}"
    );
    let p = model.model().predict(x.view()).expect("predict");
    let correct = p
        .iter()
        .zip(&y)
        .filter(|(p, y)| (**p > 0.5) == (**y > 0.5))
        .count();
    assert!(correct as f64 / 256.0 > 0.9, "accuracy {correct}/256");
}

#[test]
fn dense_ids_are_checked_for_shape_and_range_before_any_work() {
    let model = LstmText::with_seed(0);
    let short = Array2::<i32>::zeros((2, 6));
    match model.predict(short.view()) {
        Err(stratic::Error::InputShape {
            input,
            expected,
            actual,
            ..
        }) => {
            assert_eq!(input, "input_layer");
            assert_eq!(expected, "(None, 7)");
            assert_eq!(actual, vec![2, 6]);
        }
        other => panic!("expected InputShape, got {other:?}"),
    }
    let mut bad = Array2::<i32>::ones((3, 7));
    bad[[2, 4]] = 20;
    match model.predict(bad.view()) {
        Err(stratic::Error::IdOutOfRange {
            layer,
            id,
            position,
            input_dim,
        }) => {
            assert_eq!((layer.as_str(), id, input_dim), ("embedding", 20, 20));
            assert_eq!(position, vec![2, 4]);
        }
        other => panic!("expected IdOutOfRange, got {other:?}"),
    }
    bad[[2, 4]] = -1;
    assert!(model.predict(bad.view()).is_err());
}

#[test]
fn a_gru_without_reset_after_counts_keras_parameters_and_trains() {
    let text = GruV1::with_seed(0).summary().to_string();
    // GRU(5, reset_after=False) on 2 features: 3 · (2 · 5 + 5 · 5 + 5) = 120 (135 with
    // reset_after's second bias), as Keras' summary says.
    for row in ["(None, 5)", "120", "Total params: 126"] {
        assert!(text.contains(row), "{row} missing from\n{text}");
    }
    let weights = GruV1::with_seed(0).weights();
    let bias = weights
        .iter()
        .find(|(k, _)| k.ends_with("gru_cell/bias"))
        .expect("a bias");
    assert_eq!(bias.1.shape(), &[15]);
    let mut rng = stratic_core::Rng::new(8);
    let x = Array3::from_shape_fn((64, 6, 2), |_| rng.uniform(-1.0, 1.0));
    let y = Array2::from_shape_fn((64, 1), |(b, _)| x[[b, 0, 0]] - x[[b, 5, 1]]);
    let mut model = GruV1::with_seed(2).compile(Adam::new(0.01), Loss::mse());
    let options = FitOptions::default().epochs(30).batch_size(16).verbose(0);
    let history = model.fit(x.view(), y.view(), &options).expect("fit");
    let loss = history.loss();
    assert!(loss[loss.len() - 1] < 0.3 * loss[0], "{loss:?}");
}
