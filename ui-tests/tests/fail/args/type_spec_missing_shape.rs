use stratic::prelude::*;

model! {
    struct M {
        input(type_spec = TensorSpec(dtype = f32)) -> dense(8)
    }
}

fn main() {}
