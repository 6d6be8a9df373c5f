use stratic::prelude::*;

// Keras would drop the mask here and let the padded steps count: refused.
model! {
    struct Conv {
        input(shape = [6, 3]) -> masking() -> conv1d(4, 3)
    }
}

model! {
    struct Max {
        input(shape = [6, 3]) -> masking() -> dense(4) -> global_max_pooling_1d()
    }
}

// A returned sequence keeps the mask.
model! {
    struct Flat {
        input(shape = [6, 3]) -> masking() -> lstm(4, return_sequences = true) -> flatten()
    }
}

model! {
    struct Merge {
        let x = input(shape = [6, 3]) -> masking();
        let y = x -> dense(3);
        add([x, y]) -> lstm(2)
    }
}

fn main() {}
