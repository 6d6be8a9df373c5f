use stratic::prelude::*;

model! {
    struct M {
        input(shape = [None], sparse = true, ragged = true) -> dense(8)
    }
}

fn main() {}
