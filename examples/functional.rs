//! A functional graph: two inputs, a shared layer, a merge, two outputs, trained on
//! synthetic data; prints Keras' summary and writes the graph as Graphviz DOT
//! (`functional.dot`, and `functional.png` when the `dot` program is installed).
//!
//! Run with `cargo run --example functional`.

use std::process::Command;

use stratic::ndarray::{Array2, Axis};
use stratic::prelude::*;

model! {
    /// Scores how related two items are and also predicts each item's category.
    pub struct Matcher {
        let left = input(shape = [8], name = "left");
        let right = input(shape = [8], name = "right");
        // A layer value: applied to both inputs below, with one set of weights.
        let encoder = dense(16, activation = relu, name = "encoder");
        let l = left -> encoder;
        let r = right -> encoder;
        let joined = concatenate([l, r, multiply([l, r])]);
        let similarity = joined -> dense(16, activation = relu) -> dense(1, activation = sigmoid, name = "similarity");
        let category = l -> dense(3, activation = softmax, name = "category");
        (similarity, category)
    }
}

/// Synthetic pairs: similar when the two vectors share their sign pattern; the category is the
/// index of the largest of the left vector's first three features.
fn data(n: usize) -> (Array2<f32>, Array2<f32>, Array2<f32>, Array2<f32>) {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    };
    let left = Array2::from_shape_fn((n, 8), |_| next());
    let mut right = Array2::from_shape_fn((n, 8), |_| next());
    for i in (0..n).step_by(2) {
        // Half the pairs are near copies.
        let noisy = left.row(i).mapv(|v| v + 0.1 * v.signum());
        right.row_mut(i).assign(&noisy);
    }
    let similar = Array2::from_shape_fn((n, 1), |(i, _)| if i % 2 == 0 { 1.0 } else { 0.0 });
    let category = left
        .slice(stratic::ndarray::s![.., 0..3])
        .map_axis(Axis(1), |r| {
            r.iter()
                .enumerate()
                .fold(
                    (0, f32::MIN),
                    |best, (j, &v)| if v > best.1 { (j, v) } else { best },
                )
                .0 as f32
        })
        .insert_axis(Axis(1));
    (left, right, similar, category)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = Matcher::with_seed(42);
    println!("{}", model.summary());

    let (left, right, similar, category) = data(2048);
    let mut model = model.compile_with(
        Adam::new(0.005),
        &[
            Loss::binary_crossentropy(),
            Loss::sparse_categorical_crossentropy(),
        ],
        Some(&[1.0, 0.5]),
    )?;
    let options = FitOptions::default().epochs(15).batch_size(64).seed(1);
    let history = model.fit(
        (left.view(), right.view()),
        (similar.view(), category.view()),
        &options,
    )?;
    for key in ["similarity_loss", "category_loss"] {
        let h = &history.history[key];
        println!("{key}: {:.4} -> {:.4}", h[0], h[h.len() - 1]);
    }

    let dot = model.model().to_dot();
    std::fs::write("functional.dot", &dot)?;
    println!("wrote functional.dot");
    match Command::new("dot")
        .args(["-Tpng", "functional.dot", "-o", "functional.png"])
        .status()
    {
        Ok(status) if status.success() => println!("wrote functional.png"),
        _ => println!("(install Graphviz's `dot` to render functional.png)"),
    }
    Ok(())
}
