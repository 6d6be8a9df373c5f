use stratic::prelude::*;

model! {
    struct M {
        input(shape = [20], sparse = true) -> activation(relu)
    }
}

fn main() {}
