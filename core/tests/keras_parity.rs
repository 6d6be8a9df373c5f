//! Numerical parity with Keras 3 (fixtures in tests/fixtures, produced by Keras 3.15 on
//! TensorFlow 2.21): every value within max(1e-5 |expected|, 1e-6).

mod common;

use common::{array, array2, close, close_scalar, fixture, Mlp, Regressor, MAX_REL};
use ndarray::{Array2, Ix2};
use serde_json::Value;
use stratic_core::shape::{Activation, DenseConfig};
use stratic_core::{
    Adam, AdamW, Dense, FitOptions, Layer, Loss, Model, Optimizer, RMSprop, Rng, SGD,
};

fn report(name: &str) {
    MAX_REL.with(|m| {
        let (rel, used) = m.get();
        eprintln!("{name}: largest relative error {rel:.2e}, largest error/tolerance {used:.3}")
    });
}

#[test]
fn dense_forward_every_activation() {
    let f = fixture("dense_forward.json");
    let x = array2(&f["x"]);
    let kernel = array2(&f["kernel"]);
    let bias = array(&f["bias"]).into_dimensionality().expect("1-D");
    let outputs = f["outputs"].as_object().expect("outputs");
    assert_eq!(outputs.len(), 10);
    for (name, expected) in outputs {
        let act = Activation::from_name(name).unwrap_or_else(|| panic!("activation {name}"));
        let mut config = DenseConfig::new(8);
        config.activation = act;
        let mut d = Dense::build(config, 4, &mut Rng::new(0));
        d.set_kernel(kernel.view()).unwrap();
        d.set_bias(bias.view()).unwrap();
        let expected = array(expected);
        close(name, &d.call_rows(x.view()).into_dyn(), &expected);
        // The training path computes the same values in its own buffers.
        d.forward_rows(x.view());
        close(name, &d.output().to_owned().into_dyn(), &expected);
    }
    report("dense_forward");
}

#[test]
fn losses_match_keras() {
    let f = fixture("losses.json");
    let case = |key: &str, loss: Loss, pred: &str, target: Array2<f32>| {
        let c = &f[key];
        let pred = array2(&c[pred]);
        let got = loss.value(pred.view(), target.view()).unwrap();
        close_scalar(key, got, c["loss"].as_f64().expect("loss"));
    };
    for (key, loss) in [
        ("mse", Loss::mse()),
        ("mae", Loss::mae()),
        ("binary_crossentropy", Loss::binary_crossentropy()),
        ("categorical_crossentropy", Loss::categorical_crossentropy()),
    ] {
        case(key, loss, "y_pred", array2(&f[key]["y_true"]));
    }
    case(
        "binary_crossentropy_from_logits",
        Loss::BinaryCrossentropy {
            from_logits: true,
            label_smoothing: 0.0,
        },
        "logits",
        array2(&f["binary_crossentropy_from_logits"]["y_true"]),
    );
    let labels: Vec<f32> = f["sparse_categorical_crossentropy_from_logits"]["labels"]
        .as_array()
        .expect("labels")
        .iter()
        .map(|v| v.as_f64().expect("label") as f32)
        .collect();
    let n = labels.len();
    case(
        "sparse_categorical_crossentropy_from_logits",
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        "logits",
        Array2::from_shape_vec((n, 1), labels).unwrap(),
    );
    report("losses");
}

fn set_weights(model: &mut impl Model, weights: &Value) {
    for (key, value) in weights.as_object().expect("weights") {
        model.set_weight(key, array(value).view()).unwrap();
    }
}

fn train_case<O: Optimizer>(file: &str, optimizer: O) {
    let f = fixture(file);
    assert_eq!(f["loss"], "mse");
    assert_eq!(f["batch_size"], 4);
    assert_eq!(f["epochs"], 3);
    assert_eq!(f["shuffle"], false);
    let x = array2(&f["x"]);
    let y = array2(&f["y"]);
    // Different initial weights than the fixture's, so that set_weight must do its job.
    let mut model = Mlp::with_seed(123);
    set_weights(&mut model, &f["initial"]);
    let mut compiled = model.compile(optimizer, Loss::mse());
    let options = FitOptions::default()
        .epochs(3)
        .batch_size(4)
        .shuffle(false)
        .verbose(0);
    let history = compiled.fit(x.view(), y.view(), &options).unwrap();
    assert_eq!(history.epoch, vec![0, 1, 2]);
    let expected_loss = array(&f["history_loss"]);
    close(
        &format!("{file} history loss"),
        &ndarray::Array1::from(history.loss().to_vec()).into_dyn(),
        &expected_loss,
    );
    let weights = compiled.model().weights();
    let keys: Vec<&str> = weights.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "dense/kernel",
            "dense/bias",
            "dense_1/kernel",
            "dense_1/bias"
        ]
    );
    let final_weights = f["final"].as_object().expect("final");
    assert_eq!(final_weights.len(), weights.len());
    for (key, value) in &weights {
        close(&format!("{file} {key}"), value, &array(&final_weights[key]));
    }
    report(file);
}

#[test]
fn train_sgd() {
    train_case("train_sgd.json", SGD::new(0.05));
}

#[test]
fn train_sgd_nesterov() {
    train_case(
        "train_sgd_nesterov.json",
        SGD::new(0.05).momentum(0.9).nesterov(true),
    );
}

#[test]
fn train_rmsprop() {
    train_case("train_rmsprop.json", RMSprop::new(0.001));
}

#[test]
fn train_adam() {
    train_case("train_adam.json", Adam::new(0.01));
}

#[test]
fn train_adamw() {
    train_case("train_adamw.json", AdamW::new(0.01).weight_decay(0.004));
}

#[test]
fn seed_fit_with_keras_defaults() {
    let f = fixture("seed_fit.json");
    let mut model = Regressor::with_seed(99);
    set_weights(&mut model, &f["initial"]);
    let mut compiled = model.compile(RMSprop::default(), Loss::mse());
    let x = Array2::<f32>::zeros((10, 4));
    let y = Array2::<f32>::ones((10, 8));
    let mut out = Vec::new();
    let history = compiled
        .fit_with_output(x.view(), y.view(), &FitOptions::default(), &mut out)
        .unwrap();
    close(
        "seed_fit loss",
        &ndarray::Array1::from(history.loss().to_vec()).into_dyn(),
        &array(&f["history_loss"]),
    );
    for (key, value) in compiled.model().weights() {
        close(
            &format!("seed_fit {key}"),
            &value,
            &array(&f["final"][&key]),
        );
    }
    // verbose = 1 by default: one progress line (Keras prints no "Epoch 1/1" header for a
    // single epoch).
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(lines[0].starts_with("1/1 ━━━━━━━━━━━━━━━━━━━━ "), "{text}");
    assert!(lines[0].ends_with("/step - loss: 1.0000"), "{text}");
    let prediction = compiled.predict(x.view()).unwrap();
    assert_eq!(prediction.dim(), (10, 8));
    let _: &ndarray::Array<f32, Ix2> = &prediction;
    report("seed_fit");
}

// The variants (tests/fixtures/keras-variants/, made by tests/fixtures/gen/gen_variants.py):
// every loss with its gradient, unweighted and with sample weights (one of them 0), label
// smoothing, and training with non-default optimizer settings.

/// The loss a case of losses_variants.json names, and its targets in our layout (class ids as
/// a column for the sparse loss).
fn variant_loss(name: &str, y_true: &Value) -> (Loss, Array2<f32>) {
    let loss = match name {
        "mse" => Loss::mse(),
        "mae" => Loss::mae(),
        "binary_crossentropy" => Loss::binary_crossentropy(),
        "binary_crossentropy_from_logits" => Loss::BinaryCrossentropy {
            from_logits: true,
            label_smoothing: 0.0,
        },
        "categorical_crossentropy" => Loss::categorical_crossentropy(),
        "categorical_crossentropy_from_logits" => Loss::CategoricalCrossentropy {
            from_logits: true,
            label_smoothing: 0.0,
        },
        "categorical_crossentropy_label_smoothing_0.1" => Loss::CategoricalCrossentropy {
            from_logits: true,
            label_smoothing: 0.1,
        },
        "sparse_categorical_crossentropy" => Loss::sparse_categorical_crossentropy(),
        "sparse_categorical_crossentropy_from_logits" => {
            Loss::SparseCategoricalCrossentropy { from_logits: true }
        }
        other => panic!("losses_variants.json has a loss this test does not know: {other}"),
    };
    let target = if loss.is_sparse() {
        let ids = array(y_true);
        let n = ids.len();
        ids.into_shape_with_order((n, 1)).expect("one id per row")
    } else {
        array2(y_true)
    };
    (loss, target)
}

#[test]
fn loss_variants_values_and_gradients() {
    let f = fixture("keras-variants/losses_variants.json");
    let weights = array(&f["sample_weight"])
        .into_dimensionality::<ndarray::Ix1>()
        .expect("1-D");
    assert_eq!(weights[1], 0.0, "the fixture has one zero weight");
    let cases = f["cases"].as_object().expect("cases");
    assert_eq!(cases.len(), 9);
    for (name, c) in cases {
        let (loss, target) = variant_loss(name, &c["y_true"]);
        let pred = array2(&c["y_pred"]);
        for (kind, w) in [("unweighted", None), ("weighted", Some(weights.view()))] {
            let what = format!("{name} {kind}");
            // A gradient buffer of the wrong shape and full of garbage: compute must resize
            // and overwrite it.
            let mut grad = Array2::from_elem((1, 1), f32::NAN);
            let value = loss
                .compute_weighted(pred.view(), target.view(), w, &mut grad)
                .unwrap();
            close_scalar(&what, value, c[kind]["loss"].as_f64().expect("loss"));
            close(
                &format!("{what} gradient"),
                &grad.into_dyn(),
                &array(&c[kind]["grad_y_pred"]),
            );
        }
        // The unweighted path is the weighted one with every weight 1.
        let ones = ndarray::Array1::<f32>::ones(pred.nrows());
        let mut grad = Array2::zeros((0, 0));
        let value = loss
            .compute_weighted(pred.view(), target.view(), Some(ones.view()), &mut grad)
            .unwrap();
        close_scalar(
            &format!("{name} weights 1"),
            value,
            c["unweighted"]["loss"].as_f64().expect("loss"),
        );
        close(
            &format!("{name} weights 1 gradient"),
            &grad.into_dyn(),
            &array(&c["unweighted"]["grad_y_pred"]),
        );
    }
    report("loss_variants");
}

#[test]
fn train_rmsprop_momentum() {
    train_case(
        "keras-variants/train_rmsprop_momentum.json",
        RMSprop::new(0.005).momentum(0.9),
    );
}

#[test]
fn train_rmsprop_momentum_centered() {
    train_case(
        "keras-variants/train_rmsprop_momentum_centered.json",
        RMSprop::new(0.005)
            .rho(0.8)
            .momentum(0.5)
            .epsilon(1e-6)
            .centered(true),
    );
}

#[test]
fn train_adam_amsgrad() {
    train_case(
        "keras-variants/train_adam_amsgrad.json",
        Adam::new(0.01).amsgrad(true),
    );
}

#[test]
fn train_adam_nondefault() {
    train_case(
        "keras-variants/train_adam_nondefault.json",
        Adam::new(0.02).beta_1(0.8).beta_2(0.95).epsilon(1e-4),
    );
}

#[test]
fn train_adamw_amsgrad() {
    train_case(
        "keras-variants/train_adamw_amsgrad.json",
        AdamW::new(0.01).weight_decay(0.01).amsgrad(true),
    );
}

#[test]
fn train_sgd_momentum() {
    train_case(
        "keras-variants/train_sgd_momentum.json",
        SGD::new(0.05).momentum(0.7),
    );
}
