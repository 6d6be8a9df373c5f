use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4])
    }
}

fn main() {}
