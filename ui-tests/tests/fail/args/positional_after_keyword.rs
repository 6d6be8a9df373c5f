use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4]) -> dense(activation = relu, 8)
    }
}

fn main() {}
