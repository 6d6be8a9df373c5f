use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4]) -> dense(8) -> dropout(1.0) -> dense(1)
    }
}

model! {
    struct N {
        input(shape = [4]) -> dropout(-0.5) -> dense(1)
    }
}

fn main() {}
