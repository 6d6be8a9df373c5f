//! stratic-core: the runtime of stratic and the shape rules its `model!` macro shares.
//!
//! Users reach this crate through the `stratic` facade. The [`shape`] module is pure and
//! always built (the proc-macro crate depends on it without the runtime); everything else sits
//! behind the default `runtime` feature and runs on ndarray.
#![warn(missing_docs)]

pub mod shape;

#[cfg(feature = "runtime")]
pub mod onnx;
#[cfg(feature = "runtime")]
mod runtime;
#[cfg(feature = "runtime")]
pub use runtime::*;
