use stratic::prelude::*;

model! {
    struct M {
        input(shape = [24]) -> reshape([-1, -1])
    }
}

fn main() {}
