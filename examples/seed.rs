//! The seed program of Keras' `InputLayer` documentation, in both of its forms:
//!
//! ```python
//! model = tf.keras.Sequential([
//!   tf.keras.layers.InputLayer(input_shape=(4,)),
//!   tf.keras.layers.Dense(8)])
//! model.compile(tf.optimizers.RMSprop(0.001), loss='mse')
//! model.fit(np.zeros((10, 4)), np.ones((10, 8)))
//! ```
//!
//! Run with `cargo run --example seed`.

use stratic::prelude::*;

model! {
    /// With an explicit input layer.
    pub struct WithInputLayer {
        input(shape = [4]) -> dense(8)
    }

    /// Without: the first layer carries the input shape, and an input is added behind the scene.
    pub struct WithoutInputLayer {
        dense(8, input_shape = [4])
    }
}

fn main() -> Result<(), stratic::Error> {
    let x = Array2::<f32>::zeros((10, 4));
    let y = Array2::<f32>::ones((10, 8));

    println!("# With an explicit InputLayer");
    let mut model = WithInputLayer::new().compile(RMSprop::new(0.001), Loss::mse());
    let history = model.fit(x.view(), y.view(), &FitOptions::default())?;
    println!("history: loss = {:?}", history.loss());

    println!("\n# Without an InputLayer: the first layer has the input_shape");
    let mut model = WithoutInputLayer::new().compile(RMSprop::new(0.001), Loss::mse());
    let history = model.fit(x.view(), y.view(), &FitOptions::default())?;
    println!("history: loss = {:?}", history.loss());
    Ok(())
}
