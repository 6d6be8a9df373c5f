use stratic::prelude::*;

model! {
    struct M {
        input(shape = [8, 8, 1]) -> zero_padding_2d([[1, -1], [0, 0]])
    }
}

fn main() {}
