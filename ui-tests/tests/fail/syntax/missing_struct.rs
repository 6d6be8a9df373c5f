use stratic::prelude::*;

model! {
    M {
        input(shape = [4]) -> dense(8)
    }
}

fn main() {}
