use stratic::prelude::*;

model! {
    struct M {
        let a = input(shape = [4], name = "a");
        let b = input(shape = [4], name = "b");
        let x = a -> dense(8, name = "tower");
        let y = b -> dense(8, name = "tower");
        add([x, y])
    }
}

fn main() {}
