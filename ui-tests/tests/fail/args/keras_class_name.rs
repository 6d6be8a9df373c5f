use stratic::prelude::*;

model! {
    struct M {
        InputLayer(shape = [4]) -> Dense(8)
    }
}

fn main() {}
