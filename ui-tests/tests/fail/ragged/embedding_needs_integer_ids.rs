use stratic::prelude::*;

model! {
    struct M {
        input(shape = [None], ragged = true) -> embedding(100, 8) -> global_average_pooling_1d()
    }
}

fn main() {}
