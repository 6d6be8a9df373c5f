//! Loads models trained in Keras: the weights Keras saved (`mlp.weights.h5`) and whole saved
//! models (`mlp.keras`, the functional `two_tower.keras`), predicts, and prints the largest
//! difference from Keras' own predictions (`*.json`, made by Keras 3.15 beside the files).
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

    /// Keras' functional two-tower model (two inputs, two outputs), by its layer names.
    pub struct TwoTower {
        let query = input(shape = [6], name = "query");
        let doc = input(shape = [4], name = "doc");
        let q = query -> dense(5, activation = relu, name = "q_tower");
        let d = doc -> dense(5, activation = relu, name = "d_tower");
        let score = concatenate([q, d], name = "concatenate")
            -> dense(1, activation = sigmoid, name = "score");
        (score, q)
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

/// The matrices `keys` of the fixture `file` (Keras' inputs and predictions).
fn reference<const N: usize>(
    file: &str,
    keys: [&str; N],
) -> Result<[Array2<f32>; N], Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(fixtures().join(file))?;
    let json: serde_json::Value = serde_json::from_str(&text)?;
    let mut out = Vec::with_capacity(N);
    for key in keys {
        let rows: Vec<Vec<f32>> = serde_json::from_value(json[key].clone())?;
        let cols = rows.first().map_or(0, Vec::len);
        let flat: Vec<f32> = rows.into_iter().flatten().collect();
        out.push(Array2::from_shape_vec(
            (flat.len() / cols.max(1), cols),
            flat,
        )?);
    }
    out.try_into().map_err(|_| "one matrix per key".into())
}

fn max_difference(a: &Array2<f32>, b: &Array2<f32>) -> f32 {
    (a - b).iter().fold(0.0, |m, d| m.max(d.abs()))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let [x, keras_output] = reference("mlp.json", ["x", "output"])?;

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
    model.load_keras(fixtures().join("mlp.keras"))?;
    let y = model.predict(x.view())?;
    println!(
        "mlp.keras:      max |stratic - keras| = {:e}",
        max_difference(&y, &keras_output)
    );

    // 3. The functional two-tower model, from its .keras file.
    let [xq, xd, score, q] = reference(
        "two_tower.json",
        ["x_query", "x_doc", "output_score", "output_q"],
    )?;
    let mut towers = TwoTower::with_seed(0);
    towers.load_keras(fixtures().join("two_tower.keras"))?;
    let (our_score, our_q) = towers.predict((xq.view(), xd.view()))?;
    println!(
        "two_tower.keras: max |stratic - keras| = {:e} (score), {:e} (q)",
        max_difference(&our_score, &score),
        max_difference(&our_q, &q)
    );

    // 4. A model declared differently: every mismatch, in one error.
    for result in [
        Wider::with_seed(0).load_keras(fixtures().join("mlp.keras")),
        Wider::with_seed(0).load_keras_weights(fixtures().join("mlp.weights.h5")),
    ] {
        match result {
            Ok(()) => println!("\ndense(6, ...) loaded, which it should not"),
            Err(e) => println!("\nloading into dense(6, ...) instead:\n{e}"),
        }
    }

    // 5. Weights out and back in, in safetensors.
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
