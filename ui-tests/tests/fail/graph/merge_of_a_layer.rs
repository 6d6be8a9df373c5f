use stratic::prelude::*;

model! {
    struct M {
        let a = input(shape = [4]);
        let tower = dense(4);
        let x = a -> tower;
        add([x, tower])
    }
}

fn main() {}
