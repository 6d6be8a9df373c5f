use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4]) -> dense(8)
    }
}

fn main() {
    let model = M::with_seed(1);
    // Rows of 5 values for an input of shape [4]: a type error.
    let _ = model.predict_array(&[[0.0f32; 5]]);
}
