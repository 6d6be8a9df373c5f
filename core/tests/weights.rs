//! Weights in and out: safetensors round trips and every way a file can be wrong, and Keras'
//! own files (`.weights.h5`, `.keras`) against the fixtures Keras 3.15 saved.

mod common;

use common::{array, array2, fixture, Mlp, Regressor};
use ndarray::ArrayD;
use stratic_core::{
    from_safetensors, keras_weight_paths, read_keras_archive, to_safetensors, Error, FileFormat,
    FileProblem, Hdf5File, Model,
};

dense_stack!(
    /// The fixture's model: `input(shape=[4]) -> dense(5, relu) -> dense(3, tanh) -> dense(2)`.
    KerasMlp, 4, [(dense, 5, Relu), (dense_1, 3, Tanh), (dense_2, 2, Linear)]
);
dense_stack!(
    /// Declared differently: six units first.
    WrongMlp, 4, [(dense, 6, Relu), (dense_1, 3, Tanh), (dense_2, 2, Linear)]
);
dense_stack!(
    /// The same shapes with other activations and user names.
    RenamedMlp, 4, [(hidden, 5, Relu), (middle, 3, Sigmoid), (out, 2, Linear)]
);

fn keras_file(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/keras-files")
        .join(name)
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("stratic-weights-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

fn bits(model: &impl Model) -> Vec<(String, Vec<usize>, Vec<u32>)> {
    let mut out = Vec::new();
    model.visit_weights(&mut |p| {
        out.push((
            format!("{}/{}", p.layer, p.variable),
            p.shape.to_vec(),
            p.value.iter().map(|v| v.to_bits()).collect(),
        ))
    });
    out
}

fn file_problem(e: &Error) -> (FileFormat, FileProblem) {
    match e {
        Error::WeightFile {
            format, problem, ..
        } => (*format, *problem),
        other => panic!("expected a WeightFile error, got {other:?}"),
    }
}

// === safetensors ===

#[test]
fn safetensors_round_trip_is_bitwise_exact() {
    let mut a = Mlp::with_seed(1);
    // Values that a lossy path would change: a NaN payload, a subnormal, negative zero.
    a.set_weight(
        "dense_1/bias",
        ArrayD::from_shape_vec(vec![2], vec![f32::from_bits(0x7fc0_1234), -0.0])
            .expect("shape")
            .view(),
    )
    .expect("set");
    a.set_weight(
        "dense/bias",
        ArrayD::from_shape_vec(
            vec![5],
            vec![f32::MIN_POSITIVE / 8.0, 1.0, -1.0, 3.5, 1e-30],
        )
        .expect("shape")
        .view(),
    )
    .expect("set");
    let path = tmp("mlp.safetensors");
    a.save_weights(&path).expect("save");
    let mut b = Mlp::with_seed(2);
    assert_ne!(bits(&a), bits(&b));
    b.load_weights(&path).expect("load");
    assert_eq!(bits(&a), bits(&b));
}

#[test]
fn safetensors_keys_are_keras_names() {
    let bytes = to_safetensors(&Mlp::with_seed(0)).expect("serialize");
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + n]).expect("utf-8");
    for key in [
        "dense/kernel",
        "dense/bias",
        "dense_1/kernel",
        "dense_1/bias",
    ] {
        assert!(header.contains(&format!("\"{key}\"")), "{key} in {header}");
    }
    assert!(header.contains("\"F32\""));
}

#[test]
fn every_mismatch_is_reported_at_once() {
    // Regressor has dense/kernel [4, 8] and dense/bias [8]; Mlp has dense/kernel [4, 5],
    // dense/bias [5], dense_1/kernel [5, 2], dense_1/bias [2].
    let bytes = to_safetensors(&Regressor::with_seed(0)).expect("serialize");
    let mut mlp = Mlp::with_seed(3);
    let before = bits(&mlp);
    let err = from_safetensors(&mut mlp, &bytes).expect_err("mismatch");
    let Error::WeightMismatch(m) = &err else {
        panic!("expected WeightMismatch, got {err:?}");
    };
    assert_eq!(m.missing, ["dense_1/kernel", "dense_1/bias"]);
    assert!(m.unexpected.is_empty());
    assert_eq!(m.shapes.len(), 2);
    assert_eq!(m.shapes[0].key, "dense/bias");
    assert_eq!(
        (m.shapes[0].expected.clone(), m.shapes[0].found.clone()),
        (vec![5], vec![8])
    );
    assert_eq!(m.shapes[1].key, "dense/kernel");
    assert_eq!(m.shapes[1].expected, vec![4, 5]);
    assert_eq!(m.shapes[1].found, vec![4, 8]);
    let text = err.to_string();
    assert!(text.contains("4 mismatches"), "{text}");
    assert!(
        text.contains("missing from the file: dense_1/kernel, dense_1/bias"),
        "{text}"
    );
    assert!(
        text.contains("'dense/kernel': expected shape [4, 5], found [4, 8]"),
        "{text}"
    );
    // A failed load changes nothing.
    assert_eq!(bits(&mlp), before);
}

/// A safetensors file written by hand: header JSON, then data.
fn raw_safetensors(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

#[test]
fn unexpected_and_dtype_mismatches_are_reported() {
    let header = r#"{"dense/kernel":{"dtype":"F64","shape":[4,8],"data_offsets":[0,256]},"dense/bias":{"dtype":"F32","shape":[8],"data_offsets":[256,288]},"extra/w":{"dtype":"F32","shape":[1],"data_offsets":[288,292]}}"#;
    let bytes = raw_safetensors(header, &[0u8; 292]);
    let err = from_safetensors(&mut Regressor::with_seed(0), &bytes).expect_err("mismatch");
    let Error::WeightMismatch(m) = &err else {
        panic!("expected WeightMismatch, got {err:?}");
    };
    assert_eq!(m.unexpected, ["extra/w"]);
    assert_eq!(m.dtypes.len(), 1);
    assert_eq!(m.dtypes[0].key, "dense/kernel");
    assert_eq!(m.dtypes[0].expected, "F32");
    assert_eq!(m.dtypes[0].found, "F64");
    assert!(m.missing.is_empty() && m.shapes.is_empty());
}

#[test]
fn malformed_safetensors_are_typed_errors() {
    let good = to_safetensors(&Regressor::with_seed(0)).expect("serialize");
    let mut model = Regressor::with_seed(0);
    let st = FileFormat::Safetensors;
    // Shorter than the length field.
    let e = from_safetensors(&mut model, &good[..5]).expect_err("short");
    assert_eq!(file_problem(&e), (st, FileProblem::Truncated));
    // A header length of 2^64 - 1.
    let mut huge = good.clone();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    let e = from_safetensors(&mut model, &huge).expect_err("huge");
    assert_eq!(file_problem(&e), (st, FileProblem::TooLarge));
    // Header cut off.
    let e = from_safetensors(&mut model, &good[..20]).expect_err("cut header");
    assert_eq!(file_problem(&e), (st, FileProblem::Truncated));
    // Data cut off: the offsets point past the end.
    let e = from_safetensors(&mut model, &good[..good.len() - 4]).expect_err("cut data");
    assert_eq!(file_problem(&e), (st, FileProblem::OutOfBounds));
    // Offsets past the end, in a header that is otherwise fine.
    let header = r#"{"dense/bias":{"dtype":"F32","shape":[250000],"data_offsets":[0,1000000]}}"#;
    let e = from_safetensors(&mut model, &raw_safetensors(header, &[0; 32])).expect_err("offsets");
    assert_eq!(file_problem(&e), (st, FileProblem::OutOfBounds));
    // Not JSON.
    let e = from_safetensors(&mut model, &raw_safetensors("{nope", &[])).expect_err("json");
    assert_eq!(file_problem(&e), (st, FileProblem::Malformed));
    // Every prefix of a good file fails cleanly.
    for n in 0..good.len() {
        assert!(
            from_safetensors(&mut model, &good[..n]).is_err(),
            "prefix {n}"
        );
    }
}

#[test]
fn a_missing_file_is_an_io_error() {
    let e = Regressor::with_seed(0)
        .load_weights(tmp("does-not-exist.safetensors"))
        .expect_err("missing");
    assert!(
        matches!(
            e,
            Error::Io {
                kind: std::io::ErrorKind::NotFound,
                ..
            }
        ),
        "{e:?}"
    );
}

// === Keras ===

fn check_mlp_outputs(model: &KerasMlp) {
    let f = fixture("keras-files/mlp.json");
    let x = array2(&f["x"]);
    let expected = array2(&f["output"]);
    let got = model.predict(x.view()).expect("predict");
    let max = (&got - &expected).iter().fold(0f32, |m, d| m.max(d.abs()));
    assert!(max <= 1e-6, "max difference {max:e}");
}

fn check_mlp_weights(model: &KerasMlp) {
    let f = fixture("keras-files/mlp.json");
    for (ours, theirs) in [
        ("dense/kernel", "sequential/dense/kernel"),
        ("dense/bias", "sequential/dense/bias"),
        ("dense_2/kernel", "sequential/dense_2/kernel"),
    ] {
        let w = model
            .weights()
            .into_iter()
            .find(|(k, _)| k == ours)
            .expect("weight")
            .1;
        assert_eq!(w, array(&f["weights"][theirs]), "{ours}");
    }
}

#[test]
fn keras_weights_h5_reproduces_keras_predictions() {
    let mut model = KerasMlp::with_seed(0);
    model
        .load_keras_weights(keras_file("mlp.weights.h5"))
        .expect("load");
    check_mlp_weights(&model);
    check_mlp_outputs(&model);
}

#[test]
fn keras_archive_reproduces_keras_predictions() {
    let mut model = KerasMlp::with_seed(0);
    model.load_keras(keras_file("mlp.keras")).expect("load");
    check_mlp_weights(&model);
    check_mlp_outputs(&model);
}

#[test]
fn a_deflated_archive_loads_the_same() {
    let mut model = KerasMlp::with_seed(0);
    model
        .load_keras(keras_file("mlp_deflated.keras"))
        .expect("load");
    check_mlp_outputs(&model);
}

#[test]
fn layers_map_by_class_and_order_not_by_name() {
    // Other layer names, same classes: the file's `dense`, `dense_1`, `dense_2` still map.
    let mut model = RenamedMlp::with_seed(0);
    model
        .load_keras_weights(keras_file("mlp.weights.h5"))
        .expect("load");
    let paths = keras_weight_paths(&model);
    assert_eq!(
        paths[0],
        ("hidden/kernel".into(), "layers/dense/vars/0".into())
    );
    assert_eq!(
        paths[5],
        ("out/bias".into(), "layers/dense_2/vars/1".into())
    );
}

#[test]
fn a_differently_declared_model_names_the_difference() {
    let mut model = WrongMlp::with_seed(0);
    let err = model
        .load_keras(keras_file("mlp.keras"))
        .expect_err("dense(6) is not dense(5)");
    let Error::Architecture { differences } = &err else {
        panic!("expected Architecture, got {err:?}");
    };
    assert_eq!(differences.len(), 1, "{err}");
    assert_eq!(differences[0].location, "layer 1 (dense)");
    assert_eq!(differences[0].field, "units");
    assert_eq!(differences[0].saved, "5");
    assert_eq!(differences[0].declared, "6");
    let text = err.to_string();
    assert!(text.contains("saved | declared"), "{text}");
    assert!(text.contains("layer 1 (dense) units  5 | 6"), "{text}");

    // The weights file alone has no architecture: the shapes say what differs.
    let err = model
        .load_keras_weights(keras_file("mlp.weights.h5"))
        .expect_err("shapes");
    let Error::WeightMismatch(m) = &err else {
        panic!("expected WeightMismatch, got {err:?}");
    };
    let keys: Vec<&str> = m.shapes.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "layers/dense/vars/0 (dense/kernel)",
            "layers/dense/vars/1 (dense/bias)",
            "layers/dense_1/vars/0 (dense_1/kernel)"
        ]
    );
    assert_eq!(m.shapes[0].expected, vec![4, 6]);
    assert_eq!(m.shapes[0].found, vec![4, 5]);
}

#[test]
fn other_activations_are_reported_side_by_side() {
    let err = RenamedMlp::with_seed(0)
        .load_keras(keras_file("mlp.keras"))
        .expect_err("sigmoid is not tanh");
    let text = err.to_string();
    assert!(text.contains("layer 2 (middle) activation  tanh"), "{text}");
    assert!(text.contains("| sigmoid"), "{text}");
}

#[test]
fn a_model_without_layer_metadata_says_so() {
    let config = read_keras_archive(&std::fs::read(keras_file("mlp.keras")).expect("read"))
        .expect("archive")
        .config;
    let err = stratic_core::compare_architecture::<NoMetaModel>(&config).expect_err("no metadata");
    assert!(err.to_string().contains("no layer metadata"), "{err}");
    let err = NoMetaModel(KerasMlp::with_seed(0))
        .load_keras(keras_file("mlp.keras"))
        .expect_err("no metadata");
    assert!(matches!(err, Error::Architecture { .. }), "{err:?}");
}

/// A model that keeps `Model::layers`' default (what `model!` generates until it emits the
/// metadata).
struct NoMetaModel(KerasMlp);

impl Model for NoMetaModel {
    type Input<'a> = <KerasMlp as Model>::Input<'a>;
    type Batch = <KerasMlp as Model>::Batch;
    type Output = <KerasMlp as Model>::Output;
    fn output_specs() -> &'static [stratic_core::shape::TensorSpec] {
        KerasMlp::output_specs()
    }
    fn output_names() -> &'static [&'static str] {
        KerasMlp::output_names()
    }
    fn check_input(x: Self::Input<'_>) -> Result<usize, Error> {
        KerasMlp::check_input(x)
    }
    fn gather(x: Self::Input<'_>, rows: &[usize], out: &mut Self::Batch) {
        KerasMlp::gather(x, rows, out)
    }
    fn batch_view(batch: &Self::Batch) -> Self::Input<'_> {
        batch.view()
    }
    fn call(&self, x: Self::Input<'_>) -> Vec<ndarray::Array2<f32>> {
        self.0.call(x)
    }
    fn to_output(outputs: Vec<ndarray::Array2<f32>>, n: usize) -> Self::Output {
        KerasMlp::to_output(outputs, n)
    }
    fn forward_train(&mut self, x: Self::Input<'_>) {
        self.0.forward_train(x)
    }
    fn train_output(&mut self, index: usize) -> ndarray::ArrayView2<'_, f32> {
        self.0.train_output(index)
    }
    fn backward(&mut self, x: Self::Input<'_>, g: &[ndarray::Array2<f32>]) {
        self.0.backward(x, g)
    }
    fn visit_params(&mut self, f: &mut dyn FnMut(stratic_core::ParamMut<'_>)) {
        self.0.visit_params(f)
    }
    fn visit_weights(&self, f: &mut dyn FnMut(stratic_core::ParamRef<'_>)) {
        self.0.visit_weights(f)
    }
}

#[test]
fn without_metadata_weighted_layers_are_taken_as_dense() {
    let mut model = NoMetaModel(KerasMlp::with_seed(0));
    model
        .load_keras_weights(keras_file("mlp.weights.h5"))
        .expect("load");
    // And the .keras file's weights, without the architecture check.
    model
        .load_keras_weights(keras_file("mlp.keras"))
        .expect("load from archive");
    check_mlp_outputs(&model.0);
}

#[test]
fn two_tower_weights_read_with_the_low_level_reader() {
    let bytes = std::fs::read(keras_file("two_tower.weights.h5")).expect("read");
    let datasets = Hdf5File::parse(&bytes)
        .expect("parse")
        .datasets()
        .expect("walk");
    let got: Vec<(&str, Vec<usize>)> = datasets
        .iter()
        .map(|d| (d.path.as_str(), d.shape.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("layers/dense/vars/0", vec![6, 5]),
            ("layers/dense/vars/1", vec![5]),
            ("layers/dense_1/vars/0", vec![4, 5]),
            ("layers/dense_1/vars/1", vec![5]),
            ("layers/dense_2/vars/0", vec![10, 1]),
            ("layers/dense_2/vars/1", vec![1]),
        ]
    );
    assert!(datasets.iter().all(|d| d.dtype == "float32"));
    // The same weights inside the .keras archive.
    let archive = read_keras_archive(&std::fs::read(keras_file("two_tower.keras")).expect("read"))
        .expect("archive");
    let inner = Hdf5File::parse(&archive.weights)
        .expect("parse")
        .datasets()
        .expect("walk");
    assert_eq!(inner.len(), 6);
    assert_eq!(inner[0].shape, vec![6, 5]);
    // The q_tower kernel is the first dense layer's; check it against a forward pass of the
    // fixture's q output: relu(x_query . kernel + bias).
    let f = fixture("keras-files/two_tower.json");
    let xq = array2(&f["x_query"]);
    let kernel =
        ndarray::Array2::from_shape_vec((6, 5), datasets[0].to_f32().expect("f32")).expect("shape");
    let bias = ndarray::Array1::from_vec(datasets[1].to_f32().expect("f32"));
    let q = (xq.dot(&kernel) + &bias).mapv(|v| v.max(0.0));
    let expected = array2(&f["output_q"]);
    let max = (&q - &expected).iter().fold(0f32, |m, d| m.max(d.abs()));
    assert!(max <= 1e-6, "q tower max difference {max:e}");
}

// === what the HDF5 reader refuses ===

fn h5_problem(name: &str) -> (FileProblem, String) {
    let bytes = std::fs::read(keras_file(name)).expect("read");
    let result = Hdf5File::parse(&bytes).and_then(|f| f.datasets());
    match result {
        Err(Error::WeightFile {
            format: FileFormat::Hdf5,
            problem,
            message,
        }) => (problem, message),
        other => panic!("{name}: expected an HDF5 WeightFile error, got {other:?}"),
    }
}

#[test]
fn the_plain_generated_file_reads() {
    let bytes = std::fs::read(keras_file("plain.weights.h5")).expect("read");
    let d = Hdf5File::parse(&bytes)
        .expect("parse")
        .datasets()
        .expect("walk");
    assert_eq!(d.len(), 2);
    assert_eq!(d[0].to_f32().expect("f32"), [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]);
}

#[test]
fn links_and_foreign_data_are_refused_as_keras_does() {
    for (file, word) in [
        ("soft_link.weights.h5", "soft link"),
        ("external_link.weights.h5", "external link"),
        ("external_dataset.weights.h5", "external files"),
        ("virtual_dataset.weights.h5", "virtual"),
    ] {
        let (problem, message) = h5_problem(file);
        assert_eq!(problem, FileProblem::Unsafe, "{file}: {message}");
        assert!(message.contains(word), "{file}: {message}");
        assert!(message.contains("layers/dense/vars/2"), "{file}: {message}");
    }
}

#[test]
fn what_the_reader_does_not_implement_is_unsupported() {
    for (file, word) in [
        ("chunked.weights.h5", "chunked"),
        ("latest.weights.h5", "superblock version"),
    ] {
        let (problem, message) = h5_problem(file);
        assert_eq!(problem, FileProblem::Unsupported, "{file}: {message}");
        assert!(message.contains(word), "{file}: {message}");
    }
}

#[test]
fn a_float64_variable_is_a_dtype_mismatch() {
    dense_stack!(Small, 3, [(dense, 2, Linear)]);
    let err = Small::with_seed(0)
        .load_keras_weights(keras_file("float64.weights.h5"))
        .expect_err("f64 bias");
    let Error::WeightMismatch(m) = &err else {
        panic!("expected WeightMismatch, got {err:?}");
    };
    assert_eq!(m.dtypes.len(), 1);
    assert_eq!(m.dtypes[0].key, "layers/dense/vars/1 (dense/bias)");
    assert_eq!(m.dtypes[0].found, "float64");
    // The plain file loads into the same model.
    let mut ok = Small::with_seed(0);
    ok.load_keras_weights(keras_file("plain.weights.h5"))
        .expect("plain");
}

#[test]
fn corrupt_h5_files_never_panic() {
    let bytes = std::fs::read(keras_file("mlp.weights.h5")).expect("read");
    let mut model = KerasMlp::with_seed(0);
    // Every prefix, and single-byte corruptions across the metadata.
    for n in (0..bytes.len()).step_by(7) {
        assert!(
            stratic_core::load_keras_weights_bytes(&mut model, &bytes[..n]).is_err(),
            "prefix {n}"
        );
    }
    for i in 0..2048.min(bytes.len()) {
        for v in [0x00, 0xff, 0x80] {
            let mut b = bytes.clone();
            b[i] = v;
            let _ = stratic_core::load_keras_weights_bytes(&mut model, &b);
        }
    }
}

#[test]
fn corrupt_archives_are_typed_errors() {
    let bytes = std::fs::read(keras_file("mlp.keras")).expect("read");
    let mut model = KerasMlp::with_seed(0);
    for n in (4..bytes.len()).step_by(97) {
        let e = stratic_core::load_keras_bytes(&mut model, &bytes[..n]).expect_err("prefix");
        assert!(matches!(e, Error::WeightFile { .. }), "prefix {n}: {e:?}");
    }
}

#[test]
fn an_entry_claiming_to_expand_beyond_the_bound_is_refused() {
    let bytes = std::fs::read(keras_file("bomb.keras")).expect("read");
    let e = read_keras_archive(&bytes).expect_err("bomb");
    assert_eq!(
        file_problem(&e),
        (FileFormat::Zip, FileProblem::Unsafe),
        "{e}"
    );
    assert!(e.to_string().contains("model.weights.h5"), "{e}");
}
