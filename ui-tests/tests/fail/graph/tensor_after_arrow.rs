use stratic::prelude::*;

model! {
    struct M {
        let a = input(shape = [4]);
        let b = input(shape = [4]);
        a -> b -> dense(1)
    }
}

fn main() {}
