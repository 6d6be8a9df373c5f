use stratic::prelude::*;

model! {
    struct M {
        let query = input(shape = [4]);
        let q = qurey -> dense(8);
        q
    }
}

fn main() {}
