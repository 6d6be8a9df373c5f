use stratic::prelude::*;

// Ragged rows have no padding to mask.
model! {
    struct Ragged {
        input(shape = [None], ragged = true, dtype = i32)
            -> embedding(10, 4, mask_zero = true)
            -> lstm(3)
    }
}

// One masking table for two inputs: its mask would be read for the wrong one.
model! {
    struct Shared {
        let a = input(shape = [5], dtype = i32, name = "a");
        let b = input(shape = [5], dtype = i32, name = "b");
        let table = embedding(10, 4, mask_zero = true);
        let ha = a -> table -> lstm(3, name = "la");
        let hb = b -> table -> lstm(3, name = "lb");
        concatenate([ha, hb])
    }
}

// The mask reaches a layer that cannot read it.
model! {
    struct Flattened {
        input(shape = [5], dtype = i32)
            -> embedding(10, 4, mask_zero = true)
            -> flatten()
    }
}

fn main() {}
