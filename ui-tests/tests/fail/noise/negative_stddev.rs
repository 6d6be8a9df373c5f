use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4]) -> gaussian_noise(-0.1) -> dense(1)
    }
}

fn main() {}
