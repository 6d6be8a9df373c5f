use stratic::prelude::*;

model! {
    struct M {
        let tokens = input(shape = [None], ragged = true, dtype = i32);
        let e = tokens -> embedding(100, 8);
        let f = tokens -> embedding(100, 8);
        add([e, f]) -> global_average_pooling_1d()
    }
}

fn main() {}
