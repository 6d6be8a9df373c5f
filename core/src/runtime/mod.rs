//! The runtime: layers on ndarray, losses, optimizers and the training loop.

pub mod activations;
mod constant;
mod data;
mod error;
pub mod init;
mod layers;
mod losses;
mod model;
mod optimizers;
mod rng;
mod train;
mod uncompiled;

pub use constant::{
    assert_elements_are, const_shape_matches, const_tensor, ConstTensor, ElementsAre,
    MAX_CONST_RANK,
};
pub use data::{as_rows, check_dense_input, gather_rows, rows_to_output};
pub use error::Error;
pub use layers::{ActivationLayer, Dense};
pub use losses::{Loss, EPSILON};
pub use model::{Layer, MergeLayer, Model, ParamMut, ParamRef};
pub use optimizers::{Adam, AdamW, Optimizer, RMSprop, SGD};
pub use rng::Rng;
pub use train::{Compiled, FitOptions, History, TargetElement, Targets};
pub use uncompiled::{CompileFirst, IsCompiled};
