//! Overfitting cured: the same MLP on the handwritten digits (the 1,797 8x8 UCI images,
//! flattened to 64 features), trained on a small split of 200 images (80 epochs) so that it overfits,
//! once plain and once regularized with dropout, batch normalization and an l2 penalty on the
//! kernels. Both are validated on 400 held-out images.
//!
//! ```python
//! plain = keras.Sequential([keras.Input(shape=(64,)),
//!                           keras.layers.Dense(256, activation="relu"),
//!                           keras.layers.Dense(256, activation="relu"),
//!                           keras.layers.Dense(10, activation="softmax")])
//! regularized = keras.Sequential([keras.Input(shape=(64,)),
//!     keras.layers.Dense(256, kernel_regularizer=keras.regularizers.L2(0.001)),
//!     keras.layers.BatchNormalization(), keras.layers.Activation("relu"),
//!     keras.layers.Dropout(0.3),
//!     keras.layers.Dense(256, kernel_regularizer=keras.regularizers.L2(0.001)),
//!     keras.layers.BatchNormalization(), keras.layers.Activation("relu"),
//!     keras.layers.Dropout(0.3),
//!     keras.layers.Dense(10, activation="softmax")])
//! ```
//!
//! Run with `cargo run --release --example regularization`: it prints both validation
//! accuracies and writes both histories (loss and accuracy, training and validation per
//! epoch) as SVG charts with `History::plot`.

use ndarray::{s, Array2, Axis};
use stratic::prelude::*;

#[allow(dead_code)] // Only the loader is used here.
#[path = "digits.rs"]
mod digits;

model! {
    /// 64 pixels in, a probability per digit out; nothing against overfitting.
    pub struct PlainMlp {
        input(shape = [64])
            -> dense(256, activation = relu)
            -> dense(256, activation = relu)
            -> dense(10, activation = softmax)
    }

    /// The same layers, with batch normalization, dropout and l2 on the kernels.
    pub struct RegularizedMlp {
        input(shape = [64])
            -> dense(256, kernel_regularizer = l2(0.001))
            -> batch_normalization()
            -> activation(relu)
            -> dropout(0.3)
            -> dense(256, kernel_regularizer = l2(0.001))
            -> batch_normalization()
            -> activation(relu)
            -> dropout(0.3)
            -> dense(10, activation = softmax)
    }
}

/// The training images: few, so the plain model overfits.
pub const N_TRAIN: usize = 200;
/// The held-out images validated on.
pub const N_VAL: usize = 400;
/// Training epochs, for both models.
pub const EPOCHS: usize = 80;

/// The flattened images `(n, 64)` in [0, 1] and the digits, in the digits example's fixed
/// shuffle.
pub fn load() -> Result<(Array2<f32>, Array1<f32>), Error> {
    let (x, y) = digits::load()?;
    let n = x.len_of(Axis(0));
    let flat = x
        .into_shape_with_order((n, 64))
        .map_err(|e| Error::InvalidArgument {
            name: "digits.csv",
            message: e.to_string(),
        })?;
    Ok((flat, y))
}

/// The outcome of training one model.
pub struct Run {
    /// Loss and accuracy, training and validation, per epoch.
    pub history: History,
    /// The accuracy on the held-out images after the last epoch.
    pub val_accuracy: f32,
    /// The mean validation accuracy of the last [`TAIL`] epochs: steadier than the last one,
    /// which moves by a percent from epoch to epoch on 400 images.
    pub tail_val_accuracy: f32,
}

/// The epochs [`Run::tail_val_accuracy`] averages.
pub const TAIL: usize = 10;

/// Trains `model` on the first [`N_TRAIN`] images, validating on the next [`N_VAL`].
fn train<M>(
    model: M,
    x: &Array2<f32>,
    y: &Array1<f32>,
    seed: u64,
    verbose: u8,
) -> Result<Run, Error>
where
    M: for<'a> Model<Input<'a> = ArrayView2<'a, f32>>,
{
    let (x_train, y_train) = (x.slice(s![..N_TRAIN, ..]), y.slice(s![..N_TRAIN]));
    let end = N_TRAIN + N_VAL;
    let (x_val, y_val) = (x.slice(s![N_TRAIN..end, ..]), y.slice(s![N_TRAIN..end]));
    let mut model = model
        .compile(Adam::new(0.001), Loss::sparse_categorical_crossentropy())
        .metrics(&[Metric::Accuracy]);
    let options = FitOptions::default()
        .epochs(EPOCHS)
        .batch_size(32)
        .seed(seed)
        .verbose(verbose);
    let history = model
        .fit_with(x_train, y_train, &options)
        .validation_data(x_val, y_val)
        .run()?;
    let accuracies = history.get("val_accuracy");
    let val_accuracy = accuracies.last().copied().unwrap_or(0.0);
    let tail = &accuracies[accuracies.len().saturating_sub(TAIL)..];
    let tail_val_accuracy = tail.iter().sum::<f32>() / tail.len().max(1) as f32;
    Ok(Run {
        history,
        val_accuracy,
        tail_val_accuracy,
    })
}

/// Trains both models with the same seed: (plain, regularized).
pub fn compare(seed: u64, verbose: u8) -> Result<(Run, Run), Error> {
    let (x, y) = load()?;
    let plain = train(PlainMlp::with_seed(seed), &x, &y, seed, verbose)?;
    let regularized = train(RegularizedMlp::with_seed(seed), &x, &y, seed, verbose)?;
    Ok((plain, regularized))
}

fn main() -> Result<(), Error> {
    let (plain, regularized) = compare(7, 0)?;
    for (name, run) in [("plain", &plain), ("regularized", &regularized)] {
        let train_accuracy = run.history.get("accuracy").last().copied().unwrap_or(0.0);
        println!(
            "{name:>11}: training accuracy {train_accuracy:.4}, validation accuracy {:.4} \
             (mean of the last {TAIL} epochs {:.4})",
            run.val_accuracy, run.tail_val_accuracy
        );
        let path = std::env::temp_dir().join(format!("regularization_{name}.svg"));
        run.history.plot(&path)?;
        println!("{:>11}  curves plotted to {}", "", path.display());
    }
    Ok(())
}
