use stratic::prelude::*;

model! {
    struct M {
        input(shape = [3], ragged = true) -> dense(8)
    }
}

fn main() {}
