use stratic::prelude::*;

model! {
    struct M {
        input(type_spec = TensorSpec(shape = [None, 4]), dtype = f32) -> dense(8)
    }
}

fn main() {}
