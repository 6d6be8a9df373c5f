//! Keras' masking through `model!`: `masking()` before a recurrent layer, a bidirectional one
//! and `global_average_pooling_1d`, on zero-padded sequences, must compute what the same
//! layers compute on the ragged rows of the unpadded steps (which run each row at its own
//! length, no mask): outputs, and the weights after training (so the gradients too).

use stratic::ndarray::{Array2, Array3};
use stratic::prelude::*;
use stratic::RaggedTensor;

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

fn copy_weights<A: Model, B: Model>(from: &A, to: &mut B) {
    for (key, w) in from.weights() {
        to.set_weight(&key, w.view()).expect("the same weights");
    }
}

fn max_diff(a: &Array2<f32>, b: &Array2<f32>) -> f32 {
    assert_eq!(a.dim(), b.dim());
    (a - b).iter().fold(0.0f32, |m, d| m.max(d.abs()))
}

/// The weights of both models after the same training, keys and values.
fn assert_same_weights<A: Model, B: Model>(a: &A, b: &B, tol: f32) {
    let (wa, wb) = (a.weights(), b.weights());
    assert_eq!(wa.len(), wb.len());
    for ((ka, va), (kb, vb)) in wa.iter().zip(&wb) {
        assert_eq!(ka, kb);
        let d = (va - vb).iter().fold(0.0f32, |m, d| m.max(d.abs()));
        assert!(d < tol, "{ka} differs by {d} after training");
    }
}

fn options() -> FitOptions {
    FitOptions::default()
        .epochs(3)
        .batch_size(8)
        .shuffle(false)
        .verbose(0)
}

#[test]
fn a_masked_lstm_equals_the_lstm_on_ragged_rows_in_outputs_and_training() {
    let (padded, ragged, y) = sequences(28);
    let masked = MaskedLstm::with_seed(1);
    let mut plain = RaggedLstm::with_seed(2);
    copy_weights(&masked, &mut plain);
    let a = masked.predict(padded.view()).expect("predict");
    let b = plain.predict(&ragged).expect("predict");
    assert!(max_diff(&a, &b) < 1e-6, "{}", max_diff(&a, &b));
    // Without the mask the padding would count: the outputs of padded rows differ.
    let mut unmasked = UnmaskedLstm::with_seed(3);
    copy_weights(&masked, &mut unmasked);
    let c = unmasked.predict(padded.view()).expect("predict");
    assert!(max_diff(&a, &c) > 1e-3);
    let mut masked = masked.compile(SGD::new(0.1), Loss::mse());
    let mut plain = plain.compile(SGD::new(0.1), Loss::mse());
    let ha = masked
        .fit(padded.view(), y.view(), &options())
        .expect("fit");
    let hb = plain.fit(&ragged, y.view(), &options()).expect("fit");
    for (la, lb) in ha.loss().iter().zip(hb.loss()) {
        assert!((la - lb).abs() < 1e-5 * lb.abs().max(1.0), "{la} vs {lb}");
    }
    assert_same_weights(masked.model(), plain.model(), 1e-5);
}

#[test]
fn the_mask_passes_dense_layers_and_the_average_counts_only_unmasked_steps() {
    let (padded, ragged, y) = sequences(21);
    let masked = MaskedGruMean::with_seed(3);
    let mut plain = RaggedGruMean::with_seed(4);
    copy_weights(&masked, &mut plain);
    let a = masked.predict(padded.view()).expect("predict");
    let b = plain.predict(&ragged).expect("predict");
    assert!(max_diff(&a, &b) < 1e-6, "{}", max_diff(&a, &b));
    let mut masked = masked.compile(SGD::new(0.1), Loss::mse());
    let mut plain = plain.compile(SGD::new(0.1), Loss::mse());
    masked
        .fit(padded.view(), y.view(), &options())
        .expect("fit");
    plain.fit(&ragged, y.view(), &options()).expect("fit");
    assert_same_weights(masked.model(), plain.model(), 1e-5);
}

#[test]
fn a_masked_bidirectional_layer_equals_it_on_ragged_rows() {
    let (padded, ragged, y) = sequences(21);
    let masked = MaskedBi::with_seed(5);
    let mut plain = RaggedBi::with_seed(6);
    copy_weights(&masked, &mut plain);
    let a = masked.predict(padded.view()).expect("predict");
    let b = plain.predict(&ragged).expect("predict");
    assert!(max_diff(&a, &b) < 1e-6, "{}", max_diff(&a, &b));
    let mut masked = masked.compile(SGD::new(0.1), Loss::mse());
    let mut plain = plain.compile(SGD::new(0.1), Loss::mse());
    masked
        .fit(padded.view(), y.view(), &options())
        .expect("fit");
    plain.fit(&ragged, y.view(), &options()).expect("fit");
    assert_same_weights(masked.model(), plain.model(), 1e-5);
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
