use stratic::prelude::*;

const DATA: [[i32; 4]; 2] = [[1, 2, 3, 4], [5, 6, 7, 8]];

model! {
    struct M {
        // `dtype` defaults to f32, but DATA holds i32.
        input(shape = [4], input_tensor = DATA) -> dense(8)
    }
}

fn main() {}
