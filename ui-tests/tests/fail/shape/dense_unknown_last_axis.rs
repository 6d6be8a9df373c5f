use stratic::prelude::*;

model! {
    struct M {
        input(shape = [None]) -> dense(8)
    }
}

fn main() {}
