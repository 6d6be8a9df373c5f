use stratic::prelude::*;

model! {
    struct M {
        input(shape = [10, 2]) -> conv1d(4, 2, dilation_rate = -2)
    }
}

fn main() {}
