use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4]) -> dense(8, use_bias = False)
    }
}

fn main() {}
