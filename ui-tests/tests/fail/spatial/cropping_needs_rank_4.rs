use stratic::prelude::*;

model! {
    struct M {
        input(shape = [6, 3]) -> cropping_2d(1)
    }
}

fn main() {}
