//! A 10-layer `model!` declaration, the subject of the compile-time measurement in
//! benches/README.md (the rebuild after editing a layer; BENCHMARKS.md): input 32 -> nine dense relu
//! layers -> dense 1, trained for a few epochs on a generated regression.
//!
//! Run with `cargo run --example ten_layers`.

use stratic::prelude::*;

model! {
    /// Ten dense layers.
    pub struct TenLayers {
        input(shape = [32])
            -> dense(64, activation = relu)
            -> dense(64, activation = relu)
            -> dense(64, activation = relu)
            -> dense(64, activation = relu)
            -> dense(64, activation = relu)
            -> dense(64, activation = relu)
            -> dense(64, activation = relu)
            -> dense(64, activation = relu)
            -> dense(64, activation = relu)
            -> dense(1)
    }
}

fn main() -> Result<(), stratic::Error> {
    // y = mean of the features: learnable, so the loss falls.
    let x = Array2::from_shape_fn((256, 32), |(i, j)| ((i * 7 + j * 3) % 11) as f32 / 11.0);
    let y = x.mean_axis(Axis(1)).map(|m| m.insert_axis(Axis(1)));
    let Some(y) = y else {
        return Ok(());
    };
    let mut model = TenLayers::with_seed(0).compile(Adam::new(0.001), Loss::mse());
    let history = model.fit(
        x.view(),
        y.view(),
        &FitOptions::default().epochs(5).batch_size(32).verbose(0),
    )?;
    println!("loss per epoch: {:?}", history.loss());
    Ok(())
}
