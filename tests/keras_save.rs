//! `save_keras_weights`: every fixture model of tests/fixtures/keras-files-layers/, loaded from
//! its `.keras` file and perturbed, is saved in Keras' weights format and read back bit-exactly
//! by `load_keras_weights` into a fresh model. With `STRATIC_KERAS_OUT=dir`, the files and our
//! predictions are also written there for tests/keras_check.py, which loads them into Keras.
#![cfg(feature = "keras")]

use std::path::{Path, PathBuf};

use stratic::ndarray::{ArrayD, ArrayViewD, IxDyn};
use stratic::prelude::*;

model! {
    /// cnn.json's model.
    struct Cnn {
        input(shape = [12, 12, 1])
            -> conv2d(4, 3, activation = relu)
            -> batch_normalization()
            -> max_pooling_2d(2)
            -> conv2d(6, 3, padding = same, activation = relu)
            -> max_pooling_2d(2)
            -> flatten()
            -> dropout(0.5)
            -> dense(3, activation = softmax)
    }

    /// two_heads.json's model.
    struct TwoHeads {
        let image = input(shape = [8, 8, 2], name = "image");
        let meta = input(shape = [3], name = "meta");
        let f = image
            -> conv2d(5, 3, strides = 2, padding = same, activation = relu, name = "stem")
            -> global_average_pooling_2d(name = "gap");
        let h = concatenate([f, meta -> dense(4, activation = relu, name = "meta_dense")], name = "join");
        (h -> dense(3, activation = softmax, name = "cls"), h -> dense(1, name = "reg"))
    }

    /// Layers of every family the fixtures do not cover, for Keras to rebuild.
    struct Mixed {
        input(shape = [10, 3])
            -> conv1d(4, 3, padding = causal, kernel_regularizer = l2(0.01))
            -> zero_padding_1d([1, 2])
            -> gaussian_noise(0.1)
            -> lstm(5, return_sequences = true)
            -> gru(4)
            -> layer_normalization()
            -> dense(2, activation = tanh, bias_regularizer = l1_l2(l1 = 0.01, l2 = 0.02))
    }

    /// Both directions of a recurrent layer, merged two ways.
    struct Bidi {
        input(shape = [7, 3])
            -> bidirectional(lstm(4, return_sequences = true), merge_mode = sum)
            -> bidirectional(gru(3))
            -> dense(2)
    }

    /// lstm_text.json's model: dense int ids.
    struct LstmText {
        input(shape = [7], dtype = i32) -> embedding(20, 5) -> lstm(4) -> dense(1, activation = sigmoid)
    }

    /// Keras' v1 GRU, whose bias is `(3 units,)`.
    struct GruV1 {
        input(shape = [5, 2])
            -> gru(3, reset_after = false, return_sequences = true)
            -> gru(2, reset_after = false)
    }

    /// bag.json's model.
    struct Bag {
        input(shape = [None], ragged = true, dtype = i32, name = "tokens")
            -> embedding(12, 4)
            -> global_average_pooling_1d(name = "pool")
            -> dense(2, activation = tanh, name = "head")
    }
}

fn file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keras-files-layers")
        .join(name)
}

fn json(name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(file(name)).expect("fixture")).expect("json")
}

fn nested(v: &serde_json::Value) -> ArrayD<f32> {
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
    ArrayD::from_shape_vec(IxDyn(&shape), out).expect("rectangular")
}

/// Every weight moved off the fixture's values (each differently), so that a writer that
/// drops, reorders or transposes one is caught.
fn perturb<M: Model>(model: &mut M) {
    for (i, (key, w)) in model.weights().into_iter().enumerate() {
        let moved = w.mapv(|v| v * 1.25 + 0.01 * (i as f32 + 1.0));
        // Variances stay positive.
        let moved = if key.ends_with("moving_variance") {
            moved.mapv(f32::abs)
        } else {
            moved
        };
        model.set_weight(&key, moved.view()).expect("same shape");
    }
}

/// Saves `model`'s weights, loads them into `fresh`, and checks every weight bit for bit.
fn round_trip<M: Model>(name: &str, model: &M, fresh: &mut M) -> PathBuf {
    let dir = std::env::var_os("STRATIC_KERAS_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&dir).expect("output dir");
    let path = dir.join(format!("{name}.stratic.weights.h5"));
    model.save_keras_weights(&path).expect("save_keras_weights");
    assert_ne!(
        fresh.weights(),
        model.weights(),
        "{name}: the fresh model differs"
    );
    fresh.load_keras_weights(&path).expect("load_keras_weights");
    let (want, got) = (model.weights(), fresh.weights());
    assert_eq!(want.len(), got.len());
    for ((k, w), (k2, g)) in want.iter().zip(&got) {
        assert_eq!(k, k2);
        let (w, g): (Vec<u32>, Vec<u32>) = (
            w.iter().map(|v| v.to_bits()).collect(),
            g.iter().map(|v| v.to_bits()).collect(),
        );
        assert_eq!(w, g, "{name}: {k} is not read back bit-exactly");
    }
    path
}

/// Saves `model` as a `.keras` archive and loads it into `fresh` with `load_keras`, which
/// compares the architecture key by key first: every weight must come back bit for bit.
fn keras_round_trip<M: Model>(name: &str, model: &M, fresh: &mut M) {
    let dir = std::env::var_os("STRATIC_KERAS_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let path = dir.join(format!("{name}.stratic.keras"));
    model.save_keras(&path).expect("save_keras");
    fresh
        .load_keras(&path)
        .expect("load_keras of our own archive");
    let bits = |m: &M| -> Vec<(String, Vec<u32>)> {
        m.weights()
            .into_iter()
            .map(|(k, w)| (k, w.iter().map(|v| v.to_bits()).collect()))
            .collect()
    };
    assert_eq!(
        bits(model),
        bits(fresh),
        "{name}: weights differ after save_keras"
    );
}

/// Our predictions beside the saved file, for tests/keras_check.py.
fn record(name: &str, outputs: &[ArrayViewD<'_, f32>]) {
    let Some(dir) = std::env::var_os("STRATIC_KERAS_OUT") else {
        return;
    };
    let outputs: Vec<serde_json::Value> = outputs
        .iter()
        .map(|o| {
            serde_json::json!({
                "shape": o.shape(),
                "values": o.iter().copied().collect::<Vec<f32>>(),
            })
        })
        .collect();
    let text = serde_json::to_string(&outputs).expect("json");
    std::fs::write(
        PathBuf::from(dir).join(format!("{name}.stratic.json")),
        text,
    )
    .expect("write");
}

#[test]
fn cnn_weights_round_trip_with_moving_statistics() {
    let mut model = Cnn::with_seed(0);
    model.load_keras(file("cnn.keras")).expect("load_keras");
    perturb(&mut model);
    round_trip("cnn", &model, &mut Cnn::with_seed(5));
    keras_round_trip("cnn", &model, &mut Cnn::with_seed(6));
    let x = nested(&json("cnn.json")["inputs"][0]);
    let x = x
        .into_dimensionality::<stratic::ndarray::Ix4>()
        .expect("rank 4");
    let y = model.predict(x.view()).expect("predict");
    record("cnn", &[y.view().into_dyn()]);
}

#[test]
fn two_heads_weights_round_trip() {
    let mut model = TwoHeads::with_seed(0);
    model
        .load_keras(file("two_heads.keras"))
        .expect("load_keras");
    perturb(&mut model);
    round_trip("two_heads", &model, &mut TwoHeads::with_seed(5));
    keras_round_trip("two_heads", &model, &mut TwoHeads::with_seed(6));
    let j = json("two_heads.json");
    let image = nested(&j["inputs"][0])
        .into_dimensionality()
        .expect("rank 4");
    let meta = nested(&j["inputs"][1])
        .into_dimensionality()
        .expect("rank 2");
    let (cls, reg) = model.predict((image.view(), meta.view())).expect("predict");
    record("two_heads", &[cls.view().into_dyn(), reg.view().into_dyn()]);
}

#[test]
fn lstm_text_on_dense_ids_round_trips() {
    let mut model = LstmText::with_seed(0);
    model
        .load_keras(file("lstm_text.keras"))
        .expect("load_keras");
    perturb(&mut model);
    round_trip("lstm_text", &model, &mut LstmText::with_seed(5));
    // The archive's InputLayer keeps the ids' dtype, which `load_keras` compares.
    keras_round_trip("lstm_text", &model, &mut LstmText::with_seed(6));
    let rows: Vec<Vec<i32>> =
        serde_json::from_value(json("lstm_text.json")["inputs"][0].clone()).unwrap();
    let x = stratic::ndarray::Array2::from_shape_vec((rows.len(), 7), rows.concat()).unwrap();
    let y = model.predict(x.view()).expect("predict");
    record("lstm_text", &[y.view().into_dyn()]);
}

#[test]
fn bag_weights_round_trip() {
    let mut model = Bag::with_seed(0);
    model.load_keras(file("bag.keras")).expect("load_keras");
    perturb(&mut model);
    round_trip("bag", &model, &mut Bag::with_seed(5));
    // Keras 3 models hold no ragged tensors: refused, and no file is written.
    let path = std::env::temp_dir().join("bag.refused.keras");
    let _ = std::fs::remove_file(&path);
    let e = model.save_keras(&path).unwrap_err();
    assert!(e.to_string().contains("ragged"), "{e}");
    assert!(!path.exists());
    let rows: Vec<Vec<i32>> = serde_json::from_value(json("bag.json")["rows"].clone()).unwrap();
    let y = model
        .predict(&RaggedTensor::from_rows(&rows).unwrap())
        .expect("predict");
    record("bag", &[y.view().into_dyn()]);
}

#[test]
fn the_file_is_laid_out_as_keras_writes_it() {
    let mut model = Cnn::with_seed(0);
    model.load_keras(file("cnn.keras")).expect("load_keras");
    let bytes = stratic::weights::keras_weights_bytes(&model).expect("bytes");
    let file = stratic::weights::Hdf5File::parse(&bytes).expect("our reader");
    let mut paths: Vec<String> = file
        .datasets()
        .expect("datasets")
        .into_iter()
        .map(|d| d.path)
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "layers/batch_normalization/vars/0",
            "layers/batch_normalization/vars/1",
            "layers/batch_normalization/vars/2",
            "layers/batch_normalization/vars/3",
            "layers/conv2d/vars/0",
            "layers/conv2d/vars/1",
            "layers/conv2d_1/vars/0",
            "layers/conv2d_1/vars/1",
            "layers/dense/vars/0",
            "layers/dense/vars/1",
        ]
    );
}

#[test]
fn a_model_of_many_families_round_trips_through_keras_files() {
    let mut model = Mixed::with_seed(3);
    perturb(&mut model);
    round_trip("mixed", &model, &mut Mixed::with_seed(5));
    keras_round_trip("mixed", &model, &mut Mixed::with_seed(6));
    let x = stratic::ndarray::Array3::from_shape_fn((4, 10, 3), |(b, t, c)| {
        ((b * 31 + t * 7 + c * 3) % 17) as f32 / 8.0 - 1.0
    });
    let y = model.predict(x.view()).expect("predict");
    record("mixed", &[y.view().into_dyn(), x.view().into_dyn()]);
}

#[test]
fn bidirectional_layers_round_trip_through_keras_files() {
    let mut model = Bidi::with_seed(3);
    perturb(&mut model);
    round_trip("bidi", &model, &mut Bidi::with_seed(5));
    keras_round_trip("bidi", &model, &mut Bidi::with_seed(6));
    // Keras' layout: each direction's cell under the wrapper, variables numbered per group.
    let bytes = stratic::weights::keras_weights_bytes(&model).expect("bytes");
    let file = stratic::weights::Hdf5File::parse(&bytes).expect("our reader");
    let mut paths: Vec<String> = file
        .datasets()
        .expect("datasets")
        .into_iter()
        .map(|d| d.path)
        .filter(|p| p.starts_with("layers/bidirectional/"))
        .collect();
    paths.sort();
    let want: Vec<String> = ["backward_layer", "forward_layer"]
        .iter()
        .flat_map(|d| (0..3).map(move |i| format!("layers/bidirectional/{d}/cell/vars/{i}")))
        .collect();
    assert_eq!(paths, want);
    let x = stratic::ndarray::Array3::from_shape_fn((4, 7, 3), |(b, t, c)| {
        ((b * 31 + t * 7 + c * 3) % 17) as f32 / 8.0 - 1.0
    });
    let y = model.predict(x.view()).expect("predict");
    record("bidi", &[y.view().into_dyn(), x.view().into_dyn()]);
}

#[test]
fn a_gru_without_reset_after_round_trips_through_keras_files() {
    let mut model = GruV1::with_seed(3);
    perturb(&mut model);
    round_trip("gru_v1", &model, &mut GruV1::with_seed(5));
    keras_round_trip("gru_v1", &model, &mut GruV1::with_seed(6));
}

model! {
    /// An adapted normalization: Keras saves its `mean`, `variance` and `count`.
    struct Normed {
        input(shape = [3]) -> normalization() -> dense(2)
    }
}

#[test]
fn an_adapted_normalization_is_saved_with_keras_count() {
    let mut model = Normed::with_seed(1);
    let data = stratic::ndarray::Array2::from_shape_fn((6, 3), |(r, c)| (r * 3 + c * c) as f32);
    model
        .adapt_normalization("normalization", data.view().into_dyn())
        .expect("adapt");
    let bytes = stratic::weights::keras_weights_bytes(&model).expect("bytes");
    let file = stratic::weights::Hdf5File::parse(&bytes).expect("our reader");
    let mut datasets: Vec<_> = file
        .datasets()
        .expect("datasets")
        .into_iter()
        .map(|d| {
            (
                d.path.clone(),
                d.shape.clone(),
                d.dtype.clone(),
                d.data.to_vec(),
            )
        })
        .collect();
    datasets.sort();
    let paths: Vec<&str> = datasets.iter().map(|d| d.0.as_str()).collect();
    // Keras 3's layout: `mean`, `variance`, then the scalar int64 `count` (Keras' loader
    // refuses a Normalization with two variables of its three).
    assert_eq!(
        paths,
        [
            "layers/dense/vars/0",
            "layers/dense/vars/1",
            "layers/normalization/vars/0",
            "layers/normalization/vars/1",
            "layers/normalization/vars/2",
        ]
    );
    let count = &datasets[4];
    assert_eq!(
        (count.1.as_slice(), count.2.as_str(), count.3.as_slice()),
        (&[][..], "int64", &0i64.to_le_bytes()[..])
    );
    // Read back past the count, into a fresh model, through both file kinds.
    round_trip("normed", &model, &mut Normed::with_seed(5));
    keras_round_trip("normed", &model, &mut Normed::with_seed(6));
}
