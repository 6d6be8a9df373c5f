//! Training: `compile`, `fit`, `evaluate`, metrics, callbacks and the history, with Keras 3's
//! semantics.
//!
//! - [`options`]: `FitOptions`, the plain arguments of `fit`;
//! - [`metrics`]: the metrics given at compile time;
//! - [`callbacks`]: `Callback`, `EarlyStopping`, `ModelCheckpoint`, `TerminateOnNaN`,
//!   `ReduceLROnPlateau` and learning-rate schedules;
//! - [`history`]: `Logs`, `History` (and its plot) and `Evaluation`;
//! - [`progress`]: the progress bar and lines;
//! - [`targets`]: how targets are checked and converted;
//! - [`finite`]: the check for NaN and infinities in the data before the first step.

mod callbacks;
mod distributed;
mod finite;
mod forward;
mod history;
mod metrics;
mod options;
mod progress;
mod speed_trap;
mod targets;

use std::io::{IsTerminal, Write};

use ndarray::{Array1, Array2, ArrayD, ArrayView1, ArrayView2, ArrayViewD, Axis, IxDyn};

use super::data::{as_rows, gather_rows};
use super::{regularize, Error, Loss, Model, Optimizer, ParamMut, Rng};
use crate::shape::TensorSpec;
use callbacks::TrainInfo;
pub use callbacks::{
    Callback, EarlyStopping, ExponentialDecay, LearningRateSchedule, Mode, ModelCheckpoint,
    ReduceLROnPlateau, TerminateOnNaN, TrainContext,
};
use distributed::Ranks;
pub use finite::{FiniteElement, InputValues, NonFinite};
pub use history::{Evaluation, History, Logs, StopReason};
use metrics::MetricState;
pub use metrics::{Metric, AUC_THRESHOLDS};
pub use options::FitOptions;
use progress::Progress;
pub use speed_trap::{
    unoptimized, QUIET_VAR as ALLOW_UNOPTIMIZED_VAR, WARNING as UNOPTIMIZED_WARNING,
};
use targets::target_count_error;
pub use targets::{TargetElement, Targets};

/// A model with its optimizer, losses and metrics, ready to train (what Keras' `compile` sets
/// up).
///
/// It owns the buffers a step needs (the gathered batch, its targets, the loss gradients, the
/// metrics' state), so training allocates nothing per step once the batch size is settled.
///
/// ```
/// # use stratic::prelude::*;
/// # model! { pub struct Net { input(shape = [4]) -> dense(8, activation = relu) -> dense(1) } }
/// # let x = Array2::<f32>::from_shape_fn((16, 4), |(i, j)| ((i + 2 * j) % 5) as f32 / 5.0);
/// # let y = x.sum_axis(Axis(1)).insert_axis(Axis(1));
/// // model.compile(optimizer="adam", loss="mse", metrics=["mae"])
/// let mut model = Net::with_seed(0).compile(Adam::default(), Loss::mse()).metrics(&[Metric::Mae]);
/// let history = model.fit(x.view(), y.view(), &FitOptions::default().epochs(2).verbose(0))?;
/// let scores = model.evaluate(x.view(), y.view(), 32)?;
/// let prediction = model.predict(x.view())?;
/// assert_eq!((history.loss().len(), prediction.dim()), (2, (16, 1)));
/// # let _ = scores;
/// let trained: Net = model.into_model(); // back to the plain model, its weights trained
/// # let _ = trained;
/// # Ok::<(), stratic::Error>(())
/// ```
pub struct Compiled<M: Model, O> {
    model: M,
    optimizer: O,
    batch: M::Batch,
    /// The buffer of the regularized update, kept so steps allocate nothing.
    scratch: Vec<f32>,
    // Everything that does not depend on the model's type: the loops work on it through a
    // `Net`, so they are compiled once in this crate rather than once per model in the user's
    // (BENCHMARKS.md, compile time).
    state: TrainState,
}

/// The model-independent part of [`Compiled`]: losses, metrics, schedule and the step's
/// buffers.
struct TrainState {
    losses: Vec<Loss>,
    loss_weights: Vec<f32>,
    // `<output>_loss` for each output, logged with several outputs.
    loss_names: Vec<String>,
    metrics: Vec<Metric>,
    // The metrics' state per output: one set for training, one for evaluation.
    train_metrics: Vec<Vec<MetricState>>,
    eval_metrics: Vec<Vec<MetricState>>,
    // `Send + Sync` so that a compiled model can train in a worker thread.
    schedule: Option<Box<dyn LearningRateSchedule + Send + Sync>>,
    // Updates applied so far (Keras' `optimizer.iterations`), the schedule's step.
    steps_taken: u64,
    target_batches: Vec<ArrayD<f32>>,
    target_rows: Vec<Array2<f32>>,
    // Per-row loss weights of the batch, per output (empty when unweighted).
    row_weights: Vec<Array1<f32>>,
    grads: Vec<Array2<f32>>,
    // The unweighted loss of each output in the last step.
    step_losses: Vec<f32>,
    order: Vec<usize>,
    logs: Logs,
    // The ranks of a distributed `fit`, for the duration of the call.
    ranks: Option<Ranks>,
}

/// Which inputs a set of samples comes from.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// The inputs given to `fit`, `evaluate` or `train_on_batch`.
    Train,
    /// `Fit::validation_data`'s inputs.
    Validation,
}

/// What a training forward and backward run on.
#[derive(Clone, Copy, Debug)]
enum Feed {
    /// The batch gathered last.
    Batch,
    /// The training inputs as given (`train_on_batch`).
    Inputs,
}

/// A callback hook and its arguments.
enum Hook<'l> {
    TrainBegin,
    EpochBegin(usize),
    BatchEnd(usize, &'l Logs),
    EpochEnd(usize, &'l mut Logs),
    TrainEnd(&'l Logs),
}

/// A model with its optimizer, inputs and callbacks, as the loops of [`TrainState`] see it: a
/// trait object, one dynamic call per batch, while each method runs the model's static
/// forward and backward.
trait Net {
    /// Copies the samples `idx` of `source` into the batch.
    fn gather(&mut self, source: Source, idx: &[usize]);
    /// Training forward, keeping what `backward` needs.
    fn forward_train(&mut self, feed: Feed);
    /// Output `index` of the last `forward_train`.
    fn train_output(&mut self, index: usize) -> ArrayView2<'_, f32>;
    /// Backward from the gradient with respect to each output.
    fn backward(&mut self, feed: Feed, grads: &[Array2<f32>]);
    /// One optimizer step over every parameter, each regularized one's gradient plus its
    /// regularizer's.
    fn update(&mut self);
    /// The regularization penalties of the last `forward_train`: its layers' activity
    /// penalties (cleared by this call) plus the weight penalties.
    fn take_penalty(&mut self) -> f32;
    /// The weight penalties alone, as evaluation adds them.
    fn weight_penalty(&self) -> f32;
    /// The first weight (`layer/variable`) whose gradient holds a NaN or an infinity.
    fn non_finite_gradient(&mut self) -> Option<String>;
    /// One optimizer step with `grads` (every parameter's, flat, in visit order) in place of
    /// the gradients of the last `backward` (a distributed step's averaged ones).
    fn update_with(&mut self, grads: &[f32]);
    /// Visits every trainable parameter of the model.
    fn visit_params(&mut self, f: &mut dyn FnMut(ParamMut<'_>));
    /// The optimizer.
    fn optimizer(&mut self) -> &mut dyn Optimizer;
    /// The model's shuffle seed for a run given none (see `Model::next_fit_seed`).
    fn next_fit_seed(&mut self) -> Option<u64>;
    /// Inference on the batch, with its activity penalties (0 for a model without activity
    /// regularizers).
    fn predict_batch(&mut self) -> (Vec<Array2<f32>>, f32);
    /// Whether any callback was given.
    fn has_callbacks(&self) -> bool;
    /// Runs `hook` of every callback, in order.
    fn hook(&mut self, hook: Hook<'_>, stop: &mut bool, info: &TrainInfo) -> Result<(), Error>;
}

/// The [`Net`] of a [`Compiled`] model, bound to its inputs for one call.
struct Bound<'a, 'x, 'c, M: Model, O> {
    model: &'a mut M,
    optimizer: &'a mut O,
    batch: &'a mut M::Batch,
    x: M::Input<'x>,
    validation: Option<M::Input<'x>>,
    callbacks: &'a mut [&'c mut dyn Callback<M>],
    /// The gradient plus its regularizer's, for each regularized parameter in turn.
    scratch: &'a mut Vec<f32>,
}

impl<M: Model, O> Bound<'_, '_, '_, M, O> {
    fn weight_penalty_f64(&self) -> f64 {
        if regularize::has_weight_regularizers::<M>() {
            regularize::weight_penalty(&*self.model)
        } else {
            0.0
        }
    }
}

impl<M: Model, O: Optimizer> Net for Bound<'_, '_, '_, M, O> {
    fn gather(&mut self, source: Source, idx: &[usize]) {
        let x = match (source, self.validation) {
            (Source::Validation, Some(v)) => v,
            _ => self.x,
        };
        M::gather(x, idx, self.batch);
    }

    fn forward_train(&mut self, feed: Feed) {
        match feed {
            Feed::Batch => self.model.forward_train(M::batch_view(self.batch)),
            Feed::Inputs => self.model.forward_train(self.x),
        }
    }

    fn train_output(&mut self, index: usize) -> ArrayView2<'_, f32> {
        self.model.train_output(index)
    }

    fn backward(&mut self, feed: Feed, grads: &[Array2<f32>]) {
        match feed {
            Feed::Batch => self.model.backward(M::batch_view(self.batch), grads),
            Feed::Inputs => self.model.backward(self.x, grads),
        }
    }

    fn update(&mut self) {
        if regularize::has_weight_regularizers::<M>() {
            let optimizer = &mut *self.optimizer;
            if optimizer.global_clip().is_some() {
                let norm = regularize::gradient_norm(&mut *self.model, None, self.scratch);
                optimizer.begin_step(norm);
            }
            regularize::regularized_update(&mut *self.model, None, self.scratch, &mut |i, p| {
                optimizer.update(i, p)
            });
            optimizer.finish_step();
        } else {
            self.optimizer.step(&mut *self.model);
        }
    }

    fn take_penalty(&mut self) -> f32 {
        let activity = self.model.take_activity_penalty();
        (activity + self.weight_penalty_f64()) as f32
    }

    fn weight_penalty(&self) -> f32 {
        self.weight_penalty_f64() as f32
    }

    fn non_finite_gradient(&mut self) -> Option<String> {
        let mut bad = None;
        self.model.visit_params(&mut |p| {
            if bad.is_none() && !finite::all_finite(p.grad) {
                bad = Some(format!("{}/{}", p.layer, p.variable));
            }
        });
        bad
    }

    fn update_with(&mut self, grads: &[f32]) {
        let optimizer = &mut *self.optimizer;
        if optimizer.global_clip().is_some() {
            let norm = regularize::gradient_norm(&mut *self.model, Some(grads), self.scratch);
            optimizer.begin_step(norm);
        }
        if regularize::has_weight_regularizers::<M>() {
            regularize::regularized_update(
                &mut *self.model,
                Some(grads),
                self.scratch,
                &mut |i, p| optimizer.update(i, p),
            );
            optimizer.finish_step();
        } else {
            distributed::update_with(&mut *self.model, optimizer, grads);
        }
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(ParamMut<'_>)) {
        self.model.visit_params(f);
    }

    fn optimizer(&mut self) -> &mut dyn Optimizer {
        &mut *self.optimizer
    }

    fn next_fit_seed(&mut self) -> Option<u64> {
        self.model.next_fit_seed()
    }

    fn predict_batch(&mut self) -> (Vec<Array2<f32>>, f32) {
        if !regularize::has_activity_regularizers::<M>() {
            return (self.model.call(M::batch_view(self.batch)), 0.0);
        }
        // The activity penalties come from the forward pass, run here outside training:
        // the conformance test holds every layer's such pass to its inference `call`.
        self.model.set_training(false);
        self.model.forward_train(M::batch_view(self.batch));
        self.model.set_training(true);
        let outputs = (0..M::output_specs().len())
            .map(|i| self.model.train_output(i).to_owned())
            .collect();
        (outputs, self.model.take_activity_penalty() as f32)
    }

    fn has_callbacks(&self) -> bool {
        !self.callbacks.is_empty()
    }

    fn hook(&mut self, mut hook: Hook<'_>, stop: &mut bool, info: &TrainInfo) -> Result<(), Error> {
        let mut ctx = TrainContext {
            model: &mut *self.model,
            optimizer: &mut *self.optimizer,
            stop,
            info,
        };
        for cb in self.callbacks.iter_mut() {
            match &mut hook {
                Hook::TrainBegin => cb.on_train_begin(&mut ctx)?,
                Hook::EpochBegin(epoch) => cb.on_epoch_begin(*epoch, &mut ctx)?,
                Hook::BatchEnd(step, logs) => cb.on_batch_end(*step, logs, &mut ctx)?,
                Hook::EpochEnd(epoch, logs) => cb.on_epoch_end(*epoch, logs, &mut ctx)?,
                Hook::TrainEnd(logs) => cb.on_train_end(logs, &mut ctx)?,
            }
        }
        Ok(())
    }
}

/// Samples to evaluate: inputs, prepared targets, a range of samples and optional weights.
struct EvalSet<'a> {
    source: Source,
    targets: &'a [ArrayD<f32>],
    range: std::ops::Range<usize>,
    weights: Option<&'a [f32]>,
}

impl<M: Model, O: Optimizer> Compiled<M, O> {
    /// Pairs `model` with `optimizer` and one `loss` for every output; `Model::compile` calls
    /// this.
    pub fn new(model: M, optimizer: O, loss: Loss) -> Self {
        let k = M::output_specs().len();
        Self::build(model, optimizer, vec![loss; k], vec![1.0; k])
    }

    /// Pairs `model` with `optimizer`, one loss per output (or one for all) and optional
    /// per-output loss weights (Keras' `loss` list and `loss_weights`); the total loss is the
    /// weighted sum.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the number of losses or weights does not match the
    /// number of outputs, or a weight is negative or not finite.
    pub fn with_losses(
        model: M,
        optimizer: O,
        losses: &[Loss],
        loss_weights: Option<&[f32]>,
    ) -> Result<Self, Error> {
        let (losses, weights) = resolve_losses(M::output_names(), losses, loss_weights)?;
        Ok(Self::build(model, optimizer, losses, weights))
    }

    fn build(model: M, optimizer: O, losses: Vec<Loss>, loss_weights: Vec<f32>) -> Self {
        Compiled {
            model,
            optimizer,
            batch: M::Batch::default(),
            scratch: Vec::new(),
            state: TrainState::new(losses, loss_weights, M::output_names()),
        }
    }

    /// Sets the metrics reported by `fit` and `evaluate` (Keras' `compile(metrics=[...])`),
    /// for every output. With several outputs each is logged as `<output>_<metric>`.
    ///
    /// ```
    /// # use stratic::prelude::{Metric, Model};
    /// # fn f<M: Model>(model: M) {
    /// # use stratic::prelude::{Adam, Loss};
    /// let model = model
    ///     .compile(Adam::new(0.01), Loss::sparse_categorical_crossentropy())
    ///     .metrics(&[Metric::Accuracy]);
    /// # let _ = model;
    /// # }
    /// ```
    pub fn metrics(mut self, metrics: &[Metric]) -> Self {
        self.state
            .set_metrics(metrics, M::output_specs(), M::output_names());
        self
    }

    /// Drives the optimizer's learning rate by `schedule`, evaluated at every training step
    /// (Keras' `optimizer = Adam(learning_rate=ExponentialDecay(...))`). Each step's value is
    /// checked before it is applied: a negative or non-finite rate stops training with
    /// [`Error::InvalidArgument`] and leaves the weights as they were.
    pub fn learning_rate_schedule(
        mut self,
        schedule: impl LearningRateSchedule + Send + Sync + 'static,
    ) -> Self {
        self.state.schedule = Some(Box::new(schedule));
        self
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The model, mutably (e.g. to set weights).
    pub fn model_mut(&mut self) -> &mut M {
        &mut self.model
    }

    /// Gives the model back.
    pub fn into_model(self) -> M {
        self.model
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &O {
        &self.optimizer
    }

    /// The optimizer, mutably (e.g. to change its learning rate).
    pub fn optimizer_mut(&mut self) -> &mut O {
        &mut self.optimizer
    }

    /// The loss of the first output (of every output, after `Model::compile`).
    pub fn loss(&self) -> Loss {
        self.state.losses[0]
    }

    /// The loss of each output.
    pub fn losses(&self) -> &[Loss] {
        &self.state.losses
    }

    /// The metrics given to [`metrics`](Self::metrics).
    pub fn metric_list(&self) -> &[Metric] {
        &self.state.metrics
    }

    /// The names `fit` logs besides `loss` (per-output losses and metrics), without `val_`.
    pub fn metric_names(&self) -> Vec<String> {
        self.state.metric_names()
    }

    /// Inference, as [`Model::predict`].
    pub fn predict(&self, x: M::Input<'_>) -> Result<M::Output, Error> {
        self.model.predict(x)
    }

    /// A training-mode forward pass, as [`Model::call_training`] (Monte-Carlo dropout): no
    /// weight, moving statistic or optimizer state changes.
    ///
    /// # Errors
    /// As [`predict`](Self::predict).
    pub fn call_training(&mut self, x: M::Input<'_>) -> Result<M::Output, Error> {
        self.model.call_training(x)
    }

    /// Trains the model on `x` and targets `y` (Keras' `fit`), printing progress to stdout.
    ///
    /// `y` is an array for a model with one output and a tuple of arrays for several; see
    /// [`Targets`]. The history records `loss`, each metric, and with several outputs each
    /// output's loss as `<output>_loss`. For validation data, sample weights and callbacks,
    /// see [`fit_with`](Self::fit_with).
    ///
    /// # Errors
    /// Input, target and option errors before training; [`Error::NonFiniteLoss`] if the loss
    /// becomes NaN or infinite (unless a callback such as [`TerminateOnNaN`] stops training).
    ///
    /// ```
    /// # use stratic::prelude::*;
    /// # model! { pub struct Net { input(shape = [4]) -> dense(8, activation = relu) -> dense(1) } }
    /// # let x = Array2::<f32>::from_shape_fn((16, 4), |(i, j)| ((i + 2 * j) % 5) as f32 / 5.0);
    /// # let y = x.sum_axis(Axis(1)).insert_axis(Axis(1));
    /// let mut model = Net::with_seed(0).compile(Adam::new(0.01), Loss::mse());
    /// // model.fit(x, y, epochs=3, batch_size=8, validation_split=0.25, verbose=0)
    /// let options = FitOptions::default().epochs(3).batch_size(8).validation_split(0.25).verbose(0);
    /// let history = model.fit(x.view(), y.view(), &options)?;
    /// assert_eq!(history.history["val_loss"].len(), 3);
    /// # Ok::<(), stratic::Error>(())
    /// ```
    pub fn fit<Y: Targets>(
        &mut self,
        x: M::Input<'_>,
        y: Y,
        options: &FitOptions,
    ) -> Result<History, Error> {
        self.fit_with(x, y, options).run()
    }

    /// [`fit`](Self::fit), writing the progress lines to `out` (never a live bar).
    pub fn fit_with_output<Y: Targets>(
        &mut self,
        x: M::Input<'_>,
        y: Y,
        options: &FitOptions,
        out: &mut dyn Write,
    ) -> Result<History, Error> {
        self.fit_with(x, y, options).output(out).run()
    }

    /// `fit` with the arguments that carry data or state: validation data, sample weights,
    /// callbacks, an output. Call [`Fit::run`] to train.
    ///
    /// ```
    /// # use stratic::prelude::{EarlyStopping, FitOptions, Model, Compiled, Optimizer, Error};
    /// # use ndarray::{ArrayView1, ArrayView2};
    /// # fn f<'a, M, O>(model: &mut Compiled<M, O>, x: M::Input<'a>, y: ArrayView2<'_, f32>, xv: M::Input<'a>, yv: ArrayView2<'_, f32>) -> Result<(), Error>
    /// # where M: Model, O: Optimizer {
    /// let mut early = EarlyStopping::new("val_loss").patience(5).restore_best_weights(true);
    /// let history = model
    ///     .fit_with(x, y, &FitOptions::default().epochs(100))
    ///     .validation_data(xv, yv)
    ///     .callback(&mut early)
    ///     .run()?;
    /// # let _ = history; Ok(())
    /// # }
    /// ```
    pub fn fit_with<'c, 'x, Y: Targets>(
        &'c mut self,
        x: M::Input<'x>,
        y: Y,
        options: &FitOptions,
    ) -> Fit<'c, 'x, M, O, Y> {
        Fit {
            compiled: self,
            x,
            y,
            options: options.clone_here(),
            validation: None,
            sample_weight: None,
            callbacks: Vec::new(),
            out: None,
        }
    }

    // The state, and the rest as a `Net` bound to the inputs `x` (and `validation`).
    fn split<'a, 'x, 'c>(
        &'a mut self,
        x: M::Input<'x>,
        validation: Option<M::Input<'x>>,
        callbacks: &'a mut [&'c mut dyn Callback<M>],
    ) -> (&'a mut TrainState, Bound<'a, 'x, 'c, M, O>) {
        let net = Bound {
            model: &mut self.model,
            optimizer: &mut self.optimizer,
            batch: &mut self.batch,
            x,
            validation,
            callbacks,
            scratch: &mut self.scratch,
        };
        (&mut self.state, net)
    }

    fn prepare_all<Y: Targets>(&self, y: &Y, n: usize) -> Result<Vec<ArrayD<f32>>, Error> {
        let specs = M::output_specs();
        if Y::COUNT != specs.len() {
            return Err(target_count_error(Y::COUNT, specs.len()));
        }
        specs
            .iter()
            .zip(&self.state.losses)
            .enumerate()
            .map(|(i, (spec, loss))| y.prepare(i, n, spec, *loss))
            .collect()
    }

    /// One gradient step on `x` and `y` as a single batch (Keras' `train_on_batch`); returns
    /// the batch loss before the update. Metrics are not updated.
    ///
    /// Targets of exactly the outputs' shapes take a fast path that reuses the step's
    /// buffers, so repeated calls with the same batch size allocate nothing.
    ///
    /// # Errors
    /// The input and target errors of [`fit`](Self::fit); [`Error::NoSamples`] for an empty
    /// batch; [`Error::NonFiniteLoss`] if the loss is NaN or infinite and
    /// [`Error::NonFiniteGradient`] if a gradient is (the weights are then left as they
    /// were). The data is not scanned for NaN here, as `fit` does: the loss and gradient
    /// checks keep a NaN from the weights.
    ///
    /// ```
    /// # use stratic::prelude::*;
    /// # model! { pub struct Net { input(shape = [4]) -> dense(8, activation = relu) -> dense(1) } }
    /// # let x = Array2::<f32>::from_shape_fn((16, 4), |(i, j)| ((i + 2 * j) % 5) as f32 / 5.0);
    /// # let y = x.sum_axis(Axis(1)).insert_axis(Axis(1));
    /// // A custom training loop: one forward, backward and update per call.
    /// let mut model = Net::with_seed(0).compile(SGD::new(0.01), Loss::mse());
    /// let first = model.train_on_batch(x.view(), y.view())?;
    /// for _ in 0..20 {
    ///     model.train_on_batch(x.view(), y.view())?;
    /// }
    /// assert!(model.train_on_batch(x.view(), y.view())? < first);
    /// # Ok::<(), stratic::Error>(())
    /// ```
    pub fn train_on_batch<Y: Targets>(&mut self, x: M::Input<'_>, y: Y) -> Result<f32, Error> {
        speed_trap::warn_if_unoptimized();
        self.optimizer.validate()?;
        let n = M::check_input(x)?;
        if n == 0 {
            return Err(Error::NoSamples {
                call: "train_on_batch",
            });
        }
        let specs = M::output_specs();
        if Y::COUNT != specs.len() {
            return Err(target_count_error(Y::COUNT, specs.len()));
        }
        for (i, spec) in specs.iter().enumerate() {
            let loss = self.state.losses[i];
            let rows = &mut self.state.target_rows[i];
            if !y.load_exact(i, n, spec, loss, rows) {
                let targets = y.prepare(i, n, spec, loss)?;
                set_rows(rows, &targets);
            }
        }
        let (state, mut net) = self.split(x, None, &mut []);
        state.train_on_batch(&mut net)
    }

    /// The loss and every metric on `x` and `y` (Keras' `evaluate`), in batches of
    /// `batch_size`; the loss is averaged over samples, and with several outputs is the
    /// weighted sum of their losses (each also reported as `<output>_loss`).
    ///
    /// # Errors
    /// Input and target errors, [`Error::InvalidArgument`] for a zero `batch_size`, and
    /// [`Error::NoSamples`] for inputs without samples.
    ///
    /// ```
    /// # use stratic::prelude::*;
    /// # model! { pub struct Net { input(shape = [4]) -> dense(8, activation = relu) -> dense(1) } }
    /// # let x = Array2::<f32>::from_shape_fn((16, 4), |(i, j)| ((i + 2 * j) % 5) as f32 / 5.0);
    /// # let y = x.sum_axis(Axis(1)).insert_axis(Axis(1));
    /// let mut model = Net::with_seed(0).compile(Adam::new(0.01), Loss::mse()).metrics(&[Metric::Mae]);
    /// // model.evaluate(x, y, batch_size=8)
    /// let scores = model.evaluate(x.view(), y.view(), 8)?;
    /// # let _ = scores;
    /// # Ok::<(), stratic::Error>(())
    /// ```
    pub fn evaluate<Y: Targets>(
        &mut self,
        x: M::Input<'_>,
        y: Y,
        batch_size: usize,
    ) -> Result<Evaluation, Error> {
        FitOptions::default().batch_size(batch_size).validate()?;
        let n = M::check_input(x)?;
        if n == 0 {
            return Err(Error::NoSamples { call: "evaluate" });
        }
        let targets = self.prepare_all(&y, n)?;
        let (state, mut net) = self.split(x, None, &mut []);
        state.evaluate(&mut net, &targets, n, batch_size)
    }
}

// Checks the losses and loss weights given to `compile_with` against the outputs `names`.
fn resolve_losses(
    names: &[&str],
    losses: &[Loss],
    loss_weights: Option<&[f32]>,
) -> Result<(Vec<Loss>, Vec<f32>), Error> {
    let k = names.len();
    let losses = match losses {
        [one] => vec![*one; k],
        many if many.len() == k => many.to_vec(),
        many => {
            return Err(Error::InvalidArgument {
                name: "loss",
                message: format!(
                    "the model has {k} output(s) ({}); give one loss for all or one per output, received {}",
                    names.join(", "),
                    many.len()
                ),
            })
        }
    };
    let weights = match loss_weights {
        None => vec![1.0; k],
        Some(w) if w.len() != k => {
            return Err(Error::InvalidArgument {
                name: "loss_weights",
                message: format!(
                    "the model has {k} output(s); received {} loss weights",
                    w.len()
                ),
            })
        }
        Some(w) => {
            if let Some(bad) = w.iter().find(|v| !v.is_finite() || **v < 0.0) {
                return Err(Error::InvalidArgument {
                    name: "loss_weights",
                    message: format!(
                        "a loss weight must be finite and non-negative; received {bad}"
                    ),
                });
            }
            w.to_vec()
        }
    };
    Ok((losses, weights))
}

// Copies `targets` into `rows` as `(rows, features)`, reallocating only on a new shape.
fn set_rows(rows: &mut Array2<f32>, targets: &ArrayD<f32>) {
    let view = as_rows(targets.view());
    if rows.dim() != view.dim() {
        *rows = Array2::zeros(view.dim());
    }
    rows.assign(&view);
}

impl TrainState {
    fn new(losses: Vec<Loss>, loss_weights: Vec<f32>, output_names: &[&str]) -> Self {
        let k = losses.len();
        let loss_names = output_names.iter().map(|n| format!("{n}_loss")).collect();
        TrainState {
            losses,
            loss_weights,
            loss_names,
            metrics: Vec::new(),
            train_metrics: vec![Vec::new(); k],
            eval_metrics: vec![Vec::new(); k],
            schedule: None,
            steps_taken: 0,
            target_batches: (0..k).map(|_| ArrayD::zeros(IxDyn(&[0]))).collect(),
            target_rows: (0..k).map(|_| Array2::zeros((0, 0))).collect(),
            row_weights: (0..k).map(|_| Array1::zeros(0)).collect(),
            grads: (0..k).map(|_| Array2::zeros((0, 0))).collect(),
            step_losses: vec![0.0; k],
            order: Vec::new(),
            logs: Logs::default(),
            ranks: None,
        }
    }

    fn set_metrics(&mut self, metrics: &[Metric], specs: &[TensorSpec], names: &[&str]) {
        self.metrics = metrics.to_vec();
        let several = specs.len() > 1;
        let states: Vec<Vec<MetricState>> = specs
            .iter()
            .zip(&self.losses)
            .enumerate()
            .map(|(i, (spec, loss))| {
                let units = spec.dims.last().and_then(|d| d.known()).unwrap_or(0);
                metrics
                    .iter()
                    .map(|m| {
                        let name = match names.get(i) {
                            Some(out) if several => format!("{out}_{}", m.name()),
                            _ => m.name().to_string(),
                        };
                        MetricState::new(*m, units, *loss, name)
                    })
                    .collect()
            })
            .collect();
        self.eval_metrics = states.clone();
        self.train_metrics = states;
    }

    fn metric_names(&self) -> Vec<String> {
        let mut names: Vec<String> = if self.losses.len() > 1 {
            self.loss_names.clone()
        } else {
            Vec::new()
        };
        names.extend(self.train_metrics.iter().flatten().map(|m| m.name.clone()));
        names
    }

    // Per-sample weights from `class_weight` (Keras: the class of a sample is the arg-max of
    // a one-hot target, the id of a sparse one, the rounded value of a single unit).
    fn class_weights(
        &self,
        targets: &[ArrayD<f32>],
        class_weight: &std::collections::BTreeMap<usize, f32>,
    ) -> Result<Vec<f32>, Error> {
        let invalid = |message: String| Error::InvalidArgument {
            name: "class_weight",
            message,
        };
        let [t] = targets else {
            return Err(invalid(format!(
                "is only supported for models with one output; this one has {}",
                targets.len()
            )));
        };
        if t.ndim() != 2 {
            return Err(invalid(format!(
                "is not supported for targets of rank 3 or more; received shape {:?}",
                t.shape()
            )));
        }
        let sparse = self.losses[0].is_sparse();
        Ok(t.axis_iter(Axis(0))
            .map(|row| {
                let class = if sparse || row.len() == 1 {
                    row[0].round().max(0.0) as usize
                } else {
                    let mut best = 0;
                    for (j, v) in row.iter().enumerate() {
                        if *v > row[best] {
                            best = j;
                        }
                    }
                    best
                };
                class_weight.get(&class).copied().unwrap_or(1.0)
            })
            .collect())
    }

    // `Fit::run` once the inputs are checked and the targets (and validation targets)
    // prepared: weights, the validation split, progress, then the loop.
    #[allow(clippy::too_many_arguments)] // `Fit`'s parts, each distinct.
    fn fit(
        &mut self,
        net: &mut dyn Net,
        n: usize,
        targets: &[ArrayD<f32>],
        validation: Option<&[ArrayD<f32>]>,
        sample_weight: Option<ArrayView1<'_, f32>>,
        options: &FitOptions,
        out: Option<&mut dyn Write>,
    ) -> Result<History, Error> {
        let mut weights: Option<Vec<f32>> = match sample_weight {
            Some(w) if w.len() != n => {
                return Err(Error::SampleCount {
                    inputs: n,
                    targets: w.len(),
                })
            }
            Some(w) => {
                if let Some(bad) = w.iter().find(|v| !v.is_finite() || **v < 0.0) {
                    return Err(Error::InvalidArgument {
                        name: "sample_weight",
                        message: format!("weights must be finite and non-negative; received {bad}"),
                    });
                }
                Some(w.to_vec())
            }
            None => None,
        };
        if let Some(cw) = &options.class_weight {
            if weights.is_some() {
                return Err(Error::InvalidArgument {
                    name: "class_weight",
                    message: "cannot be given together with sample_weight (as in Keras)".into(),
                });
            }
            weights = Some(self.class_weights(targets, cw)?);
        }
        // Keras takes the validation split from the end, before shuffling.
        let split_at = if validation.is_none() && options.validation_split > 0.0 {
            let at = (n as f64 * (1.0 - options.validation_split)).floor() as usize;
            if at == 0 || at == n {
                return Err(Error::InvalidArgument {
                    name: "validation_split",
                    message: format!(
                        "{n} samples are not enough to hold out a fraction of {} for validation and keep some for training",
                        options.validation_split
                    ),
                });
            }
            at
        } else {
            n
        };
        // Class weights apply to training only; sample weights also to a split validation.
        let val_weights = if options.class_weight.is_some() {
            None
        } else {
            weights.as_deref()
        };
        let eval_set = match validation {
            Some(tv) => Some(EvalSet {
                source: Source::Validation,
                targets: tv,
                range: 0..tv.first().map_or(0, |t| t.shape()[0]),
                weights: None,
            }),
            None if split_at < n => Some(EvalSet {
                source: Source::Train,
                targets,
                range: split_at..n,
                weights: val_weights,
            }),
            None => None,
        };
        let stdout;
        let mut lock;
        let quiet = self.ranks.as_ref().is_some_and(|r| !r.is_root());
        let mut progress = match (out, options.verbose) {
            (_, 0) => Progress::Silent,
            // Only rank 0 of a distributed fit reports.
            _ if quiet => Progress::Silent,
            (Some(out), verbose) => Progress::Lines { out, verbose },
            (None, 1) if std::io::stdout().is_terminal() => Progress::Bar { bar: None },
            (None, verbose) => {
                stdout = std::io::stdout();
                lock = stdout.lock();
                Progress::Lines {
                    out: &mut lock,
                    verbose,
                }
            }
        };
        let mut order = std::mem::take(&mut self.order);
        order.clear();
        order.extend(0..split_at);
        let result = self.train_loop(
            net,
            targets,
            weights.as_deref(),
            &mut order,
            eval_set,
            options,
            &mut progress,
        );
        // The index buffer is kept for the next call, whatever happened.
        self.order = order;
        result
    }

    #[allow(clippy::too_many_arguments)] // The loop's inputs, each distinct.
    fn train_loop(
        &mut self,
        net: &mut dyn Net,
        targets: &[ArrayD<f32>],
        weights: Option<&[f32]>,
        order: &mut [usize],
        validation: Option<EvalSet<'_>>,
        options: &FitOptions,
        progress: &mut Progress<'_>,
    ) -> Result<History, Error> {
        let n = order.len();
        let k = self.losses.len();
        // The run's own seed, else one drawn from the model's (`with_seed`), else the OS's.
        let mut rng = options
            .seed
            .or_else(|| net.next_fit_seed())
            .map_or_else(Rng::from_entropy, Rng::new);
        let mut bs = options.batch_size;
        let mut steps = n.div_ceil(bs);
        let names = self.metric_names_flat();
        if let Some(ranks) = &mut self.ranks {
            let plan = format!(
                "batch_size {}, epochs {}..{}, validation {}, outputs {k}, metrics {names:?}",
                options.batch_size,
                options.initial_epoch,
                options.epochs,
                validation.is_some(),
            );
            ranks.begin(net, &plan)?;
            // Each rank takes its share of every global batch; a rank whose shard runs out
            // first joins the remaining steps with no samples.
            bs = ranks.local_batch(options.batch_size);
            steps = ranks.max(if bs == 0 { 0 } else { n.div_ceil(bs) });
        }
        let mut directions: Vec<(String, bool)> = self
            .train_metrics
            .iter()
            .flatten()
            .map(|m| (m.name.clone(), m.metric().higher_is_better()))
            .collect();
        // `accuracy` resolves to e.g. `binary_accuracy`, but is logged under the given name.
        directions.dedup();
        let info = TrainInfo {
            epochs: options.epochs,
            steps,
            has_schedule: self.schedule.is_some(),
            directions,
            rank: self.ranks.as_ref().map_or(0, Ranks::rank),
        };
        let mut stop = false;
        let mut history = History::default();
        self.hook(net, Hook::TrainBegin, &mut stop, &info)?;
        let mut need_batch_logs = net.has_callbacks() || matches!(progress, Progress::Bar { .. });
        if let Some(ranks) = &self.ranks {
            // Batch logs are reduced over the ranks: all of them, or none, compute them.
            need_batch_logs = ranks.any(need_batch_logs);
        }
        // Names from an earlier run (with other metrics) must not linger in the batch logs.
        self.logs.clear();
        let mut epoch_logs = Logs::default();
        let mut sums = vec![0.0f64; k];
        for epoch in options.initial_epoch..options.epochs {
            self.hook(net, Hook::EpochBegin(epoch), &mut stop, &info)?;
            let clock = progress.begin_epoch(epoch, options.epochs, steps);
            if options.shuffle {
                rng.shuffle(order);
            }
            self.train_metrics
                .iter_mut()
                .flatten()
                .for_each(MetricState::reset);
            // Keras' loss tracker: the mean of batch losses weighted by batch size.
            let mut total = 0.0f64;
            sums.fill(0.0);
            let mut seen = 0usize;
            let mut non_finite = None;
            for step in 0..steps {
                let from = (step * bs).min(order.len());
                let idx = &order[from..(from + bs).min(order.len())];
                let (loss, count) = if self.ranks.is_some() {
                    self.step_shared(net, targets, weights, idx)
                        .map_err(|e| at_step(e, epoch, step))?
                } else {
                    (
                        self.train_step(net, targets, weights, idx)
                            .map_err(|e| at_step(e, epoch, step))?,
                        idx.len(),
                    )
                };
                seen += count;
                total += loss as f64 * count as f64;
                for (acc, l) in sums.iter_mut().zip(&self.step_losses) {
                    *acc += *l as f64 * count as f64;
                }
                if !loss.is_finite() {
                    non_finite = Some(step);
                }
                if need_batch_logs || non_finite.is_some() {
                    let mut logs = std::mem::take(&mut self.logs);
                    self.fill_logs_shared(&mut logs, total, &sums, seen);
                    self.hook(net, Hook::BatchEnd(step, &logs), &mut stop, &info)?;
                    progress.batch_end(&clock, step, &logs);
                    self.logs = logs;
                }
                if let Some(batch) = non_finite {
                    if !stop {
                        return Err(Error::NonFiniteLoss { epoch, batch });
                    }
                    history.stopped = Some(StopReason::NonFiniteLoss { epoch, batch });
                }
                if stop {
                    break;
                }
            }
            epoch_logs.clear();
            self.fill_logs_shared(&mut epoch_logs, total, &sums, seen);
            if let Some(set) = &validation {
                let mut val = Logs::default();
                self.evaluate_set(net, set, bs, &mut val, "val_")?;
                for (name, value) in val.iter() {
                    epoch_logs.set(name, value);
                }
            }
            self.hook(
                net,
                Hook::EpochEnd(epoch, &mut epoch_logs),
                &mut stop,
                &info,
            )?;
            history.record(epoch, &epoch_logs);
            progress.end_epoch(clock, &epoch_logs);
            if stop {
                if history.stopped.is_none() {
                    history.stopped = Some(StopReason::Requested { epoch });
                }
                break;
            }
        }
        self.hook(net, Hook::TrainEnd(&epoch_logs), &mut stop, &info)?;
        Ok(history)
    }

    // Runs a callback hook; in a distributed fit every rank then learns whether any failed
    // or asked to stop, so that all decide alike.
    fn hook(
        &mut self,
        net: &mut dyn Net,
        hook: Hook<'_>,
        stop: &mut bool,
        info: &TrainInfo,
    ) -> Result<(), Error> {
        let result = net.hook(hook, stop, info);
        match &mut self.ranks {
            Some(ranks) => ranks.agree(result, stop),
            None => result,
        }
    }

    // Every logged name besides the loss, for the plan distributed ranks compare.
    fn metric_names_flat(&self) -> String {
        self.metric_names().join(",")
    }

    // The running logs of an epoch: the mean loss over `seen` samples, each output's with
    // several outputs, and every metric; sorted by name as Keras' logs are.
    fn fill_logs(&self, logs: &mut Logs, total: f64, per_output: &[f64], seen: usize) {
        let mean = |sum: f64| {
            if seen == 0 {
                0.0
            } else {
                (sum / seen as f64) as f32
            }
        };
        let fresh = logs.is_empty();
        logs.set("loss", mean(total));
        if per_output.len() > 1 {
            for (name, sum) in self.loss_names.iter().zip(per_output) {
                logs.set(name, mean(*sum));
            }
        }
        for m in self.train_metrics.iter().flatten() {
            logs.set(&m.name, m.result());
        }
        if fresh {
            logs.sort();
        }
    }

    // One gradient step on the samples `idx`; returns the batch loss.
    fn train_step(
        &mut self,
        net: &mut dyn Net,
        targets: &[ArrayD<f32>],
        weights: Option<&[f32]>,
        idx: &[usize],
    ) -> Result<f32, Error> {
        self.load_batch(net, targets, weights, idx);
        self.step(net, Feed::Batch, weights.is_some(), true)
    }

    // Gathers the samples `idx` and their targets (and row weights) into the batch.
    fn load_batch(
        &mut self,
        net: &mut dyn Net,
        targets: &[ArrayD<f32>],
        weights: Option<&[f32]>,
        idx: &[usize],
    ) {
        net.gather(Source::Train, idx);
        for (i, target) in targets.iter().enumerate() {
            let batch = &mut self.target_batches[i];
            gather_rows(target.view(), idx, batch);
            let view = as_rows(batch.view());
            let rows = &mut self.target_rows[i];
            if rows.dim() != view.dim() {
                *rows = Array2::zeros(view.dim());
            }
            rows.assign(&view);
            if let Some(w) = weights {
                fill_row_weights(&mut self.row_weights[i], w, idx, view.nrows());
            }
        }
    }

    // The learning rate for the next step from the schedule, if any, checked before it is
    // applied: a schedule is user code, and a NaN or negative rate would corrupt the weights
    // (or climb the loss) without a word.
    fn scheduled_rate(&self) -> Result<Option<f32>, Error> {
        let Some(schedule) = &self.schedule else {
            return Ok(None);
        };
        let lr = schedule.learning_rate(self.steps_taken);
        if lr.is_finite() && lr >= 0.0 {
            Ok(Some(lr))
        } else {
            Err(Error::InvalidArgument {
                name: "learning_rate",
                message: format!(
                    "the schedule gave {lr} for step {}; a learning rate must be finite and non-negative",
                    self.steps_taken
                ),
            })
        }
    }

    // `train_on_batch` once the targets are in `target_rows`.
    fn train_on_batch(&mut self, net: &mut dyn Net) -> Result<f32, Error> {
        let loss = self.step(net, Feed::Inputs, false, false)?;
        if !loss.is_finite() {
            return Err(Error::NonFiniteLoss { epoch: 0, batch: 0 });
        }
        Ok(loss)
    }

    // Forward, losses, metrics, backward and update on `feed`, whose targets are in
    // `target_rows` (and row weights in `row_weights` when `weighted`). Returns the total
    // (weighted) loss; a non-finite loss leaves the weights untouched.
    fn step(
        &mut self,
        net: &mut dyn Net,
        feed: Feed,
        weighted: bool,
        metrics: bool,
    ) -> Result<f32, Error> {
        if let Some(lr) = self.scheduled_rate()? {
            net.optimizer().set_learning_rate(lr);
        }
        let total = self.forward_losses(net, feed, weighted, metrics)?;
        if !total.is_finite() {
            return Ok(total);
        }
        net.backward(feed, &self.grads);
        // A finite loss can still have a non-finite gradient (an overflow in backward); it
        // must not reach the weights either.
        if let Some(weight) = net.non_finite_gradient() {
            return Err(Error::NonFiniteGradient {
                epoch: 0,
                batch: 0,
                weight,
            });
        }
        net.update();
        self.steps_taken += 1;
        Ok(total)
    }

    // Forward and losses (and metrics) on `feed`: the loss gradients are then in `grads`.
    // Returns the total (weighted) loss.
    fn forward_losses(
        &mut self,
        net: &mut dyn Net,
        feed: Feed,
        weighted: bool,
        metrics: bool,
    ) -> Result<f32, Error> {
        net.forward_train(feed);
        let mut total = 0.0f32;
        for i in 0..self.losses.len() {
            let pred = net.train_output(i);
            let target = self.target_rows[i].view();
            let w = weighted.then(|| self.row_weights[i].view());
            let loss = self.losses[i].compute_weighted(pred, target, w, &mut self.grads[i])?;
            if metrics {
                for m in &mut self.train_metrics[i] {
                    m.update(pred, target);
                }
            }
            let weight = self.loss_weights[i];
            if weight != 1.0 {
                self.grads[i].mapv_inplace(|g| g * weight);
            }
            self.step_losses[i] = loss;
            total += weight * loss;
        }
        // Keras adds the regularization losses to the total, unweighted; their gradients
        // join at the update.
        Ok(total + net.take_penalty())
    }

    // `evaluate` once the inputs are checked and the targets prepared.
    fn evaluate(
        &mut self,
        net: &mut dyn Net,
        targets: &[ArrayD<f32>],
        n: usize,
        batch_size: usize,
    ) -> Result<Evaluation, Error> {
        let set = EvalSet {
            source: Source::Train,
            targets,
            range: 0..n,
            weights: None,
        };
        let mut logs = Logs::default();
        self.evaluate_set(net, &set, batch_size, &mut logs, "")?;
        Ok(Evaluation::from_logs(&logs))
    }

    // Evaluates `set` in order, in batches, writing `<prefix>loss` and the rest into `logs`.
    fn evaluate_set(
        &mut self,
        net: &mut dyn Net,
        set: &EvalSet<'_>,
        batch_size: usize,
        logs: &mut Logs,
        prefix: &str,
    ) -> Result<(), Error> {
        let k = self.losses.len();
        self.eval_metrics
            .iter_mut()
            .flatten()
            .for_each(MetricState::reset);
        let mut total = 0.0f64;
        let mut per_output = vec![0.0f64; k];
        let mut idx: Vec<usize> = Vec::with_capacity(batch_size);
        let mut start = set.range.start;
        // An error is kept, not returned, until the ranks of a distributed fit agree on it.
        let mut failed = None;
        'batches: while start < set.range.end {
            let end = (start + batch_size).min(set.range.end);
            idx.clear();
            idx.extend(start..end);
            net.gather(set.source, &idx);
            let (preds, activity) = net.predict_batch();
            // Keras' evaluation loss holds each batch's activity penalties.
            total += f64::from(activity) * (end - start) as f64;
            for (i, pred) in preds.iter().enumerate() {
                gather_rows(set.targets[i].view(), &idx, &mut self.target_batches[i]);
                let target_rows = as_rows(self.target_batches[i].view());
                if let Some(w) = set.weights {
                    fill_row_weights(&mut self.row_weights[i], w, &idx, target_rows.nrows());
                }
                let w = set.weights.map(|_| self.row_weights[i].view());
                let loss = match self.losses[i].compute_weighted(
                    pred.view(),
                    target_rows.view(),
                    w,
                    &mut self.grads[i],
                ) {
                    Ok(loss) => loss,
                    Err(e) => {
                        failed = Some(e);
                        break 'batches;
                    }
                };
                for m in &mut self.eval_metrics[i] {
                    m.update(pred.view(), target_rows.view());
                }
                per_output[i] += loss as f64 * (end - start) as f64;
                total += (self.loss_weights[i] * loss) as f64 * (end - start) as f64;
            }
            start = end;
        }
        // The total, each output's, and the count, summed over the ranks when distributed.
        let mut sums: Vec<f64> = std::iter::once(total)
            .chain(per_output.iter().copied())
            .chain([set.range.len() as f64])
            .collect();
        self.reduce_evaluation(failed, &mut sums)?;
        let (total, n) = (sums[0], sums[k + 1]);
        per_output.copy_from_slice(&sums[1..=k]);
        let mean = |sum: f64| if n == 0.0 { 0.0 } else { (sum / n) as f32 };
        let mut local = Logs::default();
        // Keras' evaluation loss includes the weight penalties, as training's does.
        local.set(&format!("{prefix}loss"), mean(total) + net.weight_penalty());
        if k > 1 {
            for (name, sum) in self.loss_names.iter().zip(&per_output) {
                local.set(&format!("{prefix}{name}"), mean(*sum));
            }
        }
        for m in self.eval_metrics.iter().flatten() {
            local.set(&format!("{prefix}{}", m.name), m.result());
        }
        local.sort();
        for (name, value) in local.iter() {
            logs.set(name, value);
        }
        Ok(())
    }
}

// `err` with the epoch and batch it happened at, for the errors of a step that carry them.
fn at_step(err: Error, epoch: usize, batch: usize) -> Error {
    match err {
        Error::NonFiniteGradient { weight, .. } => Error::NonFiniteGradient {
            epoch,
            batch,
            weight,
        },
        other => other,
    }
}

// Expands per-sample weights `w` (indexed by sample) of the batch `idx` to its `rows` rows
// (a sample spans `rows / idx.len()` rows once middle axes are folded).
fn fill_row_weights(out: &mut Array1<f32>, w: &[f32], idx: &[usize], rows: usize) {
    if out.len() != rows {
        *out = Array1::zeros(rows);
    }
    let per = rows / idx.len().max(1);
    for (r, o) in out.iter_mut().enumerate() {
        *o = idx
            .get(r / per.max(1))
            .and_then(|&s| w.get(s))
            .copied()
            .unwrap_or(1.0);
    }
}

/// Validation inputs with their checked, converted targets.
type Prepared<'x, M> = (<M as Model>::Input<'x>, Vec<ArrayD<f32>>);

/// A `fit` call being set up (from [`Compiled::fit_with`]): add validation data, sample
/// weights, callbacks or an output, then [`run`](Fit::run) it.
///
/// ```
/// # use stratic::prelude::*;
/// # model! { pub struct Net { input(shape = [4]) -> dense(8, activation = relu) -> dense(1) } }
/// # let x = Array2::<f32>::from_shape_fn((16, 4), |(i, j)| ((i + 2 * j) % 5) as f32 / 5.0);
/// # let y = x.sum_axis(Axis(1)).insert_axis(Axis(1));
/// let mut model = Net::with_seed(0).compile(Adam::new(0.01), Loss::mse());
/// let (xv, yv) = (x.clone(), y.clone());
/// let weights = Array1::<f32>::ones(16);
/// let mut stop = EarlyStopping::new("val_loss").patience(2);
/// // model.fit(x, y, validation_data=(xv, yv), sample_weight=w, callbacks=[stop])
/// let history = model
///     .fit_with(x.view(), y.view(), &FitOptions::default().epochs(5).verbose(0))
///     .validation_data(xv.view(), yv.view())
///     .sample_weight(weights.view())
///     .callback(&mut stop)
///     .run()?;
/// assert!(history.history.contains_key("val_loss"));
/// # Ok::<(), stratic::Error>(())
/// ```
#[must_use = "a `Fit` does nothing until `.run()` is called"]
pub struct Fit<'c, 'x, M: Model, O, Y> {
    compiled: &'c mut Compiled<M, O>,
    x: M::Input<'x>,
    y: Y,
    options: FitOptions,
    validation: Option<Result<Prepared<'x, M>, Error>>,
    sample_weight: Option<ArrayView1<'x, f32>>,
    callbacks: Vec<&'c mut dyn Callback<M>>,
    out: Option<&'c mut dyn Write>,
}

impl<'c, 'x, M: Model, O: Optimizer, Y: Targets> Fit<'c, 'x, M, O, Y> {
    /// Data to evaluate at the end of each epoch (Keras' `validation_data`), logged as `val_`
    /// values; it overrides `FitOptions::validation_split`. Its inputs and targets are checked
    /// like the training data's.
    pub fn validation_data<V: Targets>(mut self, x: M::Input<'x>, y: V) -> Self {
        let prepared = M::check_input(x).and_then(|n| match n {
            // An empty validation set would report a made-up `val_loss` of 0.
            0 => Err(Error::NoSamples {
                call: "validation_data",
            }),
            n => self.compiled.prepare_all(&y, n),
        });
        self.validation = Some(prepared.map(|t| (x, t)));
        self
    }

    /// One weight per training sample for the loss (Keras' `sample_weight`): a batch's loss
    /// is `sum(w_i * loss_i) / batch_size`. With `validation_split`, the held-out samples'
    /// weights weigh the validation loss too.
    pub fn sample_weight(mut self, weights: ArrayView1<'x, f32>) -> Self {
        self.sample_weight = Some(weights);
        self
    }

    /// Adds a callback; hooks run in the order callbacks were added.
    pub fn callback(mut self, callback: &'c mut dyn Callback<M>) -> Self {
        self.callbacks.push(callback);
        self
    }

    /// Writes the progress lines to `out` rather than stdout (never a live bar).
    pub fn output(mut self, out: &'c mut dyn Write) -> Self {
        self.out = Some(out);
        self
    }

    /// Trains.
    ///
    /// # Errors
    /// Option, input and target errors (training or validation) before training, among them
    /// [`Error::NoSamples`] for empty data and, unless `FitOptions::check_finite` is off,
    /// [`Error::NonFiniteInput`] for a NaN or infinite value;
    /// [`Error::NonFiniteLoss`] if the loss becomes NaN or infinite and no callback stops
    /// training, [`Error::NonFiniteGradient`] if a gradient does (the weights keep the last
    /// finite step either way); any error a callback returns.
    ///
    /// ```
    /// # use stratic::prelude::*;
    /// # model! { pub struct Net { input(shape = [4]) -> dense(8, activation = relu) -> dense(1) } }
    /// # let x = Array2::<f32>::from_shape_fn((16, 4), |(i, j)| ((i + 2 * j) % 5) as f32 / 5.0);
    /// # let y = x.sum_axis(Axis(1)).insert_axis(Axis(1));
    /// let mut model = Net::with_seed(0).compile(Adam::new(0.01), Loss::mse());
    /// let mut log = Vec::new(); // progress lines go here instead of stdout
    /// let history = model.fit_with(x.view(), y.view(), &FitOptions::default().epochs(2).verbose(2)).output(&mut log).run()?;
    /// assert_eq!(history.loss().len(), 2);
    /// assert!(String::from_utf8_lossy(&log).contains("loss"));
    /// # Ok::<(), stratic::Error>(())
    /// ```
    pub fn run(self) -> Result<History, Error> {
        let Fit {
            compiled,
            x,
            y,
            options,
            validation,
            sample_weight,
            mut callbacks,
            out,
        } = self;
        // A world of one rank is ordinary training, bit for bit.
        compiled.state.ranks = options
            .distributed
            .clone()
            .filter(|w| w.size() > 1)
            .map(Ranks::new);
        let result = Self::train(
            compiled,
            x,
            y,
            &options,
            validation,
            sample_weight,
            &mut callbacks,
            out,
        );
        distributed::finish(compiled.state.ranks.take(), result)
    }

    #[allow(clippy::too_many_arguments)] // `Fit`'s parts, each distinct.
    fn train(
        compiled: &mut Compiled<M, O>,
        x: M::Input<'x>,
        y: Y,
        options: &FitOptions,
        validation: Option<Result<Prepared<'x, M>, Error>>,
        sample_weight: Option<ArrayView1<'x, f32>>,
        callbacks: &mut [&'c mut dyn Callback<M>],
        out: Option<&'c mut dyn Write>,
    ) -> Result<History, Error> {
        speed_trap::warn_if_unoptimized();
        options.validate()?;
        compiled.optimizer.validate()?;
        let n = M::check_input(x)?;
        if n == 0 {
            return Err(Error::NoSamples { call: "fit" });
        }
        let targets = compiled.prepare_all(&y, n)?;
        let (xv, tv) = match validation.transpose()? {
            Some((xv, tv)) => (Some(xv), Some(tv)),
            None => (None, None),
        };
        if options.check_finite {
            check_finite_data::<M>(x, &targets, sample_weight, xv.zip(tv.as_deref()))?;
        }
        let (state, mut net) = compiled.split(x, xv, callbacks);
        state.fit(
            &mut net,
            n,
            &targets,
            tv.as_deref(),
            sample_weight,
            options,
            out,
        )
    }
}

// The check of `FitOptions::check_finite`, before the first step: inputs, targets, sample
// weights, then the validation data, each the first non-finite value it holds.
fn check_finite_data<M: Model>(
    x: M::Input<'_>,
    targets: &[ArrayD<f32>],
    sample_weight: Option<ArrayView1<'_, f32>>,
    validation: Option<(M::Input<'_>, &[ArrayD<f32>])>,
) -> Result<(), Error> {
    finite::check_inputs(&x, M::input_names(), "")?;
    finite::check_targets(targets, M::output_names(), "")?;
    if let Some(w) = sample_weight {
        finite::check_sample_weights(w)?;
    }
    if let Some((xv, tv)) = validation {
        finite::check_inputs(&xv, M::input_names(), "validation_data ")?;
        finite::check_targets(tv, M::output_names(), "validation_data ")?;
    }
    Ok(())
}

impl<M: Model + std::fmt::Debug, O: std::fmt::Debug> std::fmt::Debug for Compiled<M, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("model", &self.model)
            .field("optimizer", &self.optimizer)
            .field("losses", &self.state.losses)
            .field("loss_weights", &self.state.loss_weights)
            .field("metrics", &self.state.metrics)
            .finish_non_exhaustive()
    }
}

/// Every weight of `model`, keyed `layer/variable`.
pub(crate) fn weights<M: Model>(model: &M) -> Vec<(String, ArrayD<f32>)> {
    let mut out = Vec::new();
    model.visit_weights(&mut |p| {
        let mut a = ArrayD::zeros(IxDyn(p.shape));
        for (dst, src) in a.iter_mut().zip(p.value) {
            *dst = *src;
        }
        out.push((format!("{}/{}", p.layer, p.variable), a));
    });
    out
}

/// Replaces one weight of `model`, checking its key and shape.
pub(crate) fn set_weight<M: Model>(
    model: &mut M,
    key: &str,
    value: ArrayViewD<'_, f32>,
) -> Result<(), Error> {
    let mut result: Option<Result<(), Error>> = None;
    let mut known = Vec::new();
    let mut set = |p: ParamMut<'_>| {
        let name = format!("{}/{}", p.layer, p.variable);
        if name == key {
            result = Some(if value.shape() == p.shape {
                for (dst, src) in p.value.iter_mut().zip(value.iter()) {
                    *dst = *src;
                }
                Ok(())
            } else {
                Err(Error::Weight {
                    key: key.to_string(),
                    message: format!("expected shape {:?}, received {:?}", p.shape, value.shape()),
                })
            });
        }
        known.push(name);
    };
    model.visit_params(&mut set);
    model.visit_state(&mut set);
    result.unwrap_or_else(|| {
        Err(Error::Weight {
            key: key.to_string(),
            message: format!("no such weight; the model has {}", known.join(", ")),
        })
    })
}
