//! `predict_batched(x, batch_size)`, Keras' `predict(x, batch_size=...)`: the same outputs as
//! one `predict`, batch by batch, for dense, several, ragged and sparse inputs.

use stratic::ndarray::{Array2, Array3};
use stratic::prelude::*;

model! {
    struct Mlp {
        input(shape = [4]) -> dense(16, activation = relu) -> dense(3, activation = softmax)
    }

    struct TwoWays {
        let a = input(shape = [3], name = "a");
        let b = input(shape = [2, 3], name = "b");
        let f = b -> flatten();
        let c = concatenate([a, f]);
        (c -> dense(2, name = "head"), b -> dense(4, name = "per_step"))
    }

    struct Bag {
        input(shape = [None], ragged = true, dtype = i32)
            -> embedding(10, 3)
            -> global_average_pooling_1d()
            -> dense(1)
    }

    struct Sparse {
        input(shape = [6], sparse = true) -> dense(2)
    }
}

fn close(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-6 * (1.0 + y.abs()), "{x} vs {y}");
    }
}

fn values(n: usize, m: usize) -> Array2<f32> {
    Array2::from_shape_fn((n, m), |(i, j)| ((i * m + j) as f32 * 0.61).sin())
}

#[test]
fn batches_give_what_one_predict_gives() {
    let m = Mlp::with_seed(2);
    let x = values(23, 4);
    let whole = m.predict(x.view()).unwrap();
    for bs in [1, 5, 22, 23, 100] {
        let y = m.predict_batched(x.view(), bs).unwrap();
        assert_eq!(y.dim(), whole.dim());
        close(y.as_slice().unwrap(), whole.as_slice().unwrap());
    }
}

#[test]
fn several_inputs_and_outputs_and_a_middle_axis() {
    let m = TwoWays::with_seed(3);
    let a = values(9, 3);
    let b = Array3::from_shape_fn((9, 2, 3), |(i, j, k)| ((i * 6 + j * 3 + k) as f32).cos());
    let (h, s) = m.predict((a.view(), b.view())).unwrap();
    let (hb, sb) = m.predict_batched((a.view(), b.view()), 4).unwrap();
    assert_eq!((hb.dim(), sb.dim()), (h.dim(), s.dim()));
    close(hb.as_slice().unwrap(), h.as_slice().unwrap());
    close(sb.as_slice().unwrap(), s.as_slice().unwrap());
}

#[test]
fn ragged_and_sparse_inputs_are_batched_by_rows() {
    let rows: Vec<Vec<i32>> = (0..11)
        .map(|i| (0..(i % 4)).map(|t| (t + i) % 10).collect())
        .collect();
    let x = RaggedTensor::from_rows(&rows).unwrap();
    let m = Bag::with_seed(4);
    let whole = m.predict(&x).unwrap();
    close(
        m.predict_batched(&x, 3).unwrap().as_slice().unwrap(),
        whole.as_slice().unwrap(),
    );
    let dense = values(7, 6).mapv(|v| if v > 0.2 { v } else { 0.0 });
    let s = SparseTensor::from_dense(dense.view()).unwrap();
    let m = Sparse::with_seed(5);
    let whole = m.predict(&s).unwrap();
    close(
        m.predict_batched(&s, 2).unwrap().as_slice().unwrap(),
        whole.as_slice().unwrap(),
    );
}

#[test]
fn a_batch_size_of_zero_and_a_wrong_input_are_errors() {
    let m = Mlp::with_seed(2);
    assert!(matches!(
        m.predict_batched(values(3, 4).view(), 0),
        Err(stratic::Error::InvalidArgument {
            name: "batch_size",
            ..
        })
    ));
    assert!(matches!(
        m.predict_batched(values(3, 5).view(), 2),
        Err(stratic::Error::InputShape { .. })
    ));
}
