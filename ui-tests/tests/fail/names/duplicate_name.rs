use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4]) -> dense(8, name = "hidden") -> dense(4, name = "hidden")
    }
}

fn main() {}
