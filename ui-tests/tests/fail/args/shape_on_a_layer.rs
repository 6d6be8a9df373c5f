use stratic::prelude::*;

model! {
    struct M {
        dense(8, shape = [4])
    }
}

fn main() {}
