use stratic::prelude::*;

model! {
    struct M {
        input(shape = [8, 8, 3]) -> conv2d(4, 3, groups = 2)
    }
}

fn main() {}
