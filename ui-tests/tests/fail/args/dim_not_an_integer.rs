use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4, "x"]) -> dense(8)
    }
}

fn main() {}
