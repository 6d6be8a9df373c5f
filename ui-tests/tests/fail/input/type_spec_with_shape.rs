use stratic::prelude::*;

model! {
    struct M {
        input(type_spec = TensorSpec(shape = [None, 4]), shape = [4]) -> dense(8)
    }
}

fn main() {}
