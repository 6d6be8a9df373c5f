//! Iris (Fisher, 1936; UCI): 150 flowers, 4 measurements, 3 species. A small Keras-style
//! classifier learns it with a validation split, accuracy as a metric and early stopping, then
//! prints its validation accuracy and plots its history.
//!
//! ```python
//! model = keras.Sequential([keras.Input(shape=(4,)),
//!                           keras.layers.Dense(16, activation="relu"),
//!                           keras.layers.Dense(3, activation="softmax")])
//! model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
//! model.fit(x, y, epochs=200, batch_size=16, validation_split=0.2,
//!           callbacks=[keras.callbacks.EarlyStopping(patience=20, restore_best_weights=True)])
//! ```
//!
//! Run with `cargo run --example iris` (`IRIS_VERBOSE=0`, `1` or `2` sets `fit`'s verbosity; 2 by
//! default). The data is `tests/fixtures/iris.csv` (public domain),
//! compiled into the program.

use stratic::prelude::*;

model! {
    /// Four measurements in, a probability per species out.
    pub struct IrisClassifier {
        input(shape = [4]) -> dense(16, activation = relu) -> dense(3, activation = softmax)
    }
}

const IRIS: &str = include_str!("../tests/fixtures/iris.csv");

/// The measurements, standardised per column, and the species ids (0, 1, 2).
///
/// The file lists the species in order, and Keras' `validation_split` takes the last rows
/// before shuffling: the rows are interleaved first (row `i` goes to `37 i mod 150`, a
/// permutation since 37 and 150 are coprime), as one would shuffle before `fit` in Keras.
pub fn load() -> Result<(Array2<f32>, Array1<u8>), Error> {
    let bad = |line: usize, what: &str| Error::InvalidArgument {
        name: "iris.csv",
        message: format!("line {}: {what}", line + 1),
    };
    let rows: Vec<&str> = IRIS.lines().skip(1).filter(|l| !l.is_empty()).collect();
    let n = rows.len();
    let mut x = Array2::<f32>::zeros((n, 4));
    let mut y = Array1::<u8>::zeros(n);
    for (i, line) in rows.iter().enumerate() {
        let to = (37 * i) % n;
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != 5 {
            return Err(bad(i + 1, "expected 5 fields"));
        }
        for j in 0..4 {
            x[[to, j]] = fields[j].parse().map_err(|_| bad(i + 1, "not a number"))?;
        }
        y[to] = fields[4]
            .parse()
            .map_err(|_| bad(i + 1, "not a class id"))?;
    }
    for mut column in x.columns_mut() {
        let mean = column.mean().unwrap_or(0.0);
        let std = column.std(0.0).max(1e-6);
        column.mapv_inplace(|v| (v - mean) / std);
    }
    Ok((x, y))
}

/// Trains with a fixed seed and returns the history and the validation accuracy of the
/// restored best weights.
pub fn train(seed: u64, verbose: u8) -> Result<(History, f32), Error> {
    let (x, y) = load()?;
    let mut model = IrisClassifier::with_seed(seed)
        .compile(Adam::new(0.01), Loss::sparse_categorical_crossentropy())
        .metrics(&[Metric::Accuracy]);
    let mut early = EarlyStopping::new("val_loss")
        .patience(20)
        .restore_best_weights(true);
    let options = FitOptions::default()
        .epochs(200)
        .batch_size(16)
        .validation_split(0.2)
        .seed(seed)
        .verbose(verbose);
    let history = model
        .fit_with(x.view(), y.view(), &options)
        .callback(&mut early)
        .run()?;
    // The validation rows are the last 20% (30 rows), as `validation_split` took them.
    let split = 120;
    let validation = model.evaluate(
        x.slice(stratic::ndarray::s![split.., ..]),
        y.slice(stratic::ndarray::s![split..]),
        32,
    )?;
    Ok((history, validation.get("accuracy").unwrap_or(0.0)))
}

fn main() -> Result<(), Error> {
    let verbose = std::env::var("IRIS_VERBOSE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let (history, accuracy) = train(42, verbose)?;
    println!(
        "trained {} epochs ({:?}); validation accuracy: {accuracy:.4}",
        history.epoch.len(),
        history.stopped
    );
    let path = std::env::temp_dir().join("iris_history.svg");
    history.plot(&path)?;
    println!("history plotted to {}", path.display());
    Ok(())
}
