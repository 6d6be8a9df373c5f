use stratic::prelude::*;

const DATA: [[f32; 4]; 2] = [[0.0; 4]; 2];

model! {
    struct M {
        input(input_tensor = DATA) -> dense(8)
    }
}

fn main() {
    let _ = DATA;
}
