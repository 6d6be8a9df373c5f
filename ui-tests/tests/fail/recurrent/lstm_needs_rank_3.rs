use stratic::prelude::*;

model! {
    struct M {
        input(shape = [8]) -> lstm(4)
    }
}

model! {
    struct N {
        input(shape = [5, 4, 2]) -> gru(4)
    }
}

fn main() {}
