use stratic::prelude::*;

model! {
    struct M {
        input(shape = [3]) -> normalization(axis = 2) -> dense(1)
    }
}

fn main() {}
