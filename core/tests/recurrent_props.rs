//! Property test of the recurrent layers over ragged rows: a batch of rows of different
//! lengths gives, row for row, the output and gradients of each row run alone as a dense
//! sequence of its own length, which is what Keras computes for the same rows padded and
//! masked (masked steps carry the state unchanged). No padding is built on the ragged path.

use ndarray::{s, Array2};
use proptest::prelude::*;
use stratic_core::shape::{layer_spec, CellKind, ParamValue, RecurrentConfig};
use stratic_core::{ForwardContext, Input, Layer, RaggedTensor, Recurrent, Rng};

const FEATURES: usize = 3;
const UNITS: usize = 4;

fn layer(cell: &str, seq: bool, back: bool, steps: usize) -> Recurrent {
    let spec = layer_spec(cell).expect("registered");
    let config = spec.configure(vec![
        ("units", ParamValue::Int(UNITS as i64)),
        ("return_sequences", ParamValue::Bool(seq)),
        ("go_backwards", ParamValue::Bool(back)),
    ]);
    let kind = CellKind::from_layer_name(cell).expect("recurrent");
    let cfg = RecurrentConfig::from_config(kind, &config);
    let mut l = Recurrent::new(cfg, FEATURES, steps, &mut Rng::new(17));
    // Nonzero biases everywhere (Keras' zeros would hide a bias added at the wrong step).
    l.visit_params("l", &mut |p| {
        if p.variable.ends_with("bias") {
            for (i, v) in p.value.iter_mut().enumerate() {
                *v = 0.05 * (i % 7) as f32 - 0.15;
            }
        }
    });
    l
}

fn grads(l: &mut Recurrent) -> Vec<Vec<f32>> {
    let mut out = Vec::new();
    l.visit_params("l", &mut |p| out.push(p.grad.to_vec()));
    out
}

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() <= 1e-5 + 1e-5 * b.abs()
}

fn rows() -> impl Strategy<Value = Vec<Vec<f32>>> {
    let row = (0usize..7).prop_flat_map(|len| prop::collection::vec(-2.0f32..2.0, len * FEATURES));
    prop::collection::vec(row, 1..6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn ragged_rows_equal_each_row_alone(
        rows in rows(),
        cell in prop::sample::select(vec!["lstm", "gru", "simple_rnn"]),
        seq in any::<bool>(),
        back in any::<bool>(),
        probe_seed in any::<u64>(),
    ) {
        let lengths: Vec<usize> = rows.iter().map(|r| r.len() / FEATURES).collect();
        let mut splits = vec![0usize];
        for l in &lengths {
            splits.push(splits[splits.len() - 1] + l);
        }
        let values: Vec<f32> = rows.concat();
        let x = RaggedTensor::from_parts(values, &[FEATURES], &[splits.clone()]).expect("ragged");
        let view = x.view();
        let mut ragged = layer(cell, seq, back, 0);
        ragged.forward(Input::Ragged(view), &mut ForwardContext::default());
        let out = ragged.output().to_owned();
        let mut rng = Rng::new(probe_seed);
        let probe = Array2::from_shape_fn(out.dim(), |_| rng.uniform(-1.0, 1.0));
        ragged.backward(Input::Ragged(view), probe.view(), true);
        let grad_x = ragged.grad_input().to_owned();
        let ragged_grads = grads(&mut ragged);

        let mut summed: Vec<Vec<f32>> = ragged_grads.iter().map(|g| vec![0.0; g.len()]).collect();
        for (i, &len) in lengths.iter().enumerate() {
            let (a, b) = (splits[i], splits[i + 1]);
            let xi = view.values().slice(s![a..b, ..]).to_owned();
            let mut alone = layer(cell, seq, back, len);
            let y = alone.call(Input::Dense(xi.view()));
            // The row's output: its state per step, or its last state (zero when empty).
            let (got, g_out) = if seq {
                (out.slice(s![a..b, ..]).to_owned(), probe.slice(s![a..b, ..]).to_owned())
            } else {
                (out.slice(s![i..i + 1, ..]).to_owned(), probe.slice(s![i..i + 1, ..]).to_owned())
            };
            if len == 0 {
                // A dense sequence of no steps has no rows to carry a batch: the ragged row's
                // last state is zero and it adds no gradient.
                prop_assert!(got.iter().all(|&v| v == 0.0));
                continue;
            }
            prop_assert_eq!(y.dim(), got.dim());
            for (g, w) in got.iter().zip(&y) {
                prop_assert!(close(*g, *w), "{} output: {} vs {}", cell, g, w);
            }
            alone.forward(Input::Dense(xi.view()), &mut ForwardContext::default());
            alone.backward(Input::Dense(xi.view()), g_out.view(), true);
            for (g, w) in grad_x.slice(s![a..b, ..]).iter().zip(alone.grad_input()) {
                prop_assert!(close(*g, *w), "{} grad_x: {} vs {}", cell, g, w);
            }
            for (acc, g) in summed.iter_mut().zip(grads(&mut alone)) {
                acc.iter_mut().zip(&g).for_each(|(a, g)| *a += g);
            }
        }
        for (w, (r, s)) in ragged_grads.iter().zip(&summed).enumerate() {
            for (g, e) in r.iter().zip(s) {
                prop_assert!((g - e).abs() <= 1e-4 + 1e-4 * e.abs(), "{} weight {}: {} vs {}", cell, w, g, e);
            }
        }
    }
}
