use stratic::prelude::*;

model! {
    struct M {
        input(type_spec = TensorSpec(shape = [None, 0])) -> dense(8)
    }
}

fn main() {}
