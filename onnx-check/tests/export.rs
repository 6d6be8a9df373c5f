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

    struct ZeroPad1 { input(shape = [5, 2]) -> zero_padding_1d() }
    struct ZeroPad2 { input(shape = [4, 4, 2]) -> zero_padding_2d() }
    struct Crop1 { input(shape = [5, 2]) -> cropping_1d() }
    struct Crop2 { input(shape = [4, 4, 2]) -> cropping_2d() }
    struct Up1 { input(shape = [5, 2]) -> up_sampling_1d() }
    struct Up2 { input(shape = [4, 4, 2]) -> up_sampling_2d() }
    struct BatchNorm { input(shape = [4]) -> batch_normalization() }
    struct LayerNorm { input(shape = [4]) -> layer_normalization() }
    struct Lstm { input(shape = [5, 2]) -> lstm(3) }
    struct Gru { input(shape = [5, 2]) -> gru(3) }
    struct Bidi { input(shape = [5, 2]) -> bidirectional(gru(3)) }
    struct Normalized { input(shape = [3]) -> normalization(mean = [0.5, 1.0, 2.0], variance = [1.0, 4.0, 0.25]) }
    struct SimpleRnn { input(shape = [5, 2]) -> simple_rnn(3) }
    struct Masked { input(shape = [5, 2]) -> masking() }
    struct Categories {
        input(shape = [None], ragged = true, dtype = i32) -> category_encoding(5)
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
    assert!(cases.len() >= 9);
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
        refusal(&Bag::with_seed(0), "embedding"),
        refusal(&Padded::with_seed(0), "to_dense"),
        refusal(&ZeroPad1::with_seed(0), "zero_padding_1d"),
        refusal(&ZeroPad2::with_seed(0), "zero_padding_2d"),
        refusal(&Crop1::with_seed(0), "cropping_1d"),
        refusal(&Crop2::with_seed(0), "cropping_2d"),
        refusal(&Up1::with_seed(0), "up_sampling_1d"),
        refusal(&Up2::with_seed(0), "up_sampling_2d"),
        refusal(&BatchNorm::with_seed(0), "batch_normalization"),
        refusal(&LayerNorm::with_seed(0), "layer_normalization"),
        refusal(&Lstm::with_seed(0), "lstm"),
        refusal(&Gru::with_seed(0), "gru"),
        refusal(&SimpleRnn::with_seed(0), "simple_rnn"),
        refusal(&Bidi::with_seed(0), "bidirectional"),
        refusal(&Masked::with_seed(0), "masking"),
        refusal(&Normalized::with_seed(0), "normalization"),
        refusal(&Categories::with_seed(0), "category_encoding"),
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
