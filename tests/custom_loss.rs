//! Losses of the user's own (Keras' custom loss functions): from a `LossFunction` type or a
//! closure, averaged over rows with `sample_weight` as Keras' `sum_over_batch_size`, trained
//! with like the built-in ones, and guarded like them.

use stratic::losses::LossFunction;
use stratic::ndarray::{array, Array2, ArrayView1, ArrayViewMut1};
use stratic::prelude::*;

model! {
    struct Net {
        input(shape = [3]) -> dense(5, activation = tanh) -> dense(2)
    }
}

/// Keras' `Huber(delta)`: mean over the last axis of the piecewise loss.
struct Huber {
    delta: f32,
}

impl LossFunction for Huber {
    fn name(&self) -> &'static str {
        "huber"
    }

    fn row(
        &self,
        p: ArrayView1<'_, f32>,
        t: ArrayView1<'_, f32>,
        mut g: ArrayViewMut1<'_, f32>,
    ) -> f32 {
        let k = p.len() as f32;
        let mut sum = 0.0;
        for ((p, t), g) in p.iter().zip(t).zip(g.iter_mut()) {
            let d = p - t;
            if d.abs() <= self.delta {
                sum += 0.5 * d * d;
                *g = d / k;
            } else {
                sum += self.delta * (d.abs() - 0.5 * self.delta);
                *g = self.delta * d.signum() / k;
            }
        }
        sum / k
    }
}

static HUBER: Huber = Huber { delta: 1.0 };

fn data() -> (Array2<f32>, Array2<f32>) {
    let x = Array2::from_shape_fn((12, 3), |(i, j)| ((i * 3 + j) as f32 * 0.41).sin());
    let y = Array2::from_shape_fn((12, 2), |(i, j)| ((i + j) % 4) as f32 - 1.5);
    (x, y)
}

#[test]
fn huber_matches_its_formula_with_sample_weights() {
    let p = array![[0.5f32, 3.0], [-2.0, 0.25]];
    let t = array![[0.0f32, 0.0], [0.0, 1.0]];
    let w = array![1.0f32, 0.5];
    let mut grad = Array2::zeros((0, 0));
    let loss = Loss::custom(&HUBER)
        .compute_weighted(p.view(), t.view(), Some(w.view()), &mut grad)
        .unwrap();
    // Rows: (0.125 + 2.5) / 2 and (1.5 + 0.28125) / 2, weighted 1 and 0.5, over 2 rows.
    let want = (1.0 * (0.125 + 2.5) / 2.0 + 0.5 * (1.5 + 0.28125) / 2.0) / 2.0;
    assert!((f64::from(loss) - want).abs() < 1e-6, "{loss} vs {want}");
    // d/dp: d/k inside delta, delta·sign(d)/k outside; times w/rows.
    let want_grad = [
        [0.5 / 2.0 / 2.0, 1.0 / 2.0 / 2.0],
        [-1.0 / 2.0 * 0.5 / 2.0, -0.75 / 2.0 * 0.5 / 2.0],
    ];
    for (g, w) in grad.iter().zip(want_grad.iter().flatten()) {
        assert!((f64::from(*g) - w).abs() < 1e-7, "{grad}");
    }
}

#[test]
fn a_closure_loss_trains_as_the_builtin_it_reimplements() {
    let (x, y) = data();
    let mse = Loss::from_fn("my_mse", |p, t, mut g| {
        let k = p.len() as f32;
        let mut sum = 0.0;
        for ((p, t), g) in p.iter().zip(t).zip(g.iter_mut()) {
            sum += (p - t) * (p - t);
            *g = 2.0 * (p - t) / k;
        }
        sum / k
    });
    let options = FitOptions::default()
        .epochs(3)
        .batch_size(4)
        .seed(1)
        .verbose(0);
    let mut mine = Net::with_seed(2).compile(SGD::new(0.1), mse);
    let mut builtin = Net::with_seed(2).compile(SGD::new(0.1), Loss::mse());
    let h1 = mine.fit(x.view(), y.view(), &options).unwrap();
    let h2 = builtin.fit(x.view(), y.view(), &options).unwrap();
    for (a, b) in h1.loss().iter().zip(h2.loss()) {
        assert!((a - b).abs() < 1e-5 * b.abs().max(1.0), "{a} vs {b}");
    }
    for ((k, a), (_, b)) in mine
        .model()
        .weights()
        .iter()
        .zip(builtin.model().weights().iter())
    {
        for (p, q) in a.iter().zip(b) {
            assert!((p - q).abs() < 1e-5, "{k}: {p} vs {q}");
        }
    }
    assert_eq!(mine.loss().name(), "my_mse");
    // Evaluation uses it too.
    let e = mine.evaluate(x.view(), y.view(), 5).unwrap();
    assert!(e.loss.is_finite() && e.loss > 0.0);
}

#[test]
fn a_loss_that_goes_non_finite_stops_training_with_an_error() {
    let (x, y) = data();
    let bad = Loss::from_fn("bad", |_, _, _| f32::NAN);
    let mut m = Net::with_seed(2).compile(SGD::new(0.1), bad);
    let before = m.model().weights();
    let options = FitOptions::default()
        .epochs(1)
        .batch_size(4)
        .seed(1)
        .verbose(0);
    assert!(matches!(
        m.fit(x.view(), y.view(), &options),
        Err(stratic::Error::NonFiniteLoss { .. })
    ));
    assert_eq!(m.model().weights(), before, "no weight moved");
    // Targets of another shape than the output's are refused, as for the built-in losses.
    let mut h = Net::with_seed(2).compile(SGD::new(0.1), Loss::custom(&HUBER));
    let narrow = Array2::<f32>::zeros((12, 1));
    assert!(matches!(
        h.fit(x.view(), narrow.view(), &options),
        Err(stratic::Error::TargetShape { .. })
    ));
}
