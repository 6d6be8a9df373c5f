//! Weight and activity regularizers end to end: the loss `train_on_batch`, `fit` and
//! `evaluate` report and the update SGD makes match a hand computation of Keras' formulas
//! (`l1 · Σ|w| + l2 · Σw²` added to the loss, its gradient to the weights' gradients).

use ndarray::{array, Array2, ArrayView2, Axis};
use stratic::prelude::*;

model! {
    /// One dense layer with every regularizer.
    struct OneReg {
        input(shape = [3])
            -> dense(2, kernel_regularizer = l1_l2(l1 = 0.01, l2 = 0.02),
                     bias_regularizer = l1(0.03), activity_regularizer = l2(0.05))
    }

    /// Two layers, weight regularizers only.
    struct TwoReg {
        input(shape = [3])
            -> dense(4, activation = tanh, kernel_regularizer = l2(0.1))
            -> dense(1, kernel_regularizer = l1(0.2), bias_regularizer = l1_l2(0.0, 0.3))
    }

    /// `TwoReg` without its regularizers.
    struct TwoPlain {
        input(shape = [3]) -> dense(4, activation = tanh) -> dense(1)
    }
}

fn x() -> Array2<f32> {
    array![
        [0.5, -1.0, 2.0],
        [1.5, 0.25, -0.5],
        [-1.0, 0.75, 0.0],
        [0.2, -0.3, 1.1]
    ]
}

fn set<M: Model>(model: &mut M, key: &str, value: ArrayView2<'_, f32>) {
    model.set_weight(key, value.into_dyn()).unwrap();
}

fn weight<M: Model>(model: &M, key: &str) -> Vec<f32> {
    let w = model.weights();
    let (_, v) = w.iter().find(|(k, _)| k == key).unwrap();
    v.iter().copied().collect()
}

fn close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-5 * y.abs().max(1.0),
            "{what}[{i}]: {x} vs {y}"
        );
    }
}

fn sign(v: f32) -> f32 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

#[test]
fn loss_and_update_match_a_hand_computation() {
    let w = array![[0.3f32, -0.6], [0.0, 0.9], [-1.2, 0.4]];
    let b = array![[0.1f32, -0.2]];
    let t = array![[1.0f32, 0.0], [0.0, 1.0], [0.5, -0.5], [1.0, 1.0]];
    let mut model = OneReg::with_seed(1);
    set(&mut model, "dense/kernel", w.view());
    model.set_weight("dense/bias", b.row(0).into_dyn()).unwrap();
    let lr = 0.1f32;
    let mut model = model.compile(SGD::new(lr), Loss::mse());
    // Evaluation's loss holds the same terms, activity penalties included.
    let evaluated = model.evaluate(x().view(), t.view(), 3).unwrap().loss;
    let loss = model.train_on_batch(x().view(), t.view()).unwrap();

    // By hand, in f64.
    let x = x().mapv(f64::from);
    let (w64, b64, t64) = (w.mapv(f64::from), b.mapv(f64::from), t.mapv(f64::from));
    let y = x.dot(&w64) + &b64;
    let n = y.len() as f64;
    let mse = (&y - &t64).mapv(|d| d * d).sum() / n;
    let penalty = 0.01 * w64.mapv(f64::abs).sum()
        + 0.02 * w64.mapv(|v| v * v).sum()
        + 0.03 * b64.mapv(f64::abs).sum()
        + 0.05 * y.mapv(|v| v * v).sum();
    assert!(
        (f64::from(loss) - (mse + penalty)).abs() < 1e-5,
        "{loss} vs {}",
        mse + penalty
    );
    // Evaluated in batches of 3 and 1: Keras' loss of a batch holds that batch's activity
    // penalty, and the reported loss is the mean over batches weighted by their sizes.
    let activity =
        |rows: std::ops::Range<usize>| 0.05 * y.slice(ndarray::s![rows, ..]).mapv(|v| v * v).sum();
    let weights_only = penalty - activity(0..4);
    let expected = mse + weights_only + (3.0 * activity(0..3) + activity(3..4)) / 4.0;
    assert!(
        (f64::from(evaluated) - expected).abs() < 1e-5,
        "{evaluated} vs {expected}"
    );
    let dy = (&y - &t64).mapv(|d| 2.0 * d / n) + y.mapv(|v| 2.0 * 0.05 * v);
    let dw = x.t().dot(&dy) + w64.mapv(|v| 0.01 * f64::from(sign(v as f32)) + 0.04 * v);
    let db = dy.sum_axis(Axis(0)) + b64.row(0).mapv(|v| 0.03 * f64::from(sign(v as f32)));
    let w_new: Vec<f32> = (&w64 - &dw.mapv(|g| f64::from(lr) * g))
        .iter()
        .map(|&v| v as f32)
        .collect();
    let b_new: Vec<f32> = (&b64.row(0) - &db.mapv(|g| f64::from(lr) * g))
        .iter()
        .map(|&v| v as f32)
        .collect();
    close(&weight(model.model(), "dense/kernel"), &w_new, "kernel");
    close(&weight(model.model(), "dense/bias"), &b_new, "bias");
}

/// The weights of the two-layer models, fixed: `(key, values)`, biases as a column.
fn two_weights() -> Vec<(&'static str, Array2<f32>)> {
    vec![
        (
            "dense/kernel",
            Array2::from_shape_fn((3, 4), |(i, j)| {
                (i as f32 - 1.0) * 0.3 + j as f32 * 0.1 - 0.15
            }),
        ),
        (
            "dense/bias",
            Array2::from_shape_fn((4, 1), |(i, _)| 0.05 * i as f32 - 0.1),
        ),
        (
            "dense_1/kernel",
            Array2::from_shape_fn((4, 1), |(i, _)| 0.4 - 0.25 * i as f32),
        ),
        ("dense_1/bias", array![[-0.3f32]]),
    ]
}

fn load<M: Model>(model: &mut M) {
    for (key, v) in two_weights() {
        let v = if key.ends_with("bias") {
            v.column(0).to_owned().into_dyn()
        } else {
            v.into_dyn()
        };
        model.set_weight(key, v.view()).unwrap();
    }
}

/// The weight penalty of the two-layer model at `two_weights`, and its gradient per key.
fn two_penalty() -> (f64, Vec<(&'static str, Vec<f32>)>) {
    let mut penalty = 0.0f64;
    let mut grads = Vec::new();
    for (key, v) in two_weights() {
        let (l1, l2) = match key {
            "dense/kernel" => (0.0, 0.1),
            "dense_1/kernel" => (0.2, 0.0),
            "dense_1/bias" => (0.0, 0.3),
            _ => (0.0, 0.0),
        };
        penalty += v
            .iter()
            .map(|&w| l1 * f64::from(w.abs()) + l2 * f64::from(w) * f64::from(w))
            .sum::<f64>();
        let g = v
            .iter()
            .map(|&w| (l1 as f32) * sign(w) + 2.0 * (l2 as f32) * w)
            .collect();
        grads.push((key, g));
    }
    (penalty, grads)
}

#[test]
fn penalties_join_the_loss_and_the_gradient_of_every_layer() {
    let t = array![[0.5f32], [-0.5], [1.0], [0.0]];
    let lr = 0.05f32;
    let mut reg = TwoReg::with_seed(2);
    let mut plain = TwoPlain::with_seed(3);
    load(&mut reg);
    load(&mut plain);
    let (penalty, grads) = two_penalty();
    assert!(penalty > 0.1, "{penalty}");

    let mut reg = reg.compile(SGD::new(lr), Loss::mse());
    let mut plain = plain.compile(SGD::new(lr), Loss::mse());
    // Evaluation adds the weight penalties.
    let e_reg = reg.evaluate(x().view(), t.view(), 4).unwrap().loss;
    let e_plain = plain.evaluate(x().view(), t.view(), 4).unwrap().loss;
    assert!(
        (f64::from(e_reg - e_plain) - penalty).abs() < 1e-5,
        "{e_reg} - {e_plain} vs {penalty}"
    );
    // So does training, from the weights before the step; History records the same loss.
    let options = FitOptions::default().epochs(1).batch_size(4).verbose(0);
    let h_reg = reg.fit(x().view(), t.view(), &options).unwrap().loss()[0];
    let h_plain = plain.fit(x().view(), t.view(), &options).unwrap().loss()[0];
    assert!(
        (f64::from(h_reg - h_plain) - penalty).abs() < 1e-5,
        "{h_reg} - {h_plain} vs {penalty}"
    );
    // The updates differ by the learning rate times the penalty's gradient.
    for (key, g) in grads {
        let a = weight(reg.model(), key);
        let b = weight(plain.model(), key);
        let expected: Vec<f32> = b.iter().zip(&g).map(|(b, g)| b - lr * g).collect();
        close(&a, &expected, key);
    }
}

model! {
    /// A convolution with a kernel and an activity regularizer.
    struct ConvReg {
        input(shape = [6, 2])
            -> conv1d(3, 2, activation = tanh, kernel_regularizer = l2(0.1),
                      activity_regularizer = l2(0.05))
            -> flatten()
            -> dense(1)
    }

    /// An embedding with a table and an activity regularizer.
    struct EmbeddingReg {
        input(shape = [None], ragged = true, dtype = i32)
            -> embedding(8, 3, embeddings_regularizer = l2(0.2), activity_regularizer = l2(0.1))
            -> global_average_pooling_1d()
            -> dense(1)
    }
}

/// Checks the gradient one SGD step applies to every weight (the loss's plus the penalties')
/// against central differences of the loss `train_on_batch` reports (the penalties included).
/// Every term is smooth (tanh, l2, mse), so differences of `h` agree to about `h²`.
macro_rules! check_gradients {
    ($model:ty, $x:expr, $t:expr) => {{
        let (x, t) = ($x, $t);
        let loss_at = |key: &str, index: usize, delta: f32| -> f64 {
            let mut m = <$model>::with_seed(4);
            if !key.is_empty() {
                let mut w = m.weights().into_iter().find(|(k, _)| k == key).unwrap().1;
                if let Some(v) = w.iter_mut().nth(index) {
                    *v += delta;
                }
                m.set_weight(key, w.view()).unwrap();
            }
            let mut m = m.compile(SGD::new(0.0), Loss::mse());
            f64::from(m.train_on_batch(x, t.view()).unwrap())
        };
        let before = <$model>::with_seed(4).weights();
        let mut m = <$model>::with_seed(4).compile(SGD::new(1.0), Loss::mse());
        m.train_on_batch(x, t.view()).unwrap();
        let after = m.model().weights();
        let h = 1e-2f32;
        let mut checked = 0;
        for ((key, w0), (_, w1)) in before.iter().zip(&after) {
            for (i, (a, b)) in w0.iter().zip(w1.iter()).enumerate() {
                let step = f64::from(a - b);
                let fd = (loss_at(key, i, h) - loss_at(key, i, -h)) / (2.0 * f64::from(h));
                assert!(
                    (step - fd).abs() <= 2e-3 * fd.abs().max(0.1),
                    "{key}[{i}]: step {step} vs differences {fd}"
                );
                checked += 1;
            }
        }
        checked
    }};
}

#[test]
fn convolution_penalties_have_their_gradients() {
    let x = ndarray::Array3::from_shape_fn((3, 6, 2), |(b, s, c)| {
        ((b * 7 + s * 3 + c * 5) % 9) as f32 / 4.0 - 1.0
    });
    let t = array![[0.5f32], [-1.0], [0.25]];
    let checked = check_gradients!(ConvReg, x.view(), t);
    // kernel 2·2·3, bias 3, dense kernel 15, bias 1.
    assert_eq!(checked, 31);
}

#[test]
fn embedding_penalties_have_their_gradients() {
    let ids = RaggedTensor::from_rows(&[vec![1, 2], vec![3], vec![4, 5, 1], vec![7]]).unwrap();
    let t = array![[0.5f32], [-1.0], [0.25], [1.0]];
    let checked = check_gradients!(EmbeddingReg, &ids, t);
    assert_eq!(checked, 8 * 3 + 3 + 1);
}

#[test]
fn the_activity_penalty_is_the_last_forward_passes_only() {
    let mut m = OneReg::with_seed(1);
    m.forward_train(x().view());
    m.forward_train(x().view());
    let twice = m.take_activity_penalty();
    m.forward_train(x().view());
    let once = m.take_activity_penalty();
    assert!(once > 0.0);
    assert_eq!(twice, once);
    assert_eq!(m.take_activity_penalty(), 0.0);
    // The penalty of the output `predict` returns: 0.05 · Σy².
    let y = m.predict(x().view()).unwrap();
    let by_hand: f64 = 0.05 * y.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>();
    assert!((once - by_hand).abs() < 1e-5, "{once} vs {by_hand}");
}

model! {
    /// A simple RNN with all four of Keras' recurrent regularizers.
    struct RnnReg {
        input(shape = [3, 2])
            -> simple_rnn(2, kernel_regularizer = l1_l2(l1 = 0.01, l2 = 0.02),
                          recurrent_regularizer = l2(0.03), bias_regularizer = l1(0.04),
                          activity_regularizer = l2(0.05))
    }

    /// An LSTM with every regularizer, its last state the output.
    struct LstmReg {
        input(shape = [4, 2])
            -> lstm(3, kernel_regularizer = l2(0.1), recurrent_regularizer = l2(0.2),
                    bias_regularizer = l2(0.3), activity_regularizer = l2(0.05))
    }

    /// `LstmReg` without its regularizers.
    struct LstmPlain {
        input(shape = [4, 2]) -> lstm(3)
    }

    /// A GRU (Keras 3's `reset_after`, a `(2, 3 units)` bias) with every regularizer.
    struct GruReg {
        input(shape = [4, 2])
            -> gru(3, kernel_regularizer = l2(0.1), recurrent_regularizer = l2(0.2),
                   bias_regularizer = l2(0.3), activity_regularizer = l2(0.05))
    }

    /// `GruReg` without its regularizers.
    struct GruPlain {
        input(shape = [4, 2]) -> gru(3)
    }

    /// Keras' v1 GRU, its sequence regularized, pooled and read out.
    struct GruSeqReg {
        input(shape = [4, 2])
            -> gru(3, reset_after = false, return_sequences = true,
                   kernel_regularizer = l2(0.1), recurrent_regularizer = l2(0.2),
                   bias_regularizer = l2(0.3), activity_regularizer = l2(0.05))
            -> global_average_pooling_1d()
            -> dense(1)
    }

    /// Both directions of a regularized LSTM: each direction's copy is regularized.
    struct BiReg {
        input(shape = [4, 2])
            -> bidirectional(lstm(2, kernel_regularizer = l2(0.1), recurrent_regularizer = l2(0.2),
                                  bias_regularizer = l2(0.3), activity_regularizer = l2(0.05)))
    }

    /// `BiReg` without its regularizers.
    struct BiPlain {
        input(shape = [4, 2]) -> bidirectional(lstm(2))
    }
}

fn sequences() -> ndarray::Array3<f32> {
    ndarray::Array3::from_shape_fn((3, 4, 2), |(b, s, c)| {
        ((b * 5 + s * 3 + c * 7) % 11) as f32 / 5.0 - 1.0
    })
}

/// `simple_rnn` by hand in f64: the forward recurrence, the loss with the four penalties,
/// backpropagation through time, and the SGD step, against the model's loss and update.
#[test]
fn simple_rnn_penalties_match_a_hand_computation() {
    let x = ndarray::Array3::from_shape_fn((2, 3, 2), |(b, s, c)| {
        [0.5f32, -1.0, 0.75, 0.25, -0.5, 1.5][s * 2 + c] * if b == 0 { 1.0 } else { -0.6 }
    });
    let w = array![[0.3f32, -0.6], [0.0, 0.9]];
    let u = array![[0.2f32, -0.4], [0.7, 0.1]];
    let b = array![0.1f32, -0.2];
    let t = array![[0.5f32, -0.25], [0.0, 1.0]];
    let lr = 0.1f32;
    let mut model = RnnReg::with_seed(1);
    let cell = "simple_rnn/simple_rnn_cell";
    set(&mut model, &format!("{cell}/kernel"), w.view());
    set(&mut model, &format!("{cell}/recurrent_kernel"), u.view());
    model
        .set_weight(&format!("{cell}/bias"), b.view().into_dyn())
        .unwrap();
    let mut model = model.compile(SGD::new(lr), Loss::mse());
    let loss = model.train_on_batch(x.view(), t.view()).unwrap();

    let (x64, w64, u64_, b64, t64) = (
        x.mapv(f64::from),
        w.mapv(f64::from),
        u.mapv(f64::from),
        b.mapv(f64::from),
        t.mapv(f64::from),
    );
    // hs[s] is the state after step s (hs[0] the zero state).
    let mut hs = vec![ndarray::Array2::<f64>::zeros((2, 2))];
    for s in 0..3 {
        let z = x64.index_axis(Axis(1), s).dot(&w64) + hs[s].dot(&u64_) + &b64;
        hs.push(z.mapv(f64::tanh));
    }
    let y = hs[3].clone();
    let n = y.len() as f64;
    let mse = (&y - &t64).mapv(|d| d * d).sum() / n;
    let penalty = 0.01 * w64.mapv(f64::abs).sum()
        + 0.02 * w64.mapv(|v| v * v).sum()
        + 0.03 * u64_.mapv(|v| v * v).sum()
        + 0.04 * b64.mapv(f64::abs).sum()
        + 0.05 * y.mapv(|v| v * v).sum();
    assert!(penalty > 0.05, "{penalty}");
    assert!(
        (f64::from(loss) - (mse + penalty)).abs() < 1e-6,
        "{loss} vs {}",
        mse + penalty
    );
    let mut dh = (&y - &t64).mapv(|d| 2.0 * d / n) + y.mapv(|v| 2.0 * 0.05 * v);
    let (mut dw, mut du, mut db) = (
        ndarray::Array2::<f64>::zeros((2, 2)),
        ndarray::Array2::<f64>::zeros((2, 2)),
        ndarray::Array1::<f64>::zeros(2),
    );
    for s in (0..3).rev() {
        let dz = &dh * &hs[s + 1].mapv(|h| 1.0 - h * h);
        dw = dw + x64.index_axis(Axis(1), s).t().dot(&dz);
        du = du + hs[s].t().dot(&dz);
        db = db + dz.sum_axis(Axis(0));
        dh = dz.dot(&u64_.t());
    }
    let sign64 = |v: f64| f64::from(sign(v as f32));
    dw = dw + w64.mapv(|v| 0.01 * sign64(v) + 0.04 * v);
    du = du + u64_.mapv(|v| 0.06 * v);
    db = db + b64.mapv(|v| 0.04 * sign64(v));
    let step = |w: &ndarray::ArrayD<f64>, g: &ndarray::ArrayD<f64>| -> Vec<f32> {
        w.iter()
            .zip(g.iter())
            .map(|(w, g)| (w - f64::from(lr) * g) as f32)
            .collect()
    };
    let m = model.model();
    close(
        &weight(m, &format!("{cell}/kernel")),
        &step(&w64.into_dyn(), &dw.into_dyn()),
        "kernel",
    );
    close(
        &weight(m, &format!("{cell}/recurrent_kernel")),
        &step(&u64_.into_dyn(), &du.into_dyn()),
        "recurrent_kernel",
    );
    close(
        &weight(m, &format!("{cell}/bias")),
        &step(&b64.into_dyn(), &db.into_dyn()),
        "bias",
    );
}

/// The factor of `l2` the recurrent test models set on the weight `key` (their kernel,
/// recurrent kernel and bias regularizers).
fn recurrent_factor(key: &str) -> f64 {
    if key.ends_with("/recurrent_kernel") {
        0.2
    } else if key.ends_with("/kernel") {
        0.1
    } else {
        0.3
    }
}

/// A regularized recurrent model's loss is the same model's without regularizers (same
/// weights) plus, by hand in f64, `Σ l2 · w²` over its weights and `0.05 · Σ y²` over its
/// output (both directions' outputs side by side, for `bidirectional`).
macro_rules! check_recurrent_loss {
    ($reg:ty, $plain:ty) => {{
        let x = sequences();
        let reg = <$reg>::with_seed(5);
        let mut plain = <$plain>::with_seed(6);
        let mut weights = 0.0f64;
        for (key, w) in reg.weights() {
            plain.set_weight(&key, w.view()).unwrap();
            weights +=
                recurrent_factor(&key) * w.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>();
        }
        let y = reg.predict(x.view()).unwrap();
        let t = ndarray::Array2::<f32>::from_elem(y.dim(), 0.25);
        let activity = 0.05 * y.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>();
        assert_eq!(y, plain.predict(x.view()).unwrap());
        let mut reg = reg.compile(SGD::new(0.0), Loss::mse());
        let mut plain = plain.compile(SGD::new(0.0), Loss::mse());
        let a = f64::from(reg.train_on_batch(x.view(), t.view()).unwrap());
        let b = f64::from(plain.train_on_batch(x.view(), t.view()).unwrap());
        assert!(weights > 0.1 && activity > 1e-4, "{weights} {activity}");
        assert!(
            (a - b - weights - activity).abs() < 1e-5,
            "{a} - {b} vs {weights} + {activity}"
        );
    }};
}

#[test]
fn lstm_gru_and_bidirectional_losses_hold_their_penalties() {
    check_recurrent_loss!(LstmReg, LstmPlain);
    check_recurrent_loss!(GruReg, GruPlain);
    check_recurrent_loss!(BiReg, BiPlain);
}

#[test]
fn recurrent_penalties_have_their_gradients() {
    let xs = sequences();
    let t3 = ndarray::Array2::from_shape_fn((3, 3), |(b, j)| 0.3 * b as f32 - 0.2 * j as f32);
    // kernel 2·12, recurrent 3·12, bias 12.
    assert_eq!(check_gradients!(LstmReg, xs.view(), t3.clone()), 72);
    // kernel 2·9, recurrent 3·9, bias 2·9.
    assert_eq!(check_gradients!(GruReg, xs.view(), t3), 63);
    let t1 = array![[0.5f32], [-1.0], [0.25]];
    // kernel 2·9, recurrent 3·9, bias 9, dense 3 + 1.
    assert_eq!(check_gradients!(GruSeqReg, xs.view(), t1), 58);
    let t4 = ndarray::Array2::from_shape_fn((3, 4), |(b, j)| 0.2 * b as f32 - 0.1 * j as f32);
    // Two directions of kernel 2·8, recurrent 2·8, bias 8.
    assert_eq!(check_gradients!(BiReg, xs.view(), t4), 80);
}

model! {
    /// Both normalizations with `gamma` and `beta` regularized.
    struct NormReg {
        input(shape = [3])
            -> batch_normalization(gamma_regularizer = l1_l2(l1 = 0.01, l2 = 0.2),
                                   beta_regularizer = l2(0.3))
            -> dense(4, activation = tanh)
            -> layer_normalization(gamma_regularizer = l2(0.4), beta_regularizer = l1(0.05))
            -> dense(1)
    }

    /// `NormReg` without its regularizers.
    struct NormPlain {
        input(shape = [3])
            -> batch_normalization()
            -> dense(4, activation = tanh)
            -> layer_normalization()
            -> dense(1)
    }
}

/// The normalizations' `gamma` and `beta` off their initial ones and zeros (so that `l1`
/// and `l2` both have something to penalise), the same in both models.
fn norm_weights() -> Vec<(&'static str, Vec<f32>)> {
    vec![
        ("batch_normalization/gamma", vec![1.5, -0.5, 0.75]),
        ("batch_normalization/beta", vec![0.2, -0.4, 0.1]),
        ("layer_normalization/gamma", vec![0.9, 1.2, -0.3, 0.6]),
        ("layer_normalization/beta", vec![-0.25, 0.5, 0.0, 0.35]),
    ]
}

#[test]
fn normalization_gamma_and_beta_penalties_join_loss_and_gradient() {
    let t = array![[0.5f32], [-0.5], [1.0], [0.0]];
    let lr = 0.05f32;
    let mut reg = NormReg::with_seed(2);
    let mut plain = NormPlain::with_seed(3);
    for (key, w) in reg.weights() {
        plain.set_weight(&key, w.view()).unwrap();
    }
    for (key, v) in norm_weights() {
        let v = ndarray::Array1::from(v).into_dyn();
        reg.set_weight(key, v.view()).unwrap();
        plain.set_weight(key, v.view()).unwrap();
    }
    // By hand, in f64: each weight's factors, its penalty and the penalty's gradient.
    let factors = |key: &str| match key {
        "batch_normalization/gamma" => (0.01, 0.2),
        "batch_normalization/beta" => (0.0, 0.3),
        "layer_normalization/gamma" => (0.0, 0.4),
        _ => (0.05, 0.0),
    };
    let mut penalty = 0.0f64;
    for (key, v) in norm_weights() {
        let (l1, l2) = factors(key);
        penalty += v
            .iter()
            .map(|&w| l1 * f64::from(w).abs() + l2 * f64::from(w).powi(2))
            .sum::<f64>();
    }
    let mut reg = reg.compile(SGD::new(lr), Loss::mse());
    let mut plain = plain.compile(SGD::new(lr), Loss::mse());
    let a = f64::from(reg.train_on_batch(x().view(), t.view()).unwrap());
    let b = f64::from(plain.train_on_batch(x().view(), t.view()).unwrap());
    assert!((a - b - penalty).abs() < 1e-5, "{a} - {b} vs {penalty}");
    for (key, v) in norm_weights() {
        let (l1, l2) = factors(key);
        let expected: Vec<f32> = weight(plain.model(), key)
            .iter()
            .zip(&v)
            .map(|(p, &w)| {
                let g = l1 * f64::from(sign(w)) + 2.0 * l2 * f64::from(w);
                (f64::from(*p) - f64::from(lr) * g) as f32
            })
            .collect();
        close(&weight(reg.model(), key), &expected, key);
    }
    // The moving statistics are not trainable, so not regularized: both models move them
    // alike.
    for key in [
        "batch_normalization/moving_mean",
        "batch_normalization/moving_variance",
    ] {
        close(&weight(reg.model(), key), &weight(plain.model(), key), key);
    }
}
