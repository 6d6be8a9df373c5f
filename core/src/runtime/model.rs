//! The contract between the code `model!` generates and the runtime.
//!
//! Inside a model every dense tensor flows as a 2-D array `(rows, features)`: the batch axis and
//! any middle axes are folded into rows (see [`Input`](super::Input)); a layer that needs the
//! axes knows them from its input spec. The macro knows the logical shapes and restores them at
//! the model's boundary.

use ndarray::{Array2, ArrayD, ArrayView2, ArrayViewD};

use super::train::{self, Compiled, InputValues};
use super::{Error, Loss, Optimizer};

/// A weight as the optimizer sees it: its value and its gradient, as flat slices, so an update
/// streams each parameter once.
#[derive(Debug)]
pub struct ParamMut<'a> {
    /// The layer's name (`dense`, `dense_1`, ...).
    pub layer: &'a str,
    /// The variable's name (`kernel`, `bias`).
    pub variable: &'static str,
    /// The shape of the variable (`[in, units]` for a kernel).
    pub shape: &'a [usize],
    /// The values, in row-major order.
    pub value: &'a mut [f32],
    /// The gradient of the loss with respect to `value`, from the last `backward`.
    pub grad: &'a [f32],
}

/// A weight, read-only.
#[derive(Debug, Clone, Copy)]
pub struct ParamRef<'a> {
    /// The layer's name.
    pub layer: &'a str,
    /// The variable's name.
    pub variable: &'static str,
    /// The shape of the variable.
    pub shape: &'a [usize],
    /// The values, in row-major order.
    pub value: &'a [f32],
    /// Whether the optimizer updates it (false for moving statistics).
    pub trainable: bool,
}

/// A model declared with `model!`. The macro implements the required items; the provided
/// ones are the user-facing API (`predict`, `compile`, weights access).
pub trait Model: Sized {
    /// The inputs of one call, borrowed from the caller: an `ArrayView` for a dense input,
    /// a tuple for several inputs.
    type Input<'a>: Copy + InputValues;
    /// An owned batch of inputs, which `fit` fills by gathering rows and reuses.
    type Batch: Default;
    /// What `predict` returns: an `Array` for one output, a tuple for several.
    type Output;

    /// The declared spec of every output, in order (what shape inference computed).
    fn output_specs() -> &'static [crate::shape::TensorSpec];
    /// The name of every output's layer, in order (Keras keys per-output losses by them).
    fn output_names() -> &'static [&'static str];
    /// The name of every input, in order (errors name inputs by them); `model!` generates
    /// it, and the default, for models written without it, names none.
    fn input_names() -> &'static [&'static str] {
        &[]
    }
    /// Checks every input against its declared shape and returns the number of samples.
    fn check_input(x: Self::Input<'_>) -> Result<usize, Error>;
    /// Copies the samples `rows` of `x` into `out`, resizing it as needed.
    fn gather(x: Self::Input<'_>, rows: &[usize], out: &mut Self::Batch);
    /// Views an owned batch as inputs.
    fn batch_view(batch: &Self::Batch) -> Self::Input<'_>;

    /// Inference on inputs already checked: every output as 2-D `(rows, features)`.
    fn call(&self, x: Self::Input<'_>) -> Vec<Array2<f32>>;
    /// Restores the logical output shapes of `n` samples from the 2-D outputs.
    fn to_output(outputs: Vec<Array2<f32>>, n: usize) -> Self::Output;
    /// Training forward on checked inputs, keeping in the layers what `backward` needs.
    fn forward_train(&mut self, x: Self::Input<'_>);
    /// Output `index` of the last `forward_train`.
    fn train_output(&mut self, index: usize) -> ArrayView2<'_, f32>;
    /// Backward through the graph in reverse order, from the gradient of the loss with
    /// respect to each output (`grad_outputs[i]` for output `i`).
    fn backward(&mut self, x: Self::Input<'_>, grad_outputs: &[Array2<f32>]);
    /// The sum of the activity penalties (Keras' `activity_regularizer` losses) of the last
    /// `forward_train`, cleared. `model!` generates it; the
    /// default, for models written without it, has none.
    fn take_activity_penalty(&mut self) -> f64 {
        0.0
    }
    /// Makes the next `forward_train` passes training ones (`true`, the default) or
    /// inference ones, which evaluation runs for the activity penalties. `model!` generates
    /// it; the default, for models written without it, does nothing.
    fn set_training(&mut self, _training: bool) {}
    /// The shuffle seed of a `fit` given none (`FitOptions::seed`): `model!` draws it from the
    /// seed the model was built with, so `with_seed` alone makes `fit` reproducible; `None`
    /// (the default) draws one from the OS.
    fn next_fit_seed(&mut self) -> Option<u64> {
        None
    }
    /// Visits every trainable weight and its gradient.
    fn visit_params(&mut self, f: &mut dyn FnMut(ParamMut<'_>));
    /// Visits every non-trainable weight (moving statistics), writable; the optimizer never
    /// sees these. The default, for models without any, visits nothing.
    fn visit_state(&mut self, _f: &mut dyn FnMut(ParamMut<'_>)) {}
    /// Visits every weight, read-only.
    fn visit_weights(&self, f: &mut dyn FnMut(ParamRef<'_>));

    /// The declared layers in creation order, with their class, configuration and specs.
    /// `model!` generates it; the default, for models written without it, is empty, and then
    /// `load_keras` reports that the model has no layer metadata to compare.
    fn layers() -> &'static [crate::shape::LayerInfo] {
        &[]
    }

    /// The model's graph as data: how every tensor is computed, in graph order. `model!`
    /// generates it; the default, for models written without it, is `None`, and then
    /// exporters (ONNX) report that the model has no graph metadata.
    fn graph() -> Option<&'static crate::shape::ModelGraph> {
        None
    }

    /// The built layer `index` of [`layers`](Model::layers), for exporters. `model!`
    /// generates it; the default has none.
    fn layer(&self, _index: usize) -> Option<super::LayerRef<'_>> {
        None
    }

    /// The model's summary, as Keras' `model.summary()` prints it (`Display` it). `model!`
    /// generates it; the default, for models written without it, has no rows.
    ///
    /// ```
    /// # use stratic::prelude::*;
    /// # model! { pub struct Net { input(shape = [4]) -> dense(8, activation = relu) -> dense(1) } }
    /// # let x = Array2::<f32>::from_shape_fn((16, 4), |(i, j)| ((i + 2 * j) % 5) as f32 / 5.0);
    /// # let y = x.sum_axis(Axis(1)).insert_axis(Axis(1));
    /// let text = Net::with_seed(0).summary().to_string();
    /// assert!(text.contains("dense_1 (Dense)"));
    /// # Ok::<(), stratic::Error>(())
    /// ```
    fn summary(&self) -> crate::shape::Summary {
        crate::shape::Summary {
            model_name: std::any::type_name::<Self>().to_string(),
            sequential: false,
            rows: Vec::new(),
        }
    }

    /// The model's graph in Graphviz DOT (the counterpart of Keras' `plot_model`).
    fn to_dot(&self) -> String {
        self.summary().to_dot()
    }

    /// Inference: checks `x` against the declared inputs and returns the model's output in its
    /// logical shape (Keras' `model.predict`, in one batch).
    ///
    /// ```
    /// use stratic::prelude::*;
    ///
    /// model! {
    ///     pub struct Net {
    ///         input(shape = [4]) -> dense(3, activation = softmax)
    ///     }
    /// }
    ///
    /// let model = Net::with_seed(0);
    /// let y = model.predict(Array2::<f32>::ones((2, 4)).view())?;
    /// assert_eq!(y.dim(), (2, 3));
    /// // A wrong shape is a typed error, not a panic.
    /// assert!(model.predict(Array2::<f32>::ones((2, 5)).view()).is_err());
    /// # Ok::<(), stratic::Error>(())
    /// ```
    fn predict(&self, x: Self::Input<'_>) -> Result<Self::Output, Error> {
        let n = Self::check_input(x)?;
        Ok(Self::to_output(self.call(x), n))
    }

    /// As [`predict`](Model::predict), `batch_size` samples at a time (Keras'
    /// `model.predict(x, batch_size=...)`), so that the activations held at once stay bounded
    /// on large inputs. A model with an output whose length is known only at run time (a
    /// padded `to_dense()` axis, padded to each batch's longest row) is predicted in one batch.
    /// `model.predict_batched(x.view(), 256)` gives what `model.predict(x.view())` gives, to
    /// rounding (a small batch may take another matrix-product kernel).
    ///
    /// # Errors
    /// As [`predict`](Model::predict); [`Error::InvalidArgument`] for a `batch_size` of 0.
    fn predict_batched(
        &self,
        x: Self::Input<'_>,
        batch_size: usize,
    ) -> Result<Self::Output, Error> {
        if batch_size == 0 {
            return Err(Error::InvalidArgument {
                name: "batch_size",
                message: "must be at least 1".to_string(),
            });
        }
        let n = Self::check_input(x)?;
        let padded = Self::output_specs()
            .iter()
            .any(|s| s.dims.iter().any(|d| d.known().is_none()));
        if n <= batch_size || padded {
            return Ok(Self::to_output(self.call(x), n));
        }
        let mut batch = Self::Batch::default();
        let mut rows: Vec<usize> = Vec::with_capacity(batch_size);
        let mut parts: Vec<Vec<Array2<f32>>> = Vec::new();
        for start in (0..n).step_by(batch_size) {
            rows.clear();
            rows.extend(start..n.min(start + batch_size));
            Self::gather(x, &rows, &mut batch);
            for (i, y) in self.call(Self::batch_view(&batch)).into_iter().enumerate() {
                if parts.len() <= i {
                    parts.resize_with(i + 1, Vec::new);
                }
                parts[i].push(y);
            }
        }
        // Each output's rows, batch after batch: sample-major, as one call would give them.
        let outputs = parts
            .iter()
            .map(|p| {
                let views: Vec<ndarray::ArrayView2<'_, f32>> = p.iter().map(|a| a.view()).collect();
                // Every batch's output has the same known width, so this cannot fail.
                ndarray::concatenate(ndarray::Axis(0), &views).unwrap_or_default()
            })
            .collect();
        Ok(Self::to_output(outputs, n))
    }

    /// A training-mode forward pass (Keras' `model(x, training=True)`), for Monte-Carlo
    /// dropout: dropout and noise are active, with new masks each call from the model's random
    /// stream, and batch normalization normalizes with the batch's statistics. No weight and
    /// no moving statistic changes: the non-trainable weights are restored after the pass, so
    /// calling this between `fit` steps changes nothing `fit` or `predict` would see.
    ///
    /// # Errors
    /// As [`predict`](Model::predict): the inputs are checked against their declared shapes.
    fn call_training(&mut self, x: Self::Input<'_>) -> Result<Self::Output, Error> {
        let n = Self::check_input(x)?;
        // The training forward of batch normalization updates its moving statistics; they are
        // kept here and written back, so the pass is generic over every layer with state.
        let mut saved: Vec<Vec<f32>> = Vec::new();
        self.visit_state(&mut |p| saved.push(p.value.to_vec()));
        self.set_training(true);
        self.forward_train(x);
        let outputs = (0..Self::output_specs().len())
            .map(|i| self.train_output(i).to_owned())
            .collect();
        // The activity penalties of this pass are no training step's.
        let _ = self.take_activity_penalty();
        let mut saved = saved.into_iter();
        self.visit_state(&mut |p| {
            if let Some(v) = saved.next() {
                p.value.iter_mut().zip(v).for_each(|(dst, src)| *dst = src);
            }
        });
        Ok(Self::to_output(outputs, n))
    }

    /// Keras' `Normalization.adapt(data)` for the `normalization` layer named `layer`: sets its
    /// `mean` and `variance` weights to the mean and (biased) variance of `data` over every
    /// axis but the layer's. `data` is what the layer receives, batch axis first (the model's
    /// input when the layer comes first). A model method naming the layer, as a model here
    /// hands out no layer objects; Keras' streaming `batch_size`/`steps` are not needed for data
    /// in memory.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if there is no such layer, it is not a `normalization`, it was
    /// declared with its `mean` and `variance`, `data` does not have the layer's input shape,
    /// has no sample, or holds a NaN or an infinity; the model is then unchanged.
    fn adapt_normalization(&mut self, layer: &str, data: ArrayViewD<'_, f32>) -> Result<(), Error> {
        super::layers::adapt_normalization(self, layer, data)
    }

    /// Pairs the model with an optimizer and a loss for training (Keras' `model.compile`);
    /// with several outputs, the loss applies to each.
    ///
    /// ```
    /// # use stratic::prelude::*;
    /// # model! { pub struct Net { input(shape = [4]) -> dense(8, activation = relu) -> dense(1) } }
    /// # let x = Array2::<f32>::from_shape_fn((16, 4), |(i, j)| ((i + 2 * j) % 5) as f32 / 5.0);
    /// # let y = x.sum_axis(Axis(1)).insert_axis(Axis(1));
    /// let mut model = Net::with_seed(0).compile(RMSprop::new(0.001), Loss::mse());
    /// model.fit(x.view(), y.view(), &FitOptions::default().verbose(0))?;
    /// # Ok::<(), stratic::Error>(())
    /// ```
    fn compile<O: Optimizer>(self, optimizer: O, loss: Loss) -> Compiled<Self, O> {
        Compiled::new(self, optimizer, loss)
    }

    /// Like [`compile`](Model::compile) with one loss per output (or one for all) and
    /// optional per-output loss weights, as Keras' `compile(loss=[...], loss_weights=[...])`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the counts do not match the outputs.
    ///
    /// ```
    /// use stratic::prelude::*;
    /// model! {
    ///     pub struct Heads {
    ///         let x = input(shape = [4]);
    ///         let h = x -> dense(8, activation = relu);
    ///         let score = h -> dense(1, activation = sigmoid, name = "score");
    ///         let class = h -> dense(3, activation = softmax, name = "class");
    ///         (score, class)
    ///     }
    /// }
    /// // compile(loss=["binary_crossentropy", "sparse_categorical_crossentropy"], loss_weights=[1.0, 0.5])
    /// let mut model = Heads::with_seed(0).compile_with(
    ///     Adam::default(),
    ///     &[Loss::binary_crossentropy(), Loss::sparse_categorical_crossentropy()],
    ///     Some(&[1.0, 0.5]),
    /// )?;
    /// let x = Array2::<f32>::zeros((4, 4));
    /// let (score, class) = (Array2::<f32>::ones((4, 1)), Array2::<f32>::zeros((4, 1)));
    /// let history = model.fit(x.view(), (score.view(), class.view()), &FitOptions::default().verbose(0))?;
    /// assert!(history.history.contains_key("class_loss"));
    /// // One loss per output, or one for all; three for two outputs is an error.
    /// assert!(Heads::new().compile_with(Adam::default(), &[Loss::mse()], None).is_ok());
    /// let three = [Loss::mse(), Loss::mse(), Loss::mse()];
    /// assert!(Heads::new().compile_with(Adam::default(), &three, None).is_err());
    /// # Ok::<(), stratic::Error>(())
    /// ```
    fn compile_with<O: Optimizer>(
        self,
        optimizer: O,
        losses: &[Loss],
        loss_weights: Option<&[f32]>,
    ) -> Result<Compiled<Self, O>, Error> {
        Compiled::with_losses(self, optimizer, losses, loss_weights)
    }

    /// Every weight, keyed `"layer/variable"` as Keras names them (`dense/kernel`), in order.
    ///
    /// ```
    /// # use stratic::prelude::*;
    /// # model! { pub struct Net { input(shape = [4]) -> dense(8, activation = relu) -> dense(1) } }
    /// # let x = Array2::<f32>::from_shape_fn((16, 4), |(i, j)| ((i + 2 * j) % 5) as f32 / 5.0);
    /// # let y = x.sum_axis(Axis(1)).insert_axis(Axis(1));
    /// let names: Vec<String> = Net::with_seed(0).weights().into_iter().map(|(name, _)| name).collect();
    /// assert_eq!(names, ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]);
    /// # Ok::<(), stratic::Error>(())
    /// ```
    fn weights(&self) -> Vec<(String, ArrayD<f32>)> {
        train::weights(self)
    }

    /// Replaces the weight `key` (`"layer/variable"`) with `value`, which must have the
    /// weight's shape; otherwise `Error::Weight` says what was expected.
    fn set_weight(&mut self, key: &str, value: ArrayViewD<'_, f32>) -> Result<(), Error> {
        train::set_weight(self, key, value)
    }

    /// Saves every weight to `path` in safetensors, keyed `"layer/variable"` (Keras' names).
    ///
    /// ```
    /// # use stratic::prelude::*;
    /// # model! { pub struct Net { input(shape = [4]) -> dense(8, activation = relu) -> dense(1) } }
    /// # let x = Array2::<f32>::from_shape_fn((16, 4), |(i, j)| ((i + 2 * j) % 5) as f32 / 5.0);
    /// # let y = x.sum_axis(Axis(1)).insert_axis(Axis(1));
    /// let path = std::env::temp_dir().join("stratic_doc_net.safetensors");
    /// Net::with_seed(0).save_weights(&path)?;
    /// let mut other = Net::with_seed(1);
    /// other.load_weights(&path)?;
    /// assert_eq!(other.predict(x.view())?, Net::with_seed(0).predict(x.view())?);
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), stratic::Error>(())
    /// ```
    fn save_weights(&self, path: impl AsRef<std::path::Path>) -> Result<(), Error> {
        super::weights::save_weights(self, path.as_ref())
    }

    /// Loads every weight from the safetensors file `path`. Names, shapes and dtypes are all
    /// checked first and every mismatch is reported in one [`Error::WeightMismatch`]; the
    /// model changes only when everything matches.
    ///
    /// ```
    /// # use stratic::prelude::*;
    /// # model! { pub struct Net { input(shape = [4]) -> dense(8, activation = relu) -> dense(1) } }
    /// # let x = Array2::<f32>::from_shape_fn((16, 4), |(i, j)| ((i + 2 * j) % 5) as f32 / 5.0);
    /// # let y = x.sum_axis(Axis(1)).insert_axis(Axis(1));
    /// model! { pub struct Wider { input(shape = [4]) -> dense(16, activation = relu) -> dense(1) } }
    /// let path = std::env::temp_dir().join("stratic_doc_wider.safetensors");
    /// Wider::with_seed(0).save_weights(&path)?;
    /// // Every name, shape and dtype is checked before anything is written.
    /// let mut net = Net::with_seed(0);
    /// assert!(matches!(net.load_weights(&path), Err(Error::WeightMismatch(_))));
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), stratic::Error>(())
    /// ```
    fn load_weights(&mut self, path: impl AsRef<std::path::Path>) -> Result<(), Error> {
        super::weights::load_weights(self, path.as_ref())
    }

    /// Loads the weights of a file Keras saved with `model.save_weights("x.weights.h5")` (or
    /// the weights inside a `.keras` file, without comparing its architecture). Keras names
    /// the layers in the file by class and creation order (`dense`, `dense_1`, ...), whatever
    /// their names in the model; they are matched to this model's layers in the same order.
    #[cfg(feature = "keras")]
    fn load_keras_weights(&mut self, path: impl AsRef<std::path::Path>) -> Result<(), Error> {
        super::weights::load_keras_weights(self, path.as_ref())
    }

    /// Saves every weight in Keras' own weights file format, for Keras'
    /// `model.load_weights("x.weights.h5")` on the same architecture (see
    /// `stratic-keras declare` for the way the other direction): HDF5, laid out as
    /// `model.save_weights` writes it (`layers/dense/vars/0`, layers named by class and
    /// creation order), so the model's layer names need not match Keras'. Trainable and
    /// non-trainable weights (moving statistics) alike.
    ///
    /// ```
    /// # use stratic::prelude::*;
    /// # model! { pub struct Net { input(shape = [4]) -> dense(8, activation = relu) -> dense(1) } }
    /// # let x = Array2::<f32>::from_shape_fn((16, 4), |(i, j)| ((i + 2 * j) % 5) as f32 / 5.0);
    /// # let y = x.sum_axis(Axis(1)).insert_axis(Axis(1));
    /// // model.save_weights("net.weights.h5") / model.load_weights(...)
    /// let path = std::env::temp_dir().join("stratic_doc_net.weights.h5");
    /// Net::with_seed(0).save_keras_weights(&path)?;
    /// let mut net = Net::with_seed(1);
    /// net.load_keras_weights(&path)?;
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), stratic::Error>(())
    /// ```
    #[cfg(feature = "keras")]
    fn save_keras_weights(&self, path: impl AsRef<std::path::Path>) -> Result<(), Error> {
        super::weights::save_keras_weights(self, path.as_ref())
    }

    /// Saves the model as a `.keras` archive for Keras 3's `keras.saving.load_model`: its
    /// architecture (`config.json`, Sequential for a model declared as one chain, Functional
    /// otherwise), the weights as [`save_keras_weights`](Model::save_keras_weights) writes
    /// them, and `metadata.json`. Models over ragged tensors (which Keras 3 models do not
    /// hold) are refused with [`Error::WeightFile`], and nothing is written.
    ///
    /// ```
    /// # use stratic::prelude::*;
    /// # model! { pub struct Net { input(shape = [4]) -> dense(8, activation = relu) -> dense(1) } }
    /// # let x = Array2::<f32>::from_shape_fn((16, 4), |(i, j)| ((i + 2 * j) % 5) as f32 / 5.0);
    /// # let y = x.sum_axis(Axis(1)).insert_axis(Axis(1));
    /// // model.save("net.keras"); keras.saving.load_model("net.keras") opens it
    /// let path = std::env::temp_dir().join("stratic_doc_net.keras");
    /// Net::with_seed(0).save_keras(&path)?;
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), stratic::Error>(())
    /// ```
    #[cfg(feature = "keras")]
    fn save_keras(&self, path: impl AsRef<std::path::Path>) -> Result<(), Error> {
        super::weights::save_keras(self, path.as_ref())
    }

    /// Loads a model Keras saved with `model.save("x.keras")`: compares the saved
    /// architecture (layer classes, units, activations, `use_bias`, input shape) with this
    /// model's and reports every difference in [`Error::Architecture`], then loads the weights.
    ///
    /// ```
    /// # use stratic::prelude::*;
    /// # model! { pub struct Net { input(shape = [4]) -> dense(8, activation = relu) -> dense(1) } }
    /// # let x = Array2::<f32>::from_shape_fn((16, 4), |(i, j)| ((i + 2 * j) % 5) as f32 / 5.0);
    /// # let y = x.sum_axis(Axis(1)).insert_axis(Axis(1));
    /// // keras.saving.load_model("net.keras"): the declaration is the architecture, compared with
    /// // the file's key by key before the weights are loaded.
    /// let path = std::env::temp_dir().join("stratic_doc_net_load.keras");
    /// Net::with_seed(0).save_keras(&path)?;
    /// let mut net = Net::with_seed(1);
    /// net.load_keras(&path)?;
    /// assert_eq!(net.predict(x.view())?, Net::with_seed(0).predict(x.view())?);
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), stratic::Error>(())
    /// ```
    #[cfg(feature = "keras")]
    fn load_keras(&mut self, path: impl AsRef<std::path::Path>) -> Result<(), Error> {
        super::weights::load_keras(self, path.as_ref())
    }
}
