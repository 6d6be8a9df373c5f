use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4294967296]) -> dense(4294967296)
    }
}

fn main() {}
