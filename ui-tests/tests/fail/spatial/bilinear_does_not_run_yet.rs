use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4, 4, 2]) -> up_sampling_2d(2, interpolation = bilinear)
    }
}

fn main() {}
