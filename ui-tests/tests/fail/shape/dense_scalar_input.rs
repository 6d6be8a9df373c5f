use stratic::prelude::*;

model! {
    struct M {
        input(shape = []) -> dense(8)
    }
}

fn main() {}
