use stratic::prelude::*;

model! {
    struct M {
        input(shape = [None], ragged = true, dtype = i32)
            -> embedding(100, 8)
            -> to_dense()
            -> global_average_pooling_1d()
    }
}

fn main() {}
