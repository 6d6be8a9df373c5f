use stratic::prelude::*;

model! {
    struct M {
        input(shape = [8, 8, 4]) -> conv2d(6, 3, groups = 4)
    }
}

fn main() {}
