use stratic::prelude::*;

const DATA: [[f32; 5]; 2] = [[0.0; 5]; 2];

model! {
    struct M {
        // Rows of DATA have 5 values, the input declares 4.
        input(shape = [4], input_tensor = DATA) -> dense(8)
    }
}

fn main() {}
