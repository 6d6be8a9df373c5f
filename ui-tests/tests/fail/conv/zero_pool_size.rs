use stratic::prelude::*;

model! {
    struct M {
        input(shape = [8, 8, 1]) -> max_pooling_2d(0)
    }
}

fn main() {}
