//! Issue 14's training-speed target: a dense model with batch normalization and dropout must
//! train within 1.3x the time of the same model without them. W2's MLP (784 -> 256 relu ->
//! 256 relu -> 10, Adam(1e-3), sparse categorical cross-entropy from logits, batch 128, the
//! peers' uniform data) with `batch_normalization() -> dropout(0.2)` after each hidden layer,
//! against the plain MLP.
//!
//! - `train_step_plain` / `train_step_bn_dropout`: one `train_on_batch` on 128 samples.
//! - `predict_plain` / `predict_bn_dropout`: `predict` on 1024 rows (inference mode: moving
//!   statistics, no dropout).
//!
//! `cargo bench --bench normalization`

use stratic::__private::Rng;
use stratic::prelude::*;
use stratic::shape::ParamValue;

model! {
    struct Plain {
        input(shape = [784])
            -> dense(256, activation = relu)
            -> dense(256, activation = relu)
            -> dense(10)
    }

    struct Regularized {
        input(shape = [784])
            -> dense(256, activation = relu)
            -> batch_normalization()
            -> dropout(0.2)
            -> dense(256, activation = relu)
            -> batch_normalization()
            -> dropout(0.2)
            -> dense(10)
    }
}

const FEATURES: usize = 784;
const CLASSES: usize = 10;
const BATCH: usize = 128;

fn main() {
    divan::main();
}

fn data(n: usize) -> (Array2<f32>, Array1<i32>) {
    let mut rng = Rng::new(0);
    let x = Array2::from_shape_fn((n, FEATURES), |_| rng.next_f32());
    let y = Array1::from_shape_fn(n, |_| rng.below(CLASSES) as i32);
    (x, y)
}

fn loss() -> Loss {
    Loss::SparseCategoricalCrossentropy { from_logits: true }
}

#[divan::bench]
fn train_step_plain(bencher: divan::Bencher) {
    let (x, y) = data(BATCH);
    let mut model = Plain::with_seed(1).compile(Adam::new(0.001), loss());
    bencher
        .counter(divan::counter::ItemsCount::new(BATCH))
        .bench_local(|| {
            model
                .train_on_batch(divan::black_box(x.view()), y.view())
                .expect("shapes are right")
        });
}

#[divan::bench]
fn train_step_bn_dropout(bencher: divan::Bencher) {
    let (x, y) = data(BATCH);
    let mut model = Regularized::with_seed(1).compile(Adam::new(0.001), loss());
    bencher
        .counter(divan::counter::ItemsCount::new(BATCH))
        .bench_local(|| {
            model
                .train_on_batch(divan::black_box(x.view()), y.view())
                .expect("shapes are right")
        });
}

#[divan::bench]
fn predict_plain(bencher: divan::Bencher) {
    let (x, _) = data(1024);
    let model = Plain::with_seed(1);
    bencher.bench_local(|| {
        model
            .predict(divan::black_box(x.view()))
            .expect("shapes are right")
    });
}

#[divan::bench]
fn predict_bn_dropout(bencher: divan::Bencher) {
    let (x, _) = data(1024);
    let model = Regularized::with_seed(1);
    bencher.bench_local(|| {
        model
            .predict(divan::black_box(x.view()))
            .expect("shapes are right")
    });
}

/// One layer's training forward and backward on `(128, 256)`, W2's hidden activations.
fn layer_step(bencher: divan::Bencher, name: &str, given: Vec<(&'static str, ParamValue)>) {
    use stratic::__private::shape::{layer_spec, Dim, TensorSpec};
    use stratic::__private::{build_dyn, ForwardContext, Input};
    let spec = layer_spec(name).expect("a registered layer");
    let config = spec.configure(given);
    let inputs = [TensorSpec::dense(vec![Dim::Known(256)])];
    let mut layer = build_dyn(spec, &config, &inputs, &mut Rng::new(1)).expect("runtime layer");
    let (x, _) = data(BATCH);
    let x = x.slice(ndarray::s![.., ..256]).to_owned();
    let g = Array2::from_elem((BATCH, 256), 0.5f32);
    let mut cx = ForwardContext::training(3);
    bencher.bench_local(|| {
        layer.forward(Input::Dense(divan::black_box(x.view())), &mut cx);
        layer.backward(Input::Dense(x.view()), g.view(), true);
    });
}

#[divan::bench]
fn layer_batch_normalization(bencher: divan::Bencher) {
    layer_step(bencher, "batch_normalization", vec![]);
}

#[divan::bench]
fn layer_dropout(bencher: divan::Bencher) {
    layer_step(bencher, "dropout", vec![("rate", ParamValue::Float(0.2))]);
}

/// One layer's inference `call` on `(1024, 256)`.
fn layer_call(bencher: divan::Bencher, name: &str, given: Vec<(&'static str, ParamValue)>) {
    use stratic::__private::shape::{layer_spec, Dim, TensorSpec};
    use stratic::__private::{build_dyn, Input};
    let spec = layer_spec(name).expect("a registered layer");
    let config = spec.configure(given);
    let inputs = [TensorSpec::dense(vec![Dim::Known(256)])];
    let layer = build_dyn(spec, &config, &inputs, &mut Rng::new(1)).expect("runtime layer");
    let (x, _) = data(1024);
    let x = x.slice(ndarray::s![.., ..256]).to_owned();
    bencher.bench_local(|| layer.call(Input::Dense(divan::black_box(x.view()))));
}

#[divan::bench]
fn call_batch_normalization(bencher: divan::Bencher) {
    layer_call(bencher, "batch_normalization", vec![]);
}

#[divan::bench]
fn call_dropout(bencher: divan::Bencher) {
    layer_call(bencher, "dropout", vec![("rate", ParamValue::Float(0.2))]);
}

#[divan::bench]
fn layer_layer_normalization(bencher: divan::Bencher) {
    layer_step(bencher, "layer_normalization", vec![]);
}
