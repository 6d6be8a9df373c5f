use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4]) -> dense(8)
    }

    struct M {
        input(shape = [4]) -> dense(2)
    }
}

fn main() {}
