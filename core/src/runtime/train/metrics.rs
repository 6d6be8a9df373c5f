//! Metrics given at compile time, with Keras 3's names, formulas and defaults.
//!
//! A metric keeps running state over an epoch (or an `evaluate` call), is updated once per
//! batch from the predictions and targets as `(rows, k)` arrays, and reports its result; state
//! lives in fixed-size fields, so updating allocates nothing.

use ndarray::{ArrayView2, Axis};

use super::super::Loss;

/// Keras' default number of thresholds of `AUC`.
pub const AUC_THRESHOLDS: usize = 200;

/// Keras' `backend.epsilon()`, which widens AUC's outer thresholds.
const EPSILON: f32 = 1e-7;

/// A metric, as named in Keras' `compile(metrics=[...])`.
///
/// As in Keras 3, these metrics are not weighted: `sample_weight` and `class_weight` weight
/// the loss only (Keras passes them to `weighted_metrics`, which stratic does not have yet).
///
/// ```
/// # use stratic::prelude::Metric;
/// let metrics = [Metric::Accuracy, Metric::Auc, Metric::Mae];
/// assert_eq!(metrics[1].name(), "auc");
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Metric {
    /// `"accuracy"`: binary, categorical or sparse categorical accuracy, picked as Keras 3
    /// does from the shapes the loss gives the targets: binary when the output has one unit,
    /// sparse categorical for class-id targets, categorical otherwise.
    Accuracy,
    /// `BinaryAccuracy(threshold=0.5)`: the share of predictions on the target's side of the
    /// threshold.
    BinaryAccuracy,
    /// `CategoricalAccuracy`: the share of rows whose arg-max matches the one-hot target's.
    CategoricalAccuracy,
    /// `SparseCategoricalAccuracy`: the share of rows whose arg-max is the class id.
    SparseCategoricalAccuracy,
    /// `"mae"`: mean absolute error.
    Mae,
    /// `"mse"`: mean squared error.
    Mse,
    /// `Precision()`: true positives over predicted positives, a prediction above 0.5 being
    /// positive.
    Precision,
    /// `Recall()`: true positives over actual positives, at threshold 0.5.
    Recall,
    /// `AUC()`: area under the ROC curve from 200 thresholds, by interpolation (Keras'
    /// defaults).
    Auc,
}

impl Metric {
    /// The name Keras gives the metric in logs and `History` (the string one passes to
    /// `compile`).
    pub fn name(&self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::BinaryAccuracy => "binary_accuracy",
            Metric::CategoricalAccuracy => "categorical_accuracy",
            Metric::SparseCategoricalAccuracy => "sparse_categorical_accuracy",
            Metric::Mae => "mae",
            Metric::Mse => "mse",
            Metric::Precision => "precision",
            Metric::Recall => "recall",
            Metric::Auc => "auc",
        }
    }

    /// Whether larger values are better (Keras' metric `_direction`), which `mode = auto`
    /// callbacks use.
    pub fn higher_is_better(&self) -> bool {
        !matches!(self, Metric::Mae | Metric::Mse)
    }

    /// Resolves `Accuracy` for an output of `units` units trained with `loss`.
    fn resolve(self, units: usize, loss: Loss) -> Metric {
        match self {
            Metric::Accuracy if units == 1 => Metric::BinaryAccuracy,
            Metric::Accuracy if loss.is_sparse() => Metric::SparseCategoricalAccuracy,
            Metric::Accuracy => Metric::CategoricalAccuracy,
            other => other,
        }
    }
}

/// The running state of one metric on one output.
#[derive(Clone, Debug)]
pub(crate) struct MetricState {
    metric: Metric,
    /// The name in logs: the metric's name, prefixed by the output's with several outputs.
    pub(crate) name: String,
    sparse: bool,
    state: State,
}

#[derive(Clone, Debug)]
enum State {
    /// Sum of per-row values and the number of rows.
    Mean { sum: f64, count: f64 },
    /// Confusion counts at threshold 0.5.
    Counts { tp: f64, fp: f64, fn_: f64 },
    /// Confusion counts at each of AUC's thresholds.
    Auc(Box<AucCounts>),
}

#[derive(Clone, Debug)]
struct AucCounts {
    thresholds: [f32; AUC_THRESHOLDS],
    tp: [f64; AUC_THRESHOLDS],
    fp: [f64; AUC_THRESHOLDS],
    tn: [f64; AUC_THRESHOLDS],
    fn_: [f64; AUC_THRESHOLDS],
}

impl AucCounts {
    fn new() -> Self {
        // Keras: i / (n - 1) for the inner thresholds, and the ends pushed out by epsilon so
        // that predictions of exactly 0 and 1 fall inside.
        let n = AUC_THRESHOLDS;
        let mut thresholds = [0.0; AUC_THRESHOLDS];
        for (i, t) in thresholds.iter_mut().enumerate() {
            *t = i as f32 / (n - 1) as f32;
        }
        thresholds[0] = -EPSILON;
        thresholds[n - 1] = 1.0 + EPSILON;
        AucCounts {
            thresholds,
            tp: [0.0; AUC_THRESHOLDS],
            fp: [0.0; AUC_THRESHOLDS],
            tn: [0.0; AUC_THRESHOLDS],
            fn_: [0.0; AUC_THRESHOLDS],
        }
    }

    fn reset(&mut self) {
        self.tp = [0.0; AUC_THRESHOLDS];
        self.fp = [0.0; AUC_THRESHOLDS];
        self.tn = [0.0; AUC_THRESHOLDS];
        self.fn_ = [0.0; AUC_THRESHOLDS];
    }

    fn add(&mut self, pred: f32, positive: bool) {
        for i in 0..AUC_THRESHOLDS {
            let above = pred > self.thresholds[i];
            match (above, positive) {
                (true, true) => self.tp[i] += 1.0,
                (true, false) => self.fp[i] += 1.0,
                (false, true) => self.fn_[i] += 1.0,
                (false, false) => self.tn[i] += 1.0,
            }
        }
    }

    // Keras' ROC AUC with `summation_method="interpolation"`: the trapezoids between
    // consecutive (false positive rate, recall) points, rates being 0 where undefined.
    fn result(&self) -> f32 {
        let ratio = |a: f64, b: f64| if b == 0.0 { 0.0 } else { a / b };
        let mut area = 0.0f64;
        for i in 0..AUC_THRESHOLDS - 1 {
            let x0 = ratio(self.fp[i], self.fp[i] + self.tn[i]);
            let x1 = ratio(self.fp[i + 1], self.fp[i + 1] + self.tn[i + 1]);
            let y0 = ratio(self.tp[i], self.tp[i] + self.fn_[i]);
            let y1 = ratio(self.tp[i + 1], self.tp[i + 1] + self.fn_[i + 1]);
            area += (x0 - x1) * (y0 + y1) / 2.0;
        }
        area as f32
    }
}

impl MetricState {
    /// The state of `metric` on an output of `units` units trained with `loss`, logged as
    /// `name`.
    pub(crate) fn new(metric: Metric, units: usize, loss: Loss, name: String) -> Self {
        let metric = metric.resolve(units, loss);
        let state = match metric {
            Metric::Precision | Metric::Recall => State::Counts {
                tp: 0.0,
                fp: 0.0,
                fn_: 0.0,
            },
            Metric::Auc => State::Auc(Box::new(AucCounts::new())),
            _ => State::Mean {
                sum: 0.0,
                count: 0.0,
            },
        };
        MetricState {
            metric,
            name,
            sparse: loss.is_sparse(),
            state,
        }
    }

    /// The metric, with `Accuracy` resolved.
    pub(crate) fn metric(&self) -> Metric {
        self.metric
    }

    /// Visits every accumulated count and sum, in a fixed order: a distributed `fit` sums
    /// them over the ranks, which gives the metric over all the ranks' samples.
    pub(crate) fn for_each_value(&mut self, f: &mut dyn FnMut(&mut f64)) {
        match &mut self.state {
            State::Mean { sum, count } => {
                f(sum);
                f(count);
            }
            State::Counts { tp, fp, fn_ } => {
                f(tp);
                f(fp);
                f(fn_);
            }
            State::Auc(counts) => {
                let c = &mut **counts;
                for v in
                    c.tp.iter_mut()
                        .chain(&mut c.fp)
                        .chain(&mut c.tn)
                        .chain(&mut c.fn_)
                {
                    f(v);
                }
            }
        }
    }

    /// Forgets every update (Keras resets metrics at the start of each epoch and evaluation).
    pub(crate) fn reset(&mut self) {
        match &mut self.state {
            State::Mean { sum, count } => {
                *sum = 0.0;
                *count = 0.0;
            }
            State::Counts { tp, fp, fn_ } => {
                *tp = 0.0;
                *fp = 0.0;
                *fn_ = 0.0;
            }
            State::Auc(counts) => counts.reset(),
        }
    }

    /// Adds a batch: `pred` is `(rows, k)`, `target` is `(rows, k)` or, for a sparse loss,
    /// `(rows, 1)` class ids (then read as one-hot rows).
    pub(crate) fn update(&mut self, pred: ArrayView2<'_, f32>, target: ArrayView2<'_, f32>) {
        let sparse = self.sparse;
        // The target of element (r, j), one-hot expanded for class ids.
        let t_at = |r: usize, j: usize| -> f32 {
            if sparse {
                if target[[r, 0]] == j as f32 {
                    1.0
                } else {
                    0.0
                }
            } else {
                target[[r, j]]
            }
        };
        let (rows, k) = pred.dim();
        match (&mut self.state, self.metric) {
            (State::Mean { sum, count }, metric) => {
                for (r, p) in pred.axis_iter(Axis(0)).enumerate() {
                    let value = match metric {
                        Metric::BinaryAccuracy => {
                            let hits = (0..k)
                                .filter(|&j| (p[j] > 0.5) == (t_at(r, j) > 0.5))
                                .count();
                            hits as f64 / k.max(1) as f64
                        }
                        Metric::CategoricalAccuracy | Metric::SparseCategoricalAccuracy => {
                            let predicted = argmax(p.iter().copied());
                            let actual = if sparse {
                                Some(target[[r, 0]] as usize)
                            } else {
                                argmax((0..k).map(|j| target[[r, j]]))
                            };
                            f64::from(u8::from(predicted.is_some() && predicted == actual))
                        }
                        Metric::Mae => {
                            (0..k)
                                .map(|j| (p[j] - t_at(r, j)).abs() as f64)
                                .sum::<f64>()
                                / k.max(1) as f64
                        }
                        _ => {
                            (0..k)
                                .map(|j| {
                                    let d = (p[j] - t_at(r, j)) as f64;
                                    d * d
                                })
                                .sum::<f64>()
                                / k.max(1) as f64
                        }
                    };
                    *sum += value;
                }
                *count += rows as f64;
            }
            (State::Counts { tp, fp, fn_ }, _) => {
                for r in 0..rows {
                    for j in 0..k {
                        let positive = t_at(r, j) > 0.5;
                        let predicted = pred[[r, j]] > 0.5;
                        match (predicted, positive) {
                            (true, true) => *tp += 1.0,
                            (true, false) => *fp += 1.0,
                            (false, true) => *fn_ += 1.0,
                            (false, false) => {}
                        }
                    }
                }
            }
            (State::Auc(counts), _) => {
                for r in 0..rows {
                    for j in 0..k {
                        counts.add(pred[[r, j]], t_at(r, j) > 0.5);
                    }
                }
            }
        }
    }

    /// The metric's value over every update since the last reset (0 where undefined, as
    /// Keras' `divide_no_nan`).
    pub(crate) fn result(&self) -> f32 {
        let ratio = |a: f64, b: f64| if b == 0.0 { 0.0 } else { (a / b) as f32 };
        match (&self.state, self.metric) {
            (State::Mean { sum, count }, _) => ratio(*sum, *count),
            (State::Counts { tp, fp, .. }, Metric::Precision) => ratio(*tp, tp + fp),
            (State::Counts { tp, fn_, .. }, _) => ratio(*tp, tp + fn_),
            (State::Auc(counts), _) => counts.result(),
        }
    }
}

// The index of the first largest value (numpy's and TF's tie rule); None for an empty row or a
// NaN maximum.
fn argmax(values: impl Iterator<Item = f32>) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for (i, v) in values.enumerate() {
        if v.is_nan() {
            return None;
        }
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn run(metric: Metric, loss: Loss, pred: ArrayView2<'_, f32>, t: ArrayView2<'_, f32>) -> f32 {
        let mut s = MetricState::new(metric, pred.ncols(), loss, metric.name().into());
        s.update(pred, t);
        s.result()
    }

    #[test]
    fn accuracy_is_picked_from_the_output_and_loss() {
        let bce = Loss::binary_crossentropy();
        let s = MetricState::new(Metric::Accuracy, 1, bce, "accuracy".into());
        assert_eq!(s.metric(), Metric::BinaryAccuracy);
        let s = MetricState::new(
            Metric::Accuracy,
            3,
            Loss::sparse_categorical_crossentropy(),
            "a".into(),
        );
        assert_eq!(s.metric(), Metric::SparseCategoricalAccuracy);
        let s = MetricState::new(
            Metric::Accuracy,
            3,
            Loss::categorical_crossentropy(),
            "a".into(),
        );
        assert_eq!(s.metric(), Metric::CategoricalAccuracy);
    }

    #[test]
    fn accuracies_by_hand() {
        let bce = Loss::binary_crossentropy();
        // 0.6 > 0.5 vs 1: hit; 0.4 vs 1: miss; 0.5 (not > 0.5) vs 0: hit; 0.9 vs 0: miss.
        let p = array![[0.6f32], [0.4], [0.5], [0.9]];
        let t = array![[1.0f32], [1.0], [0.0], [0.0]];
        assert_eq!(run(Metric::Accuracy, bce, p.view(), t.view()), 0.5);
        let cce = Loss::categorical_crossentropy();
        let p = array![[0.1f32, 0.7, 0.2], [0.5, 0.3, 0.2], [0.3, 0.3, 0.4]];
        let t = array![[0.0f32, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        assert!((run(Metric::Accuracy, cce, p.view(), t.view()) - 2.0 / 3.0).abs() < 1e-7);
        let ids = array![[1.0f32], [0.0], [0.0]];
        let sp = Loss::sparse_categorical_crossentropy();
        assert!((run(Metric::Accuracy, sp, p.view(), ids.view()) - 2.0 / 3.0).abs() < 1e-7);
        // Ties go to the first index, as numpy's argmax: row [0.4, 0.4] predicts class 0.
        let p = array![[0.4f32, 0.4]];
        assert_eq!(
            run(Metric::Accuracy, sp, p.view(), array![[0.0f32]].view()),
            1.0
        );
    }

    #[test]
    fn regression_metrics_by_hand() {
        let p = array![[1.0f32, 2.0], [3.0, 5.0]];
        let t = array![[0.0f32, 2.0], [1.0, 1.0]];
        // |d| = 1, 0, 2, 4: mean 7/4; d^2 = 1, 0, 4, 16: mean 21/4.
        assert_eq!(run(Metric::Mae, Loss::mse(), p.view(), t.view()), 1.75);
        assert_eq!(run(Metric::Mse, Loss::mse(), p.view(), t.view()), 5.25);
    }

    #[test]
    fn precision_recall_by_hand() {
        let bce = Loss::binary_crossentropy();
        let p = array![[0.9f32], [0.8], [0.3], [0.6], [0.1]];
        let t = array![[1.0f32], [0.0], [1.0], [1.0], [0.0]];
        // Predicted positive: 0.9 (tp), 0.8 (fp), 0.6 (tp); missed: 0.3 (fn).
        assert!((run(Metric::Precision, bce, p.view(), t.view()) - 2.0 / 3.0).abs() < 1e-7);
        assert!((run(Metric::Recall, bce, p.view(), t.view()) - 2.0 / 3.0).abs() < 1e-7);
        // No predicted positive: 0, not NaN.
        let none = array![[0.1f32]];
        assert_eq!(run(Metric::Precision, bce, none.view(), none.view()), 0.0);
    }

    #[test]
    fn auc_by_hand() {
        let bce = Loss::binary_crossentropy();
        // Perfectly separated: 1. Perfectly inverted: 0.
        let p = array![[0.9f32], [0.8], [0.2], [0.1]];
        let t = array![[1.0f32], [1.0], [0.0], [0.0]];
        assert!((run(Metric::Auc, bce, p.view(), t.view()) - 1.0).abs() < 1e-6);
        let inv = array![[0.0f32], [0.0], [1.0], [1.0]];
        assert!(run(Metric::Auc, bce, p.view(), inv.view()).abs() < 1e-6);
        // Keras' docstring example: AUC()([0, 0, 1, 1], [0, 0.5, 0.3, 0.9]) == 0.75.
        let p = array![[0.0f32], [0.5], [0.3], [0.9]];
        let t = array![[0.0f32], [0.0], [1.0], [1.0]];
        assert!((run(Metric::Auc, bce, p.view(), t.view()) - 0.75).abs() < 1e-6);
        // Updates accumulate; reset forgets.
        let mut s = MetricState::new(Metric::Auc, 1, bce, "auc".into());
        s.update(p.view(), t.view());
        s.reset();
        assert_eq!(s.result(), 0.0);
    }
}
