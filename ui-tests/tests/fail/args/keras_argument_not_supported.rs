use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4]) -> dense(8, kernel_constraint = max_norm)
    }
}

fn main() {}
