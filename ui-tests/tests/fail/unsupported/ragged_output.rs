use stratic::prelude::*;

model! {
    struct M {
        input(shape = [None, 4], ragged = true) -> dense(8)
    }
}

fn main() {}
