use stratic::prelude::*;

model! {
    struct M {
        input(shaep = [4]) -> dense(8)
    }
}

fn main() {}
