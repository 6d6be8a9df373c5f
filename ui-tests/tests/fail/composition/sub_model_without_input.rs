use stratic::prelude::*;

model! {
    pub struct Encoder {
        input(shape = [8]) -> dense(4)
    }

    /// A chain starts with a tensor: here the sub-model has nothing to apply to.
    pub struct Outer {
        let x = input(shape = [8]);
        let y = x -> dense(8);
        Encoder -> dense(1)
    }
}

fn main() {}
