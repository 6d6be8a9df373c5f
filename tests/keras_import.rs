//! Keras files into models declared with `model!` (the macro generates `Model::layers()`):
//! the sequential MLP and the functional two-tower model Keras 3.15 saved
//! (tests/fixtures/keras-files/), against Keras' own predictions.

use std::path::{Path, PathBuf};

use stratic::prelude::*;
use stratic::Error;

model! {
    /// mlp.json's model.
    struct Mlp {
        input(shape = [4]) -> dense(5, activation = relu) -> dense(3, activation = tanh) -> dense(2)
    }

    /// Declared with six units first.
    struct Wider {
        input(shape = [4]) -> dense(6, activation = relu) -> dense(3, activation = tanh) -> dense(2)
    }

    /// Declared with another input shape (the kernels would not fit either).
    struct OtherInput {
        input(shape = [3]) -> dense(5, activation = relu) -> dense(3, activation = tanh) -> dense(2)
    }

    /// two_tower.json's model (its `dsl`).
    struct TwoTower {
        let query = input(shape = [6], name = "query");
        let doc = input(shape = [4], name = "doc");
        let q = query -> dense(5, activation = relu, name = "q_tower");
        let d = doc -> dense(5, activation = relu, name = "d_tower");
        let score = concatenate([q, d], name = "concatenate") -> dense(1, activation = sigmoid, name = "score");
        (score, q)
    }

    /// The two towers with a wider query and a tanh score.
    struct TwoTowerWrong {
        let query = input(shape = [7], name = "query");
        let doc = input(shape = [4], name = "doc");
        let q = query -> dense(5, activation = relu, name = "q_tower");
        let d = doc -> dense(5, activation = relu, name = "d_tower");
        let score = concatenate([q, d], name = "concatenate") -> dense(1, activation = tanh, name = "score");
        (score, q)
    }
}

fn file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keras-files")
        .join(name)
}

fn json(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(file(name)).expect("fixture");
    serde_json::from_str(&text).expect("json")
}

fn matrix(v: &serde_json::Value) -> Array2<f32> {
    let rows: Vec<Vec<f32>> = serde_json::from_value(v.clone()).expect("rows");
    let cols = rows[0].len();
    Array2::from_shape_vec((rows.len(), cols), rows.into_iter().flatten().collect())
        .expect("rectangular")
}

fn max_diff(a: &Array2<f32>, b: &Array2<f32>) -> f32 {
    assert_eq!(a.dim(), b.dim());
    (a - b).iter().fold(0.0, |m, d| m.max(d.abs()))
}

#[test]
fn mlp_from_both_files_matches_keras() {
    let f = json("mlp.json");
    let (x, expected) = (matrix(&f["x"]), matrix(&f["output"]));
    for name in ["mlp.weights.h5", "mlp.keras"] {
        let mut model = Mlp::with_seed(0);
        if name.ends_with(".keras") {
            model.load_keras(file(name)).expect(name);
        } else {
            model.load_keras_weights(file(name)).expect(name);
        }
        let d = max_diff(&model.predict(x.view()).expect("predict"), &expected);
        assert!(d <= 1e-6, "{name}: max difference {d:e}");
    }
}

#[test]
fn a_different_declaration_is_named() {
    let err = Wider::with_seed(0)
        .load_keras(file("mlp.keras"))
        .expect_err("dense(6)");
    let Error::Architecture { differences } = &err else {
        panic!("expected Architecture, got {err:?}");
    };
    assert_eq!(differences.len(), 1, "{err}");
    assert_eq!(
        (
            differences[0].field.as_str(),
            differences[0].saved.as_str(),
            differences[0].declared.as_str()
        ),
        ("units", "5", "6")
    );
    let err = OtherInput::with_seed(0)
        .load_keras(file("mlp.keras"))
        .expect_err("input 3");
    let text = err.to_string();
    assert!(
        text.contains("input shape  (None, 4) | (None, 3)"),
        "{text}"
    );
}

#[test]
fn two_tower_loads_and_matches_keras() {
    let f = json("two_tower.json");
    let (xq, xd) = (matrix(&f["x_query"]), matrix(&f["x_doc"]));
    for name in ["two_tower.weights.h5", "two_tower.keras"] {
        let mut model = TwoTower::with_seed(0);
        if name.ends_with(".keras") {
            model.load_keras(file(name)).expect(name);
        } else {
            model.load_keras_weights(file(name)).expect(name);
        }
        let (score, q) = model.predict((xq.view(), xd.view())).expect("predict");
        let d = max_diff(&score, &matrix(&f["output_score"]));
        assert!(d <= 1e-6, "{name} score: {d:e}");
        let d = max_diff(&q, &matrix(&f["output_q"]));
        assert!(d <= 1e-6, "{name} q: {d:e}");
    }
}

#[test]
fn two_tower_differences_are_listed_side_by_side() {
    let err = TwoTowerWrong::with_seed(0)
        .load_keras(file("two_tower.keras"))
        .expect_err("differs");
    let text = err.to_string();
    assert!(text.contains("input 'query' shape"), "{text}");
    assert!(
        text.contains("(None, 6)") && text.contains("(None, 7)"),
        "{text}"
    );
    assert!(text.contains("layer 4 (score) activation"), "{text}");
    assert!(
        text.contains("sigmoid") && text.contains("| tanh"),
        "{text}"
    );
    let Error::Architecture { differences } = err else {
        panic!("expected Architecture");
    };
    assert_eq!(differences.len(), 2);
}
