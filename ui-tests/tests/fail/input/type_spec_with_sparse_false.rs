use stratic::prelude::*;

model! {
    struct M {
        input(type_spec = TensorSpec(shape = [None, 4]), sparse = false) -> dense(8)
    }
}

fn main() {}
