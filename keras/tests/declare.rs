//! `declare` on the Keras fixtures prints exactly the declarations that tests/declared.rs (in the
//! facade) compiles and loads; what the registry cannot express is listed, every item at once.

use std::path::Path;

use stratic_keras::{
    check_keras_file, check_keras_parts, declare, declare_keras_file, DeclareError,
};

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

#[test]
fn the_fixtures_declare_as_tests_declared_rs_compiles_them() {
    let compiled = std::fs::read_to_string(repo("tests/declared.rs")).expect("tests/declared.rs");
    for (file, name) in [
        ("tests/fixtures/keras-files/mlp.keras", "DeclaredMlp"),
        (
            "tests/fixtures/keras-files/two_tower.keras",
            "DeclaredTwoTower",
        ),
        ("tests/fixtures/keras-files-layers/bag.keras", "DeclaredBag"),
        (
            "tests/fixtures/keras-files-layers/two_heads.keras",
            "DeclaredTwoHeads",
        ),
        ("tests/fixtures/keras-files-layers/cnn.keras", "DeclaredCnn"),
        ("tests/fixtures/keras-files-layers/seq.keras", "DeclaredSeq"),
        (
            "tests/fixtures/keras-files-layers/lstm_text.keras",
            "DeclaredLstmText",
        ),
    ] {
        let bytes = std::fs::read(repo(file)).expect("fixture");
        let source = declare_keras_file(&bytes, name).expect("declarable");
        assert!(
            compiled.contains(&source),
            "{file}: the generated declaration is not the one tests/declared.rs compiles:\n{source}"
        );
    }
}

#[test]
fn arguments_are_written_only_where_they_differ_from_the_defaults() {
    let bytes = std::fs::read(repo("tests/fixtures/keras-files/mlp.keras")).unwrap();
    let source = declare_keras_file(&bytes, "M").unwrap();
    assert!(source.contains("dense(2, name = \"dense_2\")"), "{source}");
    assert!(!source.contains("use_bias"), "{source}");
    assert!(!source.contains("glorot_uniform"), "{source}");
}

#[test]
fn unsupported_layers_and_arguments_are_all_listed() {
    let config = r#"{"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [null, 4], "name": "in"}},
        {"class_name": "Dense", "config": {"name": "d", "units": 3, "activation": "relu",
            "kernel_constraint": {"class_name": "MaxNorm"}}},
        {"class_name": "Conv9D", "config": {"name": "weird"}},
        {"class_name": "Dense", "config": {"name": "e", "units": 2, "activation": "hard_swish"}}
    ]}}"#;
    let Err(DeclareError::Unsupported(list)) = declare(config, "M") else {
        panic!("expected the unsupported list");
    };
    let text: Vec<String> = list.iter().map(ToString::to_string).collect();
    assert_eq!(text.len(), 3, "{text:#?}");
    assert!(
        text[0].contains("'d' (Dense): `kernel_constraint`"),
        "{text:#?}"
    );
    assert!(
        text[1].contains("'weird' (Conv9D): this layer"),
        "{text:#?}"
    );
    assert!(
        text[2].contains("'e' (Dense): `activation` = \"hard_swish\""),
        "{text:#?}"
    );
}

#[test]
fn malformed_input_is_an_error_not_a_panic() {
    assert!(matches!(
        declare_keras_file(b"not a zip", "M"),
        Err(DeclareError::Malformed(_))
    ));
    assert!(matches!(
        declare("{}", "M"),
        Err(DeclareError::Malformed(_))
    ));
    assert!(matches!(
        declare("[1, 2", "M"),
        Err(DeclareError::Malformed(_))
    ));
    assert!(matches!(
        declare(
            r#"{"class_name": "Sequential", "config": {"layers": 3}}"#,
            "M"
        ),
        Err(DeclareError::Malformed(_))
    ));
}

#[test]
fn padding_pairs_declare_as_they_are_written() {
    let config = r#"{"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 1], "name": "in"}},
        {"class_name": "ZeroPadding2D", "config": {"name": "pad", "padding": [[1, 2], [3, 3]],
            "data_format": "channels_last"}},
        {"class_name": "ZeroPadding2D", "config": {"name": "pad_1", "padding": [[1, 1], [1, 1]],
            "data_format": "channels_last"}},
        {"class_name": "Cropping2D", "config": {"name": "crop", "cropping": [[2, 2], [1, 1]],
            "data_format": "channels_last"}},
        {"class_name": "UpSampling2D", "config": {"name": "up", "size": [2, 2],
            "interpolation": "nearest", "data_format": "channels_last"}}
    ]}}"#;
    let source = declare(config, "M").expect("declarable");
    assert!(
        source.contains("zero_padding_2d(padding = [[1, 2], [3, 3]], name = \"pad\")"),
        "{source}"
    );
    assert!(
        source.contains("zero_padding_2d(name = \"pad_1\")"),
        "{source}"
    );
    assert!(
        source.contains("cropping_2d(cropping = [2, 1], name = \"crop\")"),
        "{source}"
    );
    assert!(source.contains("up_sampling_2d(name = \"up\")"), "{source}");
}

#[test]
fn regularizers_are_declared_in_the_dsl() {
    let config = r#"{"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [null, 3], "dtype": "float32", "name": "input_layer"}},
        {"class_name": "Dense", "config": {"name": "dense", "units": 2, "activation": "linear", "use_bias": true,
            "kernel_regularizer": {"module": "keras.regularizers", "class_name": "L1L2", "config": {"l1": 0.5, "l2": 0.25}, "registered_name": null},
            "bias_regularizer": null,
            "activity_regularizer": {"class_name": "L2", "config": {"l2": 0.125}}}}]}}"#;
    let source = declare(config, "M").unwrap();
    assert!(
        source.contains(
            "dense(2, kernel_regularizer = l1_l2(l1 = 0.5, l2 = 0.25), activity_regularizer = l2(0.125), name = \"dense\")"
        ),
        "{source}"
    );
}

#[test]
fn recurrent_regularizers_are_declared_in_the_dsl() {
    let config = r#"{"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [null, 5, 3], "dtype": "float32", "name": "input_layer"}},
        {"class_name": "LSTM", "config": {"name": "lstm", "units": 4, "return_sequences": true,
            "kernel_regularizer": {"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.5}, "registered_name": null},
            "recurrent_regularizer": {"module": "keras.regularizers", "class_name": "L1", "config": {"l1": 0.25}, "registered_name": null},
            "bias_regularizer": null,
            "activity_regularizer": {"class_name": "L1L2", "config": {"l1": 0.125, "l2": 0.5}}}},
        {"class_name": "SimpleRNN", "config": {"name": "simple_rnn", "units": 2,
            "bias_regularizer": {"class_name": "L2", "config": {"l2": 0.25}}}}]}}"#;
    let source = declare(config, "M").unwrap();
    assert!(
        source.contains(
            "lstm(4, kernel_regularizer = l2(0.5), recurrent_regularizer = l1(0.25), activity_regularizer = l1_l2(l1 = 0.125, l2 = 0.5), return_sequences = true, name = \"lstm\")"
        ),
        "{source}"
    );
    assert!(
        source.contains("simple_rnn(2, bias_regularizer = l2(0.25), name = \"simple_rnn\")"),
        "{source}"
    );
}

#[test]
fn check_finds_every_weight_of_every_fixture_where_the_declaration_puts_it() {
    for (file, weights) in [
        ("tests/fixtures/keras-files/mlp.keras", 6),
        ("tests/fixtures/keras-files/two_tower.keras", 6),
        ("tests/fixtures/keras-files-layers/bag.keras", 3),
        ("tests/fixtures/keras-files-layers/two_heads.keras", 8),
        ("tests/fixtures/keras-files-layers/cnn.keras", 10),
        ("tests/fixtures/keras-files-layers/lstm_text.keras", 6),
        ("tests/fixtures/keras-files-layers/seq.keras", 15),
    ] {
        let bytes = std::fs::read(repo(file)).expect("fixture");
        let report = check_keras_file(&bytes).expect("checkable");
        assert_eq!(report.problems, Vec::<String>::new(), "{file}");
        assert_eq!(report.matched, weights, "{file}");
    }
}

#[test]
fn check_reports_weights_of_another_model_one_by_one() {
    let bag = stratic_core::read_keras_archive(
        &std::fs::read(repo("tests/fixtures/keras-files-layers/bag.keras")).unwrap(),
    )
    .unwrap();
    let wide = bag.config.replace("\"output_dim\": 4", "\"output_dim\": 6");
    assert_ne!(wide, bag.config, "the fixture's embedding width is 4");
    let report = check_keras_parts(&wide, &bag.weights).unwrap();
    // The head's bias (2) still fits; the table and the head's kernel do not.
    assert_eq!(report.matched, 1, "{report:?}");
    assert_eq!(report.problems.len(), 2, "{report:?}");
    assert!(
        report.problems[0].contains("[12, 6]") && report.problems[0].contains("[12, 4]"),
        "{report:?}"
    );
    let cnn = stratic_core::read_keras_archive(
        &std::fs::read(repo("tests/fixtures/keras-files-layers/cnn.keras")).unwrap(),
    )
    .unwrap();
    let report = check_keras_parts(&bag.config, &cnn.weights).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("not in the file")),
        "{report:?}"
    );
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("layers/conv2d/vars/0: in the file")),
        "{report:?}"
    );
}

#[test]
fn normalization_declares_its_given_statistics() {
    // Keras saves given statistics as numbers or lists, adapted ones as `null`.
    let config = r#"{"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [null, 2], "name": "in"}},
        {"class_name": "Normalization", "config": {"name": "given", "axis": -1,
            "mean": [0.5, -2.0], "variance": 4.0}},
        {"class_name": "Normalization", "config": {"name": "adapted", "axis": -1,
            "mean": null, "variance": null}}
    ]}}"#;
    let source = declare(config, "M").unwrap();
    assert!(
        source.contains("normalization(mean = [0.5, -2], variance = [4], name = \"given\")"),
        "{source}"
    );
    assert!(
        source.contains("normalization(name = \"adapted\")"),
        "{source}"
    );
}

#[test]
fn check_reads_past_an_adapted_normalizations_count() {
    // Keras 3 saves an adapted Normalization's `mean`, `variance` and a scalar int64 `count`
    // (vars/2) that no declaration has as a weight: not a difference. A `count` of another
    // shape is reported.
    let config = r#"{"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [null, 3], "dtype": "float32", "name": "input_layer"}},
        {"class_name": "Normalization", "config": {"name": "normalization", "axis": [-1],
            "invert": false, "mean": null, "variance": null}}]}}"#;
    let weights = |count_shape: &[usize]| {
        let mut tree = stratic_core::Hdf5Tree::new();
        tree.dataset("layers/normalization/vars/0", &[3], vec![0.5, 1.0, 2.0])
            .unwrap();
        tree.dataset("layers/normalization/vars/1", &[3], vec![1.0, 4.0, 9.0])
            .unwrap();
        let n = count_shape.iter().product();
        tree.dataset_i64("layers/normalization/vars/2", count_shape, vec![0; n])
            .unwrap();
        tree.to_bytes().unwrap()
    };
    let report = check_keras_parts(config, &weights(&[])).expect("checkable");
    assert_eq!(report.problems, Vec::<String>::new());
    assert_eq!(report.matched, 2);
    let report = check_keras_parts(config, &weights(&[2])).expect("checkable");
    assert_eq!(report.problems.len(), 1, "{report:?}");
    assert!(report.problems[0].contains("vars/2"), "{report:?}");
}
