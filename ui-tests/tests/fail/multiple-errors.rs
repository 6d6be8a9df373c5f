use stratic::prelude::*;

model! {
    /// Errors in three layers of one model: every one is reported.
    struct First {
        input(shape = [4, 0], sparse = true, ragged = true)
            -> dense(8, activation = rleu)
            -> dnese(4)
            -> dense(units = -2, use_bias = 1)
    }

    /// And in a second model of the same invocation.
    struct Second {
        dense(8, input_shape = [4], name = "hidden layer") -> activation(relu, name = hidden)
    }
}

fn main() {}
