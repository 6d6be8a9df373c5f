//! The declarations `stratic-keras declare` generates for the Keras fixtures, pasted as they
//! come (keras/tests/declare.rs checks that the tool still prints exactly these), compiled and
//! loaded here: each loads its `.keras` file and reproduces Keras' outputs.

use std::path::Path;

use stratic::ndarray::{Array, ArrayD, Dimension};
use stratic::prelude::*;

model! {
    pub struct DeclaredMlp {
        input(shape = [4], name = "input_layer")
            -> dense(5, activation = relu, name = "dense")
            -> dense(3, activation = tanh, name = "dense_1")
            -> dense(2, name = "dense_2")
    }
}

model! {
    pub struct DeclaredTwoTower {
        let query = input(shape = [6], name = "query");
        let doc = input(shape = [4], name = "doc");
        let q_tower = query -> dense(5, activation = relu, name = "q_tower");
        let d_tower = doc -> dense(5, activation = relu, name = "d_tower");
        let concatenate = concatenate([q_tower, d_tower], name = "concatenate");
        let score = concatenate -> dense(1, activation = sigmoid, name = "score");
        (score, q_tower)
    }
}

model! {
    pub struct DeclaredBag {
        input(shape = [None], ragged = true, dtype = i32, name = "tokens")
            -> embedding(12, 4, name = "embedding")
            -> global_average_pooling_1d(name = "pool")
            -> dense(2, activation = tanh, name = "head")
    }
}

model! {
    pub struct DeclaredTwoHeads {
        let image = input(shape = [8, 8, 2], name = "image");
        let stem = image -> conv2d(5, 3, strides = 2, padding = same, activation = relu, name = "stem");
        let meta = input(shape = [3], name = "meta");
        let gap = stem -> global_average_pooling_2d(name = "gap");
        let meta_dense = meta -> dense(4, activation = relu, name = "meta_dense");
        let join = concatenate([gap, meta_dense], name = "join");
        let cls = join -> dense(3, activation = softmax, name = "cls");
        let reg = join -> dense(1, name = "reg");
        (cls, reg)
    }
}

model! {
    pub struct DeclaredCnn {
        input(shape = [12, 12, 1], name = "input_layer")
            -> conv2d(4, 3, activation = relu, name = "conv2d")
            -> batch_normalization(name = "batch_normalization")
            -> max_pooling_2d(strides = 2, name = "max_pooling2d")
            -> conv2d(6, 3, padding = same, activation = relu, name = "conv2d_1")
            -> max_pooling_2d(strides = 2, name = "max_pooling2d_1")
            -> flatten(name = "flatten")
            -> dropout(0.5, name = "dropout")
            -> dense(3, activation = softmax, name = "dense")
    }
}

model! {
    pub struct DeclaredSeq {
        input(shape = [9, 3], name = "input_layer_2")
            -> conv1d(4, [2], padding = causal, name = "conv1d")
            -> bidirectional(gru(3, return_sequences = true), name = "bidirectional")
            -> gru(5, name = "gru_1")
            -> layer_normalization(name = "layer_normalization")
            -> dense(2, name = "dense_2")
    }
}

model! {
    pub struct DeclaredLstmText {
        input(shape = [7], dtype = i32, name = "input_layer_1")
            -> embedding(20, 5, name = "embedding")
            -> lstm(4, name = "lstm")
            -> dense(1, activation = sigmoid, name = "dense_1")
    }
}

fn fixture(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

fn json(path: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(path)).expect("fixture")).expect("json")
}

fn matrix(v: &serde_json::Value) -> Array2<f32> {
    let rows: Vec<Vec<f32>> = serde_json::from_value(v.clone()).expect("rows");
    let cols = rows[0].len();
    let flat: Vec<f32> = rows.into_iter().flatten().collect();
    Array2::from_shape_vec((flat.len() / cols, cols), flat).expect("matrix")
}

fn assert_close(got: &Array2<f32>, want: &Array2<f32>) {
    assert_eq!(got.dim(), want.dim());
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 1e-5, "got {got}, Keras {want}");
    }
}

#[test]
fn declared_mlp_loads_its_file() {
    let j = json("keras-files/mlp.json");
    let mut m = DeclaredMlp::with_seed(0);
    m.load_keras(fixture("keras-files/mlp.keras"))
        .expect("load_keras");
    assert_close(
        &m.predict(matrix(&j["x"]).view()).unwrap(),
        &matrix(&j["output"]),
    );
}

#[test]
fn declared_two_tower_loads_its_file() {
    let j = json("keras-files/two_tower.json");
    let mut m = DeclaredTwoTower::with_seed(0);
    m.load_keras(fixture("keras-files/two_tower.keras"))
        .expect("load_keras");
    let (q, d) = (matrix(&j["x_query"]), matrix(&j["x_doc"]));
    let (score, tower) = m.predict((q.view(), d.view())).unwrap();
    assert_close(&score, &matrix(&j["output_score"]));
    assert_close(&tower, &matrix(&j["output_q"]));
}

#[test]
fn declared_bag_loads_its_file() {
    let j = json("keras-files-layers/bag.json");
    let rows: Vec<Vec<i32>> = serde_json::from_value(j["rows"].clone()).unwrap();
    let mut m = DeclaredBag::with_seed(0);
    m.load_keras(fixture("keras-files-layers/bag.keras"))
        .expect("load_keras");
    let x = RaggedTensor::from_rows(&rows).unwrap();
    assert_close(&m.predict(&x).unwrap(), &matrix(&j["outputs"]));
}

/// A nested JSON list (any rank) as an array.
fn nested<D: Dimension>(v: &serde_json::Value) -> Array<f32, D> {
    fn walk(v: &serde_json::Value, depth: usize, shape: &mut Vec<usize>, out: &mut Vec<f32>) {
        match v {
            serde_json::Value::Array(items) => {
                if shape.len() == depth {
                    shape.push(items.len());
                }
                items.iter().for_each(|i| walk(i, depth + 1, shape, out));
            }
            other => out.push(other.as_f64().expect("a number") as f32),
        }
    }
    let (mut shape, mut out) = (Vec::new(), Vec::new());
    walk(v, 0, &mut shape, &mut out);
    ArrayD::from_shape_vec(shape, out)
        .expect("rectangular")
        .into_dimensionality()
        .expect("rank")
}

#[test]
fn declared_two_heads_loads_its_file() {
    let j = json("keras-files-layers/two_heads.json");
    let mut m = DeclaredTwoHeads::with_seed(0);
    m.load_keras(fixture("keras-files-layers/two_heads.keras"))
        .expect("load_keras");
    let image: Array<f32, stratic::ndarray::Ix4> = nested(&j["inputs"][0]);
    let meta: Array2<f32> = nested(&j["inputs"][1]);
    let (cls, reg) = m.predict((image.view(), meta.view())).unwrap();
    assert_close(&cls, &matrix(&j["outputs"][0]));
    assert_close(&reg, &matrix(&j["outputs"][1]));
}

#[test]
fn declared_cnn_loads_its_file() {
    let j = json("keras-files-layers/cnn.json");
    let mut m = DeclaredCnn::with_seed(0);
    m.load_keras(fixture("keras-files-layers/cnn.keras"))
        .expect("load_keras");
    let x: Array<f32, stratic::ndarray::Ix4> = nested(&j["inputs"][0]);
    assert_close(&m.predict(x.view()).unwrap(), &matrix(&j["outputs"][0]));
}

#[test]
fn declared_seq_with_a_bidirectional_gru_loads_its_file() {
    let j = json("keras-files-layers/seq.json");
    let mut m = DeclaredSeq::with_seed(0);
    m.load_keras(fixture("keras-files-layers/seq.keras"))
        .expect("load_keras");
    let x: Array<f32, stratic::ndarray::Ix3> = nested(&j["inputs"][0]);
    assert_close(&m.predict(x.view()).unwrap(), &matrix(&j["outputs"][0]));
}

#[test]
fn declared_lstm_text_on_dense_ids_loads_its_file() {
    let j = json("keras-files-layers/lstm_text.json");
    let rows: Vec<Vec<i32>> = serde_json::from_value(j["inputs"][0].clone()).unwrap();
    let x = Array2::from_shape_vec((rows.len(), 7), rows.concat()).unwrap();
    let mut m = DeclaredLstmText::with_seed(0);
    m.load_keras(fixture("keras-files-layers/lstm_text.keras"))
        .expect("load_keras");
    assert_close(&m.predict(x.view()).unwrap(), &matrix(&j["outputs"][0]));
}
