use stratic::prelude::*;

model! {
    struct M {
        input(shape = [6, 3]) -> cropping_1d([4, 2])
    }
}

fn main() {}
