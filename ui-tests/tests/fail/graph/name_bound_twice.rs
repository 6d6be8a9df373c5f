use stratic::prelude::*;

model! {
    struct M {
        let x = input(shape = [4]);
        let h = x -> dense(8);
        let h = h -> dense(2);
        h
    }
}

fn main() {}
