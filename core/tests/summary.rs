//! `summary()` and `to_dot()` of the three models Keras 3.15 printed in
//! tests/fixtures/summaries.json, built with the rows the `model!` macro produces for them.

use serde_json::Value;
use stratic_core::shape::{Summary, SummaryRow};

fn fixture(model: &str) -> (String, u64) {
    let path = format!(
        "{}/../tests/fixtures/summaries.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let m = &v[model];
    (
        m["summary_text"].as_str().unwrap().to_string(),
        m["total_params"].as_u64().unwrap(),
    )
}

fn row(name: &str, class: &str, shape: &str, params: usize, from: &[&str]) -> SummaryRow {
    SummaryRow {
        name: name.into(),
        class_name: class.into(),
        output_shape: shape.into(),
        params,
        non_trainable: 0,
        connected_to: from.iter().map(|s| s.to_string()).collect(),
    }
}

fn seed() -> Summary {
    Summary {
        model_name: "sequential".into(),
        sequential: true,
        rows: vec![row("dense", "Dense", "(None, 8)", 40, &[])],
    }
}

fn mlp() -> Summary {
    Summary {
        model_name: "mlp".into(),
        sequential: true,
        rows: vec![
            row("dense_1", "Dense", "(None, 256)", 200_960, &[]),
            row("dense_2", "Dense", "(None, 256)", 65_792, &[]),
            row("dense_3", "Dense", "(None, 10)", 2_570, &[]),
        ],
    }
}

fn two_tower() -> Summary {
    Summary {
        model_name: "two_tower".into(),
        sequential: false,
        rows: vec![
            row("query", "InputLayer", "(None, 32)", 0, &[]),
            row("doc", "InputLayer", "(None, 16)", 0, &[]),
            row("q_tower", "Dense", "(None, 16)", 528, &["query"]),
            row("d_tower", "Dense", "(None, 16)", 272, &["doc"]),
            row(
                "concatenate",
                "Concatenate",
                "(None, 32)",
                0,
                &["q_tower", "d_tower[0][0]"],
            ),
            row("score", "Dense", "(None, 1)", 33, &["concatenate"]),
        ],
    }
}

// Keras' text ends with the newline `print` adds, so `println!("{summary}")` prints exactly it.
fn check(model: &str, summary: Summary) {
    let (text, total) = fixture(model);
    assert_eq!(summary.total_params() as u64, total);
    let ours = format!("{summary}\n");
    if ours != text {
        panic!("{model}: ours\n{ours}\nKeras'\n{text}");
    }
}

#[test]
fn seed_summary_is_keras_text() {
    check("seed", seed());
}

#[test]
fn mlp_summary_is_keras_text() {
    check("mlp", mlp());
}

#[test]
fn two_tower_summary_is_keras_text_with_wrapped_cells() {
    check("two_tower", two_tower());
}

#[test]
fn a_different_row_breaks_the_match() {
    let mut s = two_tower();
    s.rows[2].params = 529;
    let (text, _) = fixture("two_tower");
    assert_ne!(format!("{s}\n"), text);
}

/// The statements of a DOT graph this test writes: `"a" [label="..."];` and
/// `"a" -> "b" [label="..."];`, read back with a small parser of quoted strings.
#[derive(Debug, PartialEq)]
enum Stmt {
    Node(String, String),
    Edge(String, String, Option<String>),
}

fn quoted(s: &str) -> Option<(String, &str)> {
    let s = s.trim_start().strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                other => out.push(other),
            },
            '"' => return Some((out, &s[i + 1..])),
            _ => out.push(c),
        }
    }
    None
}

fn label(rest: &str) -> Option<String> {
    let rest = rest.trim_start().strip_prefix("[label=")?;
    quoted(rest).map(|(l, _)| l)
}

fn parse_dot(dot: &str) -> (String, Vec<Stmt>) {
    let mut lines = dot.lines();
    let head = lines.next().unwrap();
    let (name, rest) = quoted(head.strip_prefix("digraph ").unwrap()).unwrap();
    assert_eq!(rest.trim(), "{");
    assert_eq!(dot.lines().last(), Some("}"));
    let mut stmts = Vec::new();
    for line in lines {
        let line = line.trim();
        if line == "}" || !line.starts_with('"') {
            continue;
        }
        assert!(line.ends_with(';'), "{line}");
        let (a, rest) = quoted(line).unwrap();
        if let Some(rest) = rest.trim_start().strip_prefix("->") {
            let (b, rest) = quoted(rest).unwrap();
            stmts.push(Stmt::Edge(a, b, label(rest)));
        } else {
            stmts.push(Stmt::Node(a, label(rest).unwrap()));
        }
    }
    (name, stmts)
}

#[test]
fn two_tower_dot_has_every_layer_and_connection() {
    let (name, stmts) = parse_dot(&two_tower().to_dot());
    assert_eq!(name, "two_tower");
    let nodes: Vec<_> = stmts
        .iter()
        .filter_map(|s| match s {
            Stmt::Node(n, l) => Some((n.as_str(), l.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        nodes,
        vec![
            ("query", "query (InputLayer)\n(None, 32)"),
            ("doc", "doc (InputLayer)\n(None, 16)"),
            ("q_tower", "q_tower (Dense)\n(None, 16)"),
            ("d_tower", "d_tower (Dense)\n(None, 16)"),
            ("concatenate", "concatenate (Concatenate)\n(None, 32)"),
            ("score", "score (Dense)\n(None, 1)"),
        ]
    );
    let edges: Vec<_> = stmts
        .iter()
        .filter_map(|s| match s {
            Stmt::Edge(a, b, l) => Some((a.as_str(), b.as_str(), l.as_deref())),
            _ => None,
        })
        .collect();
    assert_eq!(
        edges,
        vec![
            ("query", "q_tower", Some("(None, 32)")),
            ("doc", "d_tower", Some("(None, 16)")),
            ("q_tower", "concatenate", Some("(None, 16)")),
            ("d_tower", "concatenate", Some("(None, 16)")),
            ("concatenate", "score", Some("(None, 32)")),
        ]
    );
}

#[test]
fn sequential_dot_is_a_chain_and_names_are_escaped() {
    let (_, stmts) = parse_dot(&mlp().to_dot());
    let edges: Vec<_> = stmts
        .iter()
        .filter(|s| matches!(s, Stmt::Edge(..)))
        .collect();
    assert_eq!(
        edges,
        vec![
            &Stmt::Edge(
                "dense_1".into(),
                "dense_2".into(),
                Some("(None, 256)".into())
            ),
            &Stmt::Edge(
                "dense_2".into(),
                "dense_3".into(),
                Some("(None, 256)".into())
            ),
        ]
    );
    let odd = Summary {
        model_name: "a \"quoted\" model".into(),
        sequential: false,
        rows: vec![row("in", "InputLayer", "(None, 4)", 0, &[])],
    };
    let (name, stmts) = parse_dot(&odd.to_dot());
    assert_eq!(name, "a \"quoted\" model");
    assert_eq!(stmts.len(), 1);
}
