//! `batch_normalization` and `layer_normalization` end to end through `model!`: Keras' summary
//! (moving statistics under "Non-trainable params"), the weights in Keras' order, moving
//! statistics that `fit` updates and `predict` uses, saving and loading them, after dense and
//! after conv, and Keras' own saved convnet reproduced.

use std::path::{Path, PathBuf};

use ndarray::Array4;
use stratic::prelude::*;

model! {
    /// Batch normalization after a dense layer (rank 2).
    struct DenseBn {
        input(shape = [4]) -> dense(8) -> batch_normalization() -> dense(1)
    }

    /// Batch normalization after a convolution (rank 4), over the channels.
    struct ConvBn {
        input(shape = [6, 6, 1])
            -> conv2d(3, 3, activation = relu)
            -> batch_normalization(momentum = 0.5)
            -> flatten()
            -> dense(1)
    }

    /// A frozen batch normalization (Keras' `trainable = False`).
    struct FrozenBn {
        input(shape = [4]) -> dense(8) -> batch_normalization(trainable = false) -> dense(1)
    }

    /// Layer normalization between dense layers.
    struct DenseLn {
        input(shape = [4]) -> dense(8) -> layer_normalization() -> dense(1)
    }

    /// The fixture cnn.json's model (its `dsl`), Keras' layer names.
    struct Cnn {
        input(shape = [12, 12, 1])
            -> conv2d(4, 3, activation = relu)
            -> batch_normalization()
            -> max_pooling_2d(2)
            -> conv2d(6, 3, padding = same, activation = relu)
            -> max_pooling_2d(2)
            -> flatten()
            -> dropout(0.5)
            -> dense(3, activation = softmax)
    }
}

fn data() -> (Array2<f32>, Array2<f32>) {
    let x = Array2::from_shape_fn((32, 4), |(r, c)| ((r * 5 + c * 3) % 7) as f32 - 2.0);
    let y = Array2::from_shape_fn((32, 1), |(r, _)| (r % 3) as f32);
    (x, y)
}

fn weight<M: Model>(model: &M, key: &str) -> Vec<f32> {
    model
        .weights()
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.iter().copied().collect())
        .unwrap_or_else(|| panic!("no weight {key}"))
}

#[test]
fn summary_counts_the_moving_statistics_as_non_trainable() {
    let text = DenseBn::with_seed(0).summary().to_string();
    // Keras: dense 40, batch_normalization 32 (gamma, beta, moving mean, moving variance of
    // 8), dense_1 9; 16 of them non-trainable.
    assert!(text.contains("(BatchNormalization)"), "{text}");
    assert!(text.contains(" Total params: 81 "), "{text}");
    assert!(text.contains(" Trainable params: 65 "), "{text}");
    assert!(text.contains(" Non-trainable params: 16 "), "{text}");
    let ln = DenseLn::with_seed(0).summary().to_string();
    assert!(ln.contains(" Non-trainable params: 0 "), "{ln}");
    assert!(ln.contains(" Total params: 65 "), "{ln}");
}

#[test]
fn weights_are_listed_in_keras_order() {
    let keys: Vec<String> = DenseBn::with_seed(0)
        .weights()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        keys,
        [
            "dense/kernel",
            "dense/bias",
            "batch_normalization/gamma",
            "batch_normalization/beta",
            "batch_normalization/moving_mean",
            "batch_normalization/moving_variance",
            "dense_1/kernel",
            "dense_1/bias",
        ]
    );
}

#[test]
fn fit_updates_the_moving_statistics_and_predict_uses_them() {
    let (x, y) = data();
    let mut model = DenseBn::with_seed(1).compile(Adam::new(0.01), Loss::mse());
    let before = model.weights();
    assert_eq!(
        weight(model.model(), "batch_normalization/moving_mean"),
        [0.0; 8]
    );
    let history = model
        .fit(
            x.view(),
            y.view(),
            &FitOptions::default().epochs(3).batch_size(8).verbose(0),
        )
        .unwrap();
    assert!(history.loss().iter().all(|l| l.is_finite()));
    let mean = weight(model.model(), "batch_normalization/moving_mean");
    let var = weight(model.model(), "batch_normalization/moving_variance");
    assert!(mean.iter().all(|&m| m != 0.0), "{mean:?}");
    assert!(var.iter().all(|&v| v != 1.0 && v > 0.0), "{var:?}");
    assert_ne!(before, model.weights());
    // Inference normalizes with the moving statistics: one sample alone gives the same
    // output as in a batch, and predicting changes nothing.
    let all = model.predict(x.view()).unwrap();
    let one = model.predict(x.slice(ndarray::s![3..4, ..])).unwrap();
    assert!((one[[0, 0]] - all[[3, 0]]).abs() < 1e-6);
    assert_eq!(
        mean,
        weight(model.model(), "batch_normalization/moving_mean")
    );
    // Evaluate too runs in inference mode: the statistics stay.
    model.evaluate(x.view(), y.view(), 8).unwrap();
    assert_eq!(
        mean,
        weight(model.model(), "batch_normalization/moving_mean")
    );
}

#[test]
fn a_frozen_batch_normalization_runs_in_inference_mode_in_training_too() {
    let (x, y) = data();
    let mut model = FrozenBn::with_seed(5).compile(Adam::new(0.01), Loss::mse());
    let text = model.summary().to_string();
    // Keras: all 32 of a frozen batch normalization are non-trainable.
    assert!(text.contains(" Non-trainable params: 32 "), "{text}");
    let bn = |m: &FrozenBn| {
        m.weights()
            .into_iter()
            .filter(|(k, _)| k.starts_with("batch_normalization/"))
            .collect::<Vec<_>>()
    };
    let before = bn(model.model());
    model
        .fit(
            x.view(),
            y.view(),
            &FitOptions::default().epochs(2).batch_size(8).verbose(0),
        )
        .unwrap();
    assert_eq!(
        bn(model.model()),
        before,
        "neither the optimizer nor training moved them"
    );
    assert_ne!(
        weight(model.model(), "dense/kernel"),
        weight(&FrozenBn::with_seed(5), "dense/kernel")
    );
}

#[test]
fn the_moving_statistics_are_saved_and_loaded_with_the_rest() {
    let (x, y) = data();
    let mut model = DenseBn::with_seed(2).compile(SGD::new(0.01), Loss::mse());
    model
        .fit(
            x.view(),
            y.view(),
            &FitOptions::default().epochs(2).verbose(0),
        )
        .unwrap();
    let path = std::env::temp_dir().join(format!(
        "stratic-normalization-{}.safetensors",
        std::process::id()
    ));
    model.save_weights(&path).unwrap();
    let mut loaded = DenseBn::with_seed(9);
    loaded.load_weights(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(loaded.weights(), model.weights());
    assert_eq!(
        loaded.predict(x.view()).unwrap(),
        model.predict(x.view()).unwrap()
    );
}

#[test]
fn after_a_convolution_the_statistics_are_per_channel() {
    let x = Array4::from_shape_fn((4, 6, 6, 1), |(n, i, j, _)| {
        ((n * 7 + i * 3 + j) % 5) as f32 / 5.0
    });
    let y = Array2::from_shape_fn((4, 1), |(n, _)| n as f32);
    let mut model = ConvBn::with_seed(3).compile(SGD::new(0.0), Loss::mse());
    // One step of one batch, learning rate 0: the convolution's output is what it was
    // before the step, so the moving mean is half the batch mean of each channel.
    let conv_out = {
        let probe = ConvBn::with_seed(3);
        let mut per_channel = [0.0f64; 3];
        let kernel = weight(&probe, "conv2d/kernel");
        let bias = weight(&probe, "conv2d/bias");
        for n in 0..4 {
            for i in 0..4 {
                for j in 0..4 {
                    for (c, total) in per_channel.iter_mut().enumerate() {
                        let mut z = bias[c];
                        for di in 0..3 {
                            for dj in 0..3 {
                                z += x[[n, i + di, j + dj, 0]] * kernel[(di * 3 + dj) * 3 + c];
                            }
                        }
                        *total += f64::from(z.max(0.0)) / 64.0;
                    }
                }
            }
        }
        per_channel
    };
    model.train_on_batch(x.view(), y.view()).unwrap();
    let mean = weight(model.model(), "batch_normalization/moving_mean");
    assert_eq!(mean.len(), 3);
    for (m, c) in mean.iter().zip(conv_out) {
        assert!(
            (f64::from(*m) - 0.5 * c).abs() < 1e-5,
            "{m} against {}",
            0.5 * c
        );
    }
}

#[test]
fn layer_normalization_trains() {
    let (x, y) = data();
    let mut model = DenseLn::with_seed(4).compile(Adam::new(0.01), Loss::mse());
    let history = model
        .fit(
            x.view(),
            y.view(),
            &FitOptions::default().epochs(20).batch_size(8).verbose(0),
        )
        .unwrap();
    let loss = history.loss();
    assert!(loss.last().unwrap() < loss.first().unwrap(), "{loss:?}");
    assert_ne!(weight(model.model(), "layer_normalization/gamma"), [1.0; 8]);
}

fn file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keras-files-layers")
        .join(name)
}

/// cnn.json's inputs and Keras' outputs (inference mode).
fn cnn_case() -> (Array4<f32>, Array2<f32>) {
    let text = std::fs::read_to_string(file("cnn.json")).expect("fixture");
    let j: serde_json::Value = serde_json::from_str(&text).expect("json");
    let x: Vec<f32> = serde_json::from_value::<Vec<Vec<Vec<Vec<Vec<f32>>>>>>(j["inputs"].clone())
        .expect("inputs")
        .into_iter()
        .flatten()
        .flatten()
        .flatten()
        .flatten()
        .collect();
    let y: Vec<f32> = serde_json::from_value::<Vec<Vec<Vec<f32>>>>(j["outputs"].clone())
        .expect("outputs")
        .into_iter()
        .flatten()
        .flatten()
        .collect();
    let n = y.len() / 3;
    (
        Array4::from_shape_vec((n, 12, 12, 1), x).expect("inputs"),
        Array2::from_shape_vec((n, 3), y).expect("outputs"),
    )
}

#[cfg(feature = "keras")]
#[test]
fn keras_convnet_with_batch_normalization_loads_and_reproduces_keras() {
    let (x, want) = cnn_case();
    for load in [
        |m: &mut Cnn| m.load_keras(file("cnn.keras")),
        |m: &mut Cnn| m.load_keras_weights(file("cnn.weights.h5")),
    ] {
        let mut model = Cnn::with_seed(0);
        load(&mut model).expect("the Keras file loads");
        // The moving statistics are Keras' (perturbed from 0 and 1 in the fixture).
        assert!(weight(&model, "batch_normalization/moving_mean")
            .iter()
            .all(|&m| m != 0.0));
        let got = model.predict(x.view()).expect("predict");
        assert_eq!(got.dim(), want.dim());
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-6, "got {got}, Keras {want}");
        }
    }
}
