use stratic::prelude::*;

model! {
    struct M {
        input(shape = [None, 4], ragged = true) -> to_dense() -> flatten() -> dense(2)
    }
}

fn main() {}
