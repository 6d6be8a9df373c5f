//! W4 of DESIGN.md section 6, ragged sequences: i32 tokens, vocabulary 10 000, lengths uniform
//! in [1, 100], batch 64 -> embedding 32 -> mean over each sequence -> dense 1 sigmoid, binary
//! cross-entropy, Adam(1e-3). Measures training throughput over an epoch of 12 800 sequences
//! (the peers' data size), and one training step on a batch of 64.
//!
//! The model is written by hand exactly as `model!` will generate it for
//! `input(shape = [None], ragged = true, dtype = i32) -> embedding(10_000, 32)
//!  -> global_average_pooling_1d() -> dense(1, activation = sigmoid)`.
//!
//! `cargo bench --bench w4`

use ndarray::{Array2, ArrayView2};
use stratic_core::shape::{
    Activation, DType, DenseConfig, Dim, EmbeddingConfig, Layout, PoolingMode, TensorSpec,
};
use stratic_core::{
    check_ragged_ids, check_ragged_input, rows_to_output, Adam, Dense, Embedding, Error,
    FitOptions, GlobalPooling, Layer, Loss, Model, ParamMut, ParamRef, RaggedTensor, Rng,
};

const VOCAB: usize = 10_000;
const EMBED: usize = 32;
const SAMPLES: usize = 12_800;
const BATCH: usize = 64;

fn main() {
    divan::main();
}

struct W4 {
    embedding: Embedding,
    global_average_pooling1d: GlobalPooling,
    dense: Dense,
}

impl W4 {
    fn with_seed(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut dense = DenseConfig::new(1);
        dense.activation = Activation::Sigmoid;
        W4 {
            embedding: Embedding::build(EmbeddingConfig::new(VOCAB, EMBED), &mut rng),
            global_average_pooling1d: GlobalPooling::new(PoolingMode::Average),
            dense: Dense::build(dense, EMBED, &mut rng),
        }
    }
}

fn input_spec() -> &'static TensorSpec {
    static SPEC: std::sync::OnceLock<TensorSpec> = std::sync::OnceLock::new();
    SPEC.get_or_init(|| TensorSpec {
        batch: Dim::Unknown,
        dims: vec![Dim::Unknown],
        dtype: DType::I32,
        layout: Layout::Ragged,
    })
}

impl Model for W4 {
    type Input<'a> = &'a RaggedTensor<i32>;
    type Batch = RaggedTensor<i32>;
    type Output = Array2<f32>;

    fn output_specs() -> &'static [TensorSpec] {
        static SPEC: std::sync::OnceLock<[TensorSpec; 1]> = std::sync::OnceLock::new();
        SPEC.get_or_init(|| [TensorSpec::dense(vec![Dim::Known(1)])])
    }
    fn output_names() -> &'static [&'static str] {
        &["dense"]
    }
    fn check_input(x: Self::Input<'_>) -> Result<usize, Error> {
        let n = check_ragged_input("input", input_spec(), x)?;
        check_ragged_ids("embedding", VOCAB, x)?;
        Ok(n)
    }
    fn gather(x: Self::Input<'_>, rows: &[usize], out: &mut Self::Batch) {
        x.gather_rows(rows, out)
    }
    fn batch_view(batch: &Self::Batch) -> Self::Input<'_> {
        batch
    }
    fn call(&self, x: Self::Input<'_>) -> Vec<Array2<f32>> {
        let h0 = x.view();
        let h1 = self.embedding.call_ragged(h0);
        let h2 = self
            .global_average_pooling1d
            .call_ragged(h0.with_values(h1.view()));
        vec![Layer::call(&self.dense, h2.view())]
    }
    fn to_output(outputs: Vec<Array2<f32>>, n: usize) -> Self::Output {
        let out = outputs.into_iter().next().unwrap_or_default();
        rows_to_output(out, &[n, 1])
    }
    fn forward_train(&mut self, x: Self::Input<'_>) {
        let h0 = x.view();
        self.embedding.forward_train_ragged(h0);
        self.global_average_pooling1d
            .forward_train_ragged(h0.with_values(self.embedding.output()));
        Layer::forward_train(&mut self.dense, self.global_average_pooling1d.output());
    }
    fn train_output(&mut self, _index: usize) -> ArrayView2<'_, f32> {
        Layer::output(&self.dense)
    }
    fn backward(&mut self, x: Self::Input<'_>, grad_outputs: &[Array2<f32>]) {
        let grad_output = grad_outputs[0].view();
        let h0 = x.view();
        Layer::backward(
            &mut self.dense,
            self.global_average_pooling1d.output(),
            grad_output,
            true,
        );
        self.global_average_pooling1d.backward_ragged(
            h0.with_values(self.embedding.output()),
            Layer::grad_input(&self.dense),
        );
        self.embedding
            .backward_ragged(h0, self.global_average_pooling1d.grad_input());
    }
    fn visit_params(&mut self, f: &mut dyn FnMut(ParamMut<'_>)) {
        self.embedding.visit_params("embedding", f);
        Layer::visit_params(&mut self.dense, "dense", f);
    }
    fn visit_weights(&self, f: &mut dyn FnMut(ParamRef<'_>)) {
        self.embedding.visit_weights("embedding", f);
        Layer::visit_weights(&self.dense, "dense", f);
    }
}

/// The peers' W4 data: 12 800 sequences, lengths uniform in [1, 100], tokens uniform in the
/// vocabulary, random 0/1 labels.
fn data() -> (RaggedTensor<i32>, Array2<f32>) {
    let mut rng = Rng::new(0);
    let lengths: Vec<usize> = (0..SAMPLES).map(|_| 1 + rng.below(100)).collect();
    let total: usize = lengths.iter().sum();
    let tokens: Vec<i32> = (0..total).map(|_| rng.below(VOCAB) as i32).collect();
    let x = RaggedTensor::from_row_lengths(tokens, &lengths).expect("valid lengths");
    let y = Array2::from_shape_fn((SAMPLES, 1), |_| rng.below(2) as f32);
    (x, y)
}

/// One epoch of `fit` (batch 64, shuffled as Keras' default), counted in samples.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn train_epoch(bencher: divan::Bencher) {
    let (x, y) = data();
    let mut model = W4::with_seed(1).compile(Adam::new(0.001), Loss::binary_crossentropy());
    let options = FitOptions::default().batch_size(BATCH).seed(2).verbose(0);
    bencher
        .counter(divan::counter::ItemsCount::new(SAMPLES))
        .bench_local(|| {
            model
                .fit(divan::black_box(&x), y.view(), &options)
                .expect("valid data")
        });
}

/// One training step on a batch of 64 sequences.
#[divan::bench]
fn train_step(bencher: divan::Bencher) {
    let (x, y) = data();
    let rows: Vec<usize> = (0..BATCH).collect();
    let mut batch = RaggedTensor::default();
    x.gather_rows(&rows, &mut batch);
    let yb = y.slice(ndarray::s![..BATCH, ..]).to_owned();
    let mut model = W4::with_seed(1).compile(Adam::new(0.001), Loss::binary_crossentropy());
    bencher
        .counter(divan::counter::ItemsCount::new(BATCH))
        .bench_local(|| {
            model
                .train_on_batch(divan::black_box(&batch), yb.view())
                .expect("valid data")
        });
}
