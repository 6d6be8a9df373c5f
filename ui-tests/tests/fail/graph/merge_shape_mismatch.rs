use stratic::prelude::*;

model! {
    struct M {
        let a = input(shape = [4]);
        let b = input(shape = [6]);
        let x = a -> dense(8);
        let y = b -> dense(16);
        add([x, y]) -> dense(1)
    }
}

fn main() {}
