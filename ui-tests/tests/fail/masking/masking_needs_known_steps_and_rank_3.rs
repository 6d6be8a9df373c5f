use stratic::prelude::*;

model! {
    struct Steps {
        input(shape = [None, 3]) -> masking() -> lstm(4)
    }
}

model! {
    struct Rank {
        input(shape = [3]) -> masking(mask_value = -1.0)
    }
}

fn main() {}
