use stratic::prelude::*;

model! {
    /// stratic_ui_tests::nets::Encoder takes 8 features; this crate cannot see its
    /// declaration, and its description macro hands it over.
    pub struct Classifier {
        input(shape = [9]) -> stratic_ui_tests::nets::Encoder -> dense(3, activation = softmax)
    }
}

fn main() {}
