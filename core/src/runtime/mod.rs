//! The runtime: layers on ndarray, losses, optimizers and the training loop.

mod constant;
mod data;
pub mod distributed;
mod error;
pub mod init;
pub mod kernels;
mod layer;
mod layers;
mod losses;
mod model;
mod optimizers;
mod parallel;
mod regularize;
mod rng;
mod tensor;
mod train;
mod uncompiled;
mod weights;

pub use constant::{
    assert_elements_are, const_shape_matches, const_tensor, ConstTensor, ElementsAre,
    MAX_CONST_RANK,
};
pub use data::{
    add_rows, as_rows, assign_rows, check_dense_input, check_sparse_input, gather_rows,
    ids_as_rows, reserve_weights, rows_to_output, same_samples, Element, GraphBuffers, IdElement,
};
pub use error::{
    ArchitectureDifference, DTypeMismatch, Error, FileFormat, FileProblem, ShapeMismatch,
    WeightMismatch,
};
#[doc(hidden)]
pub use kernels::gemm::sgemm;
pub use layer::{
    count_weights, BuildLayer, CustomLayer, ForwardContext, Input, Layer, LayerRef, MergeLayer,
};
// Every runtime layer type, as its spec's `runtime` names it (generated code reaches them here).
pub use layers::*;
pub use losses::{CustomLoss, Loss, LossFunction, EPSILON};
pub use model::{Model, ParamMut, ParamRef};
// The ONNX export extension trait, beside `Model` (its module is `crate::onnx`).
pub use crate::onnx::OnnxExport;
pub use optimizers::{Adam, AdamW, Clip, ClipGradients, Clipped, Optimizer, RMSprop, SGD};
pub use parallel::threads as num_threads;
pub use regularize::{weight_penalty, ActivityRegularizer};
pub use rng::Rng;
pub use tensor::ragged::{check_ragged_input, RaggedError, RaggedTensor, RaggedView, RowIndex};
pub use tensor::sparse::{SparseElement, SparseError, SparseOptions, SparseTensor};
pub use train::{
    unoptimized, Callback, Compiled, EarlyStopping, Evaluation, ExponentialDecay, FiniteElement,
    Fit, FitOptions, History, InputValues, LearningRateSchedule, Logs, Metric, Mode,
    ModelCheckpoint, NonFinite, ReduceLROnPlateau, StopReason, TargetElement, Targets,
    TerminateOnNaN, TrainContext, ALLOW_UNOPTIMIZED_VAR, AUC_THRESHOLDS, UNOPTIMIZED_WARNING,
};
pub use uncompiled::{CompileFirst, DeclarationFailed, IsCompiled};
#[cfg(feature = "keras")]
pub use weights::{
    compare_architecture, keras_bytes, keras_config, keras_weight_paths, keras_weights_bytes,
    load_keras, load_keras_bytes, load_keras_weights, load_keras_weights_bytes,
    load_keras_weights_with, load_keras_with, read_keras_archive, Hdf5Dataset, Hdf5File, Hdf5Tree,
    KerasArchive, MAX_KERAS_ENTRY_BYTES,
};
pub use weights::{
    from_safetensors, load_weights, load_weights_with, save_weights, to_safetensors, LoadLimits,
    DEFAULT_MAX_FILE_BYTES, MAX_HEADER_BYTES,
};
