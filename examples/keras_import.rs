//! Loads a model trained in Keras: the weights Keras saved (`mlp.weights.h5`) and the whole
//! saved model (`mlp.keras`), predicts, and prints the largest difference from Keras' own
//! predictions (`mlp.json`, made by Keras 3.15 beside the files).
//!
//! ```python
//! model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(5, activation="relu"),
//!                           layers.Dense(3, activation="tanh"), layers.Dense(2)])
//! model.save_weights("mlp.weights.h5"); model.save("mlp.keras")
//! ```
//!
//! Run with `cargo run --example keras_import`.

use std::path::{Path, PathBuf};

use stratic::prelude::*;

model! {
    /// The model as declared in Python.
    pub struct Mlp {
        input(shape = [4])
            -> dense(5, activation = relu)
            -> dense(3, activation = tanh)
            -> dense(2)
    }

    /// The same model declared with six units first: loading Keras' file must say so.
    pub struct Wider {
        input(shape = [4])
            -> dense(6, activation = relu)
            -> dense(3, activation = tanh)
            -> dense(2)
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keras-files")
}

/// Keras' inputs and outputs from `mlp.json`.
fn reference() -> Result<(Array2<f32>, Array2<f32>), Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(fixtures().join("mlp.json"))?;
    let json: serde_json::Value = serde_json::from_str(&text)?;
    let matrix = |key: &str| -> Result<Array2<f32>, Box<dyn std::error::Error>> {
        let rows: Vec<Vec<f32>> = serde_json::from_value(json[key].clone())?;
        let cols = rows.first().map_or(0, Vec::len);
        let flat: Vec<f32> = rows.into_iter().flatten().collect();
        Ok(Array2::from_shape_vec(
            (flat.len() / cols.max(1), cols),
            flat,
        )?)
    };
    Ok((matrix("x")?, matrix("output")?))
}

fn max_difference(a: &Array2<f32>, b: &Array2<f32>) -> f32 {
    (a - b).iter().fold(0.0, |m, d| m.max(d.abs()))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (x, keras_output) = reference()?;

    // 1. The weights file: layers are matched by class and order (dense, dense_1, dense_2).
    let mut model = Mlp::with_seed(0);
    model.load_keras_weights(fixtures().join("mlp.weights.h5"))?;
    let y = model.predict(x.view())?;
    println!(
        "mlp.weights.h5: max |stratic - keras| = {:e}",
        max_difference(&y, &keras_output)
    );

    // 2. The .keras file: its config.json is compared with the declared model first.
    let mut model = Mlp::with_seed(0);
    match model.load_keras(fixtures().join("mlp.keras")) {
        Ok(()) => {}
        // Until `model!` generates `Model::layers()`, there is nothing to compare the saved
        // architecture with: say so and load the archive's weights alone.
        Err(Error::Architecture { differences })
            if differences.iter().any(|d| d.field == "metadata") =>
        {
            println!("mlp.keras: architecture not compared (no layer metadata in the model)");
            model.load_keras_weights(fixtures().join("mlp.keras"))?;
        }
        Err(e) => return Err(e.into()),
    }
    let y = model.predict(x.view())?;
    println!(
        "mlp.keras:      max |stratic - keras| = {:e}",
        max_difference(&y, &keras_output)
    );

    // 3. A model declared differently: every mismatch, in one error.
    match Wider::with_seed(0).load_keras_weights(fixtures().join("mlp.weights.h5")) {
        Ok(()) => println!("\ndense(6, ...) loaded, which it should not"),
        Err(e) => println!("\nloading into dense(6, ...) instead:\n{e}"),
    }

    // 4. Weights out and back in, in safetensors.
    let path = std::env::temp_dir().join("stratic-keras-import-mlp.safetensors");
    model.save_weights(&path)?;
    let mut copy = Mlp::with_seed(1);
    copy.load_weights(&path)?;
    println!(
        "\nsafetensors round trip: max difference {:e}",
        max_difference(&copy.predict(x.view())?, &model.predict(x.view())?)
    );
    Ok(())
}
