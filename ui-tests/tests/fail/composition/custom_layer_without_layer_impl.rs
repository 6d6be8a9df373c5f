use stratic::custom_layer;
use stratic::prelude::*;

/// Declared to the macro, but not a layer yet.
pub struct Scale;
custom_layer!(Scale);

model! {
    pub struct M {
        input(shape = [4]) -> Scale -> dense(1)
    }
}

fn main() {}
