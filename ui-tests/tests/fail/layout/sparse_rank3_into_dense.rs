use stratic::prelude::*;

model! {
    struct M {
        input(shape = [5, 20], sparse = true) -> dense(8)
    }
}

fn main() {}
