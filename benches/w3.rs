//! W3 of benches/README.md, the sparse workload: 25 600 rows of 20 000 features with 200
//! non-zeros each (CSR, 1 %), batch 256 -> dense 64 relu -> dense 1 sigmoid, binary
//! cross-entropy, Adam(1e-3). The data is the peers' (../shared/peers): distinct sorted
//! columns per row, values uniform in [0, 1), labels 0/1.
//!
//! Three variants:
//! - `sparse`: declared with `model!` (`input(shape = [20_000], sparse = true)`); the input stays
//!   a `SparseTensor` and Dense runs sparse x dense products.
//! - `densified_per_batch` (written by hand): CSR data, each mini-batch densified into a reused 256 x 20 000
//!   buffer and run through the dense path (what the Rust peers have to do).
//! - `dense` (written by hand, memory run only): the whole dataset densified up front, as naive code would.
//!
//! Speed (one epoch of `fit`, 100 steps): `cargo bench --bench w3`
//! Peak memory and samples/s of one process per variant:
//! `W3_RUN=sparse /usr/bin/time -v target/release/deps/w3-<hash>` (or `W3_RUN=dense`,
//! `W3_RUN=densified_per_batch`); the binary prints samples/s per second of CPU time and its own
//! peak RSS (VmHWM) too.

use std::time::Instant;
use stratic::ndarray::{Array2, ArrayView2};
use stratic::prelude::*;
use stratic::shape::{Activation, DenseConfig, Dim, Layout, TensorSpec};
use stratic::{__private as rt, SparseTensor};

const N: usize = 25_600;
const FEATURES: usize = 20_000;
const NNZ: usize = 200;
const HIDDEN: usize = 64;
const BATCH: usize = 256;

fn main() {
    match std::env::var("W3_RUN").as_deref() {
        Ok(mode) => run_once(mode),
        Err(_) => divan::main(),
    }
}

// The peers' data, built as CSR parts and validated by `from_csr`.
fn data() -> (SparseTensor<f32>, Array2<f32>) {
    let mut rng = rt::Rng::new(0);
    let mut indptr = Vec::with_capacity(N + 1);
    let mut cols: Vec<i64> = Vec::with_capacity(N * NNZ);
    let mut values = Vec::with_capacity(N * NNZ);
    let mut seen = vec![false; FEATURES];
    indptr.push(0i64);
    for _ in 0..N {
        let start = cols.len();
        while cols.len() - start < NNZ {
            let c = rng.below(FEATURES);
            if !seen[c] {
                seen[c] = true;
                cols.push(c as i64);
            }
        }
        cols[start..].sort_unstable();
        for &c in &cols[start..] {
            seen[c as usize] = false;
            values.push(rng.next_f32());
        }
        indptr.push(cols.len() as i64);
    }
    let x = SparseTensor::from_csr(
        &indptr,
        &cols,
        &values,
        &[N as i64, FEATURES as i64],
        SparseOptions::default(),
    )
    .expect("canonical by construction");
    let y = Array2::from_shape_fn((N, 1), |_| rng.below(2) as f32);
    (x, y)
}

fn input_spec(layout: Layout) -> TensorSpec {
    let mut spec = TensorSpec::dense(vec![Dim::Known(FEATURES)]);
    spec.layout = layout;
    spec
}

fn output_specs() -> &'static [TensorSpec] {
    static SPEC: std::sync::OnceLock<[TensorSpec; 1]> = std::sync::OnceLock::new();
    SPEC.get_or_init(|| [TensorSpec::dense(vec![Dim::Known(1)])])
}

fn layers(seed: u64) -> (rt::Dense, rt::Dense) {
    let mut rng = rt::Rng::new(seed);
    let mut c0 = DenseConfig::new(HIDDEN);
    c0.activation = Activation::Relu;
    let mut c1 = DenseConfig::new(1);
    c1.activation = Activation::Sigmoid;
    (
        rt::Dense::build(c0, FEATURES, &mut rng),
        rt::Dense::build(c1, HIDDEN, &mut rng),
    )
}

model! {
    /// The W3 network on its sparse input, as users declare it.
    struct SparseW3 {
        input(shape = [20_000], sparse = true)
            -> dense(64, activation = relu)
            -> dense(1, activation = sigmoid)
    }
}

/// The same network fed CSR data, each batch densified into `buf` and run through the dense
/// path: the Rust peers' method.
struct DensifiedW3 {
    dense: rt::Dense,
    dense_1: rt::Dense,
    buf: Array2<f32>,
}

impl Model for DensifiedW3 {
    type Input<'a> = &'a SparseTensor<f32>;
    type Batch = SparseTensor<f32>;
    type Output = Array2<f32>;

    fn output_specs() -> &'static [TensorSpec] {
        output_specs()
    }
    fn output_names() -> &'static [&'static str] {
        &["dense_1"]
    }
    fn check_input(x: Self::Input<'_>) -> Result<usize, Error> {
        rt::check_sparse_input("input", &input_spec(Layout::Sparse), x)
    }
    fn gather(x: Self::Input<'_>, rows: &[usize], out: &mut Self::Batch) {
        x.gather_rows(rows, out)
    }
    fn batch_view(batch: &Self::Batch) -> Self::Input<'_> {
        batch
    }
    fn call(&self, x: Self::Input<'_>) -> Vec<Array2<f32>> {
        let mut buf = Array2::zeros((0, 0));
        x.to_dense_rows(&mut buf);
        let h1 = rt::Layer::call(&self.dense, buf.view().into());
        vec![rt::Layer::call(&self.dense_1, h1.view().into())]
    }
    fn to_output(outputs: Vec<Array2<f32>>, n: usize) -> Self::Output {
        let out = outputs.into_iter().next().unwrap_or_default();
        rt::rows_to_output(out, &[n, 1])
    }
    fn train_output(&mut self, _index: usize) -> ArrayView2<'_, f32> {
        rt::Layer::output(&self.dense_1)
    }
    fn forward_train(&mut self, x: Self::Input<'_>) {
        x.to_dense_rows(&mut self.buf);
        rt::Layer::forward(
            &mut self.dense,
            self.buf.view().into(),
            &mut Default::default(),
        );
        rt::Layer::forward(
            &mut self.dense_1,
            rt::Layer::output(&self.dense).into(),
            &mut Default::default(),
        );
    }
    fn backward(&mut self, _x: Self::Input<'_>, grad_outputs: &[Array2<f32>]) {
        let grad_output = grad_outputs[0].view();
        rt::Layer::backward(
            &mut self.dense_1,
            rt::Layer::output(&self.dense).into(),
            grad_output,
            true,
        );
        rt::Layer::backward(
            &mut self.dense,
            self.buf.view().into(),
            rt::Layer::grad_input(&self.dense_1),
            false,
        );
    }
    fn visit_params(&mut self, f: &mut dyn FnMut(rt::ParamMut<'_>)) {
        rt::Layer::visit_params(&mut self.dense, "dense", f);
        rt::Layer::visit_params(&mut self.dense_1, "dense_1", f);
    }
    fn visit_weights(&self, f: &mut dyn FnMut(rt::ParamRef<'_>)) {
        rt::Layer::visit_weights(&self.dense, "dense", f);
        rt::Layer::visit_weights(&self.dense_1, "dense_1", f);
    }
}

model! {
    /// The same network on a dense input (the whole dataset densified up front).
    struct DenseW3 {
        input(shape = [20_000])
            -> dense(64, activation = relu)
            -> dense(1, activation = sigmoid)
    }
}

fn options() -> FitOptions {
    FitOptions::default().batch_size(BATCH).seed(1).verbose(0)
}

fn adam() -> Adam {
    Adam::new(0.001)
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn fit_epoch_sparse(bencher: divan::Bencher) {
    let (x, y) = data();
    let mut model = SparseW3::with_seed(1).compile(adam(), Loss::binary_crossentropy());
    // A warm-up epoch sizes every buffer.
    model
        .fit(&x, y.view(), &options())
        .expect("shapes are right");
    bencher
        .counter(divan::counter::ItemsCount::new(N))
        .bench_local(|| {
            model
                .fit(divan::black_box(&x), y.view(), &options())
                .expect("shapes are right")
        });
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn fit_epoch_densified_per_batch(bencher: divan::Bencher) {
    let (x, y) = data();
    let (dense, dense_1) = layers(1);
    let model = DensifiedW3 {
        dense,
        dense_1,
        buf: Array2::zeros((0, 0)),
    };
    let mut model = model.compile(adam(), Loss::binary_crossentropy());
    model
        .fit(&x, y.view(), &options())
        .expect("shapes are right");
    bencher
        .counter(divan::counter::ItemsCount::new(N))
        .bench_local(|| {
            model
                .fit(divan::black_box(&x), y.view(), &options())
                .expect("shapes are right")
        });
}

// The process' peak resident set (VmHWM), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

// The CPU time the process' threads have used, in seconds (Linux' schedstat): on a shared
// machine it excludes the time other processes held the cores, which wall time does not.
fn cpu_seconds() -> Option<f64> {
    let mut ns = 0.0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        ns += stat.split_whitespace().next()?.parse::<f64>().ok()?;
    }
    Some(ns * 1e-9)
}

// One process, one variant: build the data, one warm-up and three timed epochs, then the peak
// memory of the whole process.
fn run_once(mode: &str) {
    let (x, y) = data();
    let loss = Loss::binary_crossentropy();
    let (mut epochs, mut cpu_epochs) = (Vec::new(), Vec::new());
    let mut time = |f: &mut dyn FnMut()| {
        for epoch in 0..4 {
            let (start, cpu_start) = (Instant::now(), cpu_seconds());
            f();
            if epoch > 0 {
                epochs.push(N as f64 / start.elapsed().as_secs_f64());
                if let (Some(a), Some(b)) = (cpu_start, cpu_seconds()) {
                    cpu_epochs.push(N as f64 / (b - a));
                }
            }
        }
    };
    match mode {
        "sparse" => {
            let mut m = SparseW3::with_seed(1).compile(adam(), loss);
            time(&mut || {
                m.fit(&x, y.view(), &options()).expect("shapes are right");
            });
        }
        "densified_per_batch" => {
            let (dense, dense_1) = layers(1);
            let model = DensifiedW3 {
                dense,
                dense_1,
                buf: Array2::zeros((0, 0)),
            };
            let mut m = model.compile(adam(), loss);
            time(&mut || {
                m.fit(&x, y.view(), &options()).expect("shapes are right");
            });
        }
        "dense" => {
            let xd: Array2<f32> = x
                .to_dense()
                .expect("fits in memory")
                .into_dimensionality()
                .expect("a matrix");
            drop(x);
            let mut m = DenseW3::with_seed(1).compile(adam(), loss);
            time(&mut || {
                m.fit(xd.view(), y.view(), &options())
                    .expect("shapes are right");
            });
        }
        other => {
            eprintln!("W3_RUN must be sparse, densified_per_batch or dense; received {other}");
            std::process::exit(2);
        }
    }
    epochs.sort_by(f64::total_cmp);
    cpu_epochs.sort_by(f64::total_cmp);
    println!(
        "W3 {mode}: train samples/s per epoch {:?} (median {:.0}); per second of the \
         process' CPU time {:?}; peak RSS {:.0} MiB",
        epochs.iter().map(|s| s.round()).collect::<Vec<_>>(),
        epochs[epochs.len() / 2],
        cpu_epochs.iter().map(|s| s.round()).collect::<Vec<_>>(),
        peak_rss_mib().unwrap_or(f64::NAN)
    );
}
