#![cfg(feature = "tract")]
//! The ONNX export checked by an independent runtime: every case of `common::cases()` is
//! loaded and run by tract and must agree with `predict` within 1e-5; every layer the table
//! lists as exported is in one of them.

use std::collections::BTreeSet;

use ndarray::ArrayD;
use stratic::prelude::*;
use stratic::shape::DType;
use tract_onnx::prelude::*;

mod common;
use common::{
    cases, dyn_of, values, view2, Export, IrisClassifier, Matcher, LAYER_TABLE, TOLERANCE,
};

/// Runs the ONNX file `bytes` in tract on `inputs`, each fed as its dtype in `dtypes` (ids as
/// `int32` or `int64`), and returns every output.
fn tract_run(bytes: &[u8], inputs: &[ArrayD<f32>], dtypes: &[DType]) -> Vec<ArrayD<f32>> {
    let model = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .expect("tract reads the exported file")
        .into_optimized()
        .expect("tract optimizes it")
        .into_runnable()
        .expect("tract makes it runnable");
    let inputs: TVec<TValue> = inputs
        .iter()
        .enumerate()
        .map(|(i, a)| match dtypes.get(i) {
            Some(DType::I32) => Tensor::from(a.mapv(|v| v as i32)).into(),
            Some(DType::I64) => Tensor::from(a.mapv(|v| v as i64)).into(),
            _ => Tensor::from(a.clone()).into(),
        })
        .collect();
    let outputs = model.run(inputs).expect("tract runs it");
    outputs
        .iter()
        .map(|t| {
            t.to_array_view::<f32>()
                .expect("float outputs")
                .to_owned()
                .into_dyn()
        })
        .collect()
}

/// The outputs of recurrent layers with activations other than ONNX's defaults (`relu`, a
/// `tanh` recurrent activation): tract 0.22 builds LSTM, GRU and RNN with sigmoid and tanh
/// whatever the node's `activations` attribute says (tract-onnx's `ops/rec/lstm.rs` wires
/// `sigmoid()` and `tanh()` as constants), so it computes another function. ONNX Runtime
/// honours the attribute and agrees with `predict` on them (tests/onnx_check.py).
const TRACT_IGNORES_ACTIVATIONS: &[(&str, usize)] =
    &[("recurrent", 2), ("recurrent", 5), ("recurrent", 7)];

/// The largest absolute difference between tract's outputs and `predict`'s, after checking
/// that their shapes agree.
fn max_error(name: &str, got: &[ArrayD<f32>], want: &[ArrayD<f32>]) -> f32 {
    assert_eq!(got.len(), want.len(), "{name}: output count");
    let mut worst = 0f32;
    let mut per_output = Vec::new();
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.shape(), w.shape(), "{name}: output {k} shape");
        if TRACT_IGNORES_ACTIVATIONS.contains(&(name, k)) {
            per_output.push("not run by tract".to_string());
            continue;
        }
        let mut output_worst = 0f32;
        for (a, b) in g.iter().zip(w) {
            let e = (a - b).abs();
            assert!(e.is_finite(), "{name}: output {k}: {a} vs {b}");
            output_worst = output_worst.max(e);
        }
        per_output.push(format!("{output_worst:.2e}"));
        worst = worst.max(output_worst);
    }
    println!(
        "{name}: tract agrees with predict within {worst:e} (per output: {})",
        per_output.join(", ")
    );
    worst
}

#[test]
fn every_case_agrees_with_predict_under_tract() {
    let mut failed = Vec::new();
    for case in cases() {
        let got = tract_run(&case.onnx, &case.inputs, &case.dtypes);
        let err = max_error(case.name, &got, &case.want);
        if err > TOLERANCE {
            failed.push(format!("{}: {err}", case.name));
        }
    }
    assert!(failed.is_empty(), "tract differs from predict: {failed:?}");
}

#[test]
fn the_file_keeps_names_opset_and_a_symbolic_batch() {
    let model = Matcher::with_seed(8);
    let bytes = model.to_onnx().expect("exports");
    let m = tract_onnx::onnx()
        .proto_model_for_read(&mut &bytes[..])
        .expect("parses");
    assert_eq!(m.ir_version, 8);
    assert_eq!(m.opset_import.len(), 1);
    assert_eq!(m.opset_import[0].version, 18);
    let g = m.graph.as_ref().expect("a graph");
    let names = |v: &[tract_onnx::pb::ValueInfoProto]| -> Vec<String> {
        v.iter().map(|i| i.name.clone()).collect()
    };
    assert_eq!(names(&g.input), ["left", "right"]);
    assert_eq!(names(&g.output), ["similarity", "category"]);
    let mut init: Vec<String> = g.initializer.iter().map(|t| t.name.clone()).collect();
    init.sort();
    let mut weights: Vec<String> = model.weights().into_iter().map(|(k, _)| k).collect();
    weights.sort();
    assert_eq!(
        init, weights,
        "initializers are the weights, named as weights() names them"
    );
    // The batch axis of every input and output is the symbol `batch`.
    for v in g.input.iter().chain(&g.output) {
        let Some(tract_onnx::pb::type_proto::Value::TensorType(t)) =
            v.r#type.as_ref().and_then(|t| t.value.as_ref())
        else {
            panic!("{}: not a tensor type", v.name);
        };
        let first = &t.shape.as_ref().expect("a shape").dim[0];
        assert_eq!(
            first.value,
            Some(
                tract_onnx::pb::tensor_shape_proto::dimension::Value::DimParam("batch".to_string())
            ),
            "{}",
            v.name
        );
    }
}

#[test]
fn the_batch_is_symbolic_one_file_runs_any_batch_size() {
    let model = IrisClassifier::with_seed(9);
    let bytes = model.to_onnx().expect("exports");
    for n in [1, 3, 17] {
        let x = values(&[n, 4], n as u64);
        let want = model.predict(view2(&x)).expect("predict");
        let got = tract_run(&bytes, &[x], &[DType::F32]);
        assert!(max_error(&format!("iris, batch {n}"), &got, &[dyn_of(want)]) <= TOLERANCE);
    }
}

#[test]
fn every_layer_listed_as_exported_is_checked_by_tract() {
    let checked: BTreeSet<&str> = cases().into_iter().flat_map(|c| c.layers).collect();
    for (name, status) in LAYER_TABLE {
        match status {
            Export::Exported => assert!(
                checked.contains(name),
                "`{name}` is listed as exported but no tract-checked model uses it"
            ),
            Export::Refused => assert!(
                !checked.contains(name),
                "`{name}` is listed as refused but a checked model exports it"
            ),
        }
    }
}
