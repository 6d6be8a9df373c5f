use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4]) -> dense(0)
    }
}

fn main() {}
