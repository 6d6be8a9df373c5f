use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4]) -> category_encoding(10) -> dense(1)
    }
}

fn main() {}
