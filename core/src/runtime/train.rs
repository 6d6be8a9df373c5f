//! Training: `compile`, `fit`, `evaluate`, the options and the history, with Keras' semantics.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::time::Instant;

use ndarray::{Array2, ArrayD, ArrayView, ArrayViewD, Dimension, IxDyn};

use super::data::{as_rows, gather_rows};
use super::{Error, Loss, Model, Optimizer, Rng};
use crate::shape::{Dim, TensorSpec};

/// A numeric element type targets may be given in; converted to `f32` for the loss.
pub trait TargetElement: Copy {
    /// The value as `f32` (rounded for wide types, as Keras casts targets to float32).
    fn to_f32(self) -> f32;
}

macro_rules! target_element {
    ($($t:ty),*) => {$(
        impl TargetElement for $t {
            fn to_f32(self) -> f32 {
                self as f32
            }
        }
    )*};
}
target_element!(f32, f64, i8, i16, i32, i64, u8, u16, u32, u64, usize);

impl TargetElement for bool {
    fn to_f32(self) -> f32 {
        if self {
            1.0
        } else {
            0.0
        }
    }
}

/// The arguments of `fit`, with Keras' defaults: 1 epoch, batches of 32, shuffled each epoch,
/// a progress line per epoch.
///
/// ```
/// # use stratic_core::FitOptions;
/// let options = FitOptions::default().epochs(3).batch_size(4).shuffle(false).verbose(0);
/// # let _ = options;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FitOptions {
    /// Passes over the data.
    pub epochs: usize,
    /// Samples per gradient step (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Whether to shuffle the samples before each epoch.
    pub shuffle: bool,
    /// Seed of the shuffle; `None` draws one from the OS.
    pub seed: Option<u64>,
    /// 0: silent; 1 and 2: one line per epoch.
    pub verbose: u8,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            epochs: 1,
            batch_size: 32,
            shuffle: true,
            seed: None,
            verbose: 1,
        }
    }
}

impl FitOptions {
    /// Sets the number of epochs.
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// Sets the batch size (must be positive).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Sets whether samples are shuffled before each epoch.
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// Seeds the shuffle, for reproducible training.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Sets the verbosity (0, 1 or 2).
    pub fn verbose(mut self, verbose: u8) -> Self {
        self.verbose = verbose;
        self
    }

    /// Checks every option's range.
    pub fn validate(&self) -> Result<(), Error> {
        if self.batch_size == 0 {
            return Err(Error::InvalidArgument {
                name: "batch_size",
                message: "must be a positive integer; received 0".into(),
            });
        }
        if self.verbose > 2 {
            return Err(Error::InvalidArgument {
                name: "verbose",
                message: format!("must be 0, 1 or 2; received {}", self.verbose),
            });
        }
        Ok(())
    }
}

/// What `fit` returns: the metrics of each epoch (Keras' `History`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// The epochs run, from 0.
    pub epoch: Vec<usize>,
    /// Each metric's value per epoch, by name (`loss`).
    pub history: BTreeMap<String, Vec<f32>>,
}

impl History {
    /// The training loss of each epoch.
    pub fn loss(&self) -> &[f32] {
        self.history.get("loss").map_or(&[], Vec::as_slice)
    }
}

/// Targets for `fit`, `evaluate` and `train_on_batch`: an array for a model with one output,
/// a tuple of arrays (one per output, in order) for several.
///
/// Each array has its output's shape with the number of samples as batch axis (for sparse
/// categorical cross-entropy: class ids, the output shape without its last axis, optionally
/// with a trailing 1), in any numeric type.
pub trait Targets {
    /// How many outputs these targets are for.
    const COUNT: usize;
    /// Checks target `index` against its output and loss and converts it to `f32` in the
    /// shape `[n, middle..., k]`.
    fn prepare(
        &self,
        index: usize,
        n: usize,
        spec: &TensorSpec,
        loss: Loss,
    ) -> Result<ArrayD<f32>, Error>;
    /// Copies target `index` into `rows` if it has exactly its output's shape (the common
    /// case); returns false to take the general path of [`prepare`](Targets::prepare).
    fn load_exact(
        &self,
        index: usize,
        n: usize,
        spec: &TensorSpec,
        loss: Loss,
        rows: &mut Array2<f32>,
    ) -> bool;
}

impl<T: TargetElement, D: Dimension> Targets for ArrayView<'_, T, D> {
    const COUNT: usize = 1;

    fn prepare(
        &self,
        _: usize,
        n: usize,
        spec: &TensorSpec,
        loss: Loss,
    ) -> Result<ArrayD<f32>, Error> {
        prepare_targets(self.view(), n, spec, loss)
    }

    fn load_exact(
        &self,
        _: usize,
        n: usize,
        spec: &TensorSpec,
        loss: Loss,
        rows: &mut Array2<f32>,
    ) -> bool {
        load_exact_targets(self, n, spec, loss, rows)
    }
}

macro_rules! tuple_targets {
    ($count:expr; $($name:ident $idx:tt),+) => {
        impl<'a, $($name: Targets),+> Targets for ($($name,)+) {
            const COUNT: usize = $count;

            fn prepare(&self, index: usize, n: usize, spec: &TensorSpec, loss: Loss) -> Result<ArrayD<f32>, Error> {
                match index {
                    $($idx => self.$idx.prepare(0, n, spec, loss),)+
                    _ => Err(target_count_error(Self::COUNT, index + 1)),
                }
            }

            fn load_exact(&self, index: usize, n: usize, spec: &TensorSpec, loss: Loss, rows: &mut Array2<f32>) -> bool {
                match index {
                    $($idx => self.$idx.load_exact(0, n, spec, loss, rows),)+
                    _ => false,
                }
            }
        }
    };
}
tuple_targets!(2; A 0, B 1);
tuple_targets!(3; A 0, B 1, C 2);
tuple_targets!(4; A 0, B 1, C 2, D 3);

fn target_count_error(given: usize, outputs: usize) -> Error {
    Error::TargetShape {
        expected: format!("{outputs} target arrays"),
        actual: vec![given],
        message: format!(
            "the model has {outputs} output(s), so it needs {outputs} target array(s) (a tuple, in output order); received {given}"
        ),
    }
}

/// A model with its optimizer and losses, ready to train (what Keras' `compile` sets up).
///
/// It owns the buffers a step needs (the gathered batch, its targets, the loss gradients), so
/// training allocates nothing per step once the batch size is settled.
pub struct Compiled<M: Model, O> {
    model: M,
    optimizer: O,
    losses: Vec<Loss>,
    loss_weights: Vec<f32>,
    batch: M::Batch,
    target_batches: Vec<ArrayD<f32>>,
    target_rows: Vec<Array2<f32>>,
    grads: Vec<Array2<f32>>,
    // The unweighted loss of each output in the last step.
    step_losses: Vec<f32>,
    order: Vec<usize>,
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
        let k = M::output_specs().len();
        let losses = match losses {
            [one] => vec![*one; k],
            many if many.len() == k => many.to_vec(),
            many => {
                return Err(Error::InvalidArgument {
                    name: "loss",
                    message: format!(
                        "the model has {k} output(s) ({}); give one loss for all or one per output, received {}",
                        M::output_names().join(", "),
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
        Ok(Self::build(model, optimizer, losses, weights))
    }

    fn build(model: M, optimizer: O, losses: Vec<Loss>, loss_weights: Vec<f32>) -> Self {
        let k = losses.len();
        Compiled {
            model,
            optimizer,
            losses,
            loss_weights,
            batch: M::Batch::default(),
            target_batches: (0..k).map(|_| ArrayD::zeros(IxDyn(&[0]))).collect(),
            target_rows: (0..k).map(|_| Array2::zeros((0, 0))).collect(),
            grads: (0..k).map(|_| Array2::zeros((0, 0))).collect(),
            step_losses: vec![0.0; k],
            order: Vec::new(),
        }
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
        self.losses[0]
    }

    /// The loss of each output.
    pub fn losses(&self) -> &[Loss] {
        &self.losses
    }

    /// Inference, as [`Model::predict`].
    pub fn predict(&self, x: M::Input<'_>) -> Result<M::Output, Error> {
        self.model.predict(x)
    }

    /// Trains the model on `x` and targets `y` (Keras' `fit`), printing progress to stdout.
    ///
    /// `y` is an array for a model with one output and a tuple of arrays for several; see
    /// [`Targets`]. With several outputs the history also records each output's loss, as
    /// `<output layer>_loss`.
    pub fn fit<Y: Targets>(
        &mut self,
        x: M::Input<'_>,
        y: Y,
        options: &FitOptions,
    ) -> Result<History, Error> {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        self.fit_with_output(x, y, options, &mut out)
    }

    /// [`fit`](Self::fit), writing the progress lines to `out`.
    pub fn fit_with_output<Y: Targets>(
        &mut self,
        x: M::Input<'_>,
        y: Y,
        options: &FitOptions,
        out: &mut dyn Write,
    ) -> Result<History, Error> {
        options.validate()?;
        self.optimizer.validate()?;
        let n = M::check_input(x)?;
        let targets = self.prepare_all(&y, n)?;
        let mut order = std::mem::take(&mut self.order);
        order.clear();
        order.extend(0..n);
        let result = self.run_epochs(x, &targets, &mut order, options, out);
        // The index buffer is kept for the next call, whatever happened.
        self.order = order;
        result
    }

    fn prepare_all<Y: Targets>(&self, y: &Y, n: usize) -> Result<Vec<ArrayD<f32>>, Error> {
        let specs = M::output_specs();
        if Y::COUNT != specs.len() {
            return Err(target_count_error(Y::COUNT, specs.len()));
        }
        specs
            .iter()
            .zip(&self.losses)
            .enumerate()
            .map(|(i, (spec, loss))| y.prepare(i, n, spec, *loss))
            .collect()
    }

    fn run_epochs(
        &mut self,
        x: M::Input<'_>,
        targets: &[ArrayD<f32>],
        order: &mut [usize],
        options: &FitOptions,
        out: &mut dyn Write,
    ) -> Result<History, Error> {
        let n = order.len();
        let k = self.losses.len();
        let mut rng = options.seed.map_or_else(Rng::from_entropy, Rng::new);
        let bs = options.batch_size;
        let steps = n.div_ceil(bs);
        let mut history = History::default();
        let mut losses = Vec::with_capacity(options.epochs);
        let mut output_losses: Vec<Vec<f32>> = vec![Vec::with_capacity(options.epochs); k];
        for epoch in 0..options.epochs {
            let start = Instant::now();
            if options.shuffle {
                rng.shuffle(order);
            }
            // Keras' loss tracker: the mean of batch losses weighted by batch size.
            let mut total = 0.0f64;
            let mut per_output = vec![0.0f64; k];
            for (step, idx) in order.chunks(bs).enumerate() {
                let loss = self.train_step(x, targets, idx)?;
                if !loss.is_finite() {
                    return Err(Error::NonFiniteLoss { epoch, batch: step });
                }
                total += loss as f64 * idx.len() as f64;
                for (acc, l) in per_output.iter_mut().zip(&self.step_losses) {
                    *acc += *l as f64 * idx.len() as f64;
                }
            }
            let mean = |sum: f64| if n == 0 { 0.0 } else { (sum / n as f64) as f32 };
            let epoch_loss = mean(total);
            history.epoch.push(epoch);
            losses.push(epoch_loss);
            for (record, sum) in output_losses.iter_mut().zip(per_output) {
                record.push(mean(sum));
            }
            if options.verbose > 0 {
                let line = progress_line(
                    epoch,
                    options.epochs,
                    steps,
                    start.elapsed().as_secs_f64(),
                    epoch_loss,
                    options.verbose,
                );
                // Progress output must not abort training (e.g. a closed pipe).
                let _ = out.write_all(line.as_bytes());
                let _ = out.flush();
            }
        }
        history.history.insert("loss".into(), losses);
        if k > 1 {
            for (name, record) in M::output_names().iter().zip(output_losses) {
                history.history.insert(format!("{name}_loss"), record);
            }
        }
        Ok(history)
    }

    // One gradient step on the samples `idx`; returns the batch loss.
    fn train_step(
        &mut self,
        x: M::Input<'_>,
        targets: &[ArrayD<f32>],
        idx: &[usize],
    ) -> Result<f32, Error> {
        M::gather(x, idx, &mut self.batch);
        for ((target, batch), rows) in targets
            .iter()
            .zip(&mut self.target_batches)
            .zip(&mut self.target_rows)
        {
            gather_rows(target.view(), idx, batch);
            let view = as_rows(batch.view());
            if rows.dim() != view.dim() {
                *rows = Array2::zeros(view.dim());
            }
            rows.assign(&view);
        }
        // The batch is moved out while the step borrows the rest of `self` (no copy, no
        // allocation: `Default` is an empty buffer).
        let batch = std::mem::take(&mut self.batch);
        let result = self.step(M::batch_view(&batch));
        self.batch = batch;
        result
    }

    // Forward, losses, backward and update on a batch whose targets are in `target_rows`.
    // Returns the total (weighted) loss; a non-finite loss leaves the weights untouched.
    fn step(&mut self, xb: M::Input<'_>) -> Result<f32, Error> {
        self.model.forward_train(xb);
        let mut total = 0.0f32;
        for i in 0..self.losses.len() {
            let pred = self.model.train_output(i);
            let loss =
                self.losses[i].compute(pred, self.target_rows[i].view(), &mut self.grads[i])?;
            let weight = self.loss_weights[i];
            if weight != 1.0 {
                self.grads[i].mapv_inplace(|g| g * weight);
            }
            self.step_losses[i] = loss;
            total += weight * loss;
        }
        if !total.is_finite() {
            return Ok(total);
        }
        self.model.backward(xb, &self.grads);
        self.optimizer.step(&mut self.model);
        Ok(total)
    }

    /// One gradient step on `x` and `y` as a single batch (Keras' `train_on_batch`); returns
    /// the batch loss before the update.
    ///
    /// Targets of exactly the outputs' shapes take a fast path that reuses the step's
    /// buffers, so repeated calls with the same batch size allocate nothing.
    ///
    /// # Errors
    /// The input and target errors of [`fit`](Self::fit), and [`Error::NonFiniteLoss`] if the
    /// loss is NaN or infinite (the weights are then left as they were).
    pub fn train_on_batch<Y: Targets>(&mut self, x: M::Input<'_>, y: Y) -> Result<f32, Error> {
        self.optimizer.validate()?;
        let n = M::check_input(x)?;
        let specs = M::output_specs();
        if Y::COUNT != specs.len() {
            return Err(target_count_error(Y::COUNT, specs.len()));
        }
        for (i, spec) in specs.iter().enumerate() {
            let loss = self.losses[i];
            if !y.load_exact(i, n, spec, loss, &mut self.target_rows[i]) {
                let targets = y.prepare(i, n, spec, loss)?;
                let rows = as_rows(targets.view());
                if self.target_rows[i].dim() != rows.dim() {
                    self.target_rows[i] = Array2::zeros(rows.dim());
                }
                self.target_rows[i].assign(&rows);
            }
        }
        let loss = self.step(x)?;
        if !loss.is_finite() {
            return Err(Error::NonFiniteLoss { epoch: 0, batch: 0 });
        }
        Ok(loss)
    }

    /// The loss on `x` and `y` (Keras' `evaluate`), in batches of `batch_size`, averaged over
    /// samples; with several outputs, the weighted sum of their losses.
    pub fn evaluate<Y: Targets>(
        &mut self,
        x: M::Input<'_>,
        y: Y,
        batch_size: usize,
    ) -> Result<f32, Error> {
        FitOptions::default().batch_size(batch_size).validate()?;
        let n = M::check_input(x)?;
        let targets = self.prepare_all(&y, n)?;
        let mut total = 0.0f64;
        let mut start = 0;
        while start < n {
            let end = (start + batch_size).min(n);
            // Evaluation walks the samples in order; reuse the index buffer for the batch.
            self.order.clear();
            self.order.extend(start..end);
            M::gather(x, &self.order, &mut self.batch);
            let preds = self.model.call(M::batch_view(&self.batch));
            for (i, pred) in preds.iter().enumerate() {
                gather_rows(targets[i].view(), &self.order, &mut self.target_batches[i]);
                let target_rows = as_rows(self.target_batches[i].view());
                let loss =
                    self.losses[i].compute(pred.view(), target_rows.view(), &mut self.grads[i])?;
                total += (self.loss_weights[i] * loss) as f64 * (end - start) as f64;
            }
            start = end;
        }
        Ok(if n == 0 {
            0.0
        } else {
            (total / n as f64) as f32
        })
    }
}

impl<M: Model + std::fmt::Debug, O: std::fmt::Debug> std::fmt::Debug for Compiled<M, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("model", &self.model)
            .field("optimizer", &self.optimizer)
            .field("losses", &self.losses)
            .field("loss_weights", &self.loss_weights)
            .finish_non_exhaustive()
    }
}

// Copies `y` into `rows` if it has exactly the output's shape (every loss but the sparse one);
// returns false to take the general path.
fn load_exact_targets<T: TargetElement, D: Dimension>(
    y: &ArrayView<'_, T, D>,
    n: usize,
    spec: &TensorSpec,
    loss: Loss,
    rows: &mut Array2<f32>,
) -> bool {
    let shape = y.shape();
    let exact = !loss.is_sparse()
        && shape.len() == spec.dims.len() + 1
        && shape[0] == n
        && spec
            .dims
            .iter()
            .zip(&shape[1..])
            .all(|(d, s)| d.known() == Some(*s));
    if !exact {
        return false;
    }
    let cols = spec.dims.last().and_then(|d| d.known()).unwrap_or(1);
    let total: usize = shape.iter().product();
    let dim = (total / cols.max(1), cols);
    if rows.dim() != dim {
        *rows = Array2::zeros(dim);
    }
    // Logical (row-major) order, whatever the memory layout of `y`.
    for (dst, src) in rows.iter_mut().zip(y.iter()) {
        *dst = src.to_f32();
    }
    true
}

fn shape_string(dims: &[String]) -> String {
    if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    }
}

/// Checks targets against the model's output spec and the loss, and converts them to `f32` in
/// the shape `[n, middle..., k]` (`k` = 1 for class ids), ready to gather and fold into rows.
fn prepare_targets<T: TargetElement, D: Dimension>(
    y: ArrayView<'_, T, D>,
    n: usize,
    spec: &TensorSpec,
    loss: Loss,
) -> Result<ArrayD<f32>, Error> {
    let ys = y.shape();
    // The per-sample dims the targets must have.
    let mut want: Vec<Dim> = spec.dims.clone();
    if loss.is_sparse() {
        want.pop();
    }
    let mut expected: Vec<String> = vec![n.to_string()];
    expected.extend(want.iter().map(Dim::to_string));
    let mismatch = |extra: &str| {
        Error::TargetShape {
        expected: shape_string(&expected),
        actual: ys.to_vec(),
        message: format!(
            "the model's output has shape {}, so {} expects targets of shape {}{extra}; received {:?}",
            spec.shape_string(),
            loss.name(),
            shape_string(&expected),
            ys
        ),
    }
    };
    let sparse_hint = if loss.is_sparse() {
        " (class ids, optionally with a trailing axis of 1)"
    } else {
        ""
    };
    let Some(&samples) = ys.first() else {
        return Err(mismatch(sparse_hint));
    };
    if samples != n {
        return Err(Error::SampleCount {
            inputs: n,
            targets: samples,
        });
    }
    let matches = |dims: &[usize]| {
        dims.len() == want.len()
            && want
                .iter()
                .zip(dims)
                .all(|(w, d)| w.known().is_none_or(|k| k == *d))
    };
    let rest = &ys[1..];
    let mut normalized: Vec<usize> = ys.to_vec();
    if loss.is_sparse() {
        // Class ids: `[n, middle...]`, or with a trailing 1.
        if matches(rest) {
            normalized.push(1);
        } else if !(rest.last() == Some(&1) && matches(&rest[..rest.len() - 1])) {
            return Err(mismatch(sparse_hint));
        }
    } else if !matches(rest) {
        // Keras expands `(n,)` targets against a `(n, 1)` output (squeeze_or_expand_to_same_rank).
        let expandable = want.last() == Some(&Dim::Known(1)) && {
            let mut r = rest.to_vec();
            r.push(1);
            matches(&r)
        };
        if !expandable {
            return Err(mismatch(""));
        }
        normalized.push(1);
    }
    let values: Vec<f32> = y.iter().map(|v| v.to_f32()).collect();
    ArrayD::from_shape_vec(IxDyn(&normalized), values).map_err(|e| mismatch(&format!(" ({e})")))
}

/// Keras' progress line for a finished epoch.
fn progress_line(
    epoch: usize,
    epochs: usize,
    steps: usize,
    seconds: f64,
    loss: f32,
    verbose: u8,
) -> String {
    let per_step = if steps == 0 {
        0.0
    } else {
        seconds / steps as f64
    };
    let per_step = if per_step >= 1.0 || per_step == 0.0 {
        format!("{per_step:.0}s/step")
    } else if per_step >= 1e-3 {
        format!("{:.0}ms/step", per_step * 1e3)
    } else {
        format!("{:.0}us/step", per_step * 1e6)
    };
    // Keras' ProgbarLogger prints the epoch header only when there is more than one epoch.
    let mut s = if epochs > 1 {
        format!("Epoch {}/{}\n", epoch + 1, epochs)
    } else {
        String::new()
    };
    let secs = seconds as u64;
    let loss = format_metric(loss);
    let _ = if verbose == 1 {
        writeln!(
            s,
            "{steps}/{steps} {} {secs}s {per_step} - loss: {loss}",
            "\u{2501}".repeat(20)
        )
    } else {
        writeln!(s, "{steps}/{steps} - {secs}s - {per_step} - loss: {loss}")
    };
    s
}

/// A metric as Keras prints it: 4 decimals, or scientific notation for tiny values.
fn format_metric(v: f32) -> String {
    if v.abs() > 1e-3 || !v.is_finite() {
        return format!("{v:.4}");
    }
    // Python's `{:.4e}` writes a signed exponent of at least two digits.
    let s = format!("{v:.4e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => s,
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
    model.visit_params(&mut |p| {
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
    });
    result.unwrap_or_else(|| {
        Err(Error::Weight {
            key: key.to_string(),
            message: format!("no such weight; the model has {}", known.join(", ")),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array1, Array2, Array3};

    fn spec(dims: &[Option<usize>]) -> TensorSpec {
        TensorSpec::dense(
            dims.iter()
                .map(|d| d.map_or(Dim::Unknown, Dim::Known))
                .collect(),
        )
    }

    #[test]
    fn targets_are_normalised_to_rows_with_a_last_axis() {
        // (n,) against a (None, 1) output is expanded, as Keras does.
        let y = Array1::<i32>::from(vec![1, 2, 3]);
        let t = prepare_targets(y.view(), 3, &spec(&[Some(1)]), Loss::mse()).unwrap();
        assert_eq!(t.shape(), &[3, 1]);
        assert_eq!(t.iter().copied().collect::<Vec<_>>(), vec![1.0, 2.0, 3.0]);
        // Sparse ids over a sequence output (None, 5, 8): (n, 5) or (n, 5, 1).
        let sp = Loss::sparse_categorical_crossentropy();
        let y = Array2::<u8>::zeros((2, 5));
        let t = prepare_targets(y.view(), 2, &spec(&[Some(5), Some(8)]), sp).unwrap();
        assert_eq!(t.shape(), &[2, 5, 1]);
        let y = Array3::<u8>::zeros((2, 5, 1));
        let t = prepare_targets(y.view(), 2, &spec(&[Some(5), Some(8)]), sp).unwrap();
        assert_eq!(t.shape(), &[2, 5, 1]);
        let y = Array3::<u8>::zeros((2, 4, 1));
        let e = prepare_targets(y.view(), 2, &spec(&[Some(5), Some(8)]), sp).unwrap_err();
        match e {
            Error::TargetShape { expected, .. } => assert_eq!(expected, "(2, 5)"),
            other => panic!("{other:?}"),
        }
        // Unknown output dims accept any size.
        let y = Array3::<f32>::zeros((2, 7, 3));
        let t = prepare_targets(y.view(), 2, &spec(&[None, Some(3)]), Loss::mae()).unwrap();
        assert_eq!(t.shape(), &[2, 7, 3]);
        // A 0-d target has no batch axis.
        let y = ndarray::arr0(1.0f32);
        assert!(matches!(
            prepare_targets(y.view(), 1, &spec(&[Some(1)]), Loss::mse()),
            Err(Error::TargetShape { .. })
        ));
    }

    #[test]
    fn metric_format_is_keras() {
        assert_eq!(format_metric(0.51234), "0.5123");
        assert_eq!(format_metric(1.234e-5), "1.2340e-05");
        assert_eq!(format_metric(0.0), "0.0000e+00");
    }

    #[test]
    fn progress_lines() {
        let l = progress_line(0, 3, 3, 0.003, 0.51234, 1);
        assert_eq!(
            l,
            "Epoch 1/3\n3/3 \u{2501}\u{2501}\u{2501}\u{2501}\u{2501}\u{2501}\u{2501}\u{2501}\u{2501}\u{2501}\u{2501}\u{2501}\u{2501}\u{2501}\u{2501}\u{2501}\u{2501}\u{2501}\u{2501}\u{2501} 0s 1ms/step - loss: 0.5123\n"
        );
        let l = progress_line(1, 3, 2, 2.5, 0.5, 2);
        assert_eq!(l, "Epoch 2/3\n2/2 - 2s - 1s/step - loss: 0.5000\n");
        let l = progress_line(0, 1, 1, 0.002, 1.0, 2);
        assert_eq!(l, "1/1 - 0s - 2ms/step - loss: 1.0000\n");
    }
}
