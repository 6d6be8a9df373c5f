//! Functional graphs declared with `model!`: several inputs and outputs, shared layers, merges,
//! `summary()` against Keras' own, `to_dot()`, and training through all of it.

use std::path::Path;

use stratic::ndarray::{array, Array2, Axis};
use stratic::prelude::*;
use stratic::Error;

#[macro_use]
mod common;

model! {
    /// Keras' two-tower fixture (tests/fixtures/summaries.json).
    struct TwoTower {
        let query = input(shape = [32], name = "query");
        let doc = input(shape = [16], name = "doc");
        let q = query -> dense(16, activation = relu, name = "q_tower");
        let d = doc -> dense(16, activation = relu, name = "d_tower");
        concatenate([q, d], name = "concatenate") -> dense(1, activation = sigmoid, name = "score")
    }

    /// The seed model.
    struct Seed {
        input(shape = [4]) -> dense(8)
    }

    /// The fixture's MLP.
    struct Mlp {
        input(shape = [784]) -> dense(256, activation = relu) -> dense(256, activation = relu) -> dense(10)
    }

    /// A siamese model: one tower applied to both inputs, then compared, with a second output.
    struct Siamese {
        let a = input(shape = [3], name = "a");
        let b = input(shape = [3], name = "b");
        let tower = dense(4, activation = tanh, name = "tower");
        let ea = a -> tower;
        let eb = b -> tower;
        let diff = subtract([ea, eb]);
        let agree = multiply([ea, eb]) -> activation(tanh);
        let score = concatenate([diff, agree]) -> dense(1, name = "score");
        (score, ea)
    }
}

fn fixture_summaries() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/summaries.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).expect("JSON")
}

/// The body rows of a Keras summary table: each cell trimmed, wrapped cells joined.
fn table_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut in_body = false;
    let mut current: Option<Vec<String>> = None;
    for line in text.lines() {
        if line.starts_with('┡') {
            in_body = true;
            continue;
        }
        if !in_body {
            continue;
        }
        if line.starts_with('├') || line.starts_with('└') {
            rows.extend(current.take());
            continue;
        }
        if let Some(cells) = line.strip_prefix('│') {
            let cells: Vec<&str> = cells
                .trim_end_matches('│')
                .split('│')
                .map(str::trim)
                .collect();
            match &mut current {
                None => current = Some(cells.iter().map(|c| c.to_string()).collect()),
                Some(row) => {
                    for (cell, more) in row.iter_mut().zip(cells) {
                        if !more.is_empty() {
                            if !cell.is_empty() {
                                cell.push(' ');
                            }
                            cell.push_str(more);
                        }
                    }
                }
            }
        }
    }
    rows
}

fn totals(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.contains("params:"))
        .map(str::to_string)
        .collect()
}

#[test]
fn summaries_match_keras() {
    let f = fixture_summaries();
    let ours = [
        ("seed", Seed::with_seed(0).summary()),
        ("mlp", Mlp::with_seed(0).summary()),
        ("two_tower", TwoTower::with_seed(0).summary()),
    ];
    for (key, summary) in ours {
        let keras = f[key]["summary_text"].as_str().expect("text");
        let ours_text = summary.to_string();
        let (k_rows, o_rows) = (table_rows(keras), table_rows(&ours_text));
        assert_eq!(o_rows.len(), k_rows.len(), "{key}:\n{ours_text}\n{keras}");
        for (o, k) in o_rows.iter().zip(&k_rows) {
            // Keras numbers layers by a session-wide counter (the fixture's MLP has dense_1,
            // dense_2, ...); the type, shape, parameters and connections must agree exactly.
            let (o_type, k_type) = (
                &o[0][o[0].find('(').unwrap_or(0)..],
                &k[0][k[0].find('(').unwrap_or(0)..],
            );
            assert_eq!(o_type, k_type, "{key}: layer type");
            if key != "mlp" {
                assert_eq!(o[0], k[0], "{key}: layer name");
            }
            assert_eq!(o[1..], k[1..], "{key}: row");
        }
        assert_eq!(totals(&ours_text), totals(keras), "{key}: totals");
        assert_eq!(
            summary.total_params() as u64,
            f[key]["total_params"].as_u64().unwrap(),
            "{key}"
        );
    }
}

#[test]
fn to_dot_draws_the_graph() {
    let dot = TwoTower::with_seed(0).to_dot();
    assert!(dot.trim_start().starts_with("digraph"), "{dot}");
    for name in ["query", "doc", "q_tower", "d_tower", "concatenate", "score"] {
        assert!(dot.contains(name), "{name} missing:\n{dot}");
    }
    // One edge per connection: query->q_tower, doc->d_tower, two into concatenate, one into score.
    assert_eq!(dot.matches("->").count(), 5, "{dot}");
}

#[test]
fn several_inputs_are_a_tuple_and_must_agree_in_samples() {
    let m = TwoTower::with_seed(1);
    let (q, d) = (Array2::<f32>::ones((5, 32)), Array2::<f32>::ones((5, 16)));
    let y = m.predict((q.view(), d.view())).unwrap();
    assert_eq!(y.dim(), (5, 1));
    assert!(y.iter().all(|v| *v > 0.0 && *v < 1.0), "sigmoid output");
    let short = Array2::<f32>::ones((4, 16));
    match m.predict((q.view(), short.view())) {
        Err(Error::InputSamples { inputs }) => {
            assert_eq!(
                inputs,
                vec![("query".to_string(), 5), ("doc".to_string(), 4)]
            );
        }
        other => panic!("expected InputSamples, got {other:?}"),
    }
    let wrong = Array2::<f32>::ones((5, 15));
    match m.predict((q.view(), wrong.view())) {
        Err(Error::InputShape { input, .. }) => assert_eq!(input, "doc"),
        other => panic!("expected InputShape, got {other:?}"),
    }
}

fn siamese_data(n: usize) -> (Array2<f32>, Array2<f32>, Array2<f32>, Array2<f32>) {
    let a = Array2::from_shape_fn((n, 3), |(i, j)| {
        (((i * 3 + j) * 7919) % 101) as f32 / 50.0 - 1.0
    });
    let b = Array2::from_shape_fn((n, 3), |(i, j)| {
        (((i * 5 + j) * 104729) % 97) as f32 / 48.0 - 1.0
    });
    let score = (&a - &b)
        .map_axis(Axis(1), |r| r.mapv(f32::abs).sum())
        .insert_axis(Axis(1));
    let emb = a
        .mapv(|v| v * 0.5)
        .slice_move(stratic::ndarray::s![.., 0..3]);
    let emb =
        stratic::ndarray::concatenate(Axis(1), &[emb.view(), a.column(0).insert_axis(Axis(1))])
            .unwrap();
    (a, b, score, emb)
}

#[test]
fn shared_layer_gradient_matches_finite_differences() {
    let (a, b, score, emb) = siamese_data(6);
    let build = || {
        Siamese::with_seed(3)
            .compile_with(SGD::new(1.0), &[Loss::mse()], Some(&[1.0, 0.5]))
            .unwrap()
    };
    // tower (3x4 + 4) shared by both inputs, score (8x1 + 1).
    check_gradients!(
        build(),
        (a.view(), b.view()),
        (score.view(), emb.view()),
        eps = 1e-2,
        count = 16 + 9
    );
}

#[test]
fn two_outputs_train_and_each_loss_is_recorded() {
    let (a, b, score, emb) = siamese_data(64);
    let mut model = Siamese::with_seed(7)
        .compile_with(Adam::new(0.02), &[Loss::mse(), Loss::mae()], None)
        .unwrap();
    let options = FitOptions::default()
        .epochs(40)
        .batch_size(16)
        .seed(2)
        .verbose(0);
    let history = model
        .fit((a.view(), b.view()), (score.view(), emb.view()), &options)
        .unwrap();
    for key in ["loss", "score_loss", "tower_loss"] {
        let h = &history.history[key];
        assert_eq!(h.len(), 40, "{key}");
        assert!(h[39] < h[0] * 0.7, "{key} should decrease: {h:?}");
    }
    // The total is the sum of the outputs' losses (weights 1).
    let (l, s, t) = (
        history.loss()[39],
        history.history["score_loss"][39],
        history.history["tower_loss"][39],
    );
    assert!((l - (s + t)).abs() < 1e-4 * l.max(1.0), "{l} vs {s} + {t}");
    let (ys, ye) = model.predict((a.view(), b.view())).unwrap();
    assert_eq!((ys.dim(), ye.dim()), ((64, 1), (64, 4)));
    // Targets must come as a tuple of two.
    assert!(matches!(
        model.fit((a.view(), b.view()), score.view(), &options),
        Err(Error::TargetShape { .. })
    ));
    let _ = array![[0.0f32]];
}
