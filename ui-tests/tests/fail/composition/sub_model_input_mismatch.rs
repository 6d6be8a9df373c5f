use stratic::prelude::*;

model! {
    pub struct Encoder {
        input(shape = [8]) -> dense(16, activation = relu) -> dense(4)
    }

    /// Encoder takes 8 features and is given 9.
    pub struct Classifier {
        input(shape = [9]) -> Encoder -> dense(3, activation = softmax)
    }
}

fn main() {}
