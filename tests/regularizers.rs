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
