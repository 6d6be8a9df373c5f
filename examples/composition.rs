//! Models made of models, on the handwritten digits: an encoder trained inside a digit
//! classifier, then moved, trained, into a second model that tells odd digits from even ones.
//!
//! ```python
//! encoder = keras.Sequential([keras.Input(shape=(64,)),
//!                             keras.layers.Dense(32, activation="relu"),
//!                             keras.layers.Dense(16, activation="relu")], name="encoder")
//! classifier = keras.Sequential([keras.Input(shape=(64,)), encoder,
//!                                keras.layers.Dense(10, activation="softmax")])
//! classifier.fit(x_train, digits_train, epochs=20)
//! parity = keras.Sequential([keras.Input(shape=(64,)), encoder,   # the trained encoder
//!                            keras.layers.Dense(1, activation="sigmoid")])
//! parity.fit(x_train, odd_train, epochs=2)
//! ```
//!
//! In Rust the encoder is a field of each model (`classifier.encoder`), so reusing it is a
//! move: `parity.encoder = classifier.encoder`.
//!
//! Run with `cargo run --release --example composition`.

use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, Axis};
use stratic::prelude::*;

#[allow(dead_code)] // Only the loader is used here.
#[path = "digits.rs"]
mod digits;

model! {
    /// 64 pixels to a code of 16.
    pub struct Encoder {
        input(shape = [64])
            -> dense(32, activation = relu, name = "enc_hidden")
            -> dense(16, activation = relu, name = "code")
    }

    /// Which digit: the encoder, then a softmax over the ten.
    pub struct Classifier {
        input(shape = [64]) -> Encoder -> dense(10, activation = softmax)
    }

    /// Whether the digit is odd: the same encoder under another head.
    pub struct Parity {
        input(shape = [64]) -> Encoder -> dense(1, activation = sigmoid)
    }
}

/// The share of the images held out for testing.
const TEST_SHARE: f64 = 0.2;

/// The outcome of one run.
pub struct Outcome {
    /// The classifier's accuracy on the held-out digits.
    pub digit_accuracy: f32,
    /// The parity model's held-out accuracy with the classifier's trained encoder, and with a
    /// fresh one, after the same short training.
    pub parity_transferred: f32,
    pub parity_fresh: f32,
}

/// The flattened images `(n, 64)` and the digits.
fn load() -> Result<(Array2<f32>, Array1<f32>), Error> {
    let (x, y) = digits::load()?;
    let n = x.len_of(Axis(0));
    let x = x
        .into_shape_with_order((n, 64))
        .map_err(|e| Error::InvalidArgument {
            name: "digits.csv",
            message: e.to_string(),
        })?;
    Ok((x, y))
}

fn odd(y: ArrayView1<'_, f32>) -> Array2<f32> {
    y.mapv(|d| d % 2.0).insert_axis(Axis(1))
}

fn argmax_accuracy(p: ArrayView2<'_, f32>, y: ArrayView1<'_, f32>) -> f32 {
    let correct = p
        .outer_iter()
        .zip(y)
        .filter(|(row, &label)| {
            let best = row
                .iter()
                .enumerate()
                .fold((0, f32::MIN), |m, (i, &v)| if v > m.1 { (i, v) } else { m })
                .0;
            best as f32 == label
        })
        .count();
    correct as f32 / y.len().max(1) as f32
}

fn parity_accuracy(
    model: Parity,
    x: ArrayView2<'_, f32>,
    y: ArrayView2<'_, f32>,
    (x_test, y_test): (ArrayView2<'_, f32>, ArrayView2<'_, f32>),
    seed: u64,
) -> Result<f32, Error> {
    let mut model = model
        .compile(Adam::new(0.005), Loss::binary_crossentropy())
        .metrics(&[Metric::Accuracy]);
    let options = FitOptions::default()
        .epochs(2)
        .batch_size(32)
        .seed(seed)
        .verbose(0);
    model.fit(x, y, &options)?;
    let eval = model.evaluate(x_test, y_test, 256)?;
    Ok(eval.get("accuracy").unwrap_or(0.0))
}

/// Trains the classifier, moves its encoder into a parity model, and measures both.
pub fn run(seed: u64, verbose: u8) -> Result<Outcome, Error> {
    let (x, y) = load()?;
    let n_test = (x.nrows() as f64 * TEST_SHARE).round() as usize;
    let n_train = x.nrows() - n_test;
    let (x_train, x_test) = (x.slice(s![..n_train, ..]), x.slice(s![n_train.., ..]));
    let (y_train, y_test) = (y.slice(s![..n_train]), y.slice(s![n_train..]));

    let mut classifier = Classifier::with_seed(seed)
        .compile(Adam::new(0.01), Loss::sparse_categorical_crossentropy());
    let options = FitOptions::default()
        .epochs(20)
        .batch_size(32)
        .seed(seed)
        .verbose(verbose);
    classifier.fit(x_train, y_train, &options)?;
    let classifier = classifier.into_model();
    let digit_accuracy = argmax_accuracy(classifier.predict(x_test)?.view(), y_test);

    let (odd_train, odd_test) = (odd(y_train), odd(y_test));
    let test = (x_test, odd_test.view());
    let mut transferred = Parity::with_seed(seed + 1);
    transferred.encoder = classifier.encoder;
    let parity_transferred = parity_accuracy(transferred, x_train, odd_train.view(), test, seed)?;
    let parity_fresh = parity_accuracy(
        Parity::with_seed(seed + 1),
        x_train,
        odd_train.view(),
        test,
        seed,
    )?;
    Ok(Outcome {
        digit_accuracy,
        parity_transferred,
        parity_fresh,
    })
}

fn main() -> Result<(), Error> {
    println!("{}", Classifier::with_seed(0).summary());
    let outcome = run(3, 0)?;
    println!(
        "digit accuracy on the held-out 20 %: {:.4}",
        outcome.digit_accuracy
    );
    println!(
        "odd or even after 2 epochs: {:.4} with the classifier's encoder, {:.4} with a fresh one",
        outcome.parity_transferred, outcome.parity_fresh
    );
    Ok(())
}
