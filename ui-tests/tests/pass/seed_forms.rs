//! The two seed forms of Keras' InputLayer example declare the same model.
use stratic::prelude::*;

model! {
    /// With an explicit input layer.
    pub struct WithInput {
        input(shape = [4]) -> dense(8)
    }

    /// The first layer carries the input shape.
    pub struct WithoutInput {
        dense(8, input_shape = [4])
    }
}

fn main() {
    let x = Array2::<f32>::zeros((10, 4));
    let y = Array2::<f32>::ones((10, 8));
    let a = WithInput::with_seed(1);
    let b = WithoutInput::with_seed(1);
    assert_eq!(a.predict(x.view()).unwrap().dim(), (10, 8));
    assert_eq!(b.predict(x.view()).unwrap().dim(), (10, 8));

    let mut model = WithInput::with_seed(1).compile(RMSprop::new(0.001), Loss::mse());
    let options = FitOptions::default().verbose(0);
    model.fit(x.view(), y.view(), &options).unwrap();
    assert_eq!(model.predict(x.view()).unwrap().dim(), (10, 8));
}
