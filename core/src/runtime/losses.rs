//! Losses, with Keras' formulas, clipping and reduction.
//!
//! Every loss reduces the last axis to one value per row and then averages over rows: Keras'
//! default reduction `sum_over_batch_size` (the sum divided by the number of per-sample values,
//! which is the number of rows once middle axes are folded into them).

use ndarray::{Array2, ArrayView1, ArrayView2, ArrayViewMut1, Axis, Zip};

use super::kernels::activations::softmax_row;
use super::layers::ensure_shape;
use super::Error;

/// Keras' `backend.epsilon()`, the clipping margin for probabilities.
pub const EPSILON: f32 = 1e-7;

/// A loss function, named and parameterised as in Keras.
///
/// ```
/// # use stratic::prelude::Loss;
/// let mse = Loss::mse();
/// let bce = Loss::BinaryCrossentropy {
///     from_logits: true,
///     label_smoothing: 0.0,
/// };
/// let smoothed = Loss::categorical_crossentropy().with_label_smoothing(0.1);
/// # let _ = (mse, bce, smoothed);
/// ```
// Not `Eq` or `Hash`: `label_smoothing` is a float.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Loss {
    /// `mean_squared_error`: mean of `(pred - target)^2` over the last axis.
    MeanSquaredError,
    /// `mean_absolute_error`: mean of `|pred - target|` over the last axis.
    MeanAbsoluteError,
    /// `binary_crossentropy`, mean over the last axis; targets in `[0, 1]`.
    BinaryCrossentropy {
        /// Whether predictions are logits rather than probabilities.
        from_logits: bool,
        /// Keras' `label_smoothing`, in `[0, 1]`: targets become
        /// `t * (1 - label_smoothing) + 0.5 * label_smoothing`.
        label_smoothing: f32,
    },
    /// `categorical_crossentropy` with one-hot (or soft) targets.
    CategoricalCrossentropy {
        /// Whether predictions are logits rather than probabilities.
        from_logits: bool,
        /// Keras' `label_smoothing`, in `[0, 1]`: with `k` classes, targets become
        /// `t * (1 - label_smoothing) + label_smoothing / k`.
        label_smoothing: f32,
    },
    /// `sparse_categorical_crossentropy`: targets are class ids.
    SparseCategoricalCrossentropy {
        /// Whether predictions are logits rather than probabilities.
        from_logits: bool,
    },
    /// A loss of the user's own (Keras' custom loss function): see [`Loss::custom`] and
    /// [`Loss::from_fn`].
    Custom(CustomLoss),
}

/// A loss of the user's own, row by row: the loss of one row of predictions against its
/// targets (both of the output's last axis; targets have the output's shape), and its gradient with respect to the
/// predictions. Training averages the rows, weighted by `sample_weight`, as Keras' default
/// `sum_over_batch_size` reduction does, and scales the gradients alike.
///
/// ```
/// use ndarray::{ArrayView1, ArrayViewMut1};
/// use stratic_core::{Loss, LossFunction};
///
/// /// Keras' `Huber(delta)`, mean over the last axis.
/// struct Huber {
///     delta: f32,
/// }
///
/// impl LossFunction for Huber {
///     fn name(&self) -> &'static str {
///         "huber"
///     }
///
///     fn row(&self, p: ArrayView1<'_, f32>, t: ArrayView1<'_, f32>, mut g: ArrayViewMut1<'_, f32>) -> f32 {
///         let k = p.len() as f32;
///         let mut sum = 0.0;
///         for ((p, t), g) in p.iter().zip(t).zip(g.iter_mut()) {
///             let d = p - t;
///             if d.abs() <= self.delta {
///                 sum += 0.5 * d * d;
///                 *g = d / k;
///             } else {
///                 sum += self.delta * (d.abs() - 0.5 * self.delta);
///                 *g = self.delta * d.signum() / k;
///             }
///         }
///         sum / k
///     }
/// }
///
/// static HUBER: Huber = Huber { delta: 1.0 };
/// let loss = Loss::custom(&HUBER);
/// assert_eq!(loss.name(), "huber");
/// ```
pub trait LossFunction: Send + Sync {
    /// The name `History` and the progress show (Keras' loss name).
    fn name(&self) -> &'static str;
    /// The loss of one row, writing dLoss/dPred of that row into `grad` (as long as `pred`).
    fn row(
        &self,
        pred: ArrayView1<'_, f32>,
        target: ArrayView1<'_, f32>,
        grad: ArrayViewMut1<'_, f32>,
    ) -> f32;
}

/// A user's loss, as [`Loss::Custom`] holds it.
#[derive(Clone, Copy)]
pub struct CustomLoss(&'static dyn LossFunction);

impl CustomLoss {
    /// The function.
    pub fn function(&self) -> &'static dyn LossFunction {
        self.0
    }
}

impl std::fmt::Debug for CustomLoss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CustomLoss({:?})", self.0.name())
    }
}

impl PartialEq for CustomLoss {
    fn eq(&self, other: &Self) -> bool {
        // The same function object: a loss is its code, which cannot be compared.
        std::ptr::addr_eq(self.0, other.0)
    }
}

/// [`LossFunction`] from a closure, for [`Loss::from_fn`].
struct ClosureLoss<F> {
    name: &'static str,
    f: F,
}

impl<F> LossFunction for ClosureLoss<F>
where
    F: Fn(ArrayView1<'_, f32>, ArrayView1<'_, f32>, ArrayViewMut1<'_, f32>) -> f32 + Send + Sync,
{
    fn name(&self) -> &'static str {
        self.name
    }

    fn row(
        &self,
        pred: ArrayView1<'_, f32>,
        target: ArrayView1<'_, f32>,
        grad: ArrayViewMut1<'_, f32>,
    ) -> f32 {
        (self.f)(pred, target, grad)
    }
}

impl Loss {
    /// A loss of the user's own, from a [`LossFunction`] that lives as long as the program
    /// (a `static`, or one leaked once).
    pub fn custom(f: &'static dyn LossFunction) -> Self {
        Loss::Custom(CustomLoss(f))
    }

    /// A loss of the user's own from a closure: `f(pred_row, target_row, grad_row)` returns
    /// the row's loss and writes its gradient with respect to `pred_row` (see
    /// [`LossFunction`]). The closure is kept for the rest of the program (one allocation,
    /// leaked): build the loss once, not per step.
    ///
    /// ```
    /// use stratic_core::Loss;
    ///
    /// // Squared error over the row's sum, as a closure.
    /// let loss = Loss::from_fn("sum_squared", |p, t, mut g| {
    ///     let d = p.sum() - t.sum();
    ///     g.fill(2.0 * d);
    ///     d * d
    /// });
    /// assert_eq!(loss.name(), "sum_squared");
    /// ```
    pub fn from_fn<F>(name: &'static str, f: F) -> Self
    where
        F: Fn(ArrayView1<'_, f32>, ArrayView1<'_, f32>, ArrayViewMut1<'_, f32>) -> f32
            + Send
            + Sync
            + 'static,
    {
        Loss::custom(Box::leak(Box::new(ClosureLoss { name, f })))
    }

    /// `"mse"`.
    pub fn mse() -> Self {
        Loss::MeanSquaredError
    }

    /// `"mae"`.
    pub fn mae() -> Self {
        Loss::MeanAbsoluteError
    }

    /// `"binary_crossentropy"` on probabilities.
    pub fn binary_crossentropy() -> Self {
        Loss::BinaryCrossentropy {
            from_logits: false,
            label_smoothing: 0.0,
        }
    }

    /// `"categorical_crossentropy"` on probabilities.
    pub fn categorical_crossentropy() -> Self {
        Loss::CategoricalCrossentropy {
            from_logits: false,
            label_smoothing: 0.0,
        }
    }

    /// `"sparse_categorical_crossentropy"` on probabilities.
    pub fn sparse_categorical_crossentropy() -> Self {
        Loss::SparseCategoricalCrossentropy { from_logits: false }
    }

    /// The same cross-entropy with Keras' `label_smoothing` (binary: targets move towards 0.5;
    /// categorical: towards `1 / k`). Other losses have no label smoothing in Keras and are
    /// returned unchanged. The value is checked when the loss is computed: it must be in
    /// `[0, 1]`.
    pub fn with_label_smoothing(self, label_smoothing: f32) -> Self {
        match self {
            Loss::BinaryCrossentropy { from_logits, .. } => Loss::BinaryCrossentropy {
                from_logits,
                label_smoothing,
            },
            Loss::CategoricalCrossentropy { from_logits, .. } => Loss::CategoricalCrossentropy {
                from_logits,
                label_smoothing,
            },
            other => other,
        }
    }

    /// Keras' name of the loss.
    pub fn name(&self) -> &'static str {
        match self {
            Loss::MeanSquaredError => "mean_squared_error",
            Loss::MeanAbsoluteError => "mean_absolute_error",
            Loss::BinaryCrossentropy { .. } => "binary_crossentropy",
            Loss::CategoricalCrossentropy { .. } => "categorical_crossentropy",
            Loss::SparseCategoricalCrossentropy { .. } => "sparse_categorical_crossentropy",
            Loss::Custom(c) => c.0.name(),
        }
    }

    /// Whether targets are class ids (one per row) rather than one value per output.
    pub fn is_sparse(&self) -> bool {
        matches!(self, Loss::SparseCategoricalCrossentropy { .. })
    }

    /// The loss of `pred` (`(rows, k)`) against `target` (`(rows, k)`, or `(rows, 1)` of class
    /// ids for the sparse loss), writing dLoss/dPred into `grad` (resized only if its shape
    /// differs).
    pub fn compute(
        &self,
        pred: ArrayView2<'_, f32>,
        target: ArrayView2<'_, f32>,
        grad: &mut Array2<f32>,
    ) -> Result<f32, Error> {
        self.compute_weighted(pred, target, None, grad)
    }

    /// [`compute`](Loss::compute) with a weight per row (Keras' `sample_weight`, one per
    /// sample, repeated over the rows a sample spans): the loss is `sum(w_r * l_r) / rows`,
    /// Keras' `sum_over_batch_size` reduction, which divides by the number of rows and not by
    /// the sum of the weights.
    ///
    /// # Errors
    /// [`Error::TargetShape`] if the shapes disagree, or `weights` has not one value per row;
    /// [`Error::InvalidArgument`] if `label_smoothing` is not in `[0, 1]`.
    pub fn compute_weighted(
        &self,
        pred: ArrayView2<'_, f32>,
        target: ArrayView2<'_, f32>,
        weights: Option<ndarray::ArrayView1<'_, f32>>,
        grad: &mut Array2<f32>,
    ) -> Result<f32, Error> {
        self.check_shapes(pred, target)?;
        let smoothing = match *self {
            Loss::BinaryCrossentropy {
                label_smoothing, ..
            }
            | Loss::CategoricalCrossentropy {
                label_smoothing, ..
            } => label_smoothing,
            _ => 0.0,
        };
        if !(0.0..=1.0).contains(&smoothing) {
            return Err(Error::InvalidArgument {
                name: "label_smoothing",
                message: format!("must be in [0, 1]; received {smoothing}"),
            });
        }
        let (rows, k) = pred.dim();
        if let Some(w) = weights {
            if w.len() != rows {
                return Err(Error::TargetShape {
                    expected: format!("({rows},)"),
                    actual: w.shape().to_vec(),
                    message: format!(
                        "sample weights need one value per row: {rows} rows, received {}",
                        w.len()
                    ),
                });
            }
        }
        ensure_shape(grad, rows, k);
        if rows == 0 || k == 0 {
            grad.fill(0.0);
            return Ok(0.0);
        }
        let weight = |r: usize| weights.map_or(1.0, |w| w[r]);
        // Per-element gradients are scaled by the reduction: 1/rows for the batch mean, and
        // 1/k more for losses that average over the last axis; then by the row's weight.
        let per_row = 1.0 / rows as f32;
        let per_elem = per_row / k as f32;
        // A macro rather than a closure taking a `fn`: each loss's element function must be
        // inlined into the loop (an indirect call per element costs ~15% of a W1 step).
        macro_rules! elementwise {
            ($f:expr) => {
                elementwise_sum(pred, target, grad, weights, per_elem, $f) / k as f64
            };
        }
        let total: f64 = match *self {
            Loss::MeanSquaredError => elementwise!(|p: f32, t: f32| {
                let d = p - t;
                (d * d, 2.0 * d)
            }),
            // TF's gradient of |x| is sign(x), 0 at 0.
            Loss::MeanAbsoluteError => elementwise!(|p: f32, t: f32| {
                let d = p - t;
                let s = if d > 0.0 {
                    1.0
                } else if d < 0.0 {
                    -1.0
                } else {
                    0.0
                };
                (d.abs(), s)
            }),
            // Keras smooths the targets, then computes the loss as usual; with no smoothing the
            // targets pass unchanged (t * 1 + 0 is t).
            Loss::BinaryCrossentropy {
                from_logits: true,
                label_smoothing: ls,
            } => {
                let (a, b) = (1.0 - ls, 0.5 * ls);
                elementwise!(|x: f32, t: f32| bce_logits(x, t * a + b))
            }
            Loss::BinaryCrossentropy {
                from_logits: false,
                label_smoothing: ls,
            } => {
                let (a, b) = (1.0 - ls, 0.5 * ls);
                elementwise!(|p: f32, t: f32| bce_probs(p, t * a + b))
            }
            Loss::CategoricalCrossentropy {
                from_logits,
                label_smoothing: ls,
            } => {
                let smooth = Smoothing {
                    keep: 1.0 - ls,
                    add: ls / k as f32,
                };
                let mut sum = 0.0f64;
                for (r, ((p, t), g)) in pred
                    .axis_iter(Axis(0))
                    .zip(target.axis_iter(Axis(0)))
                    .zip(grad.axis_iter_mut(Axis(0)))
                    .enumerate()
                {
                    let w = weight(r);
                    let l = if from_logits {
                        cce_logits_row(p, t, smooth, g, per_row * w)
                    } else {
                        cce_probs_row(p, t, smooth, g, per_row * w)
                    };
                    sum += w as f64 * l;
                }
                sum
            }
            Loss::Custom(c) => {
                let mut sum = 0.0f64;
                for (r, ((p, t), mut g)) in pred
                    .axis_iter(Axis(0))
                    .zip(target.axis_iter(Axis(0)))
                    .zip(grad.axis_iter_mut(Axis(0)))
                    .enumerate()
                {
                    let w = weight(r);
                    let l = c.0.row(p, t, g.view_mut());
                    // The row's gradient, scaled by the batch mean and the row's weight.
                    g.mapv_inplace(|v| v * per_row * w);
                    sum += f64::from(w) * f64::from(l);
                }
                sum
            }
            Loss::SparseCategoricalCrossentropy { from_logits } => {
                let mut sum = 0.0f64;
                for (r, ((p, t), g)) in pred
                    .axis_iter(Axis(0))
                    .zip(target.axis_iter(Axis(0)))
                    .zip(grad.axis_iter_mut(Axis(0)))
                    .enumerate()
                {
                    let label = class_id(t[0], k, r, target.shape())?;
                    let w = weight(r);
                    let l = if from_logits {
                        scce_logits_row(p, label, g, per_row * w)
                    } else {
                        scce_probs_row(p, label, g, per_row * w)
                    };
                    sum += w as f64 * l;
                }
                sum
            }
        };
        Ok((total / rows as f64) as f32)
    }

    /// The loss value alone (allocates a gradient buffer; training uses [`Loss::compute`]).
    pub fn value(
        &self,
        pred: ArrayView2<'_, f32>,
        target: ArrayView2<'_, f32>,
    ) -> Result<f32, Error> {
        let mut grad = Array2::zeros((0, 0));
        self.compute(pred, target, &mut grad)
    }

    fn check_shapes(
        &self,
        pred: ArrayView2<'_, f32>,
        target: ArrayView2<'_, f32>,
    ) -> Result<(), Error> {
        let (rows, k) = pred.dim();
        // A user's loss takes targets of the output's shape, as the element-wise losses.
        let expected = if self.is_sparse() {
            (rows, 1)
        } else {
            (rows, k)
        };
        if target.dim() == expected {
            return Ok(());
        }
        let what = if self.is_sparse() {
            "one class id per row"
        } else {
            "one target per prediction"
        };
        Err(Error::TargetShape {
            expected: format!("({}, {})", expected.0, expected.1),
            actual: target.shape().to_vec(),
            message: format!(
                "{} needs {what}: predictions have shape ({rows}, {k}), so targets must have shape ({}, {}), received {:?}",
                self.name(),
                expected.0,
                expected.1,
                target.shape()
            ),
        })
    }
}

// The sum over rows of `w_r * sum_j l(p_rj, t_rj)` for an element-wise loss `f` returning the
// loss and its derivative, writing each derivative scaled by `per_elem * w_r` into `grad`.
#[inline]
fn elementwise_sum(
    pred: ArrayView2<'_, f32>,
    target: ArrayView2<'_, f32>,
    grad: &mut Array2<f32>,
    weights: Option<ndarray::ArrayView1<'_, f32>>,
    per_elem: f32,
    f: impl Fn(f32, f32) -> (f32, f32),
) -> f64 {
    if weights.is_none() {
        // One pass over the whole batch: the common, unweighted case.
        let mut sum = 0.0f64;
        Zip::from(&mut *grad)
            .and(&pred)
            .and(&target)
            .for_each(|g, &p, &t| {
                let (l, d) = f(p, t);
                sum += l as f64;
                *g = d * per_elem;
            });
        return sum;
    }
    let mut sum = 0.0f64;
    for (r, ((p, t), g)) in pred
        .axis_iter(Axis(0))
        .zip(target.axis_iter(Axis(0)))
        .zip(grad.axis_iter_mut(Axis(0)))
        .enumerate()
    {
        let w = weights.map_or(1.0, |w| w[r]);
        let scale = per_elem * w;
        let mut row = 0.0f64;
        Zip::from(g).and(&p).and(&t).for_each(|g, &p, &t| {
            let (l, d) = f(p, t);
            row += l as f64;
            *g = d * scale;
        });
        sum += w as f64 * row;
    }
    sum
}

// A sparse target must be an integer class id in 0..k.
fn class_id(v: f32, k: usize, row: usize, shape: &[usize]) -> Result<usize, Error> {
    if v.is_finite() && v.fract() == 0.0 && v >= 0.0 && (v as usize) < k {
        Ok(v as usize)
    } else {
        Err(Error::TargetShape {
            expected: format!("class ids in [0, {k})"),
            actual: shape.to_vec(),
            message: format!(
                "sparse_categorical_crossentropy needs integer class ids in [0, {k}); the target of row {row} is {v}"
            ),
        })
    }
}

fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

// TF's sigmoid_cross_entropy_with_logits: max(x, 0) - x t + log(1 + e^-|x|); gradient
// sigmoid(x) - t.
fn bce_logits(x: f32, t: f32) -> (f32, f32) {
    let l = x.max(0.0) - x * t + (-x.abs()).exp().ln_1p();
    (l, sigmoid(x) - t)
}

// Keras clips probabilities to [eps, 1 - eps]; the clip passes no gradient outside it.
fn bce_probs(p: f32, t: f32) -> (f32, f32) {
    let c = p.clamp(EPSILON, 1.0 - EPSILON);
    let l = -(t * c.ln() + (1.0 - t) * (1.0 - c).ln());
    let d = if (EPSILON..=1.0 - EPSILON).contains(&p) {
        -t / c + (1.0 - t) / (1.0 - c)
    } else {
        0.0
    };
    (l, d)
}

/// Label smoothing of a categorical target: `t * keep + add`.
#[derive(Clone, Copy)]
struct Smoothing {
    keep: f32,
    add: f32,
}

impl Smoothing {
    #[inline(always)]
    fn apply(self, t: f32) -> f32 {
        t * self.keep + self.add
    }
}

// TF's softmax_cross_entropy_with_logits: -sum t (x - logsumexp x); its gradient is
// softmax(x) - t (exact for targets summing to one, and what TF uses regardless).
fn cce_logits_row(
    x: ndarray::ArrayView1<'_, f32>,
    t: ndarray::ArrayView1<'_, f32>,
    smooth: Smoothing,
    mut g: ndarray::ArrayViewMut1<'_, f32>,
    scale: f32,
) -> f64 {
    let max = x.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let lse = max as f64
        + x.iter()
            .map(|&v| ((v - max) as f64).exp())
            .sum::<f64>()
            .ln();
    let loss: f64 = x
        .iter()
        .zip(t.iter())
        .map(|(&v, &t)| -(smooth.apply(t) as f64) * (v as f64 - lse))
        .sum();
    g.assign(&x);
    softmax_row(g.view_mut());
    Zip::from(&mut g)
        .and(&t)
        .for_each(|g, &t| *g = (*g - smooth.apply(t)) * scale);
    loss
}

// Keras on probabilities: q = p / sum(p), clipped to [eps, 1 - eps], loss -sum t log q.
// With g_j = dL/dq_j (zero where the clip is active), dL/dp_k = (g_k - sum_j g_j q_j) / sum(p).
fn cce_probs_row(
    p: ndarray::ArrayView1<'_, f32>,
    t: ndarray::ArrayView1<'_, f32>,
    smooth: Smoothing,
    mut g: ndarray::ArrayViewMut1<'_, f32>,
    scale: f32,
) -> f64 {
    let s: f32 = p.sum();
    let mut loss = 0.0f64;
    let mut dot = 0.0f32;
    Zip::from(&mut g).and(&p).and(&t).for_each(|g, &p, &t| {
        let t = smooth.apply(t);
        let q = p / s;
        let c = q.clamp(EPSILON, 1.0 - EPSILON);
        loss -= (t * c.ln()) as f64;
        *g = if (EPSILON..=1.0 - EPSILON).contains(&q) {
            -t / c
        } else {
            0.0
        };
        dot += *g * q;
    });
    g.map_inplace(|g| *g = (*g - dot) / s * scale);
    loss
}

// TF's sparse_softmax_cross_entropy_with_logits: logsumexp(x) - x[label]; gradient
// softmax(x) - onehot(label).
fn scce_logits_row(
    x: ndarray::ArrayView1<'_, f32>,
    label: usize,
    mut g: ndarray::ArrayViewMut1<'_, f32>,
    scale: f32,
) -> f64 {
    let max = x.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let lse = max as f64
        + x.iter()
            .map(|&v| ((v - max) as f64).exp())
            .sum::<f64>()
            .ln();
    let loss = lse - x[label] as f64;
    g.assign(&x);
    softmax_row(g.view_mut());
    g[label] -= 1.0;
    g.map_inplace(|g| *g *= scale);
    loss
}

// Keras on probabilities: logits = log(clip(p)), then the sparse softmax cross-entropy, i.e.
// log(sum c) - log(c[label]). dL/dp_j = (1/sum c - [j = label]/c_j) where the clip is inactive.
fn scce_probs_row(
    p: ndarray::ArrayView1<'_, f32>,
    label: usize,
    mut g: ndarray::ArrayViewMut1<'_, f32>,
    scale: f32,
) -> f64 {
    let clip = |v: f32| v.clamp(EPSILON, 1.0 - EPSILON);
    let s: f32 = p.iter().map(|&v| clip(v)).sum();
    let c_label = clip(p[label]);
    let loss = (s as f64).ln() - (c_label as f64).ln();
    for (j, (g, &p)) in g.iter_mut().zip(p.iter()).enumerate() {
        *g = if (EPSILON..=1.0 - EPSILON).contains(&p) {
            let onehot = if j == label { 1.0 / clip(p) } else { 0.0 };
            (1.0 / s - onehot) * scale
        } else {
            0.0
        };
    }
    loss
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn gradients_match_finite_differences() {
        let pred_probs = array![[0.2f32, 0.5, 0.3], [0.6, 0.1, 0.3]];
        let pred_logits = array![[0.4f32, -1.2, 2.0], [1.5, 0.3, -0.7]];
        let dense_t = array![[0.0f32, 1.0, 0.0], [1.0, 0.0, 0.0]];
        let sparse_t = array![[1.0f32], [0.0]];
        let cases = [
            (Loss::mse(), &pred_logits, &dense_t),
            (Loss::mae(), &pred_logits, &dense_t),
            (Loss::binary_crossentropy(), &pred_probs, &dense_t),
            (
                Loss::BinaryCrossentropy {
                    from_logits: true,
                    label_smoothing: 0.0,
                },
                &pred_logits,
                &dense_t,
            ),
            (
                Loss::binary_crossentropy().with_label_smoothing(0.2),
                &pred_probs,
                &dense_t,
            ),
            (Loss::categorical_crossentropy(), &pred_probs, &dense_t),
            (
                Loss::categorical_crossentropy().with_label_smoothing(0.2),
                &pred_probs,
                &dense_t,
            ),
            (
                Loss::CategoricalCrossentropy {
                    from_logits: true,
                    label_smoothing: 0.0,
                },
                &pred_logits,
                &dense_t,
            ),
            (
                Loss::sparse_categorical_crossentropy(),
                &pred_probs,
                &sparse_t,
            ),
            (
                Loss::SparseCategoricalCrossentropy { from_logits: true },
                &pred_logits,
                &sparse_t,
            ),
        ];
        for (loss, pred, target) in cases {
            let mut grad = Array2::zeros((0, 0));
            loss.compute(pred.view(), target.view(), &mut grad).unwrap();
            let h = 1e-3f32;
            for i in 0..2 {
                for j in 0..3 {
                    let mut p = pred.clone();
                    p[[i, j]] += h;
                    let up = loss.value(p.view(), target.view()).unwrap() as f64;
                    p[[i, j]] -= 2.0 * h;
                    let down = loss.value(p.view(), target.view()).unwrap() as f64;
                    let fd = (up - down) / (2.0 * h as f64);
                    let an = grad[[i, j]] as f64;
                    assert!(
                        (fd - an).abs() < 5e-3 * (1.0 + an.abs()),
                        "{loss:?} ({i},{j}): analytic {an}, numeric {fd}"
                    );
                }
            }
        }
    }

    #[test]
    fn shape_and_label_errors() {
        let pred = array![[0.1f32, 0.9], [0.5, 0.5]];
        let e = Loss::mse().value(pred.view(), array![[1.0f32]].view());
        assert!(matches!(e, Err(Error::TargetShape { .. })), "{e:?}");
        for bad in [2.0f32, -1.0, 0.5, f32::NAN] {
            let t = array![[0.0f32], [bad]];
            let e = Loss::SparseCategoricalCrossentropy { from_logits: true }
                .value(pred.view(), t.view());
            match e {
                Err(Error::TargetShape { message, .. }) => {
                    assert!(message.contains("row 1"), "{message}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        for bad in [-0.1f32, 1.5, f32::NAN] {
            let loss = Loss::categorical_crossentropy().with_label_smoothing(bad);
            let e = loss.value(pred.view(), pred.view());
            assert!(
                matches!(
                    e,
                    Err(Error::InvalidArgument {
                        name: "label_smoothing",
                        ..
                    })
                ),
                "{bad}: {e:?}"
            );
        }
        // The other losses have no label smoothing: the builder leaves them as they are.
        assert_eq!(Loss::mse().with_label_smoothing(0.5), Loss::mse());
    }

    #[test]
    fn probabilities_are_clipped() {
        // log(0) would be infinite; Keras clips to eps and so do we.
        let l = Loss::binary_crossentropy()
            .value(array![[0.0f32]].view(), array![[1.0f32]].view())
            .unwrap();
        assert!((l - (-(EPSILON.ln()))).abs() < 1e-4, "{l}");
    }
}
