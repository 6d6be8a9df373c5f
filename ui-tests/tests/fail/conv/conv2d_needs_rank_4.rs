use stratic::prelude::*;

model! {
    struct M {
        input(shape = [28, 28]) -> conv2d(8, 3)
    }
}

fn main() {}
