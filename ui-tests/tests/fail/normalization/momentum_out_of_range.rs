use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4]) -> dense(8) -> batch_normalization(momentum = 1.5) -> dense(1)
    }
}

model! {
    struct N {
        input(shape = [4]) -> batch_normalization(momentum = -0.1)
    }
}

fn main() {}
