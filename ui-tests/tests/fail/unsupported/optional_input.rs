use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4], optional = true) -> dense(8)
    }
}

fn main() {}
