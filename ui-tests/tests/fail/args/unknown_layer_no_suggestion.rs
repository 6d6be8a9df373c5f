use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4]) -> conv2d(8, 3)
    }
}

fn main() {}
