use stratic::prelude::*;
use stratic::RaggedTensor;

model! {
    /// Ragged ids, embedded and pooled three ways.
    struct Text {
        let tokens = input(shape = [None], ragged = true, dtype = i32, name = "tokens");
        let e = tokens -> embedding(100, 8);
        let mean = e -> global_average_pooling_1d();
        let max = e -> dense(8, activation = relu) -> global_max_pooling_1d();
        concatenate([mean, max]) -> dense(1, activation = sigmoid)
    }
}

fn main() {
    let x = RaggedTensor::from_rows(&[vec![1, 2, 3], vec![4]]).unwrap();
    let y = Text::with_seed(1).predict(&x).unwrap();
    assert_eq!(y.dim(), (2, 1));
}
