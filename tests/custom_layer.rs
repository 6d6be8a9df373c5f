//! A user's own layer (examples/custom_layer.rs): it trains, its gradient and the gradients
//! through it match finite differences, it saves and loads, it shows in `summary()`, and it
//! is used from another module by path.

#[allow(dead_code)]
#[path = "../examples/custom_layer.rs"]
mod example;

// A bare `Scale` in a chain needs its description macro imported beside the type.
use example::{__stratic_model_Scale, data, Scale, Scaled};

#[macro_use]
mod common;
use stratic::prelude::*;

mod layers {
    pub use super::example::Scale;
    // The description macro travels with the type.
    pub use super::example::__stratic_model_Scale;
}

model! {
    /// The user's layer by path, twice, and last.
    pub struct TwoScales {
        input(shape = [3]) -> layers::Scale -> dense(2) -> Scale
    }
}

#[test]
fn gradients_through_a_users_layer_match_finite_differences() {
    let (x, y) = data(6);
    let build = || {
        let mut m = Scaled::with_seed(2);
        // Away from the initial ones, so a gradient that ignored the scale would show.
        m.set_weight(
            "scale/scale",
            stratic::ndarray::arr1(&[0.5f32, 1.5, -1.0, 2.0, 0.25, 1.0, -0.5, 0.75])
                .into_dyn()
                .view(),
        )
        .unwrap();
        m.compile(SGD::new(1.0), Loss::mse())
    };
    // dense 4x8 + 8, scale 8, dense_1 8x1 + 1.
    check_gradients!(build(), x.view(), y.view(), eps = 1e-2, count = 40 + 8 + 9);
}

#[test]
fn a_users_layer_trains_saves_and_shows_in_the_summary() {
    let text = Scaled::with_seed(0).summary().to_string();
    assert!(text.contains("scale (Scale)"), "{text}");
    assert!(text.contains("Total params: 57"), "{text}");
    let (x, y) = data(128);
    let mut model = Scaled::with_seed(1).compile(Adam::new(0.01), Loss::mse());
    let options = FitOptions::default()
        .epochs(20)
        .batch_size(32)
        .seed(1)
        .verbose(0);
    let history = model.fit(x.view(), y.view(), &options).unwrap();
    assert!(
        history.loss()[19] < 0.5 * history.loss()[0],
        "{:?}",
        history.loss()
    );
    let trained = model.into_model();
    let scale_of = |m: &Scaled| {
        m.weights()
            .into_iter()
            .find(|(k, _)| k == "scale/scale")
            .unwrap()
            .1
    };
    let path =
        std::env::temp_dir().join(format!("stratic-scale-{}.safetensors", std::process::id()));
    trained.save_weights(&path).unwrap();
    let mut other = Scaled::with_seed(9);
    other.load_weights(&path).unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(
        trained.predict(x.view()).unwrap(),
        other.predict(x.view()).unwrap()
    );
    assert_eq!(scale_of(&other), scale_of(&trained));
    assert_ne!(
        scale_of(&Scaled::with_seed(9)),
        scale_of(&trained),
        "training moved the scale"
    );
    // Keras files cannot name it: refused, not written wrong.
    let keras = std::env::temp_dir().join(format!("stratic-scale-{}.keras", std::process::id()));
    assert!(matches!(
        trained.save_keras(&keras),
        Err(stratic::Error::InvalidArgument { .. })
    ));
    assert!(!keras.exists());
}

#[test]
fn a_users_layer_is_used_by_path_and_more_than_once() {
    let m = TwoScales::with_seed(0);
    let names: Vec<String> = m.weights().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        names,
        ["scale/scale", "dense/kernel", "dense/bias", "scale_1/scale"]
    );
    let y = m
        .predict(stratic::ndarray::Array2::<f32>::ones((3, 3)).view())
        .unwrap();
    assert_eq!(y.dim(), (3, 2));
    // Both scales start at ones: the model is the dense layer alone.
    let w = m.weights();
    let (k, b) = (&w[1].1, &w[2].1);
    let want = k.sum_axis(stratic::ndarray::Axis(0)) + b;
    for row in y.rows() {
        for (got, want) in row.iter().zip(want.iter()) {
            assert!((got - want).abs() < 1e-6);
        }
    }
}
