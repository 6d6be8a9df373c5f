use stratic::prelude::*;

model! {
    // Keras accepts float64 inputs; the runtime computes in f32 and does not convert yet.
    struct M {
        input(shape = [4], dtype = f64) -> dense(8)
    }
}

fn main() {}
