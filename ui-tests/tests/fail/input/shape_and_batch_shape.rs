use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4], batch_shape = [2, 4]) -> dense(8)
    }
}

fn main() {}
