use stratic::prelude::*;

model! {
    // The normalized axis sizes gamma, beta and the moving statistics.
    struct M {
        input(shape = [None, 4]) -> batch_normalization(axis = 1)
    }
}

model! {
    // The axes after the normalized one lay out its values.
    struct N {
        input(shape = [4, None]) -> layer_normalization(axis = 1)
    }
}

fn main() {}
