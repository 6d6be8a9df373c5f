use stratic::prelude::*;

model! {
    struct M {
        input(batch_shape = [None, 3], ragged = true) -> dense(8)
    }
}

fn main() {}
