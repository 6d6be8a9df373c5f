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

model! {
    // Positive, but 0 once rounded to float32.
    struct L {
        input(shape = [4]) -> layer_normalization(epsilon = 1e-50)
    }
}

fn main() {}
