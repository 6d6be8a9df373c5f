//! Keras' masking through `model!`: `masking()` before a recurrent layer, a bidirectional one
//! and `global_average_pooling_1d`, on zero-padded sequences, must compute what the same
//! layers compute on the ragged rows of the unpadded steps (which run each row at its own
//! length, no mask): outputs, and the weights after training (so the gradients too).

use stratic::ndarray::{Array2, Array3};
use stratic::prelude::*;
use stratic::RaggedTensor;

#[macro_use]
mod common;

model! {
    /// An LSTM over zero-padded sequences, the padding masked.
    struct MaskedLstm {
        input(shape = [6, 3])
            -> masking()
            -> lstm(4)
            -> dense(1)
    }

    /// The same LSTM over the ragged rows.
    struct RaggedLstm {
        input(shape = [None, 3], ragged = true)
            -> lstm(4)
            -> dense(1)
    }

    /// The mask passes a per-step dense layer, is read by a GRU returning its sequence and
    /// by the average over the steps.
    struct MaskedGruMean {
        input(shape = [6, 3])
            -> masking()
            -> dense(5, activation = tanh)
            -> gru(4, return_sequences = true, reset_after = false)
            -> global_average_pooling_1d()
            -> dense(1)
    }

    /// The same over the ragged rows.
    struct RaggedGruMean {
        input(shape = [None, 3], ragged = true)
            -> dense(5, activation = tanh)
            -> gru(4, return_sequences = true, reset_after = false)
            -> global_average_pooling_1d()
            -> dense(1)
    }

    /// Both directions over the masked steps (the backward copy skips the padding, which
    /// comes first for it), then the average of the unmasked steps.
    struct MaskedBi {
        input(shape = [6, 3])
            -> masking()
            -> bidirectional(simple_rnn(3, return_sequences = true))
            -> global_average_pooling_1d()
            -> dense(1)
    }

    /// The same over the ragged rows.
    struct RaggedBi {
        input(shape = [None, 3], ragged = true)
            -> bidirectional(simple_rnn(3, return_sequences = true))
            -> global_average_pooling_1d()
            -> dense(1)
    }

    /// The LSTM reading the padding as data.
    struct UnmaskedLstm {
        input(shape = [6, 3])
            -> lstm(4)
            -> dense(1)
    }

    /// `masking(mask_value = -1.0)`: a step of all -1 is padding.
    struct MinusOne {
        input(shape = [4, 2])
            -> masking(mask_value = -1.0)
            -> simple_rnn(2)
    }
}

/// `n` sequences of 0 to 6 steps of 3 features, zero-padded to 6 steps and as ragged rows,
/// with targets.
fn sequences(n: usize) -> (Array3<f32>, RaggedTensor<f32>, Array2<f32>) {
    let mut rng = stratic_core::Rng::new(12);
    let mut padded = Array3::zeros((n, 6, 3));
    let mut values = Vec::new();
    let mut splits = vec![0];
    let mut y = Array2::zeros((n, 1));
    for b in 0..n {
        // Every length, an empty row included.
        let len = b % 7;
        for t in 0..len {
            for f in 0..3 {
                let v = rng.uniform(-1.0, 1.0);
                padded[[b, t, f]] = v;
                values.push(v);
            }
            y[[b, 0]] += padded[[b, t, 0]];
        }
        splits.push(splits[b] + len);
    }
    let ragged = RaggedTensor::from_parts(values, &[3], &[splits]).expect("rows");
    (padded, ragged, y)
}

#[test]
fn a_masked_lstm_equals_the_lstm_on_ragged_rows_in_outputs_and_training() {
    let (padded, ragged, y) = sequences(28);
    // Without the mask the padding would count: the outputs of padded rows differ.
    let mut unmasked = UnmaskedLstm::with_seed(3);
    common::copy_weights(&MaskedLstm::with_seed(1), &mut unmasked);
    let a = MaskedLstm::with_seed(1)
        .predict(padded.view())
        .expect("predict");
    let c = unmasked.predict(padded.view()).expect("predict");
    assert!(common::max_diff(&a, &c) > 1e-3);
    assert_masked_equals_ragged!(
        MaskedLstm::with_seed(1),
        RaggedLstm::with_seed(2),
        padded.view(),
        &ragged,
        y.view()
    );
}

#[test]
fn the_mask_passes_dense_layers_and_the_average_counts_only_unmasked_steps() {
    let (padded, ragged, y) = sequences(21);
    assert_masked_equals_ragged!(
        MaskedGruMean::with_seed(3),
        RaggedGruMean::with_seed(4),
        padded.view(),
        &ragged,
        y.view()
    );
}

#[test]
fn a_masked_bidirectional_layer_equals_it_on_ragged_rows() {
    let (padded, ragged, y) = sequences(21);
    assert_masked_equals_ragged!(
        MaskedBi::with_seed(5),
        RaggedBi::with_seed(6),
        padded.view(),
        &ragged,
        y.view()
    );
}

#[test]
fn mask_value_marks_the_padding_and_a_masked_step_in_the_middle_is_skipped() {
    let model = MinusOne::with_seed(7);
    let pad = [-1.0f32, -1.0];
    let (a, b, c) = ([0.5f32, -0.25], [0.0f32, 0.0], [-1.0f32, 0.75]);
    // A step of -1 anywhere is skipped, the state carried over it: [a, pad, b, c] runs as
    // [a, b, c]; zeros are data here, and -1 in one feature only is too.
    let x = Array3::from_shape_fn((2, 4, 2), |(s, t, f)| {
        let steps = [[a, pad, b, c], [a, b, c, pad]];
        steps[s][t][f]
    });
    let y = model.predict(x.view()).expect("predict");
    assert!(
        (&y.row(0) - &y.row(1)).iter().all(|d| d.abs() < 1e-6),
        "{y}"
    );
    let three = Array3::from_shape_fn((1, 4, 2), |(_, t, f)| [a, b, c, pad][t][f]);
    let alone = model.predict(three.view()).expect("predict");
    assert!((&alone.row(0) - &y.row(0)).iter().all(|d| d.abs() < 1e-6));
    // Not the same as reading the padding as data.
    let unmasked = Array3::from_shape_fn((1, 4, 2), |(_, t, f)| [a, b, c, [0.3, 0.3]][t][f]);
    let other = model.predict(unmasked.view()).expect("predict");
    assert!((&other.row(0) - &y.row(0)).iter().any(|d| d.abs() > 1e-4));
}
