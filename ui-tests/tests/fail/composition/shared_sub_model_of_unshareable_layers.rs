use stratic::prelude::*;

model! {
    pub struct Noisy {
        input(shape = [8]) -> dense(4) -> dropout(0.5)
    }

    /// A shared sub-model shares its layers, and dropout cannot be shared yet.
    pub struct Twice {
        let enc = Noisy;
        let a = input(shape = [8], name = "a") -> enc;
        let b = input(shape = [8], name = "b") -> enc;
        subtract([a, b]) -> dense(1)
    }
}

fn main() {}
