//! What a compiled model forwards to its model, so that Keras' habit of calling everything on
//! the one model object works: `compiled.summary()`, `compiled.save_weights(...)`, ... (each is
//! also on `compiled.model()`).

use std::path::Path;

use ndarray::{ArrayD, ArrayViewD};

use super::Compiled;
use crate::runtime::{Error, Model, Optimizer};
use crate::shape::Summary;

impl<M: Model, O: Optimizer> Compiled<M, O> {
    /// The model's summary, as Keras' `model.summary()` prints it; see [`Model::summary`].
    pub fn summary(&self) -> Summary {
        self.model.summary()
    }

    /// Inference `batch_size` samples at a time; see [`Model::predict_batched`].
    ///
    /// # Errors
    /// As [`Model::predict_batched`].
    pub fn predict_batched(&self, x: M::Input<'_>, batch_size: usize) -> Result<M::Output, Error> {
        self.model.predict_batched(x, batch_size)
    }

    /// The model's graph in Graphviz DOT; see [`Model::to_dot`].
    pub fn to_dot(&self) -> String {
        self.model.to_dot()
    }

    /// Every weight, keyed `"layer/variable"`; see [`Model::weights`].
    pub fn weights(&self) -> Vec<(String, ArrayD<f32>)> {
        self.model.weights()
    }

    /// Replaces one weight; see [`Model::set_weight`].
    ///
    /// # Errors
    /// As [`Model::set_weight`].
    pub fn set_weight(&mut self, key: &str, value: ArrayViewD<'_, f32>) -> Result<(), Error> {
        self.model.set_weight(key, value)
    }

    /// Saves every weight in safetensors; see [`Model::save_weights`].
    ///
    /// # Errors
    /// As [`Model::save_weights`].
    pub fn save_weights(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        self.model.save_weights(path)
    }

    /// Loads every weight from safetensors; see [`Model::load_weights`].
    ///
    /// # Errors
    /// As [`Model::load_weights`].
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<(), Error> {
        self.model.load_weights(path)
    }

    /// Loads the weights of a Keras file; see [`Model::load_keras_weights`].
    ///
    /// # Errors
    /// As [`Model::load_keras_weights`].
    #[cfg(feature = "keras")]
    pub fn load_keras_weights(&mut self, path: impl AsRef<Path>) -> Result<(), Error> {
        self.model.load_keras_weights(path)
    }

    /// Loads a `.keras` model, its architecture compared first; see [`Model::load_keras`].
    ///
    /// # Errors
    /// As [`Model::load_keras`].
    #[cfg(feature = "keras")]
    pub fn load_keras(&mut self, path: impl AsRef<Path>) -> Result<(), Error> {
        self.model.load_keras(path)
    }
}
