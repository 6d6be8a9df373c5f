use stratic::prelude::*;

model! {
    struct M {}
}

fn main() {}
