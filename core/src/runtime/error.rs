//! The one error type of the runtime.

use std::fmt;

/// Everything that can go wrong at run time. Messages name the input or layer, what was
/// expected and what was received.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A value handed to `predict`, `fit` or `evaluate` does not have the declared shape.
    InputShape {
        /// The input's name (`input`, or the `name = ...` it was declared with).
        input: String,
        /// The declared shape, Keras-style, e.g. `(None, 4)`.
        expected: String,
        /// The shape received, batch axis first.
        actual: Vec<usize>,
        /// The full explanation.
        message: String,
    },
    /// Targets do not fit the model's output or the loss.
    TargetShape {
        /// What the loss needs, e.g. `(10, 8)`.
        expected: String,
        /// The shape received.
        actual: Vec<usize>,
        /// The full explanation.
        message: String,
    },
    /// Inputs and targets hold a different number of samples.
    SampleCount {
        /// Samples in the inputs.
        inputs: usize,
        /// Samples in the targets.
        targets: usize,
    },
    /// A training argument is out of its range (e.g. `batch_size = 0`).
    InvalidArgument {
        /// The argument's name.
        name: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A weight given by name does not exist or has the wrong shape.
    Weight {
        /// The weight's key, `layer/variable`.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The loss became NaN or infinite during training.
    NonFiniteLoss {
        /// The epoch (0-based) it happened in.
        epoch: usize,
        /// The batch (0-based) it happened in.
        batch: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InputShape { input, message, .. } => {
                write!(f, "input '{input}' is incompatible with the model: {message}")
            }
            Error::TargetShape { message, .. } => write!(f, "targets do not fit: {message}"),
            Error::SampleCount { inputs, targets } => write!(
                f,
                "inputs and targets must hold the same number of samples; received {inputs} input samples and {targets} target samples"
            ),
            Error::InvalidArgument { name, message } => write!(f, "invalid `{name}`: {message}"),
            Error::Weight { key, message } => write!(f, "weight '{key}': {message}"),
            Error::NonFiniteLoss { epoch, batch } => write!(
                f,
                "the loss became NaN or infinite in epoch {} at batch {}",
                epoch + 1,
                batch
            ),
        }
    }
}

impl std::error::Error for Error {}
