use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4, 4, 1]) -> conv2d(4, 3) -> max_pooling_2d(pool_size = [3, 3])
    }
}

fn main() {}
