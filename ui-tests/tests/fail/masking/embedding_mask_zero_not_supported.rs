use stratic::prelude::*;

model! {
    struct M {
        input(shape = [None], ragged = true, dtype = i32)
            -> embedding(10, 4, mask_zero = true)
            -> lstm(3)
    }
}

fn main() {}
