use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4]) -> activation()
    }
}

fn main() {}
