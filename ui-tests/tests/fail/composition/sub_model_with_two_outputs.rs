use stratic::prelude::*;

model! {
    pub struct Heads {
        let x = input(shape = [8]);
        (x -> dense(2), x -> dense(3))
    }

    /// A chain passes one tensor on: a model of two outputs cannot stand in it.
    pub struct Outer {
        input(shape = [8]) -> Heads -> dense(1)
    }
}

fn main() {}
