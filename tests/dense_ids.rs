//! Dense integer inputs (`input(shape = [T], dtype = i32)`, Keras' usual way of passing token
//! ids): every layer whose spec takes ids runs on them, embedding gives a dense tensor that
//! the sequence layers read, and `predict`, `fit` (batches gathered from the id matrix) and
//! `evaluate` work. Expected values are independent f64 formulas over the model's weights.

use std::collections::HashMap;

use stratic::ndarray::{Array2, ArrayD};
use stratic::prelude::*;
use stratic::Error;

model! {
    /// Ids embedded to a dense `(batch, 4, 3)` tensor, flattened into a dense head.
    struct Flat {
        input(shape = [4], dtype = i32) -> embedding(10, 3) -> flatten() -> dense(2)
    }

    /// A convolution over the embedded steps, pooled.
    struct Conv {
        input(shape = [8], dtype = i32)
            -> embedding(12, 4)
            -> conv1d(6, 3, activation = relu)
            -> global_average_pooling_1d()
            -> dense(1, activation = sigmoid)
    }

    /// `Flat` on `int64` ids.
    struct WideFlat {
        input(shape = [4], dtype = i64) -> embedding(10, 3) -> flatten() -> dense(2)
    }

    /// Counts of each id per sample.
    struct Counts {
        input(shape = [5], dtype = i32) -> category_encoding(6, output_mode = count) -> dense(2)
    }

    /// One id per sample, one-hot: Keras encodes `(batch, 1)` to `(batch, num_tokens)`.
    struct OneHot {
        input(shape = [1], dtype = i32) -> category_encoding(5, output_mode = one_hot) -> dense(2)
    }

    /// Two id inputs through one shared table, beside a float input.
    struct Pair {
        let a = input(shape = [3], dtype = i32, name = "a");
        let b = input(shape = [2], dtype = i32, name = "b");
        let f = input(shape = [2], name = "f");
        let table = embedding(7, 2, name = "table");
        let pa = a -> table -> global_average_pooling_1d();
        let pb = b -> table -> global_average_pooling_1d();
        concatenate([pa, pb, f]) -> dense(1, name = "head")
    }
}

fn weights<M: Model>(m: &M) -> HashMap<String, ArrayD<f32>> {
    m.weights().into_iter().collect()
}

fn assert_close(got: &Array2<f32>, want: &Array2<f64>) {
    assert_eq!(got.dim(), want.dim());
    for (g, w) in got.iter().zip(want) {
        assert!((f64::from(*g) - w).abs() <= 1e-5, "got {got}, want {want}");
    }
}

/// `x · kernel + bias` in f64, `x` one row per sample.
fn affine(x: &[Vec<f64>], kernel: &ArrayD<f32>, bias: &ArrayD<f32>) -> Array2<f64> {
    let units = bias.len();
    Array2::from_shape_fn((x.len(), units), |(i, u)| {
        let dot: f64 = x[i]
            .iter()
            .enumerate()
            .map(|(k, v)| v * f64::from(kernel[[k, u]]))
            .sum();
        dot + f64::from(bias[[u]])
    })
}

#[test]
fn embedding_then_flatten_is_the_table_rows_side_by_side() {
    let m = Flat::with_seed(1);
    let ids = array![[0, 9, 3, 3], [5, 1, 0, 8], [2, 2, 2, 2]];
    let w = weights(&m);
    let table = &w["embedding/embeddings"];
    let rows: Vec<Vec<f64>> = ids
        .rows()
        .into_iter()
        .map(|r| {
            r.iter()
                .flat_map(|&id| (0..3).map(move |d| (id as usize, d)))
                .map(|(id, d)| f64::from(table[[id, d]]))
                .collect()
        })
        .collect();
    let want = affine(&rows, &w["dense/kernel"], &w["dense/bias"]);
    assert_close(&m.predict(ids.view()).expect("predict"), &want);
    assert!(m.summary().to_string().contains("(None, 4, 3)"));
}

#[test]
fn counts_of_dense_ids_feed_a_dense_layer() {
    let m = Counts::with_seed(2);
    let ids = array![[1, 1, 5, 0, 1], [3, 3, 3, 3, 3]];
    let w = weights(&m);
    let counts: Vec<Vec<f64>> = ids
        .rows()
        .into_iter()
        .map(|r| {
            (0..6)
                .map(|t| r.iter().filter(|&&id| id == t).count() as f64)
                .collect()
        })
        .collect();
    let want = affine(&counts, &w["dense/kernel"], &w["dense/bias"]);
    assert_close(&m.predict(ids.view()).expect("predict"), &want);
    // Ids are checked against `num_tokens` like an embedding's against `input_dim`.
    let bad = array![[1, 1, 6, 0, 1]];
    assert!(matches!(
        m.predict(bad.view()),
        Err(Error::IdOutOfRange { id: 6, input_dim: 6, ref position, .. }) if position == &[0, 2]
    ));
}

#[test]
fn one_id_per_sample_encodes_one_hot_without_its_axis() {
    let m = OneHot::with_seed(3);
    assert!(m.summary().to_string().contains("(None, 5)"));
    let ids = array![[4], [0], [2]];
    let w = weights(&m);
    let hot: Vec<Vec<f64>> = ids
        .iter()
        .map(|&id| (0..5).map(|t| f64::from(u8::from(t == id))).collect())
        .collect();
    let want = affine(&hot, &w["dense/kernel"], &w["dense/bias"]);
    let got = m.predict(ids.view()).expect("predict");
    assert_eq!(got.dim(), (3, 2));
    assert_close(&got, &want);
}

#[test]
fn a_shared_table_reads_two_id_inputs_beside_floats() {
    let m = Pair::with_seed(4);
    let a = array![[0, 6, 2], [1, 1, 1]];
    let b = array![[5, 3], [0, 4]];
    let f = array![[0.5f32, -1.0], [2.0, 0.25]];
    let w = weights(&m);
    let table = &w["table/embeddings"];
    let mean = |r: stratic::ndarray::ArrayView1<'_, i32>, d: usize| {
        r.iter()
            .map(|&id| f64::from(table[[id as usize, d]]))
            .sum::<f64>()
            / r.len() as f64
    };
    let rows: Vec<Vec<f64>> = (0..2)
        .map(|i| {
            let mut row: Vec<f64> = (0..2).map(|d| mean(a.row(i), d)).collect();
            row.extend((0..2).map(|d| mean(b.row(i), d)));
            row.extend(f.row(i).iter().map(|v| f64::from(*v)));
            row
        })
        .collect();
    let want = affine(&rows, &w["head/kernel"], &w["head/bias"]);
    assert_close(
        &m.predict((a.view(), b.view(), f.view())).expect("predict"),
        &want,
    );
    // Each id input is checked against the table, named by its layer.
    let bad = array![[0, 7], [0, 0]];
    assert!(matches!(
        m.predict((a.view(), bad.view(), f.view())),
        Err(Error::IdOutOfRange { ref layer, id: 7, .. }) if layer == "table"
    ));
    // Inputs of different sample counts are refused.
    let short = array![[1, 2, 3]];
    assert!(matches!(
        m.predict((short.view(), b.view(), f.view())),
        Err(Error::InputSamples { .. })
    ));
}

#[test]
fn a_shared_table_over_two_id_inputs_trains() {
    // The target is the first id of `a` minus the first id of `b`, scaled.
    let mut rng = stratic_core::Rng::new(5);
    let n = 128;
    let a = Array2::from_shape_fn((n, 3), |_| rng.below(7) as i32);
    let b = Array2::from_shape_fn((n, 2), |_| rng.below(7) as i32);
    let f = Array2::from_shape_fn((n, 2), |_| rng.uniform(-1.0, 1.0));
    let y = Array2::from_shape_fn((n, 1), |(i, _)| {
        (a[[i, 0]] + a[[i, 1]] + a[[i, 2]] - b[[i, 0]] - b[[i, 1]]) as f32 / 6.0 + f[[i, 1]]
    });
    let mut m = Pair::with_seed(6).compile(Adam::new(0.05), Loss::mse());
    let options = FitOptions::default().epochs(40).batch_size(16).verbose(0);
    let history = m
        .fit((a.view(), b.view(), f.view()), y.view(), &options)
        .expect("fit");
    let loss = history.loss();
    assert!(loss[loss.len() - 1] < 0.2 * loss[0], "{loss:?}");
    let eval = m
        .evaluate((a.view(), b.view(), f.view()), y.view(), 32)
        .expect("evaluate");
    assert!(eval.loss < 0.3 * loss[0], "{eval:?}");
}

#[test]
fn a_convolution_over_embedded_ids_trains() {
    // The label: whether id 1 is followed by id 2 somewhere in the row.
    let mut rng = stratic_core::Rng::new(7);
    let n = 256;
    let mut x = Array2::from_shape_fn((n, 8), |_| 3 + rng.below(9) as i32);
    let mut y = Array2::zeros((n, 1));
    for i in 0..n {
        if rng.below(2) == 1 {
            let at = rng.below(7);
            x[[i, at]] = 1;
            x[[i, at + 1]] = 2;
            y[[i, 0]] = 1.0;
        }
    }
    let mut m = Conv::with_seed(8).compile(Adam::new(0.02), Loss::binary_crossentropy());
    let options = FitOptions::default().epochs(20).batch_size(32).verbose(0);
    let history = m.fit(x.view(), y.view(), &options).expect("fit");
    let loss = history.loss();
    assert!(loss[loss.len() - 1] < 0.3 * loss[0], "{loss:?}");
    let p = m.model().predict(x.view()).expect("predict");
    let correct = p
        .iter()
        .zip(&y)
        .filter(|(p, y)| (**p > 0.5) == (**y > 0.5))
        .count();
    assert!(correct as f64 / n as f64 > 0.95, "accuracy {correct}/{n}");
}

#[test]
fn int64_ids_run_as_int32_ids_do() {
    let ids = array![[0, 9, 3, 3], [5, 1, 0, 8], [2, 2, 2, 2]];
    let wide = ids.mapv(i64::from);
    let (m, w) = (Flat::with_seed(1), WideFlat::with_seed(1));
    assert_eq!(m.weights(), w.weights());
    assert_eq!(
        m.predict(ids.view()).expect("i32"),
        w.predict(wide.view()).expect("i64")
    );
    // An id beyond `i32` is out of range, reported as given, not cut to 32 bits.
    let mut bad = wide.clone();
    bad[[1, 3]] = (1i64 << 32) + 2;
    assert!(matches!(
        w.predict(bad.view()),
        Err(Error::IdOutOfRange { id, ref position, .. }) if id == (1i64 << 32) + 2 && position == &[1, 3]
    ));
    // Training on `i64` ids moves the table as on `i32` ids.
    let y = array![[1.0f32, 0.0], [0.0, 1.0], [0.5, 0.5]];
    let mut a = Flat::with_seed(1).compile(SGD::new(0.1), Loss::mse());
    let mut b = WideFlat::with_seed(1).compile(SGD::new(0.1), Loss::mse());
    a.train_on_batch(ids.view(), y.view()).expect("i32 step");
    b.train_on_batch(wide.view(), y.view()).expect("i64 step");
    assert_ne!(a.model().weights(), Flat::with_seed(1).weights());
    assert_eq!(a.model().weights(), b.model().weights());
}
