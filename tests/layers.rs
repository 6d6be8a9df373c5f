//! Layers added on the layer architecture, end to end through `model!`: predict, fit and the
//! summary of models that use them.

use stratic::prelude::*;

model! {
    /// Rank-3 samples flattened in row-major (H, W, C) order.
    struct Flat {
        input(shape = [2, 3]) -> flatten()
    }

    /// A flatten between a rank-3 input and a dense head.
    struct FlatHead {
        input(shape = [2, 3]) -> flatten() -> dense(2, activation = softmax)
    }
}

#[test]
fn flatten_keeps_row_major_order() {
    let x = ndarray::Array3::from_shape_fn((4, 2, 3), |(b, h, w)| (b * 6 + h * 3 + w) as f32);
    let y = Flat::with_seed(0).predict(x.view()).unwrap();
    assert_eq!(y.dim(), (4, 6));
    for (b, row) in y.outer_iter().enumerate() {
        let want: Vec<f32> = (0..6).map(|i| (b * 6 + i) as f32).collect();
        assert_eq!(row.to_vec(), want);
    }
}

#[test]
fn flatten_trains_and_shows_in_the_summary() {
    let x = ndarray::Array3::from_shape_fn((32, 2, 3), |(b, h, w)| {
        ((b % 2) as f32) * if h == w { 1.0 } else { -0.5 }
    });
    let y = Array1::from_shape_fn(32, |b| (b % 2) as f32);
    let mut model =
        FlatHead::with_seed(1).compile(Adam::new(0.05), Loss::sparse_categorical_crossentropy());
    let history = model
        .fit(
            x.view(),
            y.view(),
            &FitOptions::default().epochs(20).batch_size(8).verbose(0),
        )
        .unwrap();
    let losses = history.loss();
    assert!(losses[losses.len() - 1] < 0.5 * losses[0], "{losses:?}");
    let text = model.model().summary().to_string();
    assert!(text.contains("flatten (Flatten)"), "{text}");
    assert!(text.contains("(None, 6)"), "{text}");
    assert!(text.contains(" Total params: 14 (56.00 B)"), "{text}");
}

model! {
    /// Transfer learning: a frozen body under a trainable head.
    struct Frozen {
        input(shape = [4]) -> dense(8, activation = relu, trainable = false) -> dense(1)
    }
}

#[test]
fn trainable_false_freezes_a_layer() {
    let x = Array2::from_shape_fn((32, 4), |(i, j)| ((i * 7 + j * 3) % 11) as f32 / 11.0);
    let y = Array2::from_shape_fn((32, 1), |(i, _)| (i % 3) as f32);
    let model = Frozen::with_seed(2);
    let text = model.summary().to_string();
    assert!(text.contains(" Trainable params: 9 (36.00 B)"), "{text}");
    assert!(
        text.contains(" Non-trainable params: 40 (160.00 B)"),
        "{text}"
    );
    let before = model.weights();
    let mut model = model.compile(SGD::new(0.1), Loss::mse());
    model
        .fit(
            x.view(),
            y.view(),
            &FitOptions::default().epochs(3).verbose(0),
        )
        .unwrap();
    let after = model.model().weights();
    for ((key, b), (_, a)) in before.iter().zip(&after) {
        if key.starts_with("dense/") {
            assert_eq!(a, b, "{key} is frozen");
        } else {
            assert_ne!(a, b, "{key} trains");
        }
    }
}

model! {
    /// The structured-data example's shape: thirteen named inputs, and five outputs.
    struct Wide {
        let a = input(shape = [1], name = "a");
        let b = input(shape = [1], name = "b");
        let c = input(shape = [1], name = "c");
        let d = input(shape = [1], name = "d");
        let e = input(shape = [1], name = "e");
        let f = input(shape = [1], name = "f");
        let g = input(shape = [1], name = "g");
        let h = input(shape = [1], name = "h");
        let i = input(shape = [1], name = "i");
        let j = input(shape = [1], name = "j");
        let k = input(shape = [1], name = "k");
        let l = input(shape = [1], name = "l");
        let m = input(shape = [1], name = "m");
        let all = concatenate([a, b, c, d, e, f, g, h, i, j, k, l, m]);
        let x = all -> dense(8, activation = relu);
        (
            x -> dense(1, name = "o1"),
            x -> dense(1, name = "o2"),
            x -> dense(1, name = "o3"),
            x -> dense(1, name = "o4"),
            x -> dense(1, name = "o5"),
        )
    }
}

#[test]
fn thirteen_inputs_and_five_outputs_train() {
    let col = |k: usize| Array2::from_shape_fn((16, 1), |(r, _)| ((r + k) % 5) as f32 / 5.0);
    let cols: Vec<Array2<f32>> = (0..13).map(col).collect();
    let v: Vec<_> = cols.iter().map(|c| c.view()).collect();
    let x = (
        v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12],
    );
    let t = Array2::from_shape_fn((16, 1), |(r, _)| (r % 2) as f32);
    let y = (t.view(), t.view(), t.view(), t.view(), t.view());
    let mut model = Wide::with_seed(4).compile(Adam::new(0.01), Loss::mse());
    let history = model
        .fit(
            x,
            y,
            &FitOptions::default().epochs(2).batch_size(8).verbose(0),
        )
        .unwrap();
    assert_eq!(history.loss().len(), 2);
    let out = model.model().predict(x).unwrap();
    assert_eq!(out.4.dim(), (16, 1));
}

model! {
    /// The functional guide's shared layers: one embedding for two texts.
    struct SharedEmbedding {
        let title = input(shape = [None], ragged = true, dtype = i32, name = "title");
        let body = input(shape = [None], ragged = true, dtype = i32, name = "body");
        let embed = embedding(20, 4);
        let pool = global_average_pooling_1d();
        let t = title -> embed -> pool;
        let b = body -> embed -> pool;
        concatenate([t, b]) -> dense(1, activation = sigmoid)
    }
}

#[test]
fn an_embedding_and_a_pooling_are_shared_between_two_inputs() {
    let title = RaggedTensor::from_rows(&[vec![1, 2], vec![3], vec![4, 5, 6], vec![7]]).unwrap();
    let body = RaggedTensor::from_rows(&[vec![8], vec![9, 10], vec![], vec![11, 12]]).unwrap();
    let y = Array2::from_shape_vec((4, 1), vec![1.0, 0.0, 1.0, 0.0]).unwrap();
    let model = SharedEmbedding::with_seed(5);
    let summary = model.summary().to_string();
    assert!(
        summary.contains(" Total params: 89 (356.00 B)"),
        "{summary}"
    );
    assert_eq!(model.weights().len(), 3, "one table, one kernel, one bias");
    let before = model.weights()[0].1.clone();
    let mut model = model.compile(SGD::new(0.5), Loss::binary_crossentropy());
    model
        .fit(
            (&title, &body),
            y.view(),
            &FitOptions::default()
                .epochs(1)
                .batch_size(4)
                .shuffle(false)
                .verbose(0),
        )
        .unwrap();
    let after = &model.model().weights()[0].1;
    // Rows of ids used by either input moved; the others did not.
    for id in 0..20usize {
        let moved =
            before.index_axis(ndarray::Axis(0), id) != after.index_axis(ndarray::Axis(0), id);
        assert_eq!(moved, (1..=12).contains(&id), "row {id}");
    }
}

#[test]
fn try_with_seed_builds_what_with_seed_builds_and_refuses_what_cannot_be_allocated() {
    let a = FlatHead::try_with_seed(9).unwrap();
    assert_eq!(a.weights(), FlatHead::with_seed(9).weights());
    assert!(FlatHead::try_new().is_ok());
    // A layer whose weight no allocation can hold (2^31 x 2^31 f32: more than isize::MAX
    // bytes): the macro refuses such a model; the runtime check says so too.
    let info = stratic::shape::LayerInfo::from_static(
        &stratic::shape::layers::DENSE,
        "huge",
        &[
            ("units", stratic::shape::ParamValue::Int(1 << 31)),
            ("use_bias", stratic::shape::ParamValue::Bool(false)),
        ],
        &[stratic::shape::StaticSpec {
            batch: stratic::shape::Dim::Unknown,
            dims: &[stratic::shape::Dim::Known(1 << 31)],
            dtype: stratic::shape::DType::F32,
            layout: stratic::shape::Layout::Dense,
        }],
        stratic::shape::StaticSpec {
            batch: stratic::shape::Dim::Unknown,
            dims: &[stratic::shape::Dim::Known(1 << 31)],
            dtype: stratic::shape::DType::F32,
            layout: stratic::shape::Layout::Dense,
        },
        true,
    );
    let err = stratic::__private::reserve_weights(&[info]).unwrap_err();
    assert!(err.to_string().contains("'huge': weight 'kernel'"), "{err}");
}

#[test]
fn a_compiled_model_forwards_summary_weights_and_files() {
    let model = FlatHead::with_seed(3);
    let text = model.summary().to_string();
    let mut compiled = model.compile(Adam::new(1e-3), Loss::sparse_categorical_crossentropy());
    assert_eq!(compiled.summary().to_string(), text);
    assert!(compiled.to_dot().contains("flatten"));
    assert_eq!(compiled.weights(), compiled.model().weights());
    let path = std::env::temp_dir().join(format!(
        "stratic-forward-{}.safetensors",
        std::process::id()
    ));
    compiled.save_weights(&path).unwrap();
    let kernel = compiled.weights()[0].1.clone();
    compiled
        .set_weight("dense/kernel", (kernel.clone() * 0.0).view())
        .unwrap();
    assert_ne!(compiled.weights()[0].1, kernel);
    compiled.load_weights(&path).unwrap();
    assert_eq!(compiled.weights()[0].1, kernel);
    std::fs::remove_file(&path).ok();
}
