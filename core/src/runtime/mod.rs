//! The runtime: layers on ndarray, losses, optimizers and the training loop.

mod error;
mod model;

pub use error::Error;
pub use model::{Layer, Model, ParamMut, ParamRef};
