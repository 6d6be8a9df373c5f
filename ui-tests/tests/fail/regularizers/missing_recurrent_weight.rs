use stratic::prelude::*;

model! {
    struct M {
        input(shape = [5, 2]) -> lstm(4, use_bias = false, bias_regularizer = l2(0.01)) -> dense(1)
    }
}

model! {
    struct N {
        input(shape = [5, 2]) -> bidirectional(gru(3, use_bias = false, bias_regularizer = l1(0.01))) -> dense(1)
    }
}

model! {
    struct S {
        input(shape = [5, 2]) -> simple_rnn(3, use_bias = false, recurrent_regularizer = l2(0.1), bias_regularizer = l2(0.01))
    }
}

fn main() {}
