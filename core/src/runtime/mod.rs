//! The runtime: layers on ndarray, losses, optimizers and the training loop.

mod constant;
mod error;
mod model;

pub use constant::{
    assert_elements_are, const_shape_matches, const_tensor, ConstTensor, ElementsAre,
    MAX_CONST_RANK,
};
pub use error::Error;
pub use model::{Layer, Model, ParamMut, ParamRef};
