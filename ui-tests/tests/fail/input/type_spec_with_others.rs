use stratic::prelude::*;

const DATA: [[f32; 4]; 2] = [[0.0; 4]; 2];

model! {
    struct M {
        input(
            type_spec = TensorSpec(shape = [None, 4]),
            name = "x",
            batch_size = 8,
            batch_shape = [8, 4],
            input_tensor = DATA,
            ragged = false,
            optional = false,
        ) -> dense(8)
    }
}

fn main() {
    let _ = DATA;
}
