//! The one error type of the runtime.

use std::fmt;

use super::SparseError;

/// Everything that can go wrong at run time. Messages name the input or layer, what was
/// expected and what was received.
#[derive(Clone, PartialEq)]
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
    /// The inputs of a model with several inputs hold different numbers of samples.
    InputSamples {
        /// Each input's name and number of samples, in declaration order.
        inputs: Vec<(String, usize)>,
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
    /// A value handed to `fit` is NaN or infinite (checked before the first step unless
    /// `FitOptions::check_finite` is off): one such value would reach the loss and, through
    /// the gradient, the weights.
    NonFiniteInput {
        /// What holds it: an input's name, `y` (`y[<output>]` with several outputs),
        /// `sample_weight`, each prefixed `validation_data ` for validation data.
        input: String,
        /// The sample (row) it is in.
        row: usize,
        /// Its position within the sample: the column of a matrix, the row-major offset
        /// over the axes after the first, the position in a ragged row.
        column: usize,
        /// The value.
        value: f32,
    },
    /// A gradient became NaN or infinite while the loss was finite; the update was not
    /// applied, so the weights are those before the step.
    NonFiniteGradient {
        /// The epoch (0-based) it happened in.
        epoch: usize,
        /// The batch (0-based) it happened in.
        batch: usize,
        /// The weight whose gradient it is, `layer/variable`.
        weight: String,
    },
    /// `fit`, `evaluate` or `train_on_batch` received no samples, so there is no loss to
    /// report (rather than a made-up 0).
    NoSamples {
        /// The call or argument: `fit`, `evaluate`, `train_on_batch`, `validation_data`.
        call: &'static str,
    },
    /// The inputs of a merge layer do not fit together at run time (dims declared `None`
    /// that disagree, e.g. two inputs of shape `(None, None)` added with different widths).
    MergeShape {
        /// The merge layer's name.
        layer: String,
        /// Every input's `(rows, features)`.
        shapes: Vec<[usize; 2]>,
        /// What does not fit.
        message: String,
    },

    // === weights files ===
    /// A file could not be read or written.
    Io {
        /// The file.
        path: String,
        /// What the operating system reported.
        kind: std::io::ErrorKind,
        /// The operating system's message.
        message: String,
    },
    /// A weights file is not what its format says it is, or uses something this reader refuses.
    WeightFile {
        /// The format being read.
        format: FileFormat,
        /// What kind of problem it is.
        problem: FileProblem,
        /// Where in the file, and what was found.
        message: String,
    },
    /// The weights in a file do not match the model's: every mismatch found, at once.
    WeightMismatch(Box<WeightMismatch>),
    /// The architecture saved with a Keras model differs from the declared one.
    Architecture {
        /// Every difference, in layer order.
        differences: Vec<ArchitectureDifference>,
    },
    /// Sparse tensor parts were refused (see [`SparseError`] for each case, which names the
    /// offending entry, axis and value).
    Sparse(SparseError),
    // === ragged tensors ===
    /// A ragged tensor's parts are inconsistent (bad row splits, lengths or row ids); the
    /// inner error names the partition, position and value.
    Ragged(crate::RaggedError),
    /// An id handed to an `Embedding` is outside `[0, input_dim)`.
    IdOutOfRange {
        /// The embedding layer's name.
        layer: String,
        /// The id received.
        id: i64,
        /// Where it is in the input: `[row, index in row]` for a ragged tensor of ragged rank
        /// 1 (one index per axis in general), the array index for a dense input.
        position: Vec<usize>,
        /// The vocabulary size: ids must be below it.
        input_dim: usize,
    },
    // === distributed training ===
    /// Another rank of a distributed `fit` failed, so this one stopped too (the failing rank
    /// returns its own error); or the ranks do not train the same model with the same
    /// arguments.
    Distributed {
        /// The rank that failed (the lowest, when several did).
        rank: usize,
        /// That rank's error, as text.
        message: String,
    },
    // === ONNX export ===
    /// A model cannot be written as ONNX: a layer (or input) whose computation ONNX cannot
    /// express as exported, such as a sparse or ragged tensor. Nothing was written.
    OnnxExport {
        /// The layer's (or input's) name.
        layer: String,
        /// Its Keras class (`Dense`, `InputLayer`, ...).
        class: String,
        /// Why it cannot be exported.
        reason: String,
    },
}

// Written out rather than derived, with the derive's output: a derived `fmt` is `#[inline]`,
// so every program whose `main` returns this error would compile the formatting of every
// variant and of the errors inside them (about 5 % of a model's release rebuild,
// BENCHMARKS.md, compile time). This one is compiled once, here.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InputShape {
                input,
                expected,
                actual,
                message,
            } => f
                .debug_struct("InputShape")
                .field("input", input)
                .field("expected", expected)
                .field("actual", actual)
                .field("message", message)
                .finish(),
            Error::TargetShape {
                expected,
                actual,
                message,
            } => f
                .debug_struct("TargetShape")
                .field("expected", expected)
                .field("actual", actual)
                .field("message", message)
                .finish(),
            Error::SampleCount { inputs, targets } => f
                .debug_struct("SampleCount")
                .field("inputs", inputs)
                .field("targets", targets)
                .finish(),
            Error::InputSamples { inputs } => f
                .debug_struct("InputSamples")
                .field("inputs", inputs)
                .finish(),
            Error::InvalidArgument { name, message } => f
                .debug_struct("InvalidArgument")
                .field("name", name)
                .field("message", message)
                .finish(),
            Error::OnnxExport {
                layer,
                class,
                reason,
            } => f
                .debug_struct("OnnxExport")
                .field("layer", layer)
                .field("class", class)
                .field("reason", reason)
                .finish(),
            Error::Weight { key, message } => f
                .debug_struct("Weight")
                .field("key", key)
                .field("message", message)
                .finish(),
            Error::NonFiniteLoss { epoch, batch } => f
                .debug_struct("NonFiniteLoss")
                .field("epoch", epoch)
                .field("batch", batch)
                .finish(),
            Error::NonFiniteInput {
                input,
                row,
                column,
                value,
            } => f
                .debug_struct("NonFiniteInput")
                .field("input", input)
                .field("row", row)
                .field("column", column)
                .field("value", value)
                .finish(),
            Error::NonFiniteGradient {
                epoch,
                batch,
                weight,
            } => f
                .debug_struct("NonFiniteGradient")
                .field("epoch", epoch)
                .field("batch", batch)
                .field("weight", weight)
                .finish(),
            Error::NoSamples { call } => f.debug_struct("NoSamples").field("call", call).finish(),
            Error::MergeShape {
                layer,
                shapes,
                message,
            } => f
                .debug_struct("MergeShape")
                .field("layer", layer)
                .field("shapes", shapes)
                .field("message", message)
                .finish(),
            Error::Io {
                path,
                kind,
                message,
            } => f
                .debug_struct("Io")
                .field("path", path)
                .field("kind", kind)
                .field("message", message)
                .finish(),
            Error::WeightFile {
                format,
                problem,
                message,
            } => f
                .debug_struct("WeightFile")
                .field("format", format)
                .field("problem", problem)
                .field("message", message)
                .finish(),
            Error::WeightMismatch(m) => f.debug_tuple("WeightMismatch").field(m).finish(),
            Error::Architecture { differences } => f
                .debug_struct("Architecture")
                .field("differences", differences)
                .finish(),
            Error::Sparse(e) => f.debug_tuple("Sparse").field(e).finish(),
            Error::Ragged(e) => f.debug_tuple("Ragged").field(e).finish(),
            Error::Distributed { rank, message } => f
                .debug_struct("Distributed")
                .field("rank", rank)
                .field("message", message)
                .finish(),
            Error::IdOutOfRange {
                layer,
                id,
                position,
                input_dim,
            } => f
                .debug_struct("IdOutOfRange")
                .field("layer", layer)
                .field("id", id)
                .field("position", position)
                .field("input_dim", input_dim)
                .finish(),
        }
    }
}

/// A file format the runtime reads or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileFormat {
    /// safetensors (`save_weights` / `load_weights`).
    Safetensors,
    /// HDF5, as in Keras' `.weights.h5`.
    Hdf5,
    /// The zip container of a `.keras` file.
    Zip,
    /// The `config.json` inside a `.keras` file.
    KerasConfig,
}

impl fmt::Display for FileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileFormat::Safetensors => "safetensors",
            FileFormat::Hdf5 => "HDF5",
            FileFormat::Zip => "zip",
            FileFormat::KerasConfig => "Keras config.json",
        })
    }
}

/// What is wrong with a weights file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileProblem {
    /// The file ends before a structure it announces.
    Truncated,
    /// A header or an entry is larger than the reader accepts (a guard against memory
    /// exhaustion).
    TooLarge,
    /// An offset or address points outside the file (or outside the data it should be in).
    OutOfBounds,
    /// A structure does not parse (bad signature, inconsistent sizes, invalid JSON, ...).
    Malformed,
    /// A valid feature of the format that this reader does not implement.
    Unsupported,
    /// A feature Keras' own loader refuses for safety: soft or external links, external or
    /// virtual datasets, archive entries that expand beyond the bound.
    Unsafe,
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileProblem::Truncated => "truncated",
            FileProblem::TooLarge => "too large",
            FileProblem::OutOfBounds => "out of bounds",
            FileProblem::Malformed => "malformed",
            FileProblem::Unsupported => "unsupported",
            FileProblem::Unsafe => "refused as unsafe",
        })
    }
}

/// Every way the weights of a file differ from the model's, collected in one pass.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WeightMismatch {
    /// Weights the model has and the file lacks.
    pub missing: Vec<String>,
    /// Weights in the file the model does not have.
    pub unexpected: Vec<String>,
    /// Weights present in both with different shapes.
    pub shapes: Vec<ShapeMismatch>,
    /// Weights present in both whose element type is not the model's (`float32`).
    pub dtypes: Vec<DTypeMismatch>,
}

impl WeightMismatch {
    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty()
            && self.unexpected.is_empty()
            && self.shapes.is_empty()
            && self.dtypes.is_empty()
    }
}

/// A weight whose shape in the file differs from the model's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapeMismatch {
    /// The weight (`dense/kernel`, or the file's own path for a Keras file).
    pub key: String,
    /// The model's shape.
    pub expected: Vec<usize>,
    /// The file's shape.
    pub found: Vec<usize>,
}

/// A weight whose element type in the file differs from the model's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DTypeMismatch {
    /// The weight.
    pub key: String,
    /// The model's element type (`F32`, as safetensors names it).
    pub expected: String,
    /// The file's element type.
    pub found: String,
}

impl fmt::Display for WeightMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.missing.len() + self.unexpected.len() + self.shapes.len() + self.dtypes.len();
        write!(f, "the file's weights do not match the model ({n} mismatch")?;
        if n != 1 {
            f.write_str("es")?;
        }
        f.write_str(")")?;
        if !self.missing.is_empty() {
            write!(f, "\n  missing from the file: {}", self.missing.join(", "))?;
        }
        if !self.unexpected.is_empty() {
            write!(f, "\n  not in the model: {}", self.unexpected.join(", "))?;
        }
        for s in &self.shapes {
            write!(
                f,
                "\n  '{}': expected shape {:?}, found {:?}",
                s.key, s.expected, s.found
            )?;
        }
        for d in &self.dtypes {
            write!(
                f,
                "\n  '{}': expected dtype {}, found {}",
                d.key, d.expected, d.found
            )?;
        }
        Ok(())
    }
}

/// One difference between a saved Keras architecture and the declared model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchitectureDifference {
    /// Where: `input`, `layer 1 (dense)`, `layers`, ...
    pub location: String,
    /// What differs: `class`, `units`, `activation`, `use_bias`, `shape`, `count`, `metadata`.
    pub field: String,
    /// The value in the saved file.
    pub saved: String,
    /// The value in the declared model.
    pub declared: String,
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
            Error::InputSamples { inputs } => {
                let list: Vec<String> = inputs.iter().map(|(name, n)| format!("'{name}': {n}")).collect();
                write!(
                    f,
                    "every input must hold the same number of samples; received {}",
                    list.join(", ")
                )
            }
            Error::InvalidArgument { name, message } => write!(f, "invalid `{name}`: {message}"),
            Error::Distributed { rank, message } => {
                write!(f, "distributed training stopped: rank {rank} failed: {message}")
            }
            Error::Weight { key, message } => write!(f, "weight '{key}': {message}"),
            Error::NonFiniteLoss { epoch, batch } => write!(
                f,
                "the loss became NaN or infinite in epoch {} at batch {}",
                epoch + 1,
                batch
            ),
            Error::NonFiniteInput {
                input,
                row,
                column,
                value,
            } => write!(
                f,
                "'{input}' holds {value} at row {row}, column {column}; training data must be finite (clean it, or turn the check off with `FitOptions::check_finite(false)`)"
            ),
            Error::NonFiniteGradient {
                epoch,
                batch,
                weight,
            } => write!(
                f,
                "the gradient of '{weight}' became NaN or infinite in epoch {} at batch {batch}; the update was not applied",
                epoch + 1
            ),
            Error::NoSamples { call } => write!(
                f,
                "`{call}` received no samples; there is no loss to compute"
            ),
            Error::MergeShape {
                layer,
                shapes,
                message,
            } => {
                let shapes: Vec<String> = shapes
                    .iter()
                    .map(|[r, c]| format!("({r}, {c})"))
                    .collect();
                write!(
                    f,
                    "layer '{layer}' cannot merge its inputs: {message}; received shapes {}",
                    shapes.join(", ")
                )
            }
            Error::Sparse(e) => write!(f, "invalid sparse tensor: {e}"),
            Error::Io { path, message, .. } => write!(f, "{path}: {message}"),
            Error::WeightFile {
                format,
                problem,
                message,
            } => write!(f, "{format} file {problem}: {message}"),
            Error::WeightMismatch(m) => m.fmt(f),
            Error::OnnxExport {
                layer,
                class,
                reason,
            } => write!(
                f,
                "cannot export layer '{layer}' ({class}) to ONNX: {reason}"
            ),
            Error::Architecture { differences } => {
                f.write_str(
                    "the saved architecture differs from the declared model (saved | declared):",
                )?;
                let w = differences
                    .iter()
                    .map(|d| d.location.len() + d.field.len() + 1)
                    .max()
                    .unwrap_or(0);
                let ws = differences.iter().map(|d| d.saved.len()).max().unwrap_or(0);
                for d in differences {
                    let what = format!("{} {}", d.location, d.field);
                    write!(f, "\n  {what:<w$}  {:<ws$} | {}", d.saved, d.declared)?;
                }
                Ok(())
            }
            Error::Ragged(e) => write!(f, "invalid ragged tensor: {e}"),
            Error::IdOutOfRange {
                layer,
                id,
                position,
                input_dim,
            } => write!(
                f,
                "layer '{layer}' (Embedding): id {id} at position {position:?} is outside the vocabulary [0, {input_dim})"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Sparse(e) => Some(e),
            Error::Ragged(e) => Some(e),
            _ => None,
        }
    }
}

impl Error {
    /// An I/O error on `path`.
    pub(crate) fn io(path: &std::path::Path, e: &std::io::Error) -> Error {
        Error::Io {
            path: path.display().to_string(),
            kind: e.kind(),
            message: e.to_string(),
        }
    }

    /// A problem in a weights file.
    pub(crate) fn file(
        format: FileFormat,
        problem: FileProblem,
        message: impl Into<String>,
    ) -> Error {
        Error::WeightFile {
            format,
            problem,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // `Debug` is written out; it must read as the derive would.
    #[test]
    fn debug_reads_as_derived() {
        let e = Error::SampleCount {
            inputs: 10,
            targets: 8,
        };
        assert_eq!(format!("{e:?}"), "SampleCount { inputs: 10, targets: 8 }");
        let e = Error::InvalidArgument {
            name: "batch_size",
            message: "must be positive".into(),
        };
        assert_eq!(
            format!("{e:?}"),
            r#"InvalidArgument { name: "batch_size", message: "must be positive" }"#
        );
        let e = Error::MergeShape {
            layer: "add".into(),
            shapes: vec![[2, 3], [2, 4]],
            message: "widths differ".into(),
        };
        assert_eq!(
            format!("{e:?}"),
            r#"MergeShape { layer: "add", shapes: [[2, 3], [2, 4]], message: "widths differ" }"#
        );
        let e = Error::Sparse(SparseError::OutOfOrder {
            entry: 1,
            index: vec![0, 2],
            previous: vec![0, 3],
        });
        assert_eq!(
            format!("{e:?}"),
            "Sparse(OutOfOrder { entry: 1, index: [0, 2], previous: [0, 3] })"
        );
    }
}
