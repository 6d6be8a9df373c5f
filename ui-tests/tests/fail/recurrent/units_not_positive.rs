use stratic::prelude::*;

model! {
    struct M {
        input(shape = [5, 3]) -> lstm(0)
    }
}

model! {
    struct N {
        input(shape = [5, 3]) -> simple_rnn(-2)
    }
}

fn main() {}
