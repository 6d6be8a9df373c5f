use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4]) -> batch_normalization(epsilon = 0.0) -> dense(1)
    }
}

model! {
    struct N {
        input(shape = [3, 4]) -> layer_normalization(epsilon = -1e-3)
    }
}

fn main() {}
