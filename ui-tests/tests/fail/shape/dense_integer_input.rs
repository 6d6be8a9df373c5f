use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4], dtype = i32) -> dense(8)
    }
}

fn main() {}
