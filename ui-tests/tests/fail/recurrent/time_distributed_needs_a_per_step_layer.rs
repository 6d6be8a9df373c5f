use stratic::prelude::*;

// Each step of (batch, 10, 16) is (batch, 16): an LSTM needs a sequence inside each step.
model! {
    struct Lstm {
        input(shape = [10, 16]) -> time_distributed(lstm(3))
    }
}

// A mask made inside one step would not be over the steps.
model! {
    struct Mask {
        input(shape = [10, 16]) -> time_distributed(masking())
    }
}

// No wrapper inside a wrapper.
model! {
    struct Nested {
        input(shape = [10, 4, 16]) -> time_distributed(bidirectional(gru(2)))
    }
}

// No steps to distribute over.
model! {
    struct Flat {
        input(shape = [16]) -> time_distributed(dense(3))
    }
}

fn main() {}
