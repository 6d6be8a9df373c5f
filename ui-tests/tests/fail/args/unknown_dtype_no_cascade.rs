use stratic::prelude::*;

model! {
    // One error, at the dtype: not also "embedding expects integer ids, received float32".
    struct M {
        input(shape = [None], ragged = true, dtype = i23) -> embedding(10, 4) -> global_average_pooling_1d()
    }
}

fn main() {}
