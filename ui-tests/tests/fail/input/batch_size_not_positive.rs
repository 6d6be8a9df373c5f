use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4], batch_size = 0) -> dense(8)
    }
}

fn main() {}
