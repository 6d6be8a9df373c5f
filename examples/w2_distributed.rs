//! W2 (benches/README.md: 784 -> dense 256 relu -> dense 256 relu -> dense 10, sparse
//! categorical cross-entropy from logits, Adam(1e-3), global batch 128, 60 000 x 784
//! uniform data) trained data-parallel over MPI, timed: training samples/s and the share of
//! the step spent in the gradient all-reduce. Figures for BENCHMARKS.md:
//!
//! ```text
//! cargo build --release --features mpi --example w2_distributed
//! export STRATIC_NUM_THREADS=1 MATMUL_NUM_THREADS=1
//! mpirun -np 1 target/release/examples/w2_distributed
//! mpirun -np 2 --oversubscribe target/release/examples/w2_distributed
//! ```
//!
//! Each rank generates its own 60 000 / np samples (the data is uniform noise, so which
//! samples a rank holds does not matter). One warm-up epoch on 10 batches, then
//! `W2_EPOCHS` (default 1) timed epochs; `W2_BATCH` changes the global batch. The all-reduce is timed by wrapping the world's
//! communicator: on each rank it includes waiting for the slower rank. A second figure
//! times the exchange alone: the same all-reduce repeated with nothing else running.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use stratic::__private::Rng;
use stratic::distributed::{Communicator, Mpi, World};
use stratic::prelude::*;

model! {
    struct Mlp {
        input(shape = [784])
            -> dense(256, activation = relu)
            -> dense(256, activation = relu)
            -> dense(10)
    }
}

const SAMPLES: usize = 60_000;
const BATCH: usize = 128;

/// A communicator that times its `f32` all-reduces (the gradients').
struct Timed {
    inner: World,
    nanos: AtomicU64,
    calls: AtomicU64,
}

impl Communicator for Timed {
    fn rank(&self) -> usize {
        self.inner.rank()
    }
    fn size(&self) -> usize {
        self.inner.size()
    }
    fn all_reduce_sum_f32(&self, buf: &mut [f32]) {
        let t = Instant::now();
        self.inner.communicator().all_reduce_sum_f32(buf);
        self.nanos
            .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
    fn all_reduce_sum_f64(&self, buf: &mut [f64]) {
        self.inner.communicator().all_reduce_sum_f64(buf);
    }
    fn broadcast_f32(&self, buf: &mut [f32], root: usize) {
        self.inner.communicator().broadcast_f32(buf, root);
    }
    fn broadcast_bytes(&self, buf: &mut Vec<u8>, root: usize) {
        self.inner.communicator().broadcast_bytes(buf, root);
    }
}

fn main() -> Result<(), Error> {
    let mpi = Mpi::init()?;
    let (rank, size) = (mpi.rank(), mpi.size());
    let epochs: usize = std::env::var("W2_EPOCHS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    // `W2_BATCH` sets the global batch (128 by default), e.g. 64 at np = 1 to time what one
    // rank computes at np = 2.
    let batch: usize = std::env::var("W2_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(BATCH);
    let n = SAMPLES / size;
    let mut rng = Rng::new(rank as u64);
    let x = Array2::from_shape_fn((n, 784), |_| rng.next_f32());
    let y = Array1::from_shape_fn(n, |_| rng.below(10) as f32);
    let timed = std::sync::Arc::new(Timed {
        inner: mpi.world().clone(),
        nanos: AtomicU64::new(0),
        calls: AtomicU64::new(0),
    });
    let world = World::new(SharedTimed(timed.clone()));
    let mut model = Mlp::with_seed(1).compile(
        Adam::new(0.001),
        Loss::SparseCategoricalCrossentropy { from_logits: true },
    );
    let options = FitOptions::default()
        .batch_size(batch)
        .seed(1)
        .verbose(0)
        .distributed(&world);
    let warm = (10 * batch / size).min(n);
    model.fit(
        x.slice(ndarray::s![..warm, ..]),
        y.slice(ndarray::s![..warm]),
        &options,
    )?;
    timed.nanos.store(0, Ordering::Relaxed);
    timed.calls.store(0, Ordering::Relaxed);
    let start = Instant::now();
    model.fit(x.view(), y.view(), &options.clone().epochs(epochs))?;
    let seconds = start.elapsed().as_secs_f64();
    let steps = (epochs * n.div_ceil((batch / size).max(1))) as f64;
    let reduce = timed.nanos.load(Ordering::Relaxed) as f64 * 1e-9;
    // The exchange alone: W2's gradients and the step's few scalars, 200 times.
    let mut params = 0;
    model
        .model()
        .visit_weights(&mut |p| params += p.value.len());
    let mut buf = vec![1.0f32; params + 4];
    let mut sync = [0.0f64];
    mpi.communicator().all_reduce_sum_f64(&mut sync);
    let t = Instant::now();
    for _ in 0..200 {
        mpi.communicator().all_reduce_sum_f32(&mut buf);
    }
    let exchange = t.elapsed().as_secs_f64() / 200.0;
    // Rank 0 reports the slowest rank's view of the shares.
    let mut worst = [reduce, exchange];
    let mut gathered = vec![0.0; 2 * size];
    gathered[2 * rank] = worst[0];
    gathered[2 * rank + 1] = worst[1];
    mpi.communicator().all_reduce_sum_f64(&mut gathered);
    worst[0] = (0..size).map(|r| gathered[2 * r]).fold(0.0, f64::max);
    worst[1] = (0..size).map(|r| gathered[2 * r + 1]).fold(0.0, f64::max);
    if rank == 0 {
        let samples = (epochs * n * size) as f64;
        println!(
            "W2 over MPI, np = {size}, {} thread(s) per rank: {epochs} epoch(s) of {} samples in {seconds:.2} s: {:.0} samples/s",
            stratic::__private::num_threads(),
            n * size,
            samples / seconds
        );
        println!(
            "  {steps:.0} steps, {:.2} ms per step; gradient all-reduce ({} floats, {:.0} KB): {:.3} ms per step in training ({:.1} % of the step, waiting for the slower rank included), {:.3} ms alone",
            seconds / steps * 1e3,
            params + 4,
            (params + 4) as f64 * 4.0 / 1000.0,
            worst[0] / steps * 1e3,
            100.0 * worst[0] / seconds,
            worst[1] * 1e3
        );
    }
    Ok(())
}

/// `Timed` shared with `main`, which reads its clocks.
struct SharedTimed(std::sync::Arc<Timed>);

impl Communicator for SharedTimed {
    fn rank(&self) -> usize {
        self.0.rank()
    }
    fn size(&self) -> usize {
        self.0.size()
    }
    fn all_reduce_sum_f32(&self, buf: &mut [f32]) {
        self.0.all_reduce_sum_f32(buf);
    }
    fn all_reduce_sum_f64(&self, buf: &mut [f64]) {
        self.0.all_reduce_sum_f64(buf);
    }
    fn broadcast_f32(&self, buf: &mut [f32], root: usize) {
        self.0.broadcast_f32(buf, root);
    }
    fn broadcast_bytes(&self, buf: &mut Vec<u8>, root: usize) {
        self.0.broadcast_bytes(buf, root);
    }
}
