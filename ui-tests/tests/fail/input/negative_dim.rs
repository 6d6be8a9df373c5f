use stratic::prelude::*;

model! {
    struct M {
        input(shape = [-3, 4]) -> dense(8)
    }
}

fn main() {}
