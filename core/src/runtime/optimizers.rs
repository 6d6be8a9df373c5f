//! Optimizers with Keras 3's update rules and defaults.
//!
//! An optimizer walks the model's parameters with [`Model::visit_params`]; it keeps its state
//! (momenta, velocities) per parameter in visit order and allocates it on the first step.

use super::parallel::split;
use super::{Error, Model, ParamMut};

/// An optimizer: updates every parameter from its gradient, once per training step.
pub trait Optimizer {
    /// Updates the parameter at position `index` of the visit order.
    fn update(&mut self, index: usize, param: ParamMut<'_>);

    /// Ends a step: advances the iteration count (Keras' `optimizer.iterations`).
    fn finish_step(&mut self);

    /// The learning rate.
    fn learning_rate(&self) -> f32;

    /// Sets the learning rate (schedules and callbacks use this).
    fn set_learning_rate(&mut self, learning_rate: f32);

    /// Checks the hyperparameters; `fit` calls this before training.
    fn validate(&self) -> Result<(), Error> {
        check_learning_rate(self.learning_rate())
    }

    /// The `global_clipnorm` of a [`Clipped`] optimizer: training then computes the norm of
    /// the step's whole gradient first and hands it to [`begin_step`](Optimizer::begin_step).
    fn global_clip(&self) -> Option<f32> {
        None
    }

    /// Receives the norm of the step's whole gradient, before its first `update` (only when
    /// [`global_clip`](Optimizer::global_clip) is set).
    fn begin_step(&mut self, _global_norm: f32) {}

    /// Whether the optimizer clips its gradients (Keras allows one clipping per optimizer).
    fn clips(&self) -> bool {
        false
    }

    /// One step over every trainable parameter of `model`, from the gradients of the last
    /// `backward`.
    fn step<M: Model>(&mut self, model: &mut M)
    where
        Self: Sized,
    {
        let mut index = 0;
        model.visit_params(&mut |param| {
            self.update(index, param);
            index += 1;
        });
        self.finish_step();
    }
}

/// How a [`Clipped`] optimizer clips each step's gradients, as Keras' optimizer arguments.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Clip {
    /// `clipnorm`: each variable's gradient scaled to an L2 norm of at most this.
    Norm(f32),
    /// `clipvalue`: each gradient value clipped to `[-v, v]`.
    Value(f32),
    /// `global_clipnorm`: the whole gradient (every variable together) scaled to an L2 norm
    /// of at most this.
    GlobalNorm(f32),
}

/// An optimizer whose gradients are clipped before each update: Keras' `clipnorm`,
/// `clipvalue` and `global_clipnorm`, made with [`ClipGradients`]
/// (`Adam::new(1e-3).global_clipnorm(1.0)`).
///
/// The gradient clipped is the one the optimizer would use: the loss's, plus the weight
/// regularizers', averaged over the ranks under MPI.
#[derive(Clone, Debug)]
pub struct Clipped<O> {
    inner: O,
    clip: Clip,
    scale: f32,
    scratch: Vec<f32>,
}

impl<O> Clipped<O> {
    /// The optimizer under the clipping.
    pub fn inner(&self) -> &O {
        &self.inner
    }

    /// The clipping.
    pub fn clip(&self) -> Clip {
        self.clip
    }
}

/// Keras' gradient clipping on every optimizer:
/// `SGD::new(0.1).clipnorm(1.0)`, `Adam::new(1e-3).clipvalue(0.5)`,
/// `RMSprop::new(1e-3).global_clipnorm(1.0)`.
///
/// ```
/// use stratic_core::{Adam, ClipGradients, Optimizer};
///
/// let optimizer = Adam::new(1e-3).global_clipnorm(1.0);
/// assert_eq!(optimizer.learning_rate(), 1e-3);
/// ```
pub trait ClipGradients: Optimizer + Sized {
    /// Scales each variable's gradient to an L2 norm of at most `max_norm` (Keras' `clipnorm`).
    fn clipnorm(self, max_norm: f32) -> Clipped<Self> {
        Clipped::new(self, Clip::Norm(max_norm))
    }

    /// Clips each gradient value to `[-max_value, max_value]` (Keras' `clipvalue`).
    fn clipvalue(self, max_value: f32) -> Clipped<Self> {
        Clipped::new(self, Clip::Value(max_value))
    }

    /// Scales the whole gradient to an L2 norm of at most `max_norm` (Keras'
    /// `global_clipnorm`).
    fn global_clipnorm(self, max_norm: f32) -> Clipped<Self> {
        Clipped::new(self, Clip::GlobalNorm(max_norm))
    }
}

impl<O: Optimizer> ClipGradients for O {}

impl<O> Clipped<O> {
    fn new(inner: O, clip: Clip) -> Self {
        Clipped {
            inner,
            clip,
            scale: 1.0,
            scratch: Vec::new(),
        }
    }
}

/// `max / max(norm, max)`, Keras' `clip_by_norm` factor (1 when the norm is within `max`).
fn clip_factor(norm: f32, max: f32) -> f32 {
    if norm > max {
        max / norm
    } else {
        1.0
    }
}

/// The L2 norm of `g`, accumulated in f64.
pub(crate) fn l2_norm(g: &[f32]) -> f32 {
    g.iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum::<f64>()
        .sqrt() as f32
}

impl<O: Optimizer> Optimizer for Clipped<O> {
    fn update(&mut self, index: usize, param: ParamMut<'_>) {
        let factor = match self.clip {
            Clip::Norm(max) => clip_factor(l2_norm(param.grad), max),
            Clip::GlobalNorm(_) => self.scale,
            Clip::Value(_) => 1.0,
        };
        self.scratch.clear();
        match self.clip {
            Clip::Value(max) => self
                .scratch
                .extend(param.grad.iter().map(|g| g.clamp(-max, max))),
            _ => self.scratch.extend(param.grad.iter().map(|g| g * factor)),
        }
        let grad = std::mem::take(&mut self.scratch);
        self.inner.update(
            index,
            ParamMut {
                layer: param.layer,
                variable: param.variable,
                shape: param.shape,
                value: param.value,
                grad: &grad,
            },
        );
        self.scratch = grad;
    }

    fn finish_step(&mut self) {
        self.scale = 1.0;
        self.inner.finish_step();
    }

    fn learning_rate(&self) -> f32 {
        self.inner.learning_rate()
    }

    fn set_learning_rate(&mut self, learning_rate: f32) {
        self.inner.set_learning_rate(learning_rate);
    }

    fn validate(&self) -> Result<(), Error> {
        self.inner.validate()?;
        let (name, v) = match self.clip {
            Clip::Norm(v) => ("clipnorm", v),
            Clip::Value(v) => ("clipvalue", v),
            Clip::GlobalNorm(v) => ("global_clipnorm", v),
        };
        if self.inner.clips() {
            return Err(Error::InvalidArgument {
                name,
                message: "only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set, as in Keras".to_string(),
            });
        }
        if !(v.is_finite() && v > 0.0) {
            return Err(Error::InvalidArgument {
                name,
                message: format!("must be a finite, positive number; received {v}"),
            });
        }
        Ok(())
    }

    fn global_clip(&self) -> Option<f32> {
        match self.clip {
            Clip::GlobalNorm(v) => Some(v),
            _ => None,
        }
    }

    fn begin_step(&mut self, global_norm: f32) {
        if let Clip::GlobalNorm(max) = self.clip {
            self.scale = clip_factor(global_norm, max);
        }
    }

    fn clips(&self) -> bool {
        true
    }

    fn step<M: Model>(&mut self, model: &mut M) {
        if let Clip::GlobalNorm(_) = self.clip {
            let mut sum = 0.0f64;
            model.visit_params(&mut |p| {
                sum += p
                    .grad
                    .iter()
                    .map(|&v| f64::from(v) * f64::from(v))
                    .sum::<f64>();
            });
            self.begin_step(sum.sqrt() as f32);
        }
        let mut index = 0;
        model.visit_params(&mut |param| {
            self.update(index, param);
            index += 1;
        });
        self.finish_step();
    }
}

fn check_learning_rate(lr: f32) -> Result<(), Error> {
    if lr.is_finite() && lr >= 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            name: "learning_rate",
            message: format!("must be a finite, non-negative number; received {lr}"),
        })
    }
}

fn check_range(name: &'static str, v: f64, lo: f64, hi: f64) -> Result<(), Error> {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            name,
            message: format!("must be in [{lo}, {hi}]; received {v}"),
        })
    }
}

/// Per-parameter state vectors, created zeroed on first use (and recreated if a parameter's
/// size changed, e.g. after the model was rebuilt).
#[derive(Clone, Debug, Default)]
struct Slots(Vec<Vec<f32>>);

impl Slots {
    fn get(&mut self, index: usize, len: usize) -> &mut [f32] {
        if self.0.len() <= index {
            self.0.resize_with(index + 1, Vec::new);
        }
        let slot = &mut self.0[index];
        if slot.len() != len {
            *slot = vec![0.0; len];
        }
        slot
    }
}

/// Stochastic gradient descent, with optional (Nesterov) momentum, as Keras' `SGD`.
///
/// ```
/// # use stratic::prelude::*;
/// # model! { pub struct Net { input(shape = [4]) -> dense(8, activation = relu) -> dense(1) } }
/// # let x = Array2::<f32>::from_shape_fn((16, 4), |(i, j)| ((i + 2 * j) % 5) as f32 / 5.0);
/// # let y = x.sum_axis(Axis(1)).insert_axis(Axis(1));
/// // Keras: model.compile(optimizer=SGD(...), loss="mse")
/// let mut model = Net::with_seed(0).compile(SGD::new(0.01).momentum(0.9).nesterov(true), Loss::mse());
/// let history = model.fit(x.view(), y.view(), &FitOptions::default().epochs(2).verbose(0))?;
/// assert_eq!(history.loss().len(), 2);
/// # Ok::<(), stratic::Error>(())
/// ```
#[allow(clippy::upper_case_acronyms)] // Keras' name.
#[derive(Clone, Debug)]
pub struct SGD {
    learning_rate: f32,
    momentum: f64,
    nesterov: bool,
    velocities: Slots,
    iterations: u64,
}

impl SGD {
    /// SGD with this learning rate, no momentum.
    pub fn new(learning_rate: f32) -> Self {
        SGD {
            learning_rate,
            momentum: 0.0,
            nesterov: false,
            velocities: Slots::default(),
            iterations: 0,
        }
    }

    /// Sets the momentum (Keras: a float in [0, 1], default 0).
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }

    /// Whether to use Nesterov momentum.
    pub fn nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
        self
    }

    /// The number of steps taken.
    pub fn iterations(&self) -> u64 {
        self.iterations
    }
}

impl Default for SGD {
    /// Keras' default, learning rate 0.01.
    fn default() -> Self {
        SGD::new(0.01)
    }
}

impl Optimizer for SGD {
    fn update(&mut self, index: usize, p: ParamMut<'_>) {
        let lr = self.learning_rate;
        if self.momentum == 0.0 {
            for (w, g) in p.value.iter_mut().zip(p.grad) {
                *w -= g * lr;
            }
            return;
        }
        let mu = self.momentum as f32;
        let m = self.velocities.get(index, p.value.len());
        for ((w, g), m) in p.value.iter_mut().zip(p.grad).zip(m.iter_mut()) {
            // m <- mu m - lr g; then w += m, or w += mu m - lr g with Nesterov.
            *m = flush_subnormal(*m * mu - g * lr);
            if self.nesterov {
                *w += *m * mu - g * lr;
            } else {
                *w += *m;
            }
        }
    }

    fn finish_step(&mut self) {
        self.iterations += 1;
    }

    fn learning_rate(&self) -> f32 {
        self.learning_rate
    }

    fn set_learning_rate(&mut self, learning_rate: f32) {
        self.learning_rate = learning_rate;
    }

    fn validate(&self) -> Result<(), Error> {
        check_learning_rate(self.learning_rate)?;
        check_range("momentum", self.momentum, 0.0, 1.0)
    }
}

// Hyperparameters are kept as f64, like Keras' Python floats: `1 - rho` is computed in double
// precision and only then rounded to f32, as Keras does when it mixes a Python float into a
// float32 tensor op. Computing it from an f32 `rho` would differ in the last bits.
fn one_minus(v: f64) -> f32 {
    (1.0 - v) as f32
}

/// RMSprop as Keras 3 implements it: epsilon is added to the velocity inside the square root.
///
/// ```
/// # use stratic::prelude::*;
/// # model! { pub struct Net { input(shape = [4]) -> dense(8, activation = relu) -> dense(1) } }
/// # let x = Array2::<f32>::from_shape_fn((16, 4), |(i, j)| ((i + 2 * j) % 5) as f32 / 5.0);
/// # let y = x.sum_axis(Axis(1)).insert_axis(Axis(1));
/// // Keras: model.compile(optimizer=RMSprop(...), loss="mse")
/// let mut model = Net::with_seed(0).compile(RMSprop::new(0.001).rho(0.9).centered(true), Loss::mse());
/// let history = model.fit(x.view(), y.view(), &FitOptions::default().epochs(2).verbose(0))?;
/// assert_eq!(history.loss().len(), 2);
/// # Ok::<(), stratic::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct RMSprop {
    learning_rate: f32,
    rho: f64,
    momentum: f64,
    epsilon: f64,
    centered: bool,
    velocities: Slots,
    momenta: Slots,
    average_gradients: Slots,
    iterations: u64,
}

impl RMSprop {
    /// RMSprop with this learning rate and Keras' defaults (rho 0.9, momentum 0,
    /// epsilon 1e-7, not centered).
    pub fn new(learning_rate: f32) -> Self {
        RMSprop {
            learning_rate,
            rho: 0.9,
            momentum: 0.0,
            epsilon: 1e-7,
            centered: false,
            velocities: Slots::default(),
            momenta: Slots::default(),
            average_gradients: Slots::default(),
            iterations: 0,
        }
    }

    /// Discount factor of the squared-gradient average.
    pub fn rho(mut self, rho: f64) -> Self {
        self.rho = rho;
        self
    }

    /// Momentum applied to the increments.
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }

    /// The small constant added to the velocity for numerical stability.
    pub fn epsilon(mut self, epsilon: f64) -> Self {
        self.epsilon = epsilon;
        self
    }

    /// Whether to normalise by the estimated variance of the gradient rather than its second
    /// moment.
    pub fn centered(mut self, centered: bool) -> Self {
        self.centered = centered;
        self
    }

    /// The number of steps taken.
    pub fn iterations(&self) -> u64 {
        self.iterations
    }
}

impl Default for RMSprop {
    /// Keras' default, learning rate 0.001.
    fn default() -> Self {
        RMSprop::new(0.001)
    }
}

impl Optimizer for RMSprop {
    fn update(&mut self, index: usize, p: ParamMut<'_>) {
        let (lr, rho, one_minus_rho, eps) = (
            self.learning_rate,
            self.rho as f32,
            one_minus(self.rho),
            self.epsilon as f32,
        );
        let momentum = self.momentum as f32;
        let n = p.value.len();
        let v = self.velocities.get(index, n);
        let mut avg = self.centered.then(|| self.average_gradients.get(index, n));
        let mut mom = (self.momentum > 0.0).then(|| self.momenta.get(index, n));
        for i in 0..n {
            let g = p.grad[i];
            // Flushed like Adam's moments: with a zero gradient (W1's x = 0) v decays by rho
            // per step and would be subnormal, slow on x86, within a few hundred steps.
            v[i] = flush_subnormal(rho * v[i] + one_minus_rho * (g * g));
            let denom = match avg.as_deref_mut() {
                Some(a) => {
                    a[i] = flush_subnormal(rho * a[i] + one_minus_rho * g);
                    v[i] - a[i] * a[i] + eps
                }
                None => v[i] + eps,
            };
            let increment = lr * g / denom.sqrt();
            match mom.as_deref_mut() {
                Some(m) => {
                    m[i] = flush_subnormal(momentum * m[i] + increment);
                    p.value[i] -= m[i];
                }
                None => p.value[i] -= increment,
            }
        }
    }

    fn finish_step(&mut self) {
        self.iterations += 1;
    }

    fn learning_rate(&self) -> f32 {
        self.learning_rate
    }

    fn set_learning_rate(&mut self, learning_rate: f32) {
        self.learning_rate = learning_rate;
    }

    fn validate(&self) -> Result<(), Error> {
        check_learning_rate(self.learning_rate)?;
        check_range("rho", self.rho, 0.0, 1.0)?;
        check_range("momentum", self.momentum, 0.0, 1.0)?;
        check_range("epsilon", self.epsilon, 0.0, f64::MAX)
    }
}

/// The state and update rule shared by `Adam` and `AdamW`.
#[derive(Clone, Debug)]
struct AdamCore {
    learning_rate: f32,
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    amsgrad: bool,
    momenta: Slots,
    velocities: Slots,
    velocity_hats: Slots,
    iterations: u64,
    /// Per-step constant: lr * sqrt(1 - beta_2^t) / (1 - beta_1^t).
    alpha: Option<f32>,
}

impl AdamCore {
    fn new(learning_rate: f32) -> Self {
        AdamCore {
            learning_rate,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            amsgrad: false,
            momenta: Slots::default(),
            velocities: Slots::default(),
            velocity_hats: Slots::default(),
            iterations: 0,
            alpha: None,
        }
    }

    fn alpha(&mut self) -> f32 {
        if let Some(a) = self.alpha {
            return a;
        }
        // As Keras: the betas cast to float32, their powers and the rest in float32 too.
        let t = (self.iterations + 1) as f64;
        let b1p = (self.beta_1 as f32 as f64).powf(t) as f32;
        let b2p = (self.beta_2 as f32 as f64).powf(t) as f32;
        let a = self.learning_rate * (1.0 - b2p).sqrt() / (1.0 - b1p);
        self.alpha = Some(a);
        a
    }

    fn update(&mut self, index: usize, p: ParamMut<'_>) {
        let alpha = self.alpha();
        let (one_minus_b1, one_minus_b2, eps) = (
            one_minus(self.beta_1),
            one_minus(self.beta_2),
            self.epsilon as f32,
        );
        let n = p.value.len();
        let m = self.momenta.get(index, n);
        let v = self.velocities.get(index, n);
        let n = n.min(p.grad.len());
        let (value, grad) = (&mut p.value[..n], &p.grad[..n]);
        let (m, v) = (&mut m[..n], &mut v[..n]);
        let rule = AdamRule {
            alpha,
            one_minus_b1,
            one_minus_b2,
            eps,
        };
        let h = if self.amsgrad {
            &mut self.velocity_hats.get(index, n)[..n]
        } else {
            &mut [][..]
        };
        split(
            (value, grad, m, v, h),
            n,
            ADAM_MIN_SPLIT,
            16,
            |(w, g, m, v, h), at| {
                let (w0, w1) = w.split_at_mut(at);
                let (g0, g1) = g.split_at(at);
                let (m0, m1) = m.split_at_mut(at);
                let (v0, v1) = v.split_at_mut(at);
                let (h0, h1) = h.split_at_mut(at.min(h.len()));
                ((w0, g0, m0, v0, h0), (w1, g1, m1, v1, h1))
            },
            |(w, g, m, v, h)| rule.apply(w, g, m, v, h),
        );
    }

    fn finish_step(&mut self) {
        self.iterations += 1;
        self.alpha = None;
    }

    fn validate(&self) -> Result<(), Error> {
        check_learning_rate(self.learning_rate)?;
        check_range("beta_1", self.beta_1, 0.0, 1.0)?;
        check_range("beta_2", self.beta_2, 0.0, 1.0)?;
        check_range("epsilon", self.epsilon, 0.0, f64::MAX)
    }
}

// A moment below the smallest normal f32 becomes zero. Such values only arise from decaying
// towards zero (a unit whose gradient is zero for a while: the first moment shrinks by beta_1
// per step and is subnormal within a few hundred steps), they move no weight by a
// representable amount, and arithmetic on subnormals is many times slower on x86: W2 training
// ran 2-3x slower after a few hundred steps without this (BENCHMARKS.md). A select, so the
// loop still vectorises.
#[inline(always)]
fn flush_subnormal(x: f32) -> f32 {
    if x.abs() < f32::MIN_POSITIVE {
        0.0
    } else {
        x
    }
}

// Parameters with fewer weights are updated on the calling thread: a fork costs a few
// microseconds, the update of 64k weights tens of microseconds (not tuned further).
const ADAM_MIN_SPLIT: usize = 1 << 16;

/// One Adam step's constants.
#[derive(Clone, Copy)]
struct AdamRule {
    alpha: f32,
    one_minus_b1: f32,
    one_minus_b2: f32,
    eps: f32,
}

impl AdamRule {
    /// Updates `w`, `m`, `v` (and the AMSGrad maxima `h`, if not empty) from `g`; all the same
    /// length. Compiled for AVX-512 too where the CPU has it: the loop is bound by `sqrt` and
    /// the division, 16 lanes instead of 4.
    fn apply(self, w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], h: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (checked just above), the only requirement of
            // a `target_feature` function.
            unsafe { self.apply_avx512(w, g, m, v, h) };
            return;
        }
        self.apply_portable(w, g, m, v, h);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn apply_avx512(self, w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], h: &mut [f32]) {
        self.apply_portable(w, g, m, v, h);
    }

    // Zipped slices without a branch inside: the loop vectorises (sqrt and division are exact
    // in SIMD too, so the values are those of the scalar loop). This matters for embedding
    // tables, which Adam walks whole at every step.
    // `m * (alpha / (sqrt(v) + eps))` rather than Keras' `(m * alpha) / ...`: a small but
    // normal moment times alpha (1e-3) is often subnormal, which is slow on x86, while a small
    // moment comes with a small v, so alpha / (sqrt(v) + eps) is large (up to alpha / eps) and
    // the product stays normal. Same value up to rounding; W2's third epoch 1.8 s -> 1.3 s
    // (BENCHMARKS.md).
    #[inline(always)]
    fn apply_portable(self, w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], h: &mut [f32]) {
        let AdamRule {
            alpha,
            one_minus_b1,
            one_minus_b2,
            eps,
        } = self;
        if h.is_empty() {
            for (((w, g), m), v) in w.iter_mut().zip(g).zip(m).zip(v) {
                *m = flush_subnormal(*m + (g - *m) * one_minus_b1);
                *v = flush_subnormal(*v + (g * g - *v) * one_minus_b2);
                *w -= *m * (alpha / (v.sqrt() + eps));
            }
        } else {
            for ((((w, g), m), v), h) in w.iter_mut().zip(g).zip(m).zip(v).zip(h) {
                *m = flush_subnormal(*m + (g - *m) * one_minus_b1);
                *v = flush_subnormal(*v + (g * g - *v) * one_minus_b2);
                *h = h.max(*v);
                *w -= *m * (alpha / (h.sqrt() + eps));
            }
        }
    }
}

macro_rules! adam_builders {
    () => {
        /// Decay rate of the first-moment estimate (default 0.9).
        pub fn beta_1(mut self, beta_1: f64) -> Self {
            self.core.beta_1 = beta_1;
            self
        }

        /// Decay rate of the second-moment estimate (default 0.999).
        pub fn beta_2(mut self, beta_2: f64) -> Self {
            self.core.beta_2 = beta_2;
            self
        }

        /// The constant added to the root of the second moment (default 1e-7).
        pub fn epsilon(mut self, epsilon: f64) -> Self {
            self.core.epsilon = epsilon;
            self
        }

        /// Whether to use the AMSGrad variant (the running maximum of the second moment).
        pub fn amsgrad(mut self, amsgrad: bool) -> Self {
            self.core.amsgrad = amsgrad;
            self
        }

        /// The number of steps taken.
        pub fn iterations(&self) -> u64 {
            self.core.iterations
        }
    };
}

/// Adam, as Keras' `Adam`.
///
/// ```
/// # use stratic::prelude::*;
/// # model! { pub struct Net { input(shape = [4]) -> dense(8, activation = relu) -> dense(1) } }
/// # let x = Array2::<f32>::from_shape_fn((16, 4), |(i, j)| ((i + 2 * j) % 5) as f32 / 5.0);
/// # let y = x.sum_axis(Axis(1)).insert_axis(Axis(1));
/// // Keras: model.compile(optimizer=Adam(...), loss="mse")
/// let mut model = Net::with_seed(0).compile(Adam::new(0.001).beta_1(0.9).beta_2(0.999).amsgrad(false), Loss::mse());
/// let history = model.fit(x.view(), y.view(), &FitOptions::default().epochs(2).verbose(0))?;
/// assert_eq!(history.loss().len(), 2);
/// # Ok::<(), stratic::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Adam {
    core: AdamCore,
}

impl Adam {
    /// Adam with this learning rate and Keras' defaults (beta_1 0.9, beta_2 0.999,
    /// epsilon 1e-7, no AMSGrad).
    pub fn new(learning_rate: f32) -> Self {
        Adam {
            core: AdamCore::new(learning_rate),
        }
    }

    adam_builders!();
}

impl Default for Adam {
    /// Keras' default, learning rate 0.001.
    fn default() -> Self {
        Adam::new(0.001)
    }
}

impl Optimizer for Adam {
    fn update(&mut self, index: usize, param: ParamMut<'_>) {
        self.core.update(index, param);
    }

    fn finish_step(&mut self) {
        self.core.finish_step();
    }

    fn learning_rate(&self) -> f32 {
        self.core.learning_rate
    }

    fn set_learning_rate(&mut self, learning_rate: f32) {
        self.core.learning_rate = learning_rate;
        self.core.alpha = None;
    }

    fn validate(&self) -> Result<(), Error> {
        self.core.validate()
    }
}

/// AdamW: Adam with decoupled weight decay, as Keras 3 applies it — every variable is first
/// shrunk by `w -= w * weight_decay * learning_rate`, then takes the Adam step.
///
/// ```
/// # use stratic::prelude::*;
/// # model! { pub struct Net { input(shape = [4]) -> dense(8, activation = relu) -> dense(1) } }
/// # let x = Array2::<f32>::from_shape_fn((16, 4), |(i, j)| ((i + 2 * j) % 5) as f32 / 5.0);
/// # let y = x.sum_axis(Axis(1)).insert_axis(Axis(1));
/// // Keras: model.compile(optimizer=AdamW(...), loss="mse")
/// let mut model = Net::with_seed(0).compile(AdamW::new(0.001).weight_decay(0.004), Loss::mse());
/// let history = model.fit(x.view(), y.view(), &FitOptions::default().epochs(2).verbose(0))?;
/// assert_eq!(history.loss().len(), 2);
/// # Ok::<(), stratic::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct AdamW {
    core: AdamCore,
    weight_decay: f64,
}

impl AdamW {
    /// AdamW with this learning rate, weight decay 0.004 and Adam's defaults.
    pub fn new(learning_rate: f32) -> Self {
        AdamW {
            core: AdamCore::new(learning_rate),
            weight_decay: 0.004,
        }
    }

    /// The weight decay (default 0.004).
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    adam_builders!();
}

impl Default for AdamW {
    /// Keras' default, learning rate 0.001.
    fn default() -> Self {
        AdamW::new(0.001)
    }
}

impl Optimizer for AdamW {
    fn update(&mut self, index: usize, param: ParamMut<'_>) {
        // Keras: w - w * wd * lr, evaluated left to right in float32.
        let (wd, lr) = (self.weight_decay as f32, self.core.learning_rate);
        for w in param.value.iter_mut() {
            *w -= *w * wd * lr;
        }
        self.core.update(index, param);
    }

    fn finish_step(&mut self) {
        self.core.finish_step();
    }

    fn learning_rate(&self) -> f32 {
        self.core.learning_rate
    }

    fn set_learning_rate(&mut self, learning_rate: f32) {
        self.core.learning_rate = learning_rate;
        self.core.alpha = None;
    }

    fn validate(&self) -> Result<(), Error> {
        self.core.validate()?;
        check_range("weight_decay", self.weight_decay, 0.0, f64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(opt: &mut dyn Optimizer, w: &mut [f32], grads: &[[f32; 2]]) {
        for g in grads {
            opt.update(
                0,
                ParamMut {
                    layer: "l",
                    variable: "v",
                    shape: &[2],
                    value: w,
                    grad: g,
                },
            );
            opt.finish_step();
        }
    }

    // A gradient that stops: the first moment decays by beta_1 per step and would pass
    // through subnormal values (slow arithmetic); it must reach exactly zero instead, with
    // every value on the way normal or zero, and the weight stay finite.
    #[test]
    fn adam_moments_never_go_subnormal() {
        let mut w = [1.0f32, -1.0];
        let mut o = Adam::new(0.001);
        let mut grads = vec![[1e-3f32, 1e-30]];
        grads.extend(std::iter::repeat_n([0.0f32, 0.0], 1_000));
        for g in &grads {
            run(&mut o, &mut w, std::slice::from_ref(g));
            for slot in [&mut o.core.momenta, &mut o.core.velocities] {
                for &x in slot.get(0, 2).iter() {
                    assert!(x == 0.0 || x.is_normal(), "subnormal moment {x:e}");
                }
            }
        }
        assert_eq!(o.core.momenta.get(0, 2), &[0.0, 0.0]);
        assert!(w.iter().all(|x| x.is_finite()), "{w:?}");
    }

    fn param<'a>(value: &'a mut [f32], grad: &'a [f32]) -> ParamMut<'a> {
        ParamMut {
            layer: "l",
            variable: "v",
            shape: &[],
            value,
            grad,
        }
    }

    // Keras' Adam in f64, written independently of `AdamRule` (Keras' order: bias-corrected
    // step size, then m * alpha / (sqrt(v or v_hat) + eps)). One parameter, several steps.
    fn keras_adam(
        lr: f64,
        (b1, b2, eps): (f64, f64, f64),
        amsgrad: bool,
        w0: &[f32],
        grads: &[Vec<f32>],
    ) -> Vec<f64> {
        let n = w0.len();
        let mut w: Vec<f64> = w0.iter().map(|&x| x as f64).collect();
        let (mut m, mut v, mut vhat) = (vec![0.0; n], vec![0.0; n], vec![0.0f64; n]);
        for (step, g) in grads.iter().enumerate() {
            let t = (step + 1) as i32;
            let alpha = lr * (1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t));
            for i in 0..n {
                let g = g[i] as f64;
                m[i] += (g - m[i]) * (1.0 - b1);
                v[i] += (g * g - v[i]) * (1.0 - b2);
                let denom = if amsgrad {
                    vhat[i] = vhat[i].max(v[i]);
                    vhat[i]
                } else {
                    v[i]
                };
                w[i] -= m[i] * alpha / (denom.sqrt() + eps);
            }
        }
        w
    }

    fn assert_close(what: &str, got: &[f32], expected: &[f64]) {
        assert_eq!(got.len(), expected.len());
        for (i, (&g, &e)) in got.iter().zip(expected).enumerate() {
            let tol = (1e-5 * e.abs()).max(1e-6);
            assert!(
                (g as f64 - e).abs() <= tol,
                "{what}[{i}]: got {g}, expected {e}"
            );
        }
    }

    fn random(rng: &mut crate::runtime::Rng, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| (rng.next_f32() - 0.5) * scale).collect()
    }

    #[test]
    fn adam_simd_and_portable_updates_agree() {
        // `apply` and `apply_portable` are one source loop; on a CPU with AVX-512 `apply`
        // runs it compiled for 16 lanes, which must give the baseline (SSE) build's values
        // exactly (sqrt and division are correctly rounded in both). Without AVX-512 there
        // is a single code path and this comparison proves nothing, so the values are also
        // checked against an independent f64 Adam (here, `keras_adam`) and, through `fit`,
        // against Keras (core/tests/keras_parity.rs).
        #[cfg(target_arch = "x86_64")]
        let two_paths = std::arch::is_x86_feature_detected!("avx512f");
        #[cfg(not(target_arch = "x86_64"))]
        let two_paths = false;
        if !two_paths {
            eprintln!("no AVX-512 on this CPU: one Adam code path, compared with keras_adam only");
        }
        let mut rng = crate::runtime::Rng::new(7);
        let n = 1000;
        let g = random(&mut rng, n, 2.0);
        let w = random(&mut rng, n, 1.0);
        let m = random(&mut rng, n, 0.1);
        let v: Vec<f32> = random(&mut rng, n, 0.01).iter().map(|x| x.abs()).collect();
        let rule = AdamRule {
            alpha: 1e-3,
            one_minus_b1: 0.1,
            one_minus_b2: 0.001,
            eps: 1e-7,
        };
        for amsgrad in [false, true] {
            let h0: Vec<f32> = if amsgrad {
                v.iter().map(|x| x * 1.5).collect()
            } else {
                vec![]
            };
            let (mut w1, mut m1, mut v1, mut h1) = (w.clone(), m.clone(), v.clone(), h0.clone());
            let (mut w2, mut m2, mut v2, mut h2) = (w.clone(), m.clone(), v.clone(), h0.clone());
            rule.apply(&mut w1, &g, &mut m1, &mut v1, &mut h1);
            rule.apply_portable(&mut w2, &g, &mut m2, &mut v2, &mut h2);
            if two_paths {
                assert_eq!(
                    (&w1, &m1, &v1, &h1),
                    (&w2, &m2, &v2, &h2),
                    "amsgrad {amsgrad}"
                );
            }
            // The same step in f64 from the same state.
            for i in 0..n {
                let gi = g[i] as f64;
                let mi = m[i] as f64 + (gi - m[i] as f64) * 0.1f32 as f64;
                let vi = v[i] as f64 + (gi * gi - v[i] as f64) * 0.001f32 as f64;
                let d = if amsgrad { (h0[i] as f64).max(vi) } else { vi };
                let wi = w[i] as f64 - mi * 1e-3f32 as f64 / (d.sqrt() + 1e-7f32 as f64);
                let tol = |e: f64| (1e-5 * e.abs()).max(1e-6);
                assert!(
                    (m1[i] as f64 - mi).abs() <= tol(mi),
                    "m[{i}] amsgrad {amsgrad}"
                );
                assert!(
                    (v1[i] as f64 - vi).abs() <= tol(vi),
                    "v[{i}] amsgrad {amsgrad}"
                );
                assert!(
                    (w1[i] as f64 - wi).abs() <= tol(wi),
                    "w[{i}] amsgrad {amsgrad}"
                );
                if amsgrad {
                    assert!((h1[i] as f64 - d).abs() <= tol(d), "h[{i}]");
                }
            }
        }
    }

    #[test]
    fn adam_and_amsgrad_values() {
        // A large gradient, then small ones: v decays, v_hat keeps its maximum, so AMSGrad's
        // steps are smaller than Adam's from the second step on.
        let w0 = [0.5f32, -0.25, 1.0];
        let grads: Vec<Vec<f32>> = vec![
            vec![2.0, -1.0, 0.5],
            vec![0.01, 0.02, -0.3],
            vec![0.02, -0.01, 0.0],
            vec![-0.01, 0.0, 0.4],
        ];
        for (amsgrad, (b1, b2, eps), lr) in [
            (false, (0.9, 0.999, 1e-7), 0.01),
            (true, (0.9, 0.999, 1e-7), 0.01),
            (true, (0.8, 0.95, 1e-3), 0.05),
        ] {
            let mut w = w0;
            let mut o = Adam::new(lr as f32)
                .beta_1(b1)
                .beta_2(b2)
                .epsilon(eps)
                .amsgrad(amsgrad);
            for g in &grads {
                o.update(0, param(&mut w, g));
                o.finish_step();
            }
            assert_eq!(o.iterations(), grads.len() as u64);
            let expected = keras_adam(lr, (b1, b2, eps), amsgrad, &w0, &grads);
            assert_close(&format!("adam amsgrad {amsgrad}"), &w, &expected);
            // The variants differ (v decays below its maximum after the first step), so each
            // is held to its own formula: the two are at least twice the tolerance apart.
            let other = keras_adam(lr, (b1, b2, eps), !amsgrad, &w0, &grads);
            let apart = (other[0] - expected[0]).abs();
            assert!(apart > 2e-5 * expected[0].abs(), "{other:?} {expected:?}");
        }
    }

    #[test]
    fn adamw_decays_then_steps_and_follows_its_learning_rate() {
        let w0 = [0.5f32, -2.0];
        let grads = [vec![0.3f32, -0.1], vec![0.2, 0.4]];
        let mut o = AdamW::new(0.02).weight_decay(0.1).amsgrad(true);
        assert_eq!(o.learning_rate(), 0.02);
        let mut w = w0;
        // Keras: w -= w * wd * lr, then the Adam step; by hand in f64 with the same order.
        let mut expected: Vec<f64> = w0.iter().map(|&x| x as f64).collect();
        let (mut m, mut v, mut h) = ([0.0f64; 2], [0.0f64; 2], [0.0f64; 2]);
        for (step, (g, lr)) in grads.iter().zip([0.02f64, 0.005]).enumerate() {
            o.set_learning_rate(lr as f32);
            assert_eq!(o.learning_rate(), lr as f32);
            o.update(0, param(&mut w, g));
            o.finish_step();
            let t = (step + 1) as i32;
            let alpha = lr * (1.0 - 0.999f64.powi(t)).sqrt() / (1.0 - 0.9f64.powi(t));
            for i in 0..2 {
                expected[i] -= expected[i] * 0.1 * lr;
                let g = g[i] as f64;
                m[i] += (g - m[i]) * 0.1;
                v[i] += (g * g - v[i]) * 0.001;
                h[i] = h[i].max(v[i]);
                expected[i] -= m[i] * alpha / (h[i].sqrt() + 1e-7);
            }
        }
        assert_eq!(o.iterations(), 2);
        assert_close("adamw", &w, &expected);
    }

    // Keras' RMSprop in f64, written out independently of `RMSprop::update`.
    fn keras_rmsprop(
        lr: f64,
        (rho, momentum, eps, centered): (f64, f64, f64, bool),
        w0: &[f32],
        grads: &[Vec<f32>],
    ) -> Vec<f64> {
        let n = w0.len();
        let mut w: Vec<f64> = w0.iter().map(|&x| x as f64).collect();
        let (mut v, mut avg, mut mom) = (vec![0.0; n], vec![0.0; n], vec![0.0f64; n]);
        for g in grads {
            for i in 0..n {
                let g = g[i] as f64;
                v[i] = rho * v[i] + (1.0 - rho) * g * g;
                let denom = if centered {
                    avg[i] = rho * avg[i] + (1.0 - rho) * g;
                    v[i] - avg[i] * avg[i] + eps
                } else {
                    v[i] + eps
                };
                let increment = lr * g / denom.sqrt();
                if momentum > 0.0 {
                    mom[i] = momentum * mom[i] + increment;
                    w[i] -= mom[i];
                } else {
                    w[i] -= increment;
                }
            }
        }
        w
    }

    #[test]
    fn rmsprop_values_plain_momentum_centered_and_epsilon() {
        let w0 = [0.5f32, -0.25, 1.0];
        let grads: Vec<Vec<f32>> = vec![
            vec![2.0, -1.0, 0.5],
            vec![0.1, 0.2, -0.3],
            vec![0.05, -0.1, 0.01],
            vec![-0.2, 0.3, 0.4],
        ];
        // Settings where each knob changes the result: momentum, centering, a large epsilon.
        let settings = [
            (0.9, 0.0, 1e-7, false),
            (0.9, 0.9, 1e-7, false),
            (0.8, 0.5, 1e-6, true),
            (0.9, 0.0, 0.5, false),
            (0.7, 0.3, 0.1, true),
        ];
        let mut results: Vec<Vec<f64>> = Vec::new();
        for (rho, momentum, eps, centered) in settings {
            let mut o = RMSprop::new(0.01)
                .rho(rho)
                .momentum(momentum)
                .epsilon(eps)
                .centered(centered);
            let mut w = w0;
            for g in &grads {
                o.update(0, param(&mut w, g));
                o.finish_step();
            }
            assert_eq!(o.iterations(), grads.len() as u64);
            let expected = keras_rmsprop(0.01, (rho, momentum, eps, centered), &w0, &grads);
            assert_close(
                &format!("rmsprop rho {rho} momentum {momentum} eps {eps} centered {centered}"),
                &w,
                &expected,
            );
            for earlier in &results {
                assert!(
                    (earlier[0] - expected[0]).abs() > 1e-4,
                    "settings must differ"
                );
            }
            results.push(expected);
        }
    }

    #[test]
    fn sgd_values_with_and_without_momentum() {
        let w0 = [0.5f32, -0.25];
        let grads = [vec![1.0f32, -2.0], vec![0.5, 0.25], vec![-0.75, 1.0]];
        for (momentum, nesterov) in [(0.0, false), (0.7, false), (0.7, true)] {
            let mut o = SGD::new(0.1).momentum(momentum).nesterov(nesterov);
            let mut w = w0;
            for g in &grads {
                o.update(0, param(&mut w, g));
                o.finish_step();
            }
            assert_eq!(o.iterations(), 3);
            let mut expected: Vec<f64> = w0.iter().map(|&x| x as f64).collect();
            let mut m = [0.0f64; 2];
            for g in &grads {
                for i in 0..2 {
                    let g = g[i] as f64;
                    m[i] = momentum * m[i] - 0.1 * g;
                    expected[i] += if nesterov {
                        momentum * m[i] - 0.1 * g
                    } else if momentum > 0.0 {
                        m[i]
                    } else {
                        -0.1 * g
                    };
                }
            }
            assert_close(&format!("sgd {momentum} {nesterov}"), &w, &expected);
        }
    }

    #[test]
    fn a_large_parameter_split_over_threads_updates_as_one_piece() {
        let n = 3 * ADAM_MIN_SPLIT + 17;
        let mut rng = crate::runtime::Rng::new(3);
        let g: Vec<f32> = (0..n).map(|_| rng.next_f32() - 0.5).collect();
        let w0: Vec<f32> = (0..n).map(|_| rng.next_f32() - 0.5).collect();
        let mut w = w0.clone();
        let mut adam = Adam::new(1e-2);
        for _ in 0..3 {
            adam.update(
                0,
                ParamMut {
                    layer: "dense",
                    variable: "kernel",
                    shape: &[n],
                    value: &mut w,
                    grad: &g,
                },
            );
            adam.finish_step();
        }
        let mut expected = w0;
        let (mut m, mut v) = (vec![0.0; n], vec![0.0; n]);
        let mut core = AdamCore::new(1e-2);
        for _ in 0..3 {
            let rule = AdamRule {
                alpha: core.alpha(),
                one_minus_b1: one_minus(core.beta_1),
                one_minus_b2: one_minus(core.beta_2),
                eps: core.epsilon as f32,
            };
            rule.apply_portable(&mut expected, &g, &mut m, &mut v, &mut []);
            core.finish_step();
        }
        assert!(w == expected, "the split update differs");
    }

    #[test]
    fn rmsprop_and_sgd_state_never_goes_subnormal() {
        let mut grads = vec![[1e-3f32, 1e-19]];
        grads.extend(std::iter::repeat_n([0.0f32, 0.0], 2_000));
        let normal_or_zero =
            |slot: &mut Slots| slot.get(0, 2).iter().all(|&x| x == 0.0 || x.is_normal());
        let mut w = [1.0f32, -1.0];
        let mut o = RMSprop::new(0.001).momentum(0.5).centered(true);
        for g in &grads {
            run(&mut o, &mut w, std::slice::from_ref(g));
            assert!(normal_or_zero(&mut o.velocities), "{:?}", o.velocities);
            assert!(normal_or_zero(&mut o.momenta), "{:?}", o.momenta);
            assert!(normal_or_zero(&mut o.average_gradients));
        }
        assert_eq!(o.velocities.get(0, 2), &[0.0, 0.0]);
        let mut w = [1.0f32, -1.0];
        let mut o = SGD::new(0.1).momentum(0.9);
        for g in &grads {
            run(&mut o, &mut w, std::slice::from_ref(g));
            assert!(normal_or_zero(&mut o.velocities), "{:?}", o.velocities);
        }
        assert!(w.iter().all(|x| x.is_finite()), "{w:?}");
    }

    #[test]
    fn sgd_momentum_by_hand() {
        let mut w = [1.0f32, -1.0];
        let mut o = SGD::new(0.1).momentum(0.5);
        run(&mut o, &mut w, &[[1.0, 2.0], [1.0, 2.0]]);
        // m1 = -0.1, w = 0.9; m2 = -0.05 - 0.1 = -0.15, w = 0.75.
        assert!((w[0] - 0.75).abs() < 1e-6, "{w:?}");
        let mut w = [1.0f32, -1.0];
        let mut o = SGD::new(0.1).momentum(0.5).nesterov(true);
        run(&mut o, &mut w, &[[1.0, 2.0]]);
        // m1 = -0.1; w += 0.5 * -0.1 - 0.1 = -0.15.
        assert!((w[0] - 0.85).abs() < 1e-6, "{w:?}");
        assert_eq!(o.iterations(), 1);
    }

    #[test]
    fn adam_first_step_moves_by_learning_rate() {
        // With bias correction the first Adam step is lr * g / (|g| + eps') = lr * sign(g).
        let mut w = [0.0f32, 0.0];
        let mut o = Adam::new(0.01);
        run(&mut o, &mut w, &[[3.0, -0.5]]);
        assert!(
            (w[0] + 0.01).abs() < 1e-6 && (w[1] - 0.01).abs() < 1e-6,
            "{w:?}"
        );
    }

    #[test]
    fn validation() {
        fn invalid(r: Result<(), Error>, name: &str) {
            match r {
                Err(Error::InvalidArgument { name: n, .. }) => assert_eq!(n, name),
                other => panic!("{name}: {other:?}"),
            }
        }
        // The learning rate of every optimizer: finite and non-negative; 0 is allowed.
        for lr in [-0.1f32, -0.0001, f32::INFINITY, f32::NEG_INFINITY, f32::NAN] {
            invalid(SGD::new(lr).validate(), "learning_rate");
            invalid(RMSprop::new(lr).validate(), "learning_rate");
            invalid(Adam::new(lr).validate(), "learning_rate");
            invalid(AdamW::new(lr).validate(), "learning_rate");
        }
        for lr in [0.0f32, 1e-3, 10.0] {
            assert!(SGD::new(lr).validate().is_ok());
            assert!(RMSprop::new(lr).validate().is_ok());
            assert!(Adam::new(lr).validate().is_ok());
            assert!(AdamW::new(lr).validate().is_ok());
        }
        // A learning rate set later is checked too.
        let mut o = Adam::new(0.1);
        o.set_learning_rate(-1.0);
        invalid(o.validate(), "learning_rate");
        // Ranges: the ends are allowed, anything past them or NaN is not.
        for bad in [-0.1, 1.1, f64::NAN] {
            invalid(SGD::new(0.1).momentum(bad).validate(), "momentum");
            invalid(RMSprop::new(0.1).rho(bad).validate(), "rho");
            invalid(RMSprop::new(0.1).momentum(bad).validate(), "momentum");
            invalid(Adam::new(0.1).beta_1(bad).validate(), "beta_1");
            invalid(Adam::new(0.1).beta_2(bad).validate(), "beta_2");
            invalid(AdamW::new(0.1).beta_1(bad).validate(), "beta_1");
        }
        for ok in [0.0, 1.0] {
            assert!(SGD::new(0.1).momentum(ok).validate().is_ok());
            assert!(RMSprop::new(0.1).rho(ok).momentum(ok).validate().is_ok());
            assert!(Adam::new(0.1).beta_1(ok).beta_2(ok).validate().is_ok());
        }
        for bad in [-1e-7, f64::INFINITY, f64::NAN] {
            invalid(RMSprop::new(0.1).epsilon(bad).validate(), "epsilon");
            invalid(Adam::new(0.1).epsilon(bad).validate(), "epsilon");
            invalid(AdamW::new(0.1).weight_decay(bad).validate(), "weight_decay");
        }
        assert!(RMSprop::new(0.1).epsilon(0.0).validate().is_ok());
        assert!(AdamW::new(0.1).weight_decay(0.0).validate().is_ok());
        assert!(RMSprop::default().validate().is_ok());
        assert!(AdamW::default().validate().is_ok());
        // Keras' defaults.
        assert_eq!(Adam::default().learning_rate(), 0.001);
        assert_eq!(AdamW::default().learning_rate(), 0.001);
        assert_eq!(RMSprop::default().learning_rate(), 0.001);
        assert_eq!(SGD::default().learning_rate(), 0.01);
        let mut o = RMSprop::new(0.1);
        o.set_learning_rate(0.5);
        assert_eq!(o.learning_rate(), 0.5);
    }
}
