use stratic::prelude::*;

model! {
    struct M {
        let a = input(shape = [32]);
        let b = input(shape = [20]);
        let tower = dense(16, activation = relu);
        let x = a -> tower;
        let y = b -> tower;
        concatenate([x, y]) -> dense(1)
    }
}

fn main() {}
