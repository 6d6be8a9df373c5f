use stratic::prelude::*;

model! {
    struct M {
        input(shape = [3]) -> normalization(mean = [0.0, "one", 2.0], variance = 1.0) -> dense(1)
    }
}

fn main() {}
