use stratic::prelude::*;

model! {
    struct M {
        input(shape = [1, 8, 8]) -> conv2d(4, 3, data_format = channels_first)
    }
}

fn main() {}
