use stratic::prelude::*;

model! {
    struct M {
        input(batch_size = 2, batch_shape = [2, 4]) -> dense(8)
    }
}

fn main() {}
