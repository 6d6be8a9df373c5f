use stratic::ndarray::Array3;
use stratic::prelude::*;

// The mask ends where a layer reads it without returning steps.
model! {
    struct Last {
        input(shape = [6, 3]) -> masking() -> lstm(4) -> dense(1)
    }
}

model! {
    struct Mean {
        input(shape = [6, 3])
            -> masking(mask_value = -1.0)
            -> dropout(0.1)
            -> gru(3, return_sequences = true)
            -> global_average_pooling_1d()
            -> dense(2)
    }
}

fn main() {
    let x = Array3::<f32>::zeros((2, 6, 3));
    assert_eq!(Last::with_seed(0).predict(x.view()).unwrap().dim(), (2, 1));
    assert_eq!(Mean::with_seed(0).predict(x.view()).unwrap().dim(), (2, 2));
}
