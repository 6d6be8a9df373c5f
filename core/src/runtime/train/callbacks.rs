//! Callbacks (Keras' `keras.callbacks`) and learning-rate schedules.
//!
//! A callback is a [`Callback`] whose hooks the fit loop calls at the start and end of
//! training, of each epoch and after each batch. Hooks see the model and the optimizer through
//! a [`TrainContext`], and stop training with [`TrainContext::stop_training`] (Keras'
//! `model.stop_training = True`): the loop finishes the current batch, runs the end of the
//! epoch (validation, `on_epoch_end`, the history) and returns.

use super::super::{Error, Model, Optimizer};
use super::Logs;

/// What a callback sees of the training: the model, the optimizer, and the run's settings.
pub struct TrainContext<'a, M> {
    pub(crate) model: &'a mut M,
    pub(crate) optimizer: &'a mut dyn Optimizer,
    pub(crate) stop: &'a mut bool,
    pub(crate) info: &'a TrainInfo,
}

/// The settings of a run, as callbacks see them (Keras' `callback.params`).
#[derive(Clone, Debug, Default)]
pub(crate) struct TrainInfo {
    pub(crate) epochs: usize,
    pub(crate) steps: usize,
    pub(crate) has_schedule: bool,
    /// Every logged metric name (without `val_`) and whether higher is better.
    pub(crate) directions: Vec<(String, bool)>,
    /// This process's rank in a distributed `fit` (0 otherwise).
    pub(crate) rank: usize,
}

impl<M> TrainContext<'_, M> {
    /// The model being trained.
    pub fn model(&self) -> &M {
        self.model
    }

    /// The model, mutably (e.g. to restore weights).
    pub fn model_mut(&mut self) -> &mut M {
        self.model
    }

    /// The optimizer's current learning rate.
    pub fn learning_rate(&self) -> f32 {
        self.optimizer.learning_rate()
    }

    /// Sets the optimizer's learning rate.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if a learning-rate schedule drives it (as Keras refuses to
    /// set a scheduled learning rate), or the value is negative or not finite.
    pub fn set_learning_rate(&mut self, learning_rate: f32) -> Result<(), Error> {
        if self.info.has_schedule {
            return Err(Error::InvalidArgument {
                name: "learning_rate",
                message: "the optimizer's learning rate follows a schedule, so it cannot be set"
                    .into(),
            });
        }
        if !learning_rate.is_finite() || learning_rate < 0.0 {
            return Err(Error::InvalidArgument {
                name: "learning_rate",
                message: format!("must be a finite, non-negative number; received {learning_rate}"),
            });
        }
        self.optimizer.set_learning_rate(learning_rate);
        Ok(())
    }

    /// Asks the loop to stop after the current batch and epoch end.
    pub fn stop_training(&mut self) {
        *self.stop = true;
    }

    /// Whether a stop was asked for.
    pub fn is_stopping(&self) -> bool {
        *self.stop
    }

    /// The final epoch of the run (`FitOptions::epochs`).
    pub fn epochs(&self) -> usize {
        self.info.epochs
    }

    /// The number of batches per epoch.
    pub fn steps_per_epoch(&self) -> usize {
        self.info.steps
    }

    /// This process's rank in a distributed `fit` (`FitOptions::distributed`), 0 otherwise.
    /// Side effects that must happen once, such as writing files, belong to rank 0.
    pub fn rank(&self) -> usize {
        self.info.rank
    }

    /// Whether larger values of the logged quantity `name` are better: false for losses,
    /// the metric's direction for metrics (`val_` prefixes are ignored); `None` if unknown.
    pub fn higher_is_better(&self, name: &str) -> Option<bool> {
        let base = name.strip_prefix("val_").unwrap_or(name);
        if base == "loss" || base.ends_with("_loss") {
            return Some(false);
        }
        self.info
            .directions
            .iter()
            .find(|(n, _)| n == base)
            .map(|(_, up)| *up)
    }
}

/// A training callback (Keras' `keras.callbacks.Callback`). Every hook defaults to doing
/// nothing; an error from a hook ends `fit` with that error.
///
/// ```
/// use stratic::prelude::{Callback, Error, Logs, TrainContext};
///
/// /// Stops once the loss is below a target.
/// struct StopBelow(f32);
///
/// impl<M> Callback<M> for StopBelow {
///     fn on_epoch_end(&mut self, _: usize, logs: &mut Logs, ctx: &mut TrainContext<'_, M>) -> Result<(), Error> {
///         if logs.get("loss").is_some_and(|l| l < self.0) {
///             ctx.stop_training();
///         }
///         Ok(())
///     }
/// }
/// ```
pub trait Callback<M> {
    /// Before the first epoch.
    fn on_train_begin(&mut self, ctx: &mut TrainContext<'_, M>) -> Result<(), Error> {
        let _ = ctx;
        Ok(())
    }

    /// Before each epoch (`epoch` counts from `initial_epoch`).
    fn on_epoch_begin(&mut self, epoch: usize, ctx: &mut TrainContext<'_, M>) -> Result<(), Error> {
        let _ = (epoch, ctx);
        Ok(())
    }

    /// After each batch: `logs` hold the epoch's running `loss` and metrics so far (a NaN
    /// `loss` if this batch's loss was not finite: stopping here turns that into
    /// [`StopReason::NonFiniteLoss`](super::StopReason::NonFiniteLoss) instead of an error).
    fn on_batch_end(
        &mut self,
        batch: usize,
        logs: &Logs,
        ctx: &mut TrainContext<'_, M>,
    ) -> Result<(), Error> {
        let _ = (batch, logs, ctx);
        Ok(())
    }

    /// After each epoch, with its logs (training values, then `val_` ones). Callbacks may add
    /// values, which the history records.
    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &mut Logs,
        ctx: &mut TrainContext<'_, M>,
    ) -> Result<(), Error> {
        let _ = (epoch, logs, ctx);
        Ok(())
    }

    /// After training, with the last epoch's logs.
    fn on_train_end(&mut self, logs: &Logs, ctx: &mut TrainContext<'_, M>) -> Result<(), Error> {
        let _ = (logs, ctx);
        Ok(())
    }
}

/// Whether a monitored quantity should go down or up (Keras' `mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Down for losses, the metric's direction for metrics (up for accuracy, AUC, ...).
    #[default]
    Auto,
    /// Lower is better.
    Min,
    /// Higher is better.
    Max,
}

impl Mode {
    // Whether higher is better for `monitor`, or an error naming the monitor when `Auto` cannot
    // tell (Keras raises the same).
    fn higher_is_better<M>(self, monitor: &str, ctx: &TrainContext<'_, M>) -> Result<bool, Error> {
        match self {
            Mode::Min => Ok(false),
            Mode::Max => Ok(true),
            Mode::Auto => ctx.higher_is_better(monitor).ok_or_else(|| Error::InvalidArgument {
                name: "mode",
                message: format!(
                    "cannot tell whether `{monitor}` should be maximized or minimized; give Mode::Max or Mode::Min"
                ),
            }),
        }
    }
}

// The monitored value, or an error listing what the logs hold (Keras only warns; a typo in a
// monitor name would otherwise silently disable the callback).
fn monitored(callback: &str, monitor: &str, logs: &Logs) -> Result<f32, Error> {
    logs.get(monitor).ok_or_else(|| Error::InvalidArgument {
        name: "monitor",
        message: format!(
            "{callback} monitors `{monitor}`, which is not in the logs; available: {}",
            logs.names().collect::<Vec<_>>().join(", ")
        ),
    })
}

/// Stops training when a monitored quantity has stopped improving (Keras 3's
/// `EarlyStopping`, same arguments and defaults: `monitor = "val_loss"`, `min_delta = 0`,
/// `patience = 0`, `mode = auto`, no baseline, `restore_best_weights = false`,
/// `start_from_epoch = 0`).
///
/// Unlike Keras, a monitor absent from the logs is an error rather than a warning.
///
/// ```
/// # use stratic::prelude::EarlyStopping;
/// let early = EarlyStopping::new("val_loss").patience(5).restore_best_weights(true);
/// # let _ = early;
/// ```
#[derive(Clone, Debug)]
pub struct EarlyStopping {
    monitor: String,
    min_delta: f32,
    patience: usize,
    mode: Mode,
    baseline: Option<f32>,
    restore_best_weights: bool,
    start_from_epoch: usize,
    // Run state.
    wait: usize,
    best: f32,
    higher: Option<bool>,
    best_epoch: usize,
    stopped_epoch: Option<usize>,
    best_weights: Option<Vec<(String, ndarray::ArrayD<f32>)>>,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        EarlyStopping::new("val_loss")
    }
}

impl EarlyStopping {
    /// Monitors `monitor` (`"val_loss"`, `"loss"`, `"val_accuracy"`, ...).
    pub fn new(monitor: &str) -> Self {
        EarlyStopping {
            monitor: monitor.to_string(),
            min_delta: 0.0,
            patience: 0,
            mode: Mode::Auto,
            baseline: None,
            restore_best_weights: false,
            start_from_epoch: 0,
            wait: 0,
            best: f32::INFINITY,
            higher: None,
            best_epoch: 0,
            stopped_epoch: None,
            best_weights: None,
        }
    }

    /// The smallest change that counts as an improvement (its absolute value is used).
    pub fn min_delta(mut self, min_delta: f32) -> Self {
        self.min_delta = min_delta.abs();
        self
    }

    /// Epochs without improvement after which training stops.
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// Whether the monitored quantity should decrease or increase.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// A value the monitored quantity must beat for the patience to reset.
    pub fn baseline(mut self, baseline: f32) -> Self {
        self.baseline = Some(baseline);
        self
    }

    /// Whether to restore the weights of the best epoch when training ends (if this callback
    /// saw at least one epoch after `start_from_epoch`).
    pub fn restore_best_weights(mut self, restore: bool) -> Self {
        self.restore_best_weights = restore;
        self
    }

    /// Epochs to wait before monitoring starts (a warm-up).
    pub fn start_from_epoch(mut self, epoch: usize) -> Self {
        self.start_from_epoch = epoch;
        self
    }

    /// The epoch (0-based) at which this callback stopped training, if it did.
    pub fn stopped_epoch(&self) -> Option<usize> {
        self.stopped_epoch
    }

    /// The epoch (0-based) with the best monitored value so far.
    pub fn best_epoch(&self) -> usize {
        self.best_epoch
    }

    /// The best monitored value so far (infinite before the first epoch).
    pub fn best(&self) -> f32 {
        self.best
    }

    /// The decision for one epoch, on its monitored value; `higher` says which way is better.
    /// Returns whether to stop. This is Keras 3's `on_epoch_end`, apart from the weights.
    fn observe(&mut self, epoch: usize, current: f32, higher: bool) -> (bool, bool) {
        let improves = |value: f32, reference: f32| {
            if higher {
                value - self.min_delta > reference
            } else {
                value + self.min_delta < reference
            }
        };
        self.wait += 1;
        if improves(current, self.best) {
            self.best = current;
            self.best_epoch = epoch;
            // Only restart the wait if the value beats both the baseline and the best.
            if self.baseline.is_none_or(|b| improves(current, b)) {
                self.wait = 0;
            }
            return (false, true);
        }
        let stop = self.wait >= self.patience && epoch > 0;
        if stop {
            self.stopped_epoch = Some(epoch);
        }
        (stop, false)
    }
}

impl<M: Model> Callback<M> for EarlyStopping {
    fn on_train_begin(&mut self, _: &mut TrainContext<'_, M>) -> Result<(), Error> {
        self.wait = 0;
        self.stopped_epoch = None;
        self.best_weights = None;
        self.best_epoch = 0;
        self.higher = None;
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &mut Logs,
        ctx: &mut TrainContext<'_, M>,
    ) -> Result<(), Error> {
        let higher = match self.higher {
            Some(h) => h,
            None => {
                let h = self.mode.higher_is_better(&self.monitor, ctx)?;
                self.best = if h { f32::NEG_INFINITY } else { f32::INFINITY };
                self.higher = Some(h);
                h
            }
        };
        let current = monitored("EarlyStopping", &self.monitor, logs)?;
        if epoch < self.start_from_epoch {
            return Ok(());
        }
        if self.restore_best_weights && self.best_weights.is_none() {
            // Until an improvement is seen, the current weights are the best.
            self.best_weights = Some(ctx.model().weights());
            self.best_epoch = epoch;
        }
        let (stop, improved) = self.observe(epoch, current, higher);
        if improved && self.restore_best_weights {
            self.best_weights = Some(ctx.model().weights());
        }
        if stop {
            ctx.stop_training();
        }
        Ok(())
    }

    fn on_train_end(&mut self, _: &Logs, ctx: &mut TrainContext<'_, M>) -> Result<(), Error> {
        if self.restore_best_weights {
            if let Some(best) = &self.best_weights {
                for (key, value) in best {
                    ctx.model_mut().set_weight(key, value.view())?;
                }
            }
        }
        Ok(())
    }
}

/// Saves the model after each epoch, or only when the monitored quantity improves (Keras'
/// `ModelCheckpoint`): to a safetensors file with [`ModelCheckpoint::to_path`], or through any
/// closure `FnMut(&M, epoch, &logs)` with [`ModelCheckpoint::new`].
///
/// ```
/// # use stratic::prelude::{Model, ModelCheckpoint};
/// # fn f<M: Model>() {
/// let mut saved = Vec::new();
/// let checkpoint = ModelCheckpoint::new(|model: &M, epoch, _logs| {
///     saved.push((epoch, model.weights()));
///     Ok(())
/// })
/// .save_best_only(true);
/// # let _ = checkpoint;
/// # }
/// ```
pub struct ModelCheckpoint<F> {
    save: F,
    monitor: String,
    mode: Mode,
    save_best_only: bool,
    initial_value_threshold: Option<f32>,
    best: Option<f32>,
}

impl<F> std::fmt::Debug for ModelCheckpoint<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelCheckpoint")
            .field("monitor", &self.monitor)
            .field("mode", &self.mode)
            .field("save_best_only", &self.save_best_only)
            .field("best", &self.best)
            .finish_non_exhaustive()
    }
}

impl ModelCheckpoint<()> {
    /// Saves the weights to `filepath` with [`Model::save_weights`] (safetensors), as Keras'
    /// `ModelCheckpoint(filepath, save_weights_only=True)`; `{epoch}` in the path becomes the
    /// 1-based epoch number, as in Keras' `"weights.{epoch:02d}..."` (without the padding).
    ///
    /// ```
    /// # use stratic::prelude::{Model, ModelCheckpoint};
    /// # fn f<M: Model>() {
    /// let checkpoint = ModelCheckpoint::to_path::<M>("best.safetensors").save_best_only(true);
    /// # let _ = checkpoint;
    /// # }
    /// ```
    pub fn to_path<M: Model>(
        filepath: impl Into<std::path::PathBuf>,
    ) -> ModelCheckpoint<impl FnMut(&M, usize, &Logs) -> Result<(), Error>> {
        let filepath = filepath.into();
        ModelCheckpoint::new(move |model: &M, epoch: usize, _: &Logs| {
            let text = filepath.to_string_lossy();
            if text.contains("{epoch}") {
                model.save_weights(text.replace("{epoch}", &(epoch + 1).to_string()))
            } else {
                model.save_weights(&filepath)
            }
        })
    }
}

impl<F> ModelCheckpoint<F> {
    /// Calls `save` at the end of every epoch (Keras' defaults: `monitor = "val_loss"`,
    /// `save_best_only = false`).
    pub fn new<M>(save: F) -> Self
    where
        F: FnMut(&M, usize, &Logs) -> Result<(), Error>,
    {
        ModelCheckpoint {
            save,
            monitor: "val_loss".into(),
            mode: Mode::Auto,
            save_best_only: false,
            initial_value_threshold: None,
            best: None,
        }
    }

    /// The quantity that decides the best epoch.
    pub fn monitor(mut self, monitor: &str) -> Self {
        self.monitor = monitor.to_string();
        self
    }

    /// Whether the monitored quantity should decrease or increase.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Saves only when the monitored quantity is better than every earlier epoch.
    pub fn save_best_only(mut self, best_only: bool) -> Self {
        self.save_best_only = best_only;
        self
    }

    /// The value the first save must beat (with `save_best_only`).
    pub fn initial_value_threshold(mut self, threshold: f32) -> Self {
        self.initial_value_threshold = Some(threshold);
        self
    }

    /// The best monitored value saved so far.
    pub fn best(&self) -> Option<f32> {
        self.best
    }
}

impl<M, F> Callback<M> for ModelCheckpoint<F>
where
    F: FnMut(&M, usize, &Logs) -> Result<(), Error>,
{
    fn on_train_begin(&mut self, _: &mut TrainContext<'_, M>) -> Result<(), Error> {
        self.best = self.initial_value_threshold;
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &mut Logs,
        ctx: &mut TrainContext<'_, M>,
    ) -> Result<(), Error> {
        if self.save_best_only {
            let higher = self.mode.higher_is_better(&self.monitor, ctx)?;
            let current = monitored("ModelCheckpoint", &self.monitor, logs)?;
            let better = match self.best {
                None => !current.is_nan(),
                Some(best) if higher => current > best,
                Some(best) => current < best,
            };
            if !better {
                return Ok(());
            }
            self.best = Some(current);
        }
        // Every rank holds the same weights; one copy on disk is enough, and ranks sharing a
        // file system must not write the same file at once.
        if ctx.rank() != 0 {
            return Ok(());
        }
        (self.save)(ctx.model(), epoch, logs)
    }
}

/// Stops training when the loss becomes NaN or infinite (Keras' `TerminateOnNaN`): `fit`
/// then returns its history with [`StopReason::NonFiniteLoss`](super::StopReason) rather than
/// [`Error::NonFiniteLoss`]. The weights are those before the bad batch.
///
/// ```
/// # use stratic::prelude::*;
/// # model! { pub struct Net { input(shape = [4]) -> dense(8, activation = relu) -> dense(1) } }
/// # let x = Array2::<f32>::from_shape_fn((16, 4), |(i, j)| ((i + 2 * j) % 5) as f32 / 5.0);
/// # let y = x.sum_axis(Axis(1)).insert_axis(Axis(1));
/// let mut model = Net::with_seed(0).compile(SGD::new(0.01), Loss::mse());
/// let mut stop = TerminateOnNaN;
/// let history = model.fit_with(x.view(), y.view(), &FitOptions::default().epochs(2).verbose(0)).callback(&mut stop).run()?;
/// assert_eq!(history.loss().len(), 2); // the loss stayed finite, so both epochs ran
/// # Ok::<(), stratic::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct TerminateOnNaN;

impl<M> Callback<M> for TerminateOnNaN {
    fn on_batch_end(
        &mut self,
        _: usize,
        logs: &Logs,
        ctx: &mut TrainContext<'_, M>,
    ) -> Result<(), Error> {
        if logs.get("loss").is_some_and(|l| !l.is_finite()) {
            ctx.stop_training();
        }
        Ok(())
    }
}

/// Divides the learning rate when a monitored quantity has stopped improving (Keras'
/// `ReduceLROnPlateau`, same defaults: `monitor = "val_loss"`, `factor = 0.1`,
/// `patience = 10`, `min_delta = 1e-4`, `cooldown = 0`, `min_lr = 0`). Adds the epoch's
/// `learning_rate` to the logs, as Keras does.
///
/// ```
/// # use stratic::prelude::*;
/// # model! { pub struct Net { input(shape = [4]) -> dense(8, activation = relu) -> dense(1) } }
/// # let x = Array2::<f32>::from_shape_fn((16, 4), |(i, j)| ((i + 2 * j) % 5) as f32 / 5.0);
/// # let y = x.sum_axis(Axis(1)).insert_axis(Axis(1));
/// let mut model = Net::with_seed(0).compile(Adam::new(0.01), Loss::mse());
/// let mut reduce = ReduceLROnPlateau::new("loss").factor(0.5).patience(1).min_lr(1e-4);
/// model.fit_with(x.view(), y.view(), &FitOptions::default().epochs(3).verbose(0)).callback(&mut reduce).run()?;
/// assert!(model.optimizer().learning_rate() <= 0.01);
/// # Ok::<(), stratic::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ReduceLROnPlateau {
    monitor: String,
    factor: f32,
    patience: usize,
    mode: Mode,
    min_delta: f32,
    cooldown: usize,
    min_lr: f32,
    wait: usize,
    cooldown_counter: usize,
    best: Option<f32>,
}

impl Default for ReduceLROnPlateau {
    fn default() -> Self {
        ReduceLROnPlateau::new("val_loss")
    }
}

impl ReduceLROnPlateau {
    /// Monitors `monitor`.
    pub fn new(monitor: &str) -> Self {
        ReduceLROnPlateau {
            monitor: monitor.to_string(),
            factor: 0.1,
            patience: 10,
            mode: Mode::Auto,
            min_delta: 1e-4,
            cooldown: 0,
            min_lr: 0.0,
            wait: 0,
            cooldown_counter: 0,
            best: None,
        }
    }

    /// The factor the learning rate is multiplied by (in `(0, 1)`).
    pub fn factor(mut self, factor: f32) -> Self {
        self.factor = factor;
        self
    }

    /// Epochs without improvement before a reduction.
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// Whether the monitored quantity should decrease or increase.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The smallest change that counts as an improvement.
    pub fn min_delta(mut self, min_delta: f32) -> Self {
        self.min_delta = min_delta;
        self
    }

    /// Epochs to wait after a reduction before counting again.
    pub fn cooldown(mut self, cooldown: usize) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The learning rate is never reduced below this.
    pub fn min_lr(mut self, min_lr: f32) -> Self {
        self.min_lr = min_lr;
        self
    }
}

impl<M> Callback<M> for ReduceLROnPlateau {
    fn on_train_begin(&mut self, _: &mut TrainContext<'_, M>) -> Result<(), Error> {
        if !(self.factor > 0.0 && self.factor < 1.0) {
            return Err(Error::InvalidArgument {
                name: "factor",
                message: format!(
                    "ReduceLROnPlateau does not support a factor >= 1.0 (or <= 0); received {}",
                    self.factor
                ),
            });
        }
        self.wait = 0;
        self.cooldown_counter = 0;
        self.best = None;
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        _: usize,
        logs: &mut Logs,
        ctx: &mut TrainContext<'_, M>,
    ) -> Result<(), Error> {
        logs.set("learning_rate", ctx.learning_rate());
        let higher = self.mode.higher_is_better(&self.monitor, ctx)?;
        let current = monitored("ReduceLROnPlateau", &self.monitor, logs)?;
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.wait = 0;
        }
        let better = match self.best {
            None => true,
            Some(best) if higher => current > best + self.min_delta,
            Some(best) => current < best - self.min_delta,
        };
        if better {
            self.best = Some(current);
            self.wait = 0;
        } else if self.cooldown_counter == 0 {
            self.wait += 1;
            if self.wait >= self.patience {
                let old = ctx.learning_rate();
                if old > self.min_lr {
                    ctx.set_learning_rate((old * self.factor).max(self.min_lr))?;
                    self.cooldown_counter = self.cooldown;
                    self.wait = 0;
                }
            }
        }
        Ok(())
    }
}

/// A learning rate as a function of the optimizer's step (Keras'
/// `LearningRateSchedule`), set before every training step. Training checks each value
/// before applying it: a negative or non-finite rate stops it with [`Error::InvalidArgument`].
///
/// ```
/// # use stratic::prelude::*;
/// # model! { pub struct Net { input(shape = [4]) -> dense(8, activation = relu) -> dense(1) } }
/// # let x = Array2::<f32>::from_shape_fn((16, 4), |(i, j)| ((i + 2 * j) % 5) as f32 / 5.0);
/// # let y = x.sum_axis(Axis(1)).insert_axis(Axis(1));
/// /// Halves the rate every 10 steps.
/// struct Halving;
/// impl LearningRateSchedule for Halving {
///     fn learning_rate(&self, step: u64) -> f32 {
///         0.01 * 0.5f32.powi((step / 10) as i32)
///     }
/// }
/// let mut model = Net::with_seed(0).compile(SGD::default(), Loss::mse()).learning_rate_schedule(Halving);
/// model.fit(x.view(), y.view(), &FitOptions::default().verbose(0))?;
/// # Ok::<(), stratic::Error>(())
/// ```
pub trait LearningRateSchedule {
    /// The learning rate for step `step` (0 for the first update).
    fn learning_rate(&self, step: u64) -> f32;
}

/// `initial_learning_rate * decay_rate ^ (step / decay_steps)`, the exponent floored with
/// `staircase` (Keras' `ExponentialDecay`).
///
/// ```
/// # use stratic::prelude::{ExponentialDecay, LearningRateSchedule};
/// let s = ExponentialDecay::new(0.1, 10, 0.5)?;
/// assert!((s.learning_rate(10) - 0.05).abs() < 1e-7);
/// assert!((s.staircase(true).learning_rate(19) - 0.05).abs() < 1e-7);
/// // Checked where it is built, as the optimizers' hyperparameters are before training.
/// assert!(ExponentialDecay::new(f32::NAN, 10, 0.5).is_err());
/// assert!(ExponentialDecay::new(-0.1, 10, 0.5).is_err());
/// # Ok::<(), stratic::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExponentialDecay {
    initial_learning_rate: f32,
    decay_steps: u64,
    decay_rate: f32,
    staircase: bool,
}

impl ExponentialDecay {
    /// A decay by `decay_rate` every `decay_steps` steps.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the argument: an `initial_learning_rate` that is
    /// negative or not finite, a `decay_steps` of 0 (Keras refuses it too), a `decay_rate`
    /// that is negative or not finite (a negative base has no real fractional power).
    pub fn new(
        initial_learning_rate: f32,
        decay_steps: u64,
        decay_rate: f32,
    ) -> Result<Self, Error> {
        let invalid = |name, message: String| Err(Error::InvalidArgument { name, message });
        if !initial_learning_rate.is_finite() || initial_learning_rate < 0.0 {
            return invalid(
                "initial_learning_rate",
                format!("must be a finite, non-negative number; received {initial_learning_rate}"),
            );
        }
        if decay_steps == 0 {
            return invalid("decay_steps", "must be positive; received 0".into());
        }
        if !decay_rate.is_finite() || decay_rate < 0.0 {
            return invalid(
                "decay_rate",
                format!("must be a finite, non-negative number; received {decay_rate}"),
            );
        }
        Ok(ExponentialDecay {
            initial_learning_rate,
            decay_steps,
            decay_rate,
            staircase: false,
        })
    }

    /// Whether the rate decays in steps (an integer exponent) rather than continuously.
    pub fn staircase(mut self, staircase: bool) -> Self {
        self.staircase = staircase;
        self
    }
}

impl LearningRateSchedule for ExponentialDecay {
    fn learning_rate(&self, step: u64) -> f32 {
        let mut p = step as f64 / self.decay_steps as f64;
        if self.staircase {
            p = p.floor();
        }
        (self.initial_learning_rate as f64 * (self.decay_rate as f64).powf(p)) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // EarlyStopping is tested through `fit` and the real callback, on scripted values, in
    // core/tests/training.rs (every argument, min, max and auto mode).

    #[test]
    fn exponential_decay_is_keras() {
        let s = ExponentialDecay::new(1.0, 4, 0.5).unwrap();
        assert_eq!(s.learning_rate(0), 1.0);
        assert!((s.learning_rate(2) - 0.5f32.sqrt()).abs() < 1e-7);
        assert_eq!(s.staircase(true).learning_rate(7), 0.5);
    }

    #[test]
    fn exponential_decay_refuses_what_would_corrupt_the_weights() {
        let name = |r: Result<ExponentialDecay, Error>| match r {
            Err(Error::InvalidArgument { name, .. }) => name,
            other => panic!("expected InvalidArgument, got {other:?}"),
        };
        assert_eq!(
            name(ExponentialDecay::new(f32::NAN, 4, 0.5)),
            "initial_learning_rate"
        );
        assert_eq!(
            name(ExponentialDecay::new(-0.1, 4, 0.5)),
            "initial_learning_rate"
        );
        assert_eq!(
            name(ExponentialDecay::new(f32::INFINITY, 4, 0.5)),
            "initial_learning_rate"
        );
        assert_eq!(name(ExponentialDecay::new(0.1, 0, 0.5)), "decay_steps");
        assert_eq!(name(ExponentialDecay::new(0.1, 4, -0.5)), "decay_rate");
        assert_eq!(name(ExponentialDecay::new(0.1, 4, f32::NAN)), "decay_rate");
        // A rate of 0 and a growing schedule are valid; growth past f32 is caught per step.
        assert!(ExponentialDecay::new(0.0, 4, 0.5).is_ok());
        assert!(ExponentialDecay::new(0.1, 4, 2.0).is_ok());
    }
}
