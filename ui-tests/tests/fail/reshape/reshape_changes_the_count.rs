use stratic::prelude::*;

model! {
    struct M {
        input(shape = [2, 12]) -> reshape([5, 5])
    }
}

fn main() {}
