//! # stratic
//!
//! Keras-style neural networks in Rust: declare a model once with [`model!`], in the vocabulary
//! Keras users know, and the compiler checks it (shapes through the whole graph, the
//! `InputLayer` rules, which layers take sparse or ragged tensors). The macro expands into plain
//! Rust over the runtime, which runs the layers on [`ndarray`].
//!
//! ```
//! use stratic::prelude::*;
//!
//! model! {
//!     /// The seed example of Keras' InputLayer documentation.
//!     pub struct Regressor {
//!         input(shape = [4]) -> dense(8)
//!     }
//! }
//!
//! let model = Regressor::with_seed(7);
//! let y = model.predict(Array2::<f32>::zeros((10, 4)).view()).unwrap();
//! assert_eq!(y.dim(), (10, 8));
//! ```
//!
//! **Build for speed.** Cargo's dev profile compiles dependencies without optimization, and
//! training then runs 100-200x slower. Build with `--release`, or add to your `Cargo.toml`
//! `[profile.dev.package."*"]` with `opt-level = 3`. Training warns once on stderr when it
//! finds stratic-core unoptimized ([`UNOPTIMIZED_WARNING`]); `STRATIC_ALLOW_UNOPTIMIZED=1`
//! silences it.
//!
//! ## The language
//!
//! A model body is a chain (`input(...) -> layer(...) -> ...`, Keras' `Sequential`) or a
//! block of `let` statements ending in its output (Keras' functional API): `let` binds a
//! tensor or a layer value (applied twice, its weights are shared), merges such as
//! `concatenate([a, b])` join tensors, a tuple `(a, b)` gives several outputs, a model's type
//! in a chain uses it as a layer (`-> Encoder`), and a type declared with [`custom_layer!`]
//! is a layer of your own. A declared model predicts; `compile(optimizer, loss)` gives one
//! that trains.
//!
//! ```
//! use stratic::prelude::*;
//!
//! model! {
//!     pub struct Encoder {
//!         input(shape = [8]) -> dense(4, activation = relu)
//!     }
//!     pub struct Siamese {
//!         let a = input(shape = [8], name = "a");
//!         let b = input(shape = [8], name = "b");
//!         let enc = Encoder;                       // a sub-model, shared by both branches
//!         let ea = a -> enc;
//!         let eb = b -> enc;
//!         let same = concatenate([ea, eb]) -> dense(1, activation = sigmoid, name = "same");
//!         let kind = ea -> dense(3, activation = softmax, name = "kind");
//!         (same, kind)
//!     }
//! }
//!
//! let x = Array2::<f32>::zeros((16, 8));
//! let y = (Array2::<f32>::ones((16, 1)), Array2::<f32>::zeros((16, 1)));
//! let mut model = Siamese::with_seed(0).compile_with(
//!     Adam::new(1e-3),
//!     &[Loss::binary_crossentropy(), Loss::sparse_categorical_crossentropy()],
//!     None,
//! )?;
//! let history = model.fit((x.view(), x.view()), (y.0.view(), y.1.view()), &FitOptions::default().verbose(0))?;
//! assert!(history.history.contains_key("same_loss"));
//! # Ok::<(), stratic::Error>(())
//! ```
//!
//! The reference, page by page, in [`guide`]:
//!
//! | page | what |
//! |---|---|
//! | [`guide::language`] | the grammar: chains, `let`, layer values, merges, outputs, sub-models, your own layers; inputs (dense, ids, sparse, ragged, masked), dtypes, activations, initializers, regularizers, training, what does not run yet |
//! | [`guide::layers`] | every layer with its arguments, Keras' defaults and what it accepts (generated from the layer specs) |
//! | [`guide::rules`] | every compile-time rule, with the error it gives |
//! | [`guide::keras`] | coming from Keras: every layer, argument, loss, metric, optimizer, callback and idiom with its stratic spelling, or "not supported" |
//!
//! ## Inputs and what `predict` takes
//!
//! `input(shape = [...], dtype = ..., sparse = ..., ragged = ...)` is Keras' `keras.Input`
//! (`name`, `batch_size`, `batch_shape`, `type_spec` and `input_tensor` too); the `shape`
//! leaves out the batch axis. Its layout and `dtype` decide the Rust type of `predict`'s,
//! `fit`'s and `evaluate`'s input:
//!
//! | declared | takes |
//! |---|---|
//! | `input(shape = [4])` (`dtype = f32`, the default) | `ArrayView2<f32>` (rank 1 + the shape's) |
//! | `input(shape = [7], dtype = i32)`: token ids, as Keras passes them | `ArrayView2<i32>` (`dtype = i64`: `ArrayView2<i64>`) |
//! | `input(shape = [None], ragged = true, dtype = i32)`: rows of any length | `&RaggedTensor<i32>` |
//! | `input(shape = [20_000], sparse = true)` | `&SparseTensor<f32>` |
//!
//! Ids feed the layers whose spec takes ids (`embedding`, `category_encoding`); a layer of
//! floats on ids is a compile error (Keras would cast them, `model!` does not), and every id is
//! checked against the `input_dim` (or `num_tokens`) of each layer it feeds before any work,
//! [`Error::IdOutOfRange`] naming the layer and the id's position. Other dtypes (`f64`, `u8`,
//! `bool`) are checked but do not run yet: the declaration says so.
//!
//! ```
//! use stratic::prelude::*;
//!
//! model! {
//!     /// Keras' text classifier: rows of 7 token ids.
//!     pub struct Text {
//!         input(shape = [7], dtype = i32) -> embedding(20, 5) -> lstm(4) -> dense(1, activation = sigmoid)
//!     }
//! }
//!
//! let model = Text::with_seed(0);
//! let ids = array![[16, 12, 7, 1, 16, 9, 15], [9, 13, 4, 3, 11, 14, 13]];
//! assert_eq!(model.predict(ids.view())?.dim(), (2, 1));
//! let bad = array![[16, 12, 7, 1, 16, 9, 20]];
//! assert!(matches!(model.predict(bad.view()), Err(Error::IdOutOfRange { id: 20, .. })));
//! # Ok::<(), stratic::Error>(())
//! ```
#![warn(missing_docs)]

pub use ndarray;
/// Data-parallel training over several processes (MPI behind the `mpi` feature): see
/// `FitOptions::distributed`.
pub use stratic_core::distributed;
pub use stratic_core::shape;
/// The speed trap: training warns once when stratic-core was built at opt-level 0 (see the
/// README's first section for the profile snippet).
pub use stratic_core::{unoptimized, ALLOW_UNOPTIMIZED_VAR, UNOPTIMIZED_WARNING};
pub use stratic_core::{
    ArchitectureDifference, DTypeMismatch, Error, FileFormat, FileProblem, Layer, Model, ParamMut,
    ParamRef, RaggedTensor, ShapeMismatch, SparseError, SparseOptions, SparseTensor,
    WeightMismatch,
};
#[doc = include_str!("guide/model.md")]
pub use stratic_macros::model;

/// Declares a user's layer type to `model!`, with its shape rule, so that the type's name
/// stands in a chain like a layer (`input(shape = [4]) -> Scale -> dense(1)`).
///
/// The type implements [`Layer`] (inference, the training forward and backward, its weights)
/// and [`CustomLayer`] (its build from the input's spec). `custom_layer!(Scale)` says the
/// layer keeps its input's shape; `custom_layer!(Project, units = 8)` says it gives the last
/// axis 8. Write it beside the type: it expands to the description `model!` reads, also from
/// other modules and crates (`-> layers::Scale`).
///
/// See `examples/custom_layer.rs`.
pub use stratic_macros::custom_layer;

/// The types in the signatures of `fit_with` (its builder), `fit` (the targets it takes) and
/// the ragged tensor's views and errors, documented here where their users land.
pub use stratic_core::{Fit, RaggedError, RaggedView, Targets};

/// A user's own layer: what [`Layer`] needs beside the layer itself.
pub mod custom {
    pub use stratic_core::shape::TensorSpec;
    pub use stratic_core::{
        count_weights, CustomLayer, ForwardContext, Input, Layer, ParamMut, ParamRef, Rng,
    };
}
pub use stratic_core::CustomLayer;
/// Gradient clipping (`Adam::new(1e-3).global_clipnorm(1.0)`): see [`prelude::ClipGradients`].
pub use stratic_core::{Clip, Clipped};

/// ONNX export (`model.save_onnx("model.onnx")`, `to_onnx()`): see [`onnx::OnnxExport`].
pub use stratic_core::onnx;

/// Weights from and to bytes, and the readers behind `Model::load_keras*`: for weights
/// embedded in the program (`include_bytes!`) or received over the network.
pub mod weights {
    #[cfg(feature = "keras")]
    pub use stratic_core::{
        compare_architecture, keras_bytes, keras_config, keras_weight_paths, keras_weights_bytes,
        load_keras_bytes, load_keras_weights_bytes, load_keras_weights_with, load_keras_with,
        read_keras_archive, Hdf5Dataset, Hdf5File, Hdf5Tree, KerasArchive, MAX_KERAS_ENTRY_BYTES,
    };
    pub use stratic_core::{
        from_safetensors, load_weights_with, to_safetensors, LoadLimits, DEFAULT_MAX_FILE_BYTES,
        MAX_HEADER_BYTES,
    };
}

/// Losses of the user's own ([`prelude::Loss::custom`], [`prelude::Loss::from_fn`]).
pub mod losses {
    pub use stratic_core::{CustomLoss, LossFunction};
}

/// Everything a program declaring and training a model needs, in one import.
pub mod prelude {
    pub use crate::model;
    pub use ndarray::{array, Array1, Array2, ArrayView1, ArrayView2, Axis};
    pub use stratic_core::{
        Adam, AdamW, Callback, ClipGradients, CompileFirst, Compiled, EarlyStopping, Error,
        Evaluation, ExponentialDecay, FitOptions, History, LearningRateSchedule, Logs, Loss,
        Metric, Mode, Model, ModelCheckpoint, OnnxExport, Optimizer, RMSprop, RaggedTensor,
        ReduceLROnPlateau, SparseOptions, SparseTensor, StopReason, TerminateOnNaN, TrainContext,
        SGD,
    };
}

/// The language reference, page by page: each page is a module with no items.
pub mod guide {
    #[doc = include_str!("guide/language.md")]
    pub mod language {}
    #[doc = include_str!("guide/layers.md")]
    pub mod layers {}
    #[doc = include_str!("guide/rules.md")]
    pub mod rules {}
    #[doc = include_str!("guide/keras.md")]
    pub mod keras {}
}

// The README's tour is compiled and run as a doctest, so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// What the code generated by `model!` names. Not public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use ndarray;
    pub use stratic_core::shape;
    pub use stratic_core::*;
}
