use stratic::prelude::*;

model! {
    struct M {
        input(shape = [16, 16, 1]) -> conv2d(4, 3, strides = 2, dilation_rate = 2)
    }
}

fn main() {}
