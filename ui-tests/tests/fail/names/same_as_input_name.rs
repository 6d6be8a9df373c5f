use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4], name = "features") -> dense(8, name = "features")
    }
}

fn main() {}
