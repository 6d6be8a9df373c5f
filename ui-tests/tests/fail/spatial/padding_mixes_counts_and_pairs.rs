use stratic::prelude::*;

model! {
    struct M {
        input(shape = [8, 8, 1]) -> zero_padding_2d([1, [2, 2]])
    }
}

fn main() {}
