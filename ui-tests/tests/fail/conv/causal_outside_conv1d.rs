use stratic::prelude::*;

model! {
    struct M {
        input(shape = [8, 8, 1]) -> conv2d(4, 3, padding = causal)
    }
}

fn main() {}
