//! Sparse inputs through `model!`: Keras parity of Dense on a sparse batch, and training a
//! bag-of-words classifier on sparse data with `fit`, `evaluate` and `predict`.

use std::path::Path;

use stratic::ndarray::{Array1, Array2, ArrayD, IxDyn};
use stratic::prelude::*;
use stratic::{Error, SparseOptions, SparseTensor};

model! {
    /// Keras' fixture: `Input(shape=(6,), sparse=True) -> Dense(3)`.
    struct SparseDense {
        input(shape = [6], sparse = true, name = "words") -> dense(3)
    }

    /// A graph mixing a sparse and a dense input.
    struct Mixed {
        let words = input(shape = [50], sparse = true, name = "words");
        let extra = input(shape = [2], name = "extra");
        let w = words -> dense(8, activation = relu);
        let e = extra -> dense(4);
        concatenate([w, e]) -> dense(1, activation = sigmoid)
    }
}

fn array(v: &serde_json::Value) -> ArrayD<f64> {
    fn walk(v: &serde_json::Value, shape: &mut Vec<usize>, depth: usize, out: &mut Vec<f64>) {
        match v {
            serde_json::Value::Array(items) => {
                if shape.len() == depth {
                    shape.push(items.len());
                }
                for item in items {
                    walk(item, shape, depth + 1, out);
                }
            }
            other => out.push(other.as_f64().expect("number")),
        }
    }
    let (mut shape, mut flat) = (Vec::new(), Vec::new());
    walk(v, &mut shape, 0, &mut flat);
    ArrayD::from_shape_vec(IxDyn(&shape), flat).expect("rectangular")
}

#[test]
fn dense_on_a_sparse_batch_matches_keras() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sparse_dense.json");
    let f: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let indices = array(&f["indices"])
        .mapv(|v| v as i64)
        .into_dimensionality()
        .unwrap();
    let values: Array1<f32> = array(&f["values"])
        .mapv(|v| v as f32)
        .into_dimensionality()
        .unwrap();
    let shape: Vec<i64> = f["dense_shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let x = SparseTensor::from_coo(
        indices.view(),
        values.view(),
        &shape,
        SparseOptions::default(),
    )
    .unwrap();
    let mut model = SparseDense::with_seed(0);
    model
        .set_weight(
            "dense/kernel",
            array(&f["kernel"]).mapv(|v| v as f32).view(),
        )
        .unwrap();
    model
        .set_weight("dense/bias", array(&f["bias"]).mapv(|v| v as f32).view())
        .unwrap();
    let y = model.predict(&x).unwrap();
    let expected = array(&f["output"]);
    for (a, e) in y.iter().zip(expected.iter()) {
        assert!(
            (*a as f64 - e).abs() <= (1e-5 * e.abs()).max(1e-6),
            "{a} vs {e}"
        );
    }
    // The declared width is checked at run time too.
    let wide = SparseTensor::from_coo(
        indices.view(),
        values.view(),
        &[4, 7],
        SparseOptions::default(),
    )
    .unwrap();
    assert!(matches!(
        model.predict(&wide),
        Err(Error::InputShape { .. })
    ));
}

#[test]
fn a_sparse_and_a_dense_input_train_together() {
    let n = 256;
    // Each sample has 3 "words" out of 50; the label says whether word 7 is among them.
    let mut rows = Vec::new();
    let mut labels = Array2::<f32>::zeros((n, 1));
    for i in 0..n {
        let mut words = [(i * 7) % 50, (i * 13 + 5) % 50, (i * 31 + 11) % 50];
        if i % 3 == 0 {
            words[0] = 7;
        }
        words.sort_unstable();
        let mut prev = None;
        for w in words {
            if prev != Some(w) {
                rows.push([i as i64, w as i64]);
                prev = Some(w);
            }
        }
        labels[[i, 0]] = if words.contains(&7) { 1.0 } else { 0.0 };
    }
    let indices = Array2::from_shape_vec((rows.len(), 2), rows.concat()).unwrap();
    let values = Array1::<f32>::ones(rows.len());
    let words = SparseTensor::from_coo(
        indices.view(),
        values.view(),
        &[n as i64, 50],
        SparseOptions::default(),
    )
    .unwrap();
    let extra = Array2::<f32>::zeros((n, 2));
    let mut model = Mixed::with_seed(4).compile(Adam::new(0.05), Loss::binary_crossentropy());
    let options = FitOptions::default()
        .epochs(30)
        .batch_size(32)
        .seed(5)
        .verbose(0);
    let history = model
        .fit((&words, extra.view()), labels.view(), &options)
        .unwrap();
    let loss = history.loss();
    assert!(loss[29] < loss[0] * 0.3, "{loss:?}");
    let p = model.predict((&words, extra.view())).unwrap();
    let correct = p
        .iter()
        .zip(labels.iter())
        .filter(|(p, y)| (**p > 0.5) == (**y > 0.5))
        .count();
    assert!(correct as f32 / n as f32 > 0.95, "accuracy {correct}/{n}");
    assert!(
        model
            .evaluate((&words, extra.view()), labels.view(), 64)
            .unwrap()
            .loss
            < loss[0]
    );
}
