use stratic::prelude::*;

model! {
    struct M {
        input(shape = [16]) -> global_average_pooling_1d()
    }
}

fn main() {}
