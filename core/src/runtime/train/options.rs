//! The arguments of `fit`, with Keras' defaults and ranges.

use std::collections::BTreeMap;

use super::super::distributed::World;
use super::super::Error;

/// The arguments of `fit`, with Keras' defaults: 1 epoch, batches of 32, shuffled each epoch,
/// a progress bar (one line per epoch when the output is not a terminal).
///
/// Data-carrying arguments (`validation_data`, `sample_weight`) and callbacks are given to
/// [`Compiled::fit_with`](super::Compiled::fit_with), which keeps them typed.
///
/// ```
/// # use stratic::prelude::FitOptions;
/// let options = FitOptions::default()
///     .epochs(30)
///     .batch_size(16)
///     .validation_split(0.2)
///     .class_weight(&[(0, 1.0), (1, 3.0)])
///     .seed(7)
///     .verbose(2);
/// assert!(options.validate().is_ok());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct FitOptions {
    /// The epoch at which to stop: training runs epochs `initial_epoch..epochs` (Keras: the
    /// index of the final epoch, not a number of iterations).
    pub epochs: usize,
    /// Samples per gradient step (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Whether to shuffle the training samples before each epoch.
    pub shuffle: bool,
    /// Seed of the shuffle; `None` draws one from the model's seed (`with_seed`, so that one
    /// seed makes training reproducible, as Keras' `set_random_seed`), or from the OS for a
    /// model made with `new()`.
    pub seed: Option<u64>,
    /// 0: silent; 1: a progress bar on a terminal (one line per epoch otherwise); 2: one line
    /// per epoch.
    pub verbose: u8,
    /// The fraction of the samples held out for validation, taken from the end of `x` and `y`
    /// before any shuffling (Keras' `validation_split`): the first `floor(n * (1 - split))`
    /// samples train; 0 for none. Ignored when validation data is given. A Python float, as
    /// in Keras, so that the split point is the same.
    pub validation_split: f64,
    /// The epoch to start from (to resume a previous run); epochs are numbered from it in the
    /// history and the progress output.
    pub initial_epoch: usize,
    /// Weights of classes in the training loss (Keras' `class_weight`): a sample's weight is
    /// that of its target class (the arg-max of a one-hot target, the id of a sparse one, the
    /// rounded value of a single-unit target); classes not listed weigh 1. Models with one
    /// output only.
    pub class_weight: Option<BTreeMap<usize, f32>>,
    /// Whether `fit` checks, before its first step, that every input value, target, sample
    /// weight and validation value is finite, refusing NaN and infinities with
    /// [`Error::NonFiniteInput`] (on by default; one pass over the data, BENCHMARKS.md).
    /// With it off, a NaN reaches the loss and `fit` ends in [`Error::NonFiniteLoss`] with
    /// the weights of the last finite step.
    pub check_finite: bool,
    /// The ranks to train with, data-parallel (see [`distributed`](Self::distributed));
    /// `None` trains in this process alone.
    pub distributed: Option<World>,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            epochs: 1,
            batch_size: 32,
            shuffle: true,
            seed: None,
            verbose: 1,
            validation_split: 0.0,
            initial_epoch: 0,
            class_weight: None,
            check_finite: true,
            distributed: None,
        }
    }
}

impl FitOptions {
    // A clone that stays in this crate: the derived `clone` is `#[inline]`, so `fit_with`
    // would copy the `BTreeMap` clone into every crate that trains a model.
    #[inline(never)]
    pub(crate) fn clone_here(&self) -> Self {
        self.clone()
    }

    /// Sets the final epoch (the number of epochs when starting from 0).
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

    /// Holds out the last `fraction` of the samples for validation (in `[0, 1)`).
    pub fn validation_split(mut self, fraction: f64) -> Self {
        self.validation_split = fraction;
        self
    }

    /// Starts at epoch `initial_epoch` (to resume training).
    pub fn initial_epoch(mut self, initial_epoch: usize) -> Self {
        self.initial_epoch = initial_epoch;
        self
    }

    /// Weights the training loss per class: `(class, weight)` pairs.
    pub fn class_weight(mut self, weights: &[(usize, f32)]) -> Self {
        self.class_weight = Some(weights.iter().copied().collect());
        self
    }

    /// Sets whether the data is checked for NaN and infinities before training (on by
    /// default).
    pub fn check_finite(mut self, check: bool) -> Self {
        self.check_finite = check;
        self
    }

    /// Trains data-parallel on every rank of `world`: each rank calls `fit` with its own
    /// part of the data (see [`shard`](crate::distributed::shard)) and the same arguments.
    ///
    /// `batch_size` is then the global batch, as in Keras' distribution strategies: rank `r`
    /// of `n` takes `batch_size / n` samples of each (one more when `r < batch_size % n`).
    /// The ranks start from rank 0's weights; each step averages the gradients over the
    /// global batch (one all-reduce) and every rank applies the same update, so the weights
    /// stay identical. Losses, metrics and validation are reduced over the ranks, so the
    /// history, and what callbacks decide, are the same on every rank. Only rank 0 prints
    /// progress and writes checkpoints. An error on one rank stops every rank: that rank
    /// returns it and the others return [`Error::Distributed`] naming it.
    pub fn distributed(mut self, world: &World) -> Self {
        self.distributed = Some(world.clone());
        self
    }

    /// Checks every option's range.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the option.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |name, message: String| Err(Error::InvalidArgument { name, message });
        if self.batch_size == 0 {
            return invalid(
                "batch_size",
                "must be a positive integer; received 0".into(),
            );
        }
        if self.verbose > 2 {
            return invalid(
                "verbose",
                format!("must be 0, 1 or 2; received {}", self.verbose),
            );
        }
        if !(0.0..1.0).contains(&self.validation_split) {
            return invalid(
                "validation_split",
                format!(
                    "must be a fraction in [0, 1); received {}",
                    self.validation_split
                ),
            );
        }
        if let Some((class, w)) = self
            .class_weight
            .iter()
            .flatten()
            .find(|(_, w)| !w.is_finite() || **w < 0.0)
        {
            return invalid(
                "class_weight",
                format!("weights must be finite and non-negative; class {class} has {w}"),
            );
        }
        Ok(())
    }
}
