//! Models declared with `model!` reproduce Keras 3's numbers: the seed program and three epochs of
//! training with each optimizer (fixtures in tests/fixtures/, made by Keras 3.15 on TF 2.21).

use std::path::Path;

use serde_json::Value;
use stratic::ndarray::{ArrayD, IxDyn};
use stratic::prelude::*;

model! {
    /// The training fixtures' model.
    struct Mlp {
        input(shape = [4]) -> dense(5, activation = tanh) -> dense(2)
    }

    /// The seed program.
    struct Seed {
        input(shape = [4]) -> dense(8)
    }
}

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// A JSON array of any depth as an f32 array.
fn array(v: &Value) -> ArrayD<f32> {
    fn walk(v: &Value, shape: &mut Vec<usize>, depth: usize, out: &mut Vec<f32>) {
        match v {
            Value::Array(items) => {
                if shape.len() == depth {
                    shape.push(items.len());
                }
                for item in items {
                    walk(item, shape, depth + 1, out);
                }
            }
            other => out.push(other.as_f64().expect("number") as f32),
        }
    }
    let (mut shape, mut flat) = (Vec::new(), Vec::new());
    walk(v, &mut shape, 0, &mut flat);
    ArrayD::from_shape_vec(IxDyn(&shape), flat).expect("rectangular")
}

fn close(actual: f32, expected: f32) -> bool {
    (actual - expected).abs() <= (1e-5 * expected.abs()).max(1e-6)
}

fn assert_all_close(what: &str, actual: &ArrayD<f32>, expected: &ArrayD<f32>) {
    assert_eq!(actual.shape(), expected.shape(), "{what}: shape");
    for (i, (a, e)) in actual.iter().zip(expected.iter()).enumerate() {
        assert!(close(*a, *e), "{what}[{i}]: got {a}, Keras {e}");
    }
}

fn set_weights<M: Model>(model: &mut M, weights: &Value) {
    let map = weights.as_object().expect("weights object");
    for (key, value) in map {
        model
            .set_weight(key, array(value).view())
            .unwrap_or_else(|e| panic!("{key}: {e}"));
    }
}

fn assert_weights<M: Model>(model: &M, expected: &Value) {
    let weights = model.weights();
    let map = expected.as_object().expect("weights object");
    assert_eq!(weights.len(), map.len(), "number of weights");
    for (key, value) in weights {
        assert_all_close(&key, &value, &array(&map[&key]));
    }
}

fn train_case<O: Optimizer>(file: &str, optimizer: O) {
    let f = fixture(file);
    let x = array(&f["x"]).into_dimensionality::<Ix2>().unwrap();
    let y = array(&f["y"]).into_dimensionality::<Ix2>().unwrap();
    let mut mlp = Mlp::with_seed(0);
    set_weights(&mut mlp, &f["initial"]);
    let mut model = mlp.compile(optimizer, Loss::mse());
    let options = FitOptions::default()
        .epochs(f["epochs"].as_u64().unwrap() as usize)
        .batch_size(f["batch_size"].as_u64().unwrap() as usize)
        .shuffle(false)
        .verbose(0);
    let history = model.fit(x.view(), y.view(), &options).unwrap();
    let expected: Vec<f32> = f["history_loss"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(history.loss().len(), expected.len());
    for (epoch, (a, e)) in history.loss().iter().zip(&expected).enumerate() {
        assert!(close(*a, *e), "{file} epoch {epoch}: loss {a}, Keras {e}");
    }
    assert_weights(model.model(), &f["final"]);
}

use stratic::ndarray::Ix2;

#[test]
fn sgd() {
    train_case("train_sgd.json", SGD::new(0.05));
}

#[test]
fn sgd_nesterov() {
    train_case(
        "train_sgd_nesterov.json",
        SGD::new(0.05).momentum(0.9).nesterov(true),
    );
}

#[test]
fn rmsprop() {
    train_case("train_rmsprop.json", RMSprop::new(0.001));
}

#[test]
fn adam() {
    train_case("train_adam.json", Adam::new(0.01));
}

#[test]
fn adamw() {
    train_case("train_adamw.json", AdamW::new(0.01).weight_decay(0.004));
}

#[test]
fn seed_program() {
    let f = fixture("seed_fit.json");
    let mut seed = Seed::new();
    set_weights(&mut seed, &f["initial"]);
    let mut model = seed.compile(RMSprop::new(0.001), Loss::mse());
    let x = Array2::<f32>::zeros((10, 4));
    let y = Array2::<f32>::ones((10, 8));
    let history = model
        .fit(x.view(), y.view(), &FitOptions::default().verbose(0))
        .unwrap();
    let expected = f["history_loss"][0].as_f64().unwrap() as f32;
    assert_eq!(history.loss().len(), 1);
    assert!(close(history.loss()[0], expected));
    assert_weights(model.model(), &f["final"]);
}

#[test]
fn dense_forward_every_activation() {
    let f = fixture("dense_forward.json");
    let x = array(&f["x"]).into_dimensionality::<Ix2>().unwrap();
    for (name, expected) in f["outputs"].as_object().unwrap() {
        let expected = array(expected);
        // One model per activation, so each is compiled through the macro.
        let y = match name.as_str() {
            "linear" => forward::<Linear>(&f, &x),
            "relu" => forward::<Relu>(&f, &x),
            "sigmoid" => forward::<Sigmoid>(&f, &x),
            "tanh" => forward::<Tanh>(&f, &x),
            "softmax" => forward::<Softmax>(&f, &x),
            "gelu" => forward::<Gelu>(&f, &x),
            "elu" => forward::<Elu>(&f, &x),
            "selu" => forward::<Selu>(&f, &x),
            "softplus" => forward::<Softplus>(&f, &x),
            "swish" => forward::<Swish>(&f, &x),
            other => panic!("fixture has an activation this test does not know: {other}"),
        };
        assert_all_close(name, &y.into_dyn(), &expected);
    }
}

model! {
    struct Linear { input(shape = [4]) -> dense(8, activation = linear) }
    struct Relu { input(shape = [4]) -> dense(8, activation = relu) }
    struct Sigmoid { input(shape = [4]) -> dense(8, activation = sigmoid) }
    struct Tanh { input(shape = [4]) -> dense(8, activation = tanh) }
    struct Softmax { input(shape = [4]) -> dense(8, activation = softmax) }
    struct Gelu { input(shape = [4]) -> dense(8, activation = gelu) }
    struct Elu { input(shape = [4]) -> dense(8, activation = elu) }
    struct Selu { input(shape = [4]) -> dense(8, activation = selu) }
    struct Softplus { input(shape = [4]) -> dense(8, activation = softplus) }
    struct Swish { input(shape = [4]) -> dense(8, activation = swish) }
}

fn forward<M>(f: &Value, x: &Array2<f32>) -> Array2<f32>
where
    M: Default + for<'a> Model<Input<'a> = ArrayView2<'a, f32>, Output = Array2<f32>>,
{
    let mut model = M::default();
    model
        .set_weight("dense/kernel", array(&f["kernel"]).view())
        .unwrap();
    model
        .set_weight("dense/bias", array(&f["bias"]).view())
        .unwrap();
    model.predict(x.view()).unwrap()
}
