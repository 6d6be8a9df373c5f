//! Handwritten digits (UCI, 1,797 8x8 images, 10 classes): a small Keras-style convnet trained
//! on 80 % of them, its accuracy measured on the held-out 20 %.
//!
//! ```python
//! model = keras.Sequential([keras.Input(shape=(8, 8, 1)),
//!                           keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
//!                           keras.layers.MaxPooling2D(2),
//!                           keras.layers.Flatten(),
//!                           keras.layers.Dense(10, activation="softmax")])
//! model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
//! model.fit(x_train, y_train, epochs=12, batch_size=32)
//! ```
//!
//! Run with `cargo run --release --example digits`. The data is `examples/data/digits.csv`
//! (CC BY 4.0, see `examples/data/README.md`), compiled into the program.

use ndarray::{s, Array4, Axis};
use stratic::prelude::*;

model! {
    /// An 8x8 grey image in, a probability per digit out.
    pub struct DigitsNet {
        input(shape = [8, 8, 1])
            -> conv2d(16, 3, padding = same, activation = relu)
            -> max_pooling_2d(2)
            -> flatten()
            -> dense(10, activation = softmax)
    }
}

const DIGITS: &str = include_str!("data/digits.csv");

/// The share of the images held out for testing.
const TEST_SHARE: f64 = 0.2;

/// The images, scaled to [0, 1], as `(n, 8, 8, 1)`, and the digits.
///
/// The file lists the images in the order they were collected; row `i` goes to
/// `1000 i mod n` (a permutation, 1000 and 1,797 being coprime), a fixed shuffle before the split.
pub fn load() -> Result<(Array4<f32>, Array1<f32>), Error> {
    let bad = |line: usize, what: &str| Error::InvalidArgument {
        name: "digits.csv",
        message: format!("line {}: {what}", line + 1),
    };
    let rows: Vec<&str> = DIGITS.lines().filter(|l| !l.is_empty()).collect();
    let n = rows.len();
    let mut x = Array4::<f32>::zeros((n, 8, 8, 1));
    let mut y = Array1::<f32>::zeros(n);
    for (i, line) in rows.iter().enumerate() {
        let to = (1000 * i) % n;
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != 65 {
            return Err(bad(i, "expected 65 fields"));
        }
        for (p, field) in fields[..64].iter().enumerate() {
            let v: f32 = field
                .trim()
                .parse()
                .map_err(|_| bad(i, "not a pixel value"))?;
            x[[to, p / 8, p % 8, 0]] = v / 16.0;
        }
        let label: u8 = fields[64]
            .trim()
            .parse()
            .map_err(|_| bad(i, "not a digit"))?;
        if label > 9 {
            return Err(bad(i, "not a digit"));
        }
        y[to] = f32::from(label);
    }
    Ok((x, y))
}

/// Trains with a fixed seed on the first 80 % and returns the accuracy on the other 20 %.
pub fn train(seed: u64, epochs: usize, verbose: u8) -> Result<f32, Error> {
    let (x, y) = load()?;
    let n_test = (x.len_of(Axis(0)) as f64 * TEST_SHARE).round() as usize;
    let n_train = x.len_of(Axis(0)) - n_test;
    let (x_train, x_test) = (
        x.slice(s![..n_train, .., .., ..]),
        x.slice(s![n_train.., .., .., ..]),
    );
    let (y_train, y_test) = (y.slice(s![..n_train]), y.slice(s![n_train..]));
    let mut model = DigitsNet::with_seed(seed)
        .compile(Adam::new(0.01), Loss::sparse_categorical_crossentropy());
    let options = FitOptions::default()
        .epochs(epochs)
        .batch_size(32)
        .seed(seed)
        .verbose(verbose);
    model.fit(x_train, y_train, &options)?;
    let p = model.model().predict(x_test)?;
    let correct = p
        .outer_iter()
        .zip(y_test.iter())
        .filter(|(row, &label)| {
            let best = row
                .iter()
                .enumerate()
                .fold((0, f32::MIN), |m, (i, &v)| if v > m.1 { (i, v) } else { m })
                .0;
            best as f32 == label
        })
        .count();
    Ok(correct as f32 / n_test.max(1) as f32)
}

fn main() -> Result<(), Error> {
    println!("{}", DigitsNet::with_seed(0).summary());
    let accuracy = train(7, 12, 1)?;
    println!("test accuracy on the held-out 20 %: {accuracy:.4}");
    Ok(())
}
