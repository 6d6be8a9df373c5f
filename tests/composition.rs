//! Models made of models: a model of the invocation used as a layer (`-> Encoder`), shared
//! between branches (`let enc = Encoder;`), its weights nested under its name, trained with
//! the outer model's, and moved into another model after training.

use stratic::ndarray::{Array2, Axis};

#[macro_use]
mod common;
use stratic::prelude::*;

model! {
    /// The encoder both models below are built on.
    pub struct Encoder {
        input(shape = [8]) -> dense(16, activation = relu, name = "enc_hidden") -> dense(4, name = "code")
    }

    /// A model used as a layer.
    pub struct Classifier {
        input(shape = [8]) -> Encoder -> dense(3, activation = softmax)
    }

    /// One Encoder's weights on both branches, as a Keras model called twice.
    pub struct Siamese {
        let enc = Encoder;
        let a = input(shape = [8], name = "a") -> enc;
        let b = input(shape = [8], name = "b") -> enc;
        subtract([a, b]) -> dense(1, activation = sigmoid)
    }

    /// Classifier written out flat: the reference the nested one must equal.
    struct Flat {
        input(shape = [8])
            -> dense(16, activation = relu)
            -> dense(4)
            -> dense(3, activation = softmax)
    }

    /// Siamese written out flat: a shared chain of two layers.
    struct FlatSiamese {
        let enc = dense(16, activation = relu, name = "enc_hidden") -> dense(4, name = "code");
        let a = input(shape = [8], name = "a") -> enc;
        let b = input(shape = [8], name = "b") -> enc;
        subtract([a, b]) -> dense(1, activation = sigmoid)
    }

    /// A sub-model inside a sub-model.
    pub struct Deep {
        input(shape = [8]) -> Classifier -> dense(2)
    }
}

/// Models of another module, declared in their own invocation.
mod nets {
    use stratic::prelude::*;

    model! {
        /// Used by path from the parent module.
        pub struct Projector {
            input(shape = [4]) -> dense(2, name = "proj")
        }
    }
}

model! {
    /// A model of another invocation by name (Encoder), and of another module by path.
    pub struct Pipeline {
        input(shape = [8]) -> Encoder -> nets::Projector -> dense(1)
    }
}

fn data(n: usize, salt: usize) -> Array2<f32> {
    Array2::from_shape_fn((n, 8), |(i, j)| {
        ((((i + salt) * 8 + j) * 7919) % 101) as f32 / 50.0 - 1.0
    })
}

fn one_hot(n: usize) -> Array2<f32> {
    Array2::from_shape_fn((n, 3), |(i, j)| f32::from(u8::from(i % 3 == j)))
}

fn max_diff(a: &Array2<f32>, b: &Array2<f32>) -> f32 {
    assert_eq!(a.dim(), b.dim());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn sub_model_weights_nest_under_its_name_in_keras_order() {
    let names: Vec<String> = Classifier::with_seed(0)
        .weights()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        names,
        [
            "encoder/enc_hidden/kernel",
            "encoder/enc_hidden/bias",
            "encoder/code/kernel",
            "encoder/code/bias",
            "dense/kernel",
            "dense/bias",
        ]
    );
    let deep: Vec<String> = Deep::with_seed(0)
        .weights()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(deep[0], "classifier/encoder/enc_hidden/kernel");
    assert_eq!(deep[4], "classifier/dense/kernel");
    assert_eq!(deep[6], "dense/kernel");
    // A shared sub-model's weights are there once.
    assert_eq!(Siamese::with_seed(0).weights().len(), 6);
}

#[test]
fn summary_shows_the_sub_model_as_one_row() {
    let text = Classifier::with_seed(0).summary().to_string();
    let row = text
        .lines()
        .find(|l| l.contains("encoder (Encoder)"))
        .unwrap_or_else(|| panic!("no encoder row in\n{text}"));
    // 8*16 + 16 + 16*4 + 4.
    assert!(row.contains("(None, 4)") && row.contains("212"), "{row}");
    assert!(!text.contains("enc_hidden"), "{text}");
    assert!(text.contains("Total params: 227"), "{text}");
    let siamese = Siamese::with_seed(0).summary().to_string();
    let row = siamese
        .lines()
        .find(|l| l.contains("encoder (Encoder)"))
        .unwrap_or_else(|| panic!("no encoder row in\n{siamese}"));
    assert!(row.contains("a[0][0]"), "{siamese}");
    assert!(siamese.contains("b[0][0]"), "{siamese}");
    assert!(siamese.contains("encoder[1][0]"), "{siamese}");
    // 212 + 4*1 + 1: the encoder counted once.
    assert!(siamese.contains("Total params: 217"), "{siamese}");
}

#[test]
fn nested_model_computes_what_the_flat_model_computes() {
    let nested = Classifier::with_seed(5);
    let mut flat = Flat::with_seed(9);
    let weights = nested.weights();
    let flat_names: Vec<String> = flat.weights().into_iter().map(|(k, _)| k).collect();
    for ((_, w), name) in weights.iter().zip(&flat_names) {
        flat.set_weight(name, w.view()).unwrap();
    }
    let x = data(10, 0);
    let got = nested.predict(x.view()).unwrap();
    let want = flat.predict(x.view()).unwrap();
    assert!(max_diff(&got, &want) < 1e-6);
    // The sub-model is a model of its own: its field predicts the code.
    let code = nested.encoder.predict(x.view()).unwrap();
    assert_eq!(code.dim(), (10, 4));
}

#[test]
fn sub_model_gradients_match_finite_differences() {
    let x = data(6, 1);
    let y = one_hot(6);
    check_gradients!(
        Classifier::with_seed(3).compile(SGD::new(1.0), Loss::mse()),
        x.view(),
        y.view(),
        eps = 2e-4,
        count = 227
    );
}

#[test]
fn shared_sub_model_gradients_are_summed_over_its_uses() {
    let (a, b) = (data(6, 2), data(6, 3));
    let y = Array2::from_shape_fn((6, 1), |(i, _)| f32::from(u8::from(i % 2 == 0)));
    check_gradients!(
        FlatSiamese::with_seed(4).compile(SGD::new(1.0), Loss::mse()),
        (a.view(), b.view()),
        y.view(),
        eps = 2e-4,
        count = 217
    );
    check_gradients!(
        Siamese::with_seed(4).compile(SGD::new(1.0), Loss::mse()),
        (a.view(), b.view()),
        y.view(),
        eps = 2e-4,
        count = 217
    );
    // An encoder moved in from a model that used it once is shared as correctly.
    let with_moved = || {
        let mut s = Siamese::with_seed(4);
        s.encoder = Classifier::with_seed(11).encoder;
        s
    };
    check_gradients!(
        with_moved().compile(SGD::new(1.0), Loss::mse()),
        (a.view(), b.view()),
        y.view(),
        eps = 2e-4,
        count = 217
    );
}

#[test]
fn safetensors_round_trip_of_a_nested_model() {
    let model = Deep::with_seed(6);
    let path =
        std::env::temp_dir().join(format!("stratic-deep-{}.safetensors", std::process::id()));
    model.save_weights(&path).unwrap();
    let mut other = Deep::with_seed(7);
    let x = data(5, 4);
    assert!(
        max_diff(
            &model.predict(x.view()).unwrap(),
            &other.predict(x.view()).unwrap()
        ) > 0.0
    );
    other.load_weights(&path).unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(
        model.predict(x.view()).unwrap(),
        other.predict(x.view()).unwrap()
    );
}

#[test]
fn a_trained_encoder_moves_into_another_model() {
    let x = data(90, 5);
    let y = one_hot(90);
    let mut compiled =
        Classifier::with_seed(1).compile(Adam::new(0.01), Loss::categorical_crossentropy());
    let untrained = compiled.model().encoder.weights();
    let options = FitOptions::default()
        .epochs(30)
        .batch_size(16)
        .seed(1)
        .verbose(0);
    let history = compiled.fit(x.view(), y.view(), &options).unwrap();
    assert!(
        history.loss()[29] < history.loss()[0],
        "{:?}",
        history.loss()
    );
    let trained = compiled.into_model();
    let code = trained.encoder.predict(x.view()).unwrap();
    // Training moved the encoder's weights: they are trained with the classifier's.
    assert_ne!(trained.encoder.weights(), untrained);
    let mut siamese = Siamese::with_seed(2);
    siamese.encoder = trained.encoder;
    assert_eq!(siamese.encoder.predict(x.view()).unwrap(), code);
    let (a, b) = (x.select(Axis(0), &[0, 1]), x.select(Axis(0), &[0, 2]));
    let same = siamese.predict((a.view(), b.view())).unwrap();
    // Equal inputs give equal codes, so their difference is zero: sigmoid(bias).
    let bias = siamese
        .weights()
        .into_iter()
        .find(|(k, _)| k == "dense/bias")
        .unwrap()
        .1[[0]];
    assert!((same[[0, 0]] - 1.0 / (1.0 + (-bias).exp())).abs() < 1e-6);
}

#[test]
fn models_of_other_invocations_and_modules_are_layers_too() {
    let m = Pipeline::with_seed(8);
    let names: Vec<String> = m.weights().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        names,
        [
            "encoder/enc_hidden/kernel",
            "encoder/enc_hidden/bias",
            "encoder/code/kernel",
            "encoder/code/bias",
            "projector/proj/kernel",
            "projector/proj/bias",
            "dense/kernel",
            "dense/bias",
        ]
    );
    let x = data(4, 6);
    let code = m.encoder.predict(x.view()).unwrap();
    let projected = m.projector.predict(code.view()).unwrap();
    let w = m.weights();
    let k = w[6]
        .1
        .view()
        .into_dimensionality::<stratic::ndarray::Ix2>()
        .unwrap();
    let b = w[7]
        .1
        .view()
        .into_dimensionality::<stratic::ndarray::Ix1>()
        .unwrap();
    let want = projected.dot(&k) + b;
    assert!(max_diff(&m.predict(x.view()).unwrap(), &want) < 1e-6);
    let text = m.summary().to_string();
    assert!(text.contains("projector (Projector)"), "{text}");
}

#[test]
fn keras_files_of_nested_models_are_refused_not_written_wrong() {
    let path = std::env::temp_dir().join(format!("stratic-nested-{}.keras", std::process::id()));
    for result in [
        Classifier::with_seed(0).save_keras(&path),
        Classifier::with_seed(0).save_keras_weights(&path),
    ] {
        match result {
            Err(stratic::Error::InvalidArgument { message, .. }) => {
                assert!(message.contains("sub-model 'encoder'"), "{message}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    assert!(!path.exists(), "nothing is written");
}
