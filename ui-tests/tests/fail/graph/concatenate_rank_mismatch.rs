use stratic::prelude::*;

model! {
    struct M {
        let a = input(shape = [4]);
        let b = input(shape = [3, 4]);
        concatenate([a, b]) -> dense(1)
    }
}

fn main() {}
