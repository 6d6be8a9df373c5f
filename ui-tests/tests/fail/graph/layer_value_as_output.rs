use stratic::prelude::*;

model! {
    struct M {
        let x = input(shape = [4]);
        let h = x -> dense(8);
        let tower = dense(2);
        (h, tower)
    }
}

fn main() {}
