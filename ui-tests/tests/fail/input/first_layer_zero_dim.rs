use stratic::prelude::*;

model! {
    struct M {
        dense(8, input_shape = [0])
    }
}

fn main() {}
