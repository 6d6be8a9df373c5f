//! Keras files with layers beyond Dense (tests/fixtures/keras-files-layers/, saved by Keras
//! 3.15), loaded into their declared models through `load_keras` (architecture compared key by
//! key from the layer specs, then the weights) and `load_keras_weights`, against Keras' outputs.

use std::path::{Path, PathBuf};

use stratic::ndarray::{Array, Array4, ArrayD};
use stratic::prelude::*;
use stratic::Error;

model! {
    /// bag.json's model (its `dsl`): ids of any length, embedded and averaged.
    struct Bag {
        input(shape = [None], ragged = true, dtype = i32, name = "tokens")
            -> embedding(12, 4)
            -> global_average_pooling_1d(name = "pool")
            -> dense(2, activation = tanh, name = "head")
    }

    /// The same with a wider embedding: the architecture check must say so.
    struct WideBag {
        input(shape = [None], ragged = true, dtype = i32, name = "tokens")
            -> embedding(12, 5)
            -> global_average_pooling_1d(name = "pool")
            -> dense(2, activation = tanh, name = "head")
    }

    /// two_heads.json's model: an image and a vector in, a class and a value out.
    struct TwoHeads {
        let image = input(shape = [8, 8, 2], name = "image");
        let meta = input(shape = [3], name = "meta");
        let f = image
            -> conv2d(5, 3, strides = 2, padding = same, activation = relu, name = "stem")
            -> global_average_pooling_2d(name = "gap");
        let h = concatenate([f, meta -> dense(4, activation = relu, name = "meta_dense")], name = "join");
        (h -> dense(3, activation = softmax, name = "cls"), h -> dense(1, name = "reg"))
    }

    /// seq.json's model (its `dsl`), with the names Keras gave its layers.
    struct Seq {
        input(shape = [9, 3])
            -> conv1d(4, 2, padding = causal)
            -> bidirectional(gru(3, return_sequences = true))
            -> gru(5, name = "gru_1")
            -> layer_normalization()
            -> dense(2, name = "dense_2")
    }

    /// td_mask.json's model: `embedding(mask_zero = true)`, a time-distributed dense layer the
    /// mask passes, an LSTM reading it.
    struct TdMask {
        input(shape = [7], dtype = i32)
            -> embedding(12, 4, mask_zero = true)
            -> time_distributed(dense(5, activation = tanh))
            -> lstm(3)
            -> dense(1, name = "dense_1")
    }

    /// The same with another activation inside the wrapper: the same weights, another model.
    struct SeqRelu {
        input(shape = [9, 3])
            -> conv1d(4, 2, padding = causal)
            -> bidirectional(gru(3, return_sequences = true, activation = relu))
            -> gru(5, name = "gru_1")
            -> layer_normalization()
            -> dense(2, name = "dense_2")
    }
}

fn file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keras-files-layers")
        .join(name)
}

fn json(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(file(name)).expect("fixture");
    serde_json::from_str(&text).expect("json")
}

fn bag_case() -> (RaggedTensor<i32>, Array2<f32>) {
    let j = json("bag.json");
    let rows: Vec<Vec<i32>> = serde_json::from_value(j["rows"].clone()).expect("rows");
    let outputs: Vec<Vec<f32>> = serde_json::from_value(j["outputs"].clone()).expect("outputs");
    let x = RaggedTensor::from_rows(&rows).expect("ragged rows");
    let cols = outputs[0].len();
    let flat: Vec<f32> = outputs.into_iter().flatten().collect();
    let y = Array2::from_shape_vec((flat.len() / cols, cols), flat).expect("outputs");
    (x, y)
}

fn assert_close(got: &Array2<f32>, want: &Array2<f32>, tol: f32) {
    assert_eq!(got.dim(), want.dim());
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol, "got {got}, want {want}");
    }
}

#[test]
fn bag_keras_loads_and_reproduces_keras_outputs() {
    let (x, want) = bag_case();
    let mut model = Bag::with_seed(0);
    model.load_keras(file("bag.keras")).expect("load_keras");
    assert_close(&model.predict(&x).expect("predict"), &want, 1e-6);
}

#[test]
fn bag_weights_load_and_match_the_fixture_weights() {
    let (x, want) = bag_case();
    let mut model = Bag::with_seed(0);
    model
        .load_keras_weights(file("bag.weights.h5"))
        .expect("load_keras_weights");
    assert_close(&model.predict(&x).expect("predict"), &want, 1e-6);
    let j = json("bag.json");
    let table: Vec<Vec<f32>> =
        serde_json::from_value(j["weights"]["bag/embedding/embeddings"].clone()).expect("table");
    let weights = model.weights();
    let (key, loaded) = &weights[0];
    assert_eq!(key, "embedding/embeddings");
    for (row, want_row) in loaded.outer_iter().zip(&table) {
        for (g, w) in row.iter().zip(want_row) {
            assert_eq!(g, w);
        }
    }
}

#[test]
fn a_different_output_dim_is_an_architecture_difference_and_loses_nothing() {
    let mut model = WideBag::with_seed(3);
    let before = model.weights();
    let err = model.load_keras(file("bag.keras")).unwrap_err();
    let Error::Architecture { differences } = &err else {
        panic!("expected an architecture error, got {err}");
    };
    assert!(
        differences
            .iter()
            .any(|d| d.field == "output_dim" && d.saved == "4" && d.declared == "5"),
        "{err}"
    );
    assert_eq!(model.weights(), before);
}

/// A nested JSON list as a flat vector and its shape.
fn flat(value: &serde_json::Value) -> (Vec<f32>, Vec<usize>) {
    let mut shape = Vec::new();
    let mut level = value;
    while let Some(items) = level.as_array() {
        shape.push(items.len());
        match items.first() {
            Some(first) => level = first,
            None => break,
        }
    }
    fn walk(v: &serde_json::Value, out: &mut Vec<f32>) {
        match v {
            serde_json::Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            other => out.push(other.as_f64().expect("a number") as f32),
        }
    }
    let mut out = Vec::new();
    walk(value, &mut out);
    (out, shape)
}

fn array<D: ndarray::Dimension>(value: &serde_json::Value) -> Array<f32, D> {
    let (data, shape) = flat(value);
    ArrayD::from_shape_vec(shape, data)
        .expect("a rectangular array")
        .into_dimensionality()
        .expect("the rank")
}

fn two_heads_check(model: &TwoHeads) {
    let j = json("two_heads.json");
    let image: Array4<f32> = array(&j["inputs"][0]);
    let meta: Array2<f32> = array(&j["inputs"][1]);
    let (cls, reg) = model.predict((image.view(), meta.view())).expect("predict");
    assert_close(&cls, &array(&j["outputs"][0]), 1e-5);
    assert_close(&reg, &array(&j["outputs"][1]), 1e-5);
}

#[test]
fn two_heads_keras_loads_and_reproduces_keras_outputs() {
    let mut model = TwoHeads::with_seed(0);
    model
        .load_keras(file("two_heads.keras"))
        .expect("load_keras");
    two_heads_check(&model);
}

#[test]
fn two_heads_weights_load_by_keras_path() {
    let mut model = TwoHeads::with_seed(0);
    model
        .load_keras_weights(file("two_heads.weights.h5"))
        .expect("load_keras_weights");
    two_heads_check(&model);
    let keys: Vec<String> = model.weights().into_iter().map(|(k, _)| k).collect();
    let j = json("two_heads.json");
    let want: Vec<String> =
        serde_json::from_value(j["keras_variable_paths"].clone()).expect("paths");
    assert_eq!(keys, want);
}

fn seq_check(model: &Seq) -> f32 {
    use stratic::ndarray::Array3;
    let j = json("seq.json");
    let x: Array3<f32> = array(&j["inputs"][0]);
    let want: Array2<f32> = array(&j["outputs"][0]);
    let got = model.predict(x.view()).expect("predict");
    assert_eq!(got.dim(), want.dim());
    let err = got
        .iter()
        .zip(&want)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0f32, f32::max);
    assert!(err <= 1e-5, "max error {err}: got {got}, want {want}");
    err
}

#[test]
fn seq_keras_with_a_bidirectional_gru_loads_and_reproduces_keras_outputs() {
    let mut model = Seq::with_seed(0);
    model.load_keras(file("seq.keras")).expect("load_keras");
    let err = seq_check(&model);
    eprintln!("seq.keras max abs error {err:e}");
}

#[test]
fn seq_weights_load_by_keras_path() {
    let mut model = Seq::with_seed(0);
    model
        .load_keras_weights(file("seq.weights.h5"))
        .expect("load_keras_weights");
    let err = seq_check(&model);
    eprintln!("seq.weights.h5 max abs error {err:e}");
    let keys: Vec<String> = model.weights().into_iter().map(|(k, _)| k).collect();
    let j = json("seq.json");
    let want: Vec<String> =
        serde_json::from_value(j["keras_variable_paths"].clone()).expect("paths");
    let want: Vec<String> = want
        .iter()
        .map(|p| p.trim_start_matches("seq/").to_string())
        .collect();
    assert_eq!(keys, want);
}

#[test]
fn the_layer_inside_a_bidirectional_is_compared_with_the_saved_one() {
    let mut model = SeqRelu::with_seed(0);
    let before = model.weights();
    let err = model.load_keras(file("seq.keras")).unwrap_err();
    let Error::Architecture { differences } = &err else {
        panic!("expected an architecture error, got {err}");
    };
    assert!(
        differences
            .iter()
            .any(|d| d.field == "layer" && d.declared.contains("activation=relu")),
        "{err}"
    );
    assert_eq!(model.weights(), before);
}

fn td_mask_check(model: &TdMask) -> f32 {
    let j = json("td_mask.json");
    let rows: Vec<Vec<i32>> = serde_json::from_value(j["inputs"][0].clone()).expect("ids");
    let x = Array2::from_shape_fn((rows.len(), rows[0].len()), |(r, c)| rows[r][c]);
    let want: Array2<f32> = array(&j["outputs"][0]);
    let got = model.predict(x.view()).expect("predict");
    assert_eq!(got.dim(), want.dim());
    let err = got
        .iter()
        .zip(&want)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0f32, f32::max);
    assert!(err <= 1e-5, "max error {err}: got {got}, want {want}");
    err
}

#[test]
fn td_mask_keras_with_mask_zero_and_time_distributed_reproduces_keras_outputs() {
    let mut model = TdMask::with_seed(0);
    model.load_keras(file("td_mask.keras")).expect("load_keras");
    let err = td_mask_check(&model);
    eprintln!("td_mask.keras max abs error {err:e}");
    let mut model = TdMask::with_seed(1);
    model
        .load_keras_weights(file("td_mask.weights.h5"))
        .expect("load_keras_weights");
    td_mask_check(&model);
    // The variable paths Keras 3 gave: the wrapped dense under the wrapper's name.
    let keys: Vec<String> = model.weights().into_iter().map(|(k, _)| k).collect();
    let want: Vec<String> =
        serde_json::from_value(json("td_mask.json")["keras_variable_paths"].clone())
            .expect("paths");
    let want: Vec<String> = want
        .iter()
        .map(|p| p.trim_start_matches("td_mask/").to_string())
        .collect();
    assert_eq!(keys, want);
}
