use stratic::prelude::*;

model! {
    struct M {
        input(shape = [8, 8, 1]) -> conv2d(4, kernel_size = [3, 3, 3])
    }
}

fn main() {}
