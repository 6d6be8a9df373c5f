//! The ONNX export without an ONNX runtime (run by `cargo test --workspace`): what is
//! refused, and that the layer table lists every registered layer. tests/tract.rs (feature
//! `tract`) runs the exported files.

use std::collections::BTreeSet;

use stratic::prelude::*;
use stratic::shape::LAYERS;
use stratic::Error;

mod common;
use common::LAYER_TABLE;

model! {
    /// bag.json's model: ragged ids, which ONNX cannot take.
    struct Bag {
        input(shape = [None], ragged = true, dtype = i32, name = "tokens")
            -> embedding(12, 4)
            -> global_average_pooling_1d(name = "pool")
            -> dense(2, activation = tanh, name = "head")
    }

    /// A ragged tensor padded: `to_dense` reads ragged tensors only.
    struct Padded {
        input(shape = [None, 2], ragged = true, name = "rows") -> to_dense()
    }

    /// Ragged sequences: each row runs for its own length, which ONNX cannot take.
    struct RaggedLstm { input(shape = [None, 2], ragged = true) -> lstm(3) }
    struct RaggedGru { input(shape = [None, 2], ragged = true) -> gru(3) }
    struct RaggedRnn { input(shape = [None, 2], ragged = true) -> simple_rnn(3) }
    struct RaggedBidi { input(shape = [None, 2], ragged = true) -> bidirectional(gru(3)) }
    /// Activations ONNX's recurrent ops do not compute as Keras does.
    struct GeluLstm { input(shape = [5, 2]) -> lstm(3, activation = gelu) }
    struct SwishRnn { input(shape = [5, 2]) -> simple_rnn(3, activation = swish) }
    struct SeluBidi { input(shape = [5, 2]) -> bidirectional(gru(3, recurrent_activation = selu)) }
    struct Masked { input(shape = [5, 2]) -> masking() }
    struct Distributed { input(shape = [5, 2]) -> time_distributed(dense(3)) }
    /// The mask an exported model would drop: refused at the embedding.
    struct MaskZero {
        input(shape = [5], dtype = i32) -> embedding(10, 3, mask_zero = true) -> lstm(2)
    }
    /// Dense ids, so the refusal is the layer's own (ragged inputs are refused before it).
    struct Categories {
        input(shape = [4], dtype = i32) -> category_encoding(5)
    }

    /// The exported counterpart, for the file's first bytes.
    struct Small {
        input(shape = [3], name = "x") -> dense(2, name = "y")
    }
}

#[test]
fn every_registered_layer_is_listed() {
    let listed: BTreeSet<&str> = LAYER_TABLE.iter().map(|(n, _)| *n).collect();
    let registered: BTreeSet<&str> = LAYERS.iter().map(|s| s.name).collect();
    assert_eq!(
        listed, registered,
        "LAYER_TABLE must list every registered layer"
    );
}

#[test]
fn ragged_inputs_are_refused_naming_the_layer_and_nothing_is_written() {
    let dir = std::env::temp_dir().join(format!("stratic-onnx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("bag.onnx");
    let err = Bag::with_seed(0).save_onnx(&path).unwrap_err();
    match &err {
        Error::OnnxExport {
            layer,
            class,
            reason,
        } => {
            assert_eq!((layer.as_str(), class.as_str()), ("embedding", "Embedding"));
            assert!(reason.contains("ragged"), "{reason}");
        }
        other => panic!("expected OnnxExport, got {other:?}"),
    }
    assert!(err.to_string().contains("'embedding' (Embedding)"), "{err}");
    assert!(!path.exists(), "a refused export writes no file");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every case exports; with `STRATIC_ONNX_DUMP=dir` the files are written there for
/// tests/onnx_check.py (onnx.checker and ONNX Runtime).
#[test]
fn every_case_exports_and_is_dumped_on_request() {
    let cases = common::cases();
    assert!(cases.len() >= 15);
    if let Some(dir) = std::env::var_os("STRATIC_ONNX_DUMP") {
        for case in &cases {
            common::dump(std::path::Path::new(&dir), case);
        }
    }
}

#[test]
fn an_export_is_an_onnx_model_proto_with_ir_8() {
    let bytes = Small::with_seed(0).to_onnx().expect("exports");
    // Field 1 (ir_version), varint 8: the first two bytes of the ModelProto.
    assert_eq!(&bytes[..2], &[0x08, 0x08]);
    // The initializers carry the weights' names.
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("y/kernel") && text.contains("y/bias"));
    assert!(text.contains("batch"), "the symbolic batch dimension");
}

/// The layer of kind `dsl` in `M` is the one its export refuses: `(dsl, refused naming it)`.
fn refusal<M: Model>(model: &M, dsl: &'static str) -> (&'static str, bool) {
    let name = M::layers()
        .iter()
        .find(|l| l.spec.name == dsl)
        .map(|l| (l.name, l.spec.class_name));
    let named = match model.to_onnx() {
        Err(Error::OnnxExport { layer, class, .. }) => {
            name == Some((layer.as_str(), class.as_str()))
        }
        _ => false,
    };
    (dsl, named)
}

#[test]
fn every_layer_listed_as_refused_is_refused_naming_it() {
    let refused: BTreeSet<&str> = LAYER_TABLE
        .iter()
        .filter(|(_, e)| *e == common::Export::Refused)
        .map(|(n, _)| *n)
        .collect();
    let cases = [
        refusal(&Padded::with_seed(0), "to_dense"),
        refusal(&Masked::with_seed(0), "masking"),
        refusal(&Categories::with_seed(0), "category_encoding"),
        refusal(&Distributed::with_seed(0), "time_distributed"),
    ];
    let covered: BTreeSet<&str> = cases.iter().map(|(n, _)| *n).collect();
    assert_eq!(covered, refused, "a refusal case for every refused layer");
    for (layer, named) in cases {
        assert!(
            named,
            "the export of a model with `{layer}` is refused naming it"
        );
    }
}

#[test]
fn an_embedding_with_mask_zero_is_refused_naming_it() {
    let (layer, named) = refusal(&MaskZero::with_seed(0), "embedding");
    assert!(
        named,
        "the export of `{layer}` with `mask_zero` is refused naming it"
    );
    let (_, _, reason) = refused(&MaskZero::with_seed(0));
    assert!(reason.contains("mask_zero"), "{reason}");
}

/// The export's error for `model`: the layer, its class and the reason.
fn refused<M: Model>(model: &M) -> (String, String, String) {
    match model.to_onnx() {
        Err(Error::OnnxExport {
            layer,
            class,
            reason,
        }) => (layer, class, reason),
        other => panic!("expected OnnxExport, got {:?}", other.map(|b| b.len())),
    }
}

#[test]
fn recurrent_layers_on_ragged_sequences_are_refused_naming_the_layer() {
    for (got, layer, class) in [
        (refused(&RaggedLstm::with_seed(0)), "lstm", "LSTM"),
        (refused(&RaggedGru::with_seed(0)), "gru", "GRU"),
        (refused(&RaggedRnn::with_seed(0)), "simple_rnn", "SimpleRNN"),
        (
            refused(&RaggedBidi::with_seed(0)),
            "bidirectional",
            "Bidirectional",
        ),
    ] {
        assert_eq!((got.0.as_str(), got.1.as_str()), (layer, class));
        assert!(got.2.contains("ragged"), "{}", got.2);
    }
}

#[test]
fn recurrent_activations_onnx_does_not_take_are_refused_naming_them() {
    for (got, layer, op, activation) in [
        (refused(&GeluLstm::with_seed(0)), "lstm", "LSTM", "gelu"),
        (
            refused(&SwishRnn::with_seed(0)),
            "simple_rnn",
            "RNN",
            "swish",
        ),
        (
            refused(&SeluBidi::with_seed(0)),
            "bidirectional",
            "GRU",
            "selu",
        ),
    ] {
        assert_eq!(got.0, layer);
        assert!(
            got.2.contains(op) && got.2.contains(&format!("`{activation}`")),
            "{}",
            got.2
        );
    }
}

#[test]
fn save_onnx_writes_what_to_onnx_returns_and_reports_an_unwritable_path() {
    let dir = std::env::temp_dir().join(format!("stratic-onnx-save-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let model = Small::with_seed(3);
    let path = dir.join("small.onnx");
    model.save_onnx(&path).expect("saves");
    assert_eq!(
        std::fs::read(&path).expect("written"),
        model.to_onnx().expect("exports")
    );
    let err = model
        .save_onnx(dir.join("no such dir").join("small.onnx"))
        .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
