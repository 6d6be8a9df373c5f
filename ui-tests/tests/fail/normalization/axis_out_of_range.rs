use stratic::prelude::*;

model! {
    // Rank 2 (batch, 4): axis 2 does not exist.
    struct M {
        input(shape = [4]) -> batch_normalization(axis = 2) -> dense(1)
    }
}

model! {
    // Axis 0 is the batch axis, whose statistics would mix the features.
    struct N {
        input(shape = [6, 6, 3]) -> batch_normalization(axis = 0)
    }
}

model! {
    struct L {
        input(shape = [3, 4]) -> layer_normalization(axis = -4)
    }
}

fn main() {}
