//! Ragged inputs through `model!`: Keras parity of embedding -> mean over each row -> dense,
//! the id check at run time, a ragged-float input, and training on variable-length rows.

use std::path::Path;

use stratic::ndarray::Array2;
use stratic::prelude::*;
use stratic::{Error, RaggedTensor};

model! {
    /// Keras' fixture: ragged int tokens -> Embedding(10, 3) -> mean per row -> Dense(1).
    struct TextMean {
        input(shape = [None], ragged = true, dtype = i32, name = "tokens")
            -> embedding(10, 3)
            -> global_average_pooling_1d()
            -> dense(1)
    }

    /// The same input declared through a type spec, pooled by max after a dense layer on the
    /// ragged values.
    struct TextMax {
        input(type_spec = RaggedTensorSpec(shape = [None, None], dtype = i32))
            -> embedding(50, 8)
            -> dense(8, activation = relu)
            -> global_max_pooling_1d()
            -> dense(1, activation = sigmoid)
    }

    /// Ragged floats (variable-length sequences of 2-vectors), summed per row.
    struct Readings {
        input(shape = [None, 2], ragged = true)
            -> dense(4, activation = tanh)
            -> global_sum_pooling_1d()
            -> dense(1)
    }
}

fn fixture() -> serde_json::Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ragged_embedding_mean.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn matrix(v: &serde_json::Value) -> Array2<f32> {
    let rows: Vec<Vec<f32>> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect();
    let cols = rows[0].len();
    Array2::from_shape_vec((rows.len(), cols), rows.concat()).unwrap()
}

fn ints(v: &serde_json::Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

#[test]
fn embedding_mean_dense_matches_keras() {
    let f = fixture();
    let values: Vec<i32> = ints(&f["values"]).iter().map(|&v| v as i32).collect();
    let x = RaggedTensor::from_row_splits(values, &ints(&f["row_splits"])).unwrap();
    let mut model = TextMean::with_seed(0);
    model
        .set_weight(
            "embedding/embeddings",
            matrix(&f["embeddings"]).into_dyn().view(),
        )
        .unwrap();
    model
        .set_weight("dense/kernel", matrix(&f["kernel"]).into_dyn().view())
        .unwrap();
    let bias: Vec<f32> = f["bias"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    model
        .set_weight(
            "dense/bias",
            stratic::ndarray::Array1::from(bias).into_dyn().view(),
        )
        .unwrap();
    let y = model.predict(&x).unwrap();
    let expected = matrix(&f["output"]);
    for (a, e) in y.iter().zip(expected.iter()) {
        assert!(
            (a - e).abs() <= (1e-5 * e.abs()).max(1e-6),
            "{a} vs Keras {e}"
        );
    }
    // An id outside the vocabulary is an error naming it, not a panic.
    let bad = RaggedTensor::from_rows(&[vec![1i32, 2], vec![10]]).unwrap();
    match model.predict(&bad) {
        Err(Error::IdOutOfRange { .. }) => {}
        other => panic!("expected IdOutOfRange, got {other:?}"),
    }
}

#[test]
fn variable_length_rows_train_without_padding() {
    // The label: whether token 3 occurs in the row. Rows have 1..=12 tokens.
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for i in 0..200usize {
        let len = 1 + (i * 7) % 12;
        let row: Vec<i32> = (0..len).map(|j| ((i * 13 + j * 17) % 50) as i32).collect();
        labels.push(if row.contains(&3) { 1.0f32 } else { 0.0 });
        rows.push(row);
    }
    let x = RaggedTensor::from_rows(&rows).unwrap();
    let y = Array2::from_shape_vec((200, 1), labels).unwrap();
    let mut model = TextMax::with_seed(1).compile(Adam::new(0.02), Loss::binary_crossentropy());
    let options = FitOptions::default()
        .epochs(40)
        .batch_size(32)
        .seed(3)
        .verbose(0);
    let history = model.fit(&x, y.view(), &options).unwrap();
    let loss = history.loss();
    assert!(loss[39] < loss[0] * 0.3, "{loss:?}");
}

#[test]
fn ragged_floats_sum_per_row() {
    let rows = [vec![1.0f32, 2.0, 3.0, 4.0], vec![0.5, -0.5], vec![]];
    let x = RaggedTensor::from_parts(rows.concat(), &[2], &[[0usize, 2, 3, 3]]).unwrap();
    let model = Readings::with_seed(2);
    let y = model.predict(&x).unwrap();
    assert_eq!(y.dim(), (3, 1));
    // An empty row sums to zero, so its output is the last layer's bias (zero at init)
    // passed through nothing: exactly 0.
    assert_eq!(y[[2, 0]], 0.0);
}

model! {
    /// Embedded tokens padded to the longest row of the batch.
    struct Padded {
        input(shape = [None], ragged = true, dtype = i32)
            -> embedding(10, 3)
            -> to_dense(pad = -1.0)
            -> dense(2, use_bias = false)
    }
}

#[test]
fn to_dense_pads_to_the_longest_row() {
    let x = RaggedTensor::from_rows(&[vec![1i32, 2, 3], vec![4]]).unwrap();
    let model = Padded::with_seed(5);
    let y: stratic::ndarray::Array3<f32> = model.predict(&x).unwrap();
    assert_eq!(y.dim(), (2, 3, 2));
    // Padding (-1 in every feature) goes through the kernel as -(sum of its rows).
    let weights = model.weights();
    let kernel = &weights.iter().find(|(k, _)| k == "dense/kernel").unwrap().1;
    for j in 0..2 {
        let expected: f32 = -(0..3).map(|i| kernel[[i, j]]).sum::<f32>();
        assert!((y[[1, 1, j]] - expected).abs() < 1e-6);
        assert!((y[[1, 2, j]] - expected).abs() < 1e-6);
    }
    // It trains: targets take the padded shape.
    let target = stratic::ndarray::Array3::<f32>::zeros((2, 3, 2));
    let mut model = model.compile(SGD::new(0.1), Loss::mse());
    let first = model.train_on_batch(&x, target.view()).unwrap();
    for _ in 0..20 {
        model.train_on_batch(&x, target.view()).unwrap();
    }
    assert!(model.train_on_batch(&x, target.view()).unwrap() < first);
}
