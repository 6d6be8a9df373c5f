use stratic::prelude::*;

model! {
    struct M {
        input(shape = [None], ragged = true, dtype = i32) -> embedding(4294967296, 4294967296)
    }
}

fn main() {}
