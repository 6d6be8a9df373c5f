use stratic::prelude::*;

model! {
    struct M {
        dense(8, input_shape = [4], batch_input_shape = [2, 4])
    }
}

fn main() {}
