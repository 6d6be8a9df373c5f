use stratic::prelude::*;

model! {
    struct M {
        input(shape = [5, 3]) -> lstm(4, unroll = true)
    }
}

fn main() {}
