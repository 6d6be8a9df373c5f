use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4]) -> dense(8, use_bias = false, bias_regularizer = l2(0.01)) -> dense(1)
    }
}

model! {
    struct N {
        input(shape = [6, 2]) -> conv1d(4, 3, use_bias = false, bias_regularizer = l1(0.01)) -> flatten() -> dense(1)
    }
}

fn main() {}
