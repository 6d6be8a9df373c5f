//! Keras' `embedding(mask_zero = true)` through `model!`: on dense, zero-padded id rows, id 0
//! masks its step for the recurrent layers and the average pooling after the embedding. Each
//! model must compute what the same layers compute on the ragged rows of the non-zero ids
//! (which run each row at its own length, no mask): outputs, losses, and the weights after
//! training (so the gradients too). Zeros inside a row are skipped as Keras skips them, the
//! state carried over.

use stratic::ndarray::Array2;
use stratic::prelude::*;
use stratic::RaggedTensor;

#[macro_use]
mod common;

model! {
    /// An LSTM over zero-padded ids, id 0 masked.
    struct MaskedLstm {
        input(shape = [7], dtype = i32)
            -> embedding(9, 3, mask_zero = true)
            -> lstm(4)
            -> dense(1)
    }

    /// The same LSTM over the ragged rows of the non-zero ids.
    struct RaggedLstm {
        input(shape = [None], ragged = true, dtype = i32)
            -> embedding(9, 3)
            -> lstm(4)
            -> dense(1)
    }

    /// The LSTM reading id 0 as a token.
    struct UnmaskedLstm {
        input(shape = [7], dtype = i32)
            -> embedding(9, 3)
            -> lstm(4)
            -> dense(1)
    }

    /// The mask passes a per-step dense layer, is read by a GRU returning its sequence and
    /// by the average over the steps.
    struct MaskedGruMean {
        input(shape = [7], dtype = i32)
            -> embedding(9, 3, mask_zero = true)
            -> dense(5, activation = tanh)
            -> gru(4, return_sequences = true)
            -> global_average_pooling_1d()
            -> dense(1)
    }

    /// The same over the ragged rows.
    struct RaggedGruMean {
        input(shape = [None], ragged = true, dtype = i32)
            -> embedding(9, 3)
            -> dense(5, activation = tanh)
            -> gru(4, return_sequences = true)
            -> global_average_pooling_1d()
            -> dense(1)
    }

    /// Both directions over the unmasked steps.
    struct MaskedBi {
        input(shape = [7], dtype = i32)
            -> embedding(9, 3, mask_zero = true)
            -> bidirectional(simple_rnn(3))
            -> dense(1)
    }

    /// The same over the ragged rows.
    struct RaggedBi {
        input(shape = [None], ragged = true, dtype = i32)
            -> embedding(9, 3)
            -> bidirectional(simple_rnn(3))
            -> dense(1)
    }
}

/// `n` rows of 7 ids in `[0, 9)` with 0 to 7 non-zero ones, the zeros at the end and (in
/// every third row) inside; the ragged rows of their non-zero ids; targets.
fn ids(n: usize) -> (Array2<i32>, RaggedTensor<i32>, Array2<f32>) {
    let mut rng = stratic_core::Rng::new(21);
    let mut padded = Array2::zeros((n, 7));
    let mut rows = Vec::new();
    let mut y = Array2::zeros((n, 1));
    for b in 0..n {
        let len = b % 8;
        let mut row = Vec::new();
        for t in 0..len {
            // A zero inside the row: Keras masks that step too.
            let id = if b % 3 == 0 && t == 1 {
                0
            } else {
                1 + (rng.uniform(0.0, 7.999) as i32)
            };
            padded[[b, t]] = id;
            if id != 0 {
                row.push(id);
                y[[b, 0]] += id as f32 / 8.0 - 0.5;
            }
        }
        rows.push(row);
    }
    let ragged = RaggedTensor::from_rows(&rows).expect("rows");
    (padded, ragged, y)
}

#[test]
fn a_mask_zero_lstm_equals_the_lstm_on_ragged_rows_in_outputs_and_training() {
    let (padded, ragged, y) = ids(30);
    // Without the mask, id 0 would be read as a token: the padded rows' outputs differ.
    let mut unmasked = UnmaskedLstm::with_seed(3);
    common::copy_weights(&MaskedLstm::with_seed(1), &mut unmasked);
    let a = MaskedLstm::with_seed(1)
        .predict(padded.view())
        .expect("predict");
    let c = unmasked.predict(padded.view()).expect("predict");
    assert!(common::max_diff(&a, &c) > 1e-3);
    // The table's row 0 feeds masked steps only: no gradient reaches it, as in the ragged
    // model, which never looks it up (the weights agree after training).
    assert_masked_equals_ragged!(
        MaskedLstm::with_seed(1),
        RaggedLstm::with_seed(2),
        padded.view(),
        &ragged,
        y.view()
    );
}

#[test]
fn the_mask_passes_dense_layers_and_the_average_counts_only_non_zero_ids() {
    let (padded, ragged, y) = ids(24);
    assert_masked_equals_ragged!(
        MaskedGruMean::with_seed(3),
        RaggedGruMean::with_seed(4),
        padded.view(),
        &ragged,
        y.view()
    );
}

#[test]
fn a_mask_zero_bidirectional_layer_equals_it_on_ragged_rows() {
    let (padded, ragged, y) = ids(24);
    assert_masked_equals_ragged!(
        MaskedBi::with_seed(5),
        RaggedBi::with_seed(6),
        padded.view(),
        &ragged,
        y.view()
    );
}

#[test]
fn a_row_of_zeros_is_all_masked() {
    let m = MaskedLstm::with_seed(0);
    // Every step masked: the LSTM's state stays the initial zeros, so the output is the
    // dense layer's bias alone.
    let zeros = Array2::<i32>::zeros((1, 7));
    let out = m.predict(zeros.view()).expect("predict");
    let bias = m
        .weights()
        .into_iter()
        .find(|(k, _)| k == "dense/bias")
        .map(|(_, w)| w)
        .expect("dense/bias");
    assert!((out[[0, 0]] - bias[[0]]).abs() < 1e-6);
}
