use stratic::prelude::*;

model! {
    struct M {
        input(shape = [1_000_000_000_000_000_000]) -> dense(8)
    }
}

fn main() {}
