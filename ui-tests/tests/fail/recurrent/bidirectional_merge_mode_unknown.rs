use stratic::prelude::*;

model! {
    struct M {
        input(shape = [5, 3]) -> bidirectional(gru(4), merge_mode = concatt)
    }
}

fn main() {}
