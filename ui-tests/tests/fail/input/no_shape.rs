use stratic::prelude::*;

model! {
    struct M {
        input(dtype = f32) -> dense(8)
    }
}

fn main() {}
