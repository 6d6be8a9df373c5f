use stratic::prelude::*;

model! {
    struct M {
        let x = input(shape = [4]);
        x -> dense(8)
    }
}

fn main() {}
