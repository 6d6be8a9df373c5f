use stratic::prelude::*;

model! {
    struct M {
        dense(8, input_shape = [4]) -> dense(4, input_shape = [8])
    }
}

fn main() {}
