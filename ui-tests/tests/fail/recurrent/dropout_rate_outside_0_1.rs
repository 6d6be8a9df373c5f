use stratic::prelude::*;

model! {
    struct M {
        input(shape = [5, 3]) -> lstm(4, dropout = 1.0)
    }
}

model! {
    struct N {
        input(shape = [5, 3]) -> gru(4, recurrent_dropout = -0.1)
    }
}

fn main() {}
