use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4]) -> batch_normalization(scale = false, gamma_regularizer = l2(0.01)) -> dense(1)
    }
}

model! {
    struct N {
        input(shape = [4]) -> layer_normalization(center = false, beta_regularizer = l1(0.01)) -> dense(1)
    }
}

fn main() {}
