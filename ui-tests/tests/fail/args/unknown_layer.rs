use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4]) -> dnese(8)
    }
}

fn main() {}
