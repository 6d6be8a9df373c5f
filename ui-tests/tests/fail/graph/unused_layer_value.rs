use stratic::prelude::*;

model! {
    struct M {
        let x = input(shape = [4]);
        let head = dense(2, activation = softmax);
        x -> dense(8)
    }
}

fn main() {}
