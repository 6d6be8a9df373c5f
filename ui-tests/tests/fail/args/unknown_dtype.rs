use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4], dtype = f23) -> dense(8)
    }
}

fn main() {}
