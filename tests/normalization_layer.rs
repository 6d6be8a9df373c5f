//! The `normalization` preprocessing layer: `(x - mean) / max(sqrt(variance), 1e-7)`, with
//! the statistics given in the declaration or adapted to data (Keras' `adapt`), and its
//! inverse with `invert = true`.

use ndarray::{Array3, Axis};
use stratic::prelude::*;

model! {
    /// Statistics given, one per feature.
    struct Given {
        input(shape = [3]) -> normalization(mean = [1.0, -2, 0.5], variance = [4.0, 0.25, 0])
    }

    /// One mean and one variance for every feature.
    struct Broadcast {
        input(shape = [3]) -> normalization(mean = 2, variance = 9.0)
    }

    /// Statistics adapted to data, before a dense layer.
    struct Adapted {
        input(shape = [3]) -> normalization(name = "norm") -> dense(2)
    }

    /// Over the middle axis of a rank-3 input.
    struct Middle {
        input(shape = [2, 3]) -> normalization(axis = 1)
    }
}

/// Keras' formula, by hand, in f64: the standard deviation floored at `epsilon()`.
fn by_hand(x: f32, mean: f64, variance: f64) -> f32 {
    ((f64::from(x) - mean) / variance.sqrt().max(1e-7)) as f32
}

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() <= 1e-5 * b.abs().max(1.0)
}

#[test]
fn given_statistics_normalize_each_feature() {
    let x = Array2::from_shape_fn((4, 3), |(r, c)| r as f32 * 1.5 - c as f32);
    let y = Given::with_seed(0).predict(x.view()).unwrap();
    let (mean, var) = ([1.0, -2.0, 0.5], [4.0, 0.25, 0.0]);
    for ((r, c), &v) in y.indexed_iter() {
        let want = by_hand(x[[r, c]], mean[c], var[c]);
        assert!(close(v, want), "({r}, {c}): {v} vs {want}");
    }
    // Given statistics are constants, not weights, as in Keras.
    assert!(Given::with_seed(0).weights().is_empty());
    let y = Broadcast::with_seed(0).predict(x.view()).unwrap();
    for ((r, c), &v) in y.indexed_iter() {
        assert!(close(v, by_hand(x[[r, c]], 2.0, 9.0)));
    }
}

fn data() -> Array2<f32> {
    Array2::from_shape_fn((50, 3), |(r, c)| match c {
        0 => (r % 7) as f32 * 2.0 + 3.0,
        1 => ((r * 13) % 11) as f32 - 40.0,
        // A constant feature: its variance is 0, floored at epsilon.
        _ => 5.0,
    })
}

#[test]
fn adapt_computes_the_mean_and_biased_variance() {
    let x = data();
    let mut m = Adapted::with_seed(1);
    let identity = m.predict(x.view()).unwrap();
    m.adapt_normalization("norm", x.view().into_dyn()).unwrap();
    let weights: std::collections::HashMap<_, _> = m.weights().into_iter().collect();
    let n = x.nrows() as f64;
    for c in 0..3 {
        let col: Vec<f64> = x.column(c).iter().map(|&v| f64::from(v)).collect();
        let mean = col.iter().sum::<f64>() / n;
        let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        let (got_m, got_v) = (weights["norm/mean"][[c]], weights["norm/variance"][[c]]);
        assert!(close(got_m, mean as f32), "mean {c}: {got_m} vs {mean}");
        assert!(close(got_v, var as f32), "variance {c}: {got_v} vs {var}");
    }
    assert_eq!(weights["norm/variance"][[2]], 0.0);
    assert_ne!(identity, m.predict(x.view()).unwrap());
}

model! {
    /// The adapted layer alone, to read its output.
    struct AdaptedAlone {
        input(shape = [3]) -> normalization()
    }
}

#[test]
fn after_adapt_the_features_are_standardized() {
    let x = data();
    let mut m = AdaptedAlone::with_seed(0);
    m.adapt_normalization("normalization", x.view().into_dyn())
        .unwrap();
    let y = m.predict(x.view()).unwrap();
    for c in 0..2 {
        let col = y.column(c);
        let mean = col.mean().unwrap();
        let std = col.std(0.0);
        assert!(mean.abs() < 1e-4, "feature {c}: mean {mean}");
        assert!((std - 1.0).abs() < 1e-4, "feature {c}: std {std}");
    }
    // The constant feature: (5 - 5) / 1e-7 = 0, not a NaN.
    assert!(y.column(2).iter().all(|&v| v == 0.0));
}

#[test]
fn adapt_over_the_middle_axis() {
    let x = Array3::from_shape_fn((5, 2, 3), |(b, i, j)| (b * 7 + i * 3 + j * j) as f32);
    let mut m = Middle::with_seed(0);
    m.adapt_normalization("normalization", x.view().into_dyn())
        .unwrap();
    let weights: std::collections::HashMap<_, _> = m.weights().into_iter().collect();
    assert_eq!(weights["normalization/mean"].shape(), &[2]);
    let y = m.predict(x.view()).unwrap();
    for i in 0..2 {
        let slab = x.index_axis(Axis(1), i);
        let vals: Vec<f64> = slab.iter().map(|&v| f64::from(v)).collect();
        let mean = vals.iter().sum::<f64>() / vals.len() as f64;
        let var = vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / vals.len() as f64;
        assert!(close(weights["normalization/mean"][[i]], mean as f32));
        for b in 0..5 {
            for j in 0..3 {
                let want = by_hand(x[[b, i, j]], mean, var);
                assert!(close(y[[b, i, j]], want), "{:?}", (b, i, j));
            }
        }
    }
}

#[test]
fn adapted_statistics_are_non_trainable_saved_and_not_trained() {
    let x = data();
    let mut m = Adapted::with_seed(2);
    m.adapt_normalization("norm", x.view().into_dyn()).unwrap();
    let summary = m.summary().to_string();
    assert!(summary.contains("Non-trainable params: 6"), "{summary}");
    let stats = |m: &Adapted| -> Vec<_> {
        m.weights()
            .into_iter()
            .filter(|(k, _)| k.starts_with("norm/"))
            .collect()
    };
    let before = stats(&m);
    let path =
        std::env::temp_dir().join(format!("stratic_norm_{}.safetensors", std::process::id()));
    m.save_weights(&path).unwrap();
    let mut fresh = Adapted::with_seed(3);
    fresh.load_weights(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(stats(&fresh), before);
    let y = Array2::from_shape_fn((50, 2), |(r, c)| ((r + c) % 3) as f32);
    let mut compiled = m.compile(Adam::new(0.01), Loss::mse());
    let options = FitOptions::default()
        .epochs(2)
        .batch_size(10)
        .seed(1)
        .verbose(0);
    compiled.fit(x.view(), y.view(), &options).unwrap();
    assert_eq!(stats(compiled.model()), before);
}

#[test]
fn adapt_refuses_what_it_cannot_adapt_to() {
    let x = data();
    let message = |r: Result<(), Error>| match r {
        Err(Error::InvalidArgument { message, .. }) => message,
        other => panic!("expected InvalidArgument, got {other:?}"),
    };
    let mut m = Adapted::with_seed(0);
    let before = m.weights();
    assert!(message(m.adapt_normalization("nope", x.view().into_dyn())).contains("no layer 'nope'"));
    assert!(message(m.adapt_normalization("dense", x.view().into_dyn()))
        .contains("not a Normalization"));
    let wide = Array2::<f32>::zeros((4, 5));
    assert!(message(m.adapt_normalization("norm", wide.view().into_dyn())).contains("(None, 3)"));
    let empty = Array2::<f32>::zeros((0, 3));
    assert!(message(m.adapt_normalization("norm", empty.view().into_dyn())).contains("no sample"));
    let mut nan = x.clone();
    nan[[3, 1]] = f32::NAN;
    assert!(message(m.adapt_normalization("norm", nan.view().into_dyn())).contains("NaN"));
    assert_eq!(m.weights(), before);
    let mut g = Given::with_seed(0);
    assert!(
        message(g.adapt_normalization("normalization", x.view().into_dyn()))
            .contains("nothing to adapt")
    );
}

#[test]
fn gradients_flow_through_the_normalization() {
    // d/dx of (x - m) / s is 1 / s: a model that trains through it learns.
    let x = data();
    let y = x.column(0).mapv(|v| v * 0.1).insert_axis(Axis(1));
    let y = ndarray::concatenate![Axis(1), y, y];
    let mut m = Adapted::with_seed(4);
    m.adapt_normalization("norm", x.view().into_dyn()).unwrap();
    let mut compiled = m.compile(Adam::new(0.05), Loss::mse());
    let options = FitOptions::default()
        .epochs(30)
        .batch_size(10)
        .seed(1)
        .verbose(0);
    let h = compiled.fit(x.view(), y.view(), &options).unwrap();
    let (first, last) = (h.loss()[0], *h.loss().last().unwrap());
    assert!(last < first * 0.1, "loss {first} -> {last}");
}

model! {
    /// One feature, its statistics given: Keras' documented `Normalization(mean=3., variance=2.)`.
    struct KerasDocGiven {
        input(shape = [1]) -> normalization(mean = 3.0, variance = 2.0)
    }
}

#[test]
fn keras_documented_examples() {
    // Keras' docstring: adapted to [[0, 7, 4], [2, 9, 6], [0, 7, 4], [2, 9, 6]], the layer maps
    // [[0, 7, 4]] to [[-1, -1, -1]].
    let adapt = ndarray::array![
        [0.0f32, 7.0, 4.0],
        [2.0, 9.0, 6.0],
        [0.0, 7.0, 4.0],
        [2.0, 9.0, 6.0]
    ];
    let mut m = AdaptedAlone::with_seed(0);
    m.adapt_normalization("normalization", adapt.view().into_dyn())
        .unwrap();
    let y = m
        .predict(ndarray::array![[0.0f32, 7.0, 4.0]].view())
        .unwrap();
    for &v in &y {
        assert!(close(v, -1.0), "{y}");
    }
    // `Normalization(mean=3., variance=2.)` on [[1], [2], [3]]: [[-1.4142135], [-0.70710677], [0]].
    let y = KerasDocGiven::with_seed(0)
        .predict(ndarray::array![[1.0f32], [2.0], [3.0]].view())
        .unwrap();
    for (&v, want) in y.iter().zip([
        -std::f32::consts::SQRT_2,
        -std::f32::consts::FRAC_1_SQRT_2,
        0.0,
    ]) {
        assert!(close(v, want), "{v} vs {want}");
    }
}

model! {
    /// Keras' de-normalization, adapted.
    struct Inverted {
        input(shape = [3]) -> normalization(invert = true)
    }

    /// De-normalization with given statistics, after their normalization.
    struct RoundTrip {
        input(shape = [3])
            -> normalization(mean = [1.0, -2, 0.5], variance = [4.0, 0.25, 9])
            -> normalization(mean = [1.0, -2, 0.5], variance = [4.0, 0.25, 9], invert = true)
    }
}

#[test]
fn inverted_normalization_is_keras_de_normalization() {
    // Keras' own example (`Normalization` docstring): adapted to these rows, the inverted
    // layer maps [1, 2, 3] to [2, 10, 8] (mean [1, 8, 5], variance [1, 1, 1]).
    let adapt = ndarray::arr2(&[
        [0.0f32, 7.0, 4.0],
        [2.0, 9.0, 6.0],
        [0.0, 7.0, 4.0],
        [2.0, 9.0, 6.0],
    ]);
    let mut m = Inverted::with_seed(0);
    m.adapt_normalization("normalization", adapt.view().into_dyn())
        .unwrap();
    let y = m
        .predict(ndarray::arr2(&[[1.0f32, 2.0, 3.0]]).view())
        .unwrap();
    assert_eq!(y, ndarray::arr2(&[[2.0f32, 10.0, 8.0]]));
    // By hand in f64 on other values: mean + x · sqrt(variance).
    let x = Array2::from_shape_fn((4, 3), |(r, c)| r as f32 * 1.5 - c as f32);
    let (mean, sd) = ([1.0f64, 8.0, 5.0], [1.0f64, 1.0, 1.0]);
    let y = m.predict(x.view()).unwrap();
    for ((r, c), &v) in y.indexed_iter() {
        let want = (mean[c] + f64::from(x[[r, c]]) * sd[c]) as f32;
        assert!(close(v, want), "({r}, {c}): {v} vs {want}");
    }
    // Normalizing then de-normalizing with the same statistics gives the input back.
    let back = RoundTrip::with_seed(0).predict(x.view()).unwrap();
    for (a, b) in back.iter().zip(&x) {
        assert!((a - b).abs() <= 1e-5, "{a} vs {b}");
    }
}
