use stratic::prelude::*;

mod nets {
    use stratic::prelude::*;

    model! {
        pub struct Encoder {
            input(shape = [8]) -> dense(4)
        }
    }
}

model! {
    /// A misspelt model: the error is at the path.
    pub struct Classifier {
        input(shape = [8]) -> nets::Encodr -> dense(3)
    }
}

fn main() {}
