//! The checks of data-parallel training, written once against a `World`: run on threads by
//! `tests/distributed.rs` (`LocalGroup`), and on processes by `examples/mpi_checks.rs` under
//! `mpirun -np 2`. Every rank calls [`run_all`]; each check returns what went wrong.
//!
//! The reference is one process training on all the data, which every rank can compute
//! itself: the data is generated, the same on every rank.

use std::cell::Cell;

use stratic::distributed::{shard, World};
use stratic::prelude::*;

model! {
    /// The model every check trains.
    pub struct Net {
        input(shape = [6]) -> dense(16, activation = relu) -> dense(3)
    }

    /// Another model, for the mismatch check.
    pub struct Wider {
        input(shape = [6]) -> dense(17, activation = relu) -> dense(3)
    }
}

/// `n` samples of 6 features in [-1, 1) and a class that depends on them (which of three
/// sums is largest), from a fixed linear congruential sequence.
pub fn data(n: usize, salt: u64) -> (Array2<f32>, Array1<f32>) {
    let mut state = 0x2545_f491_4f6c_dd1d_u64 ^ salt;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    };
    let x = Array2::from_shape_simple_fn((n, 6), &mut next);
    let y = x
        .rows()
        .into_iter()
        .map(|r| {
            let s = [r[0] + r[1], r[2] - r[3], r[4] + r[5] * 0.5];
            let mut best = 0;
            for (j, v) in s.iter().enumerate() {
                if *v > s[best] {
                    best = j;
                }
            }
            best as f32
        })
        .collect();
    (x, y)
}

fn compiled(seed: u64) -> Compiled<Net, Adam> {
    Net::with_seed(seed)
        .compile(
            Adam::new(0.01),
            Loss::SparseCategoricalCrossentropy { from_logits: true },
        )
        .metrics(&[Metric::Accuracy])
}

fn options(world: Option<&World>, batch: usize, epochs: usize) -> FitOptions {
    let o = FitOptions::default()
        .batch_size(batch)
        .epochs(epochs)
        .shuffle(false)
        .verbose(0);
    match world {
        Some(w) => o.distributed(w),
        None => o,
    }
}

/// A 64-bit FNV-1a hash of every weight's bits, in order.
pub fn weight_hash<M: Model>(model: &M) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325_u64;
    model.visit_weights(&mut |p| {
        for v in p.value {
            for b in v.to_bits().to_le_bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
    });
    h
}

fn flat_weights<M: Model>(model: &M) -> Vec<f32> {
    let mut out = Vec::new();
    model.visit_weights(&mut |p| out.extend_from_slice(p.value));
    out
}

// Whether `a` and `b` agree within a relative tolerance (what summing in another order
// changes).
fn close(a: &[f32], b: &[f32], tol: f32) -> Result<(), String> {
    if a.len() != b.len() {
        return Err(format!("lengths differ: {} and {}", a.len(), b.len()));
    }
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if (x - y).abs() > tol * (1.0 + x.abs().max(y.abs())) {
            return Err(format!("element {i}: {x} and {y}"));
        }
    }
    Ok(())
}

/// Rank 0's bytes, on every rank.
fn from_root(world: &World, bytes: &[u8]) -> Vec<u8> {
    let mut buf = bytes.to_vec();
    world.communicator().broadcast_bytes(&mut buf, 0);
    buf
}

fn history_bytes(h: &History) -> Vec<u8> {
    let mut out = format!("{:?}|{:?}|", h.epoch, h.stopped).into_bytes();
    for (name, values) in &h.history {
        out.extend_from_slice(name.as_bytes());
        for v in values {
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
    }
    out
}

/// Training on the world's ranks matches one process training on all the data, with the
/// same seed and global batch: per-epoch losses and metrics, and the final weights, within
/// float tolerance. The world size must divide `batch` (then the ranks' local batches
/// together are the reference's batches).
pub fn parity(world: &World, n: usize, batch: usize) -> Result<(), String> {
    let (x, y) = data(n, 1);
    let mut reference = compiled(7);
    let expected = reference
        .fit(x.view(), y.view(), &options(None, batch, 4))
        .map_err(|e| format!("reference fit: {e}"))?;
    // Seeded by rank: the broadcast of rank 0's weights must make them one model.
    let mut model = compiled(7 + world.rank() as u64 * 1000);
    let (xs, ys) = (shard(x.view(), world), shard(y.view(), world));
    let history = model
        .fit(xs.view(), ys.view(), &options(Some(world), batch, 4))
        .map_err(|e| format!("distributed fit: {e}"))?;
    close(history.loss(), expected.loss(), 1e-5).map_err(|e| format!("losses: {e}"))?;
    close(history.get("accuracy"), expected.get("accuracy"), 1e-6)
        .map_err(|e| format!("accuracy: {e}"))?;
    close(
        &flat_weights(model.model()),
        &flat_weights(reference.model()),
        1e-4,
    )
    .map_err(|e| format!("final weights: {e}"))?;
    let expected_loss = expected.loss().last().copied().unwrap_or(0.0);
    let first_loss = expected.loss().first().copied().unwrap_or(0.0);
    if expected_loss >= first_loss {
        return Err(format!(
            "the reference did not learn: loss {first_loss} -> {expected_loss}"
        ));
    }
    // Bitwise the same weights and history on every rank.
    let hash = weight_hash(model.model()).to_le_bytes();
    if from_root(world, &hash) != hash {
        return Err("the weights differ from rank 0's".into());
    }
    let bytes = history_bytes(&history);
    if from_root(world, &bytes) != bytes {
        return Err("the history differs from rank 0's".into());
    }
    Ok(())
}

/// Validation data (each rank its shard) is reduced over the ranks: `val_loss` and
/// `val_accuracy` are those of the whole validation set, and early stopping ends every rank
/// at the same epoch.
pub fn validation_and_early_stopping(world: &World) -> Result<(), String> {
    let (x, y) = data(96, 2);
    let (xv, yv) = data(37, 3);
    let fit_options = |w| options(w, 4 * world.size(), 30);
    let mut reference = compiled(11);
    // A patience of 0 with a large min_delta stops early, at an epoch fixed by the history.
    let mut early = EarlyStopping::new("val_loss").patience(1).min_delta(0.05);
    let expected = reference
        .fit_with(x.view(), y.view(), &fit_options(None))
        .validation_data(xv.view(), yv.view())
        .callback(&mut early)
        .run()
        .map_err(|e| format!("reference fit: {e}"))?;
    let mut model = compiled(11);
    let mut early = EarlyStopping::new("val_loss").patience(1).min_delta(0.05);
    let (xs, ys) = (shard(x.view(), world), shard(y.view(), world));
    let (xvs, yvs) = (shard(xv.view(), world), shard(yv.view(), world));
    let history = model
        .fit_with(xs.view(), ys.view(), &fit_options(Some(world)))
        .validation_data(xvs.view(), yvs.view())
        .callback(&mut early)
        .run()
        .map_err(|e| format!("distributed fit: {e}"))?;
    if expected.epoch.len() >= 30 {
        return Err("early stopping did not stop the reference; the check proves nothing".into());
    }
    if history.epoch != expected.epoch {
        return Err(format!(
            "stopped after epochs {:?}, one process after {:?}",
            history.epoch, expected.epoch
        ));
    }
    close(history.val_loss(), expected.val_loss(), 1e-5).map_err(|e| format!("val_loss: {e}"))?;
    close(
        history.get("val_accuracy"),
        expected.get("val_accuracy"),
        1e-6,
    )
    .map_err(|e| format!("val_accuracy: {e}"))?;
    let bytes = history_bytes(&history);
    if from_root(world, &bytes) != bytes {
        return Err("the history differs from rank 0's".into());
    }
    Ok(())
}

/// A rank with bad data fails, and every other rank returns `Error::Distributed` naming
/// it, instead of waiting for it: data refused before training (targets for fewer samples
/// than the inputs), and data that fails in a step (a class id out of range, in the third
/// batch).
pub fn failing_rank(world: &World) -> Result<(), String> {
    let bad_rank = world.size() - 1;
    let (x, y) = data(40, 4);
    let short = y.slice(ndarray::s![..39]);
    let targets = if world.rank() == bad_rank {
        short
    } else {
        y.view()
    };
    let result = compiled(3).fit(x.view(), targets, &options(Some(world), 8, 2));
    expect_failure(world, result, bad_rank, "same number of samples")
        .map_err(|e| format!("before training: {e}"))?;
    let mut y = y.clone();
    if world.rank() == bad_rank {
        y[21] = 7.0;
    }
    let result = compiled(3).fit(x.view(), y.view(), &options(Some(world), 8, 2));
    expect_failure(world, result, bad_rank, "integer class ids")
        .map_err(|e| format!("in a step: {e}"))
}

/// A callback that fails on one rank in the middle of training stops every rank.
pub fn failing_rank_mid_training(world: &World) -> Result<(), String> {
    struct FailAt {
        rank: usize,
        epoch: usize,
        calls: Cell<usize>,
    }
    impl<M> Callback<M> for FailAt {
        fn on_epoch_end(
            &mut self,
            epoch: usize,
            _: &mut Logs,
            ctx: &mut TrainContext<'_, M>,
        ) -> Result<(), Error> {
            self.calls.set(self.calls.get() + 1);
            if ctx.rank() == self.rank && epoch == self.epoch {
                return Err(Error::InvalidArgument {
                    name: "callback",
                    message: "fails on purpose".into(),
                });
            }
            Ok(())
        }
    }
    let bad_rank = world.size() - 1;
    let (x, y) = data(40, 5);
    let mut model = compiled(3);
    let mut fail = FailAt {
        rank: bad_rank,
        epoch: 1,
        calls: Cell::new(0),
    };
    let result = model
        .fit_with(x.view(), y.view(), &options(Some(world), 8, 5))
        .callback(&mut fail)
        .run();
    expect_failure(world, result, bad_rank, "on purpose")?;
    if fail.calls.get() != 2 {
        return Err(format!(
            "training went on for {} epochs after the failure",
            fail.calls.get() - 2
        ));
    }
    Ok(())
}

/// Ranks that declare different models find out at the start, all of them.
pub fn mismatched_models(world: &World) -> Result<(), String> {
    if world.size() == 1 {
        // One rank has nothing to disagree with.
        return Ok(());
    }
    let (x, y) = data(40, 6);
    let options = options(Some(world), 8, 2);
    let result = if world.rank() == world.size() - 1 {
        Wider::with_seed(1)
            .compile(Adam::new(0.01), Loss::sparse_categorical_crossentropy())
            .fit(x.view(), y.view(), &options)
    } else {
        Net::with_seed(1)
            .compile(Adam::new(0.01), Loss::sparse_categorical_crossentropy())
            .fit(x.view(), y.view(), &options)
    };
    match result {
        Err(Error::Distributed { message, .. })
            if message.contains("does not train what rank 0 does") =>
        {
            Ok(())
        }
        Err(e) => Err(format!("the wrong error: {e}")),
        Ok(_) => Err("trained two different models together".into()),
    }
}

fn expect_failure(
    world: &World,
    result: Result<History, Error>,
    bad_rank: usize,
    needle: &str,
) -> Result<(), String> {
    match result {
        Ok(_) => Err("training succeeded although a rank failed".into()),
        Err(Error::Distributed { rank, message }) if world.rank() != bad_rank => {
            if rank == bad_rank && message.contains(needle) {
                Ok(())
            } else {
                Err(format!("told rank {rank} failed with {message:?}"))
            }
        }
        Err(e) if world.rank() == bad_rank => {
            if e.to_string().contains(needle) && !matches!(e, Error::Distributed { .. }) {
                Ok(())
            } else {
                Err(format!("the failing rank's own error is not returned: {e}"))
            }
        }
        Err(e) => Err(format!("the wrong error: {e}")),
    }
}

/// One named check, run on every rank.
type Check<'a> = (&'a str, &'a dyn Fn(&World) -> Result<(), String>);

/// Every check, in order; the names of those that failed with what went wrong.
pub fn run_all(world: &World) -> Vec<String> {
    // Global batches the world size divides.
    let b = 4 * world.size();
    let checks: [Check; 7] = [
        ("parity, even", &|w| parity(w, 16 * b, b)),
        // The last global batch is 5 samples: 3 and 2 on two ranks.
        ("parity, uneven shards and last batch", &|w| {
            parity(w, 5 * b + 5, b)
        }),
        // The last global batch is one sample, on rank 0: the others join that step empty.
        ("parity, a rank out of samples", &|w| {
            parity(w, 3 * b + 1, b)
        }),
        (
            "validation and early stopping",
            &validation_and_early_stopping,
        ),
        ("failing rank", &failing_rank),
        ("failing rank mid-training", &failing_rank_mid_training),
        ("mismatched models", &mismatched_models),
    ];
    checks
        .iter()
        .filter_map(|(name, check)| check(world).err().map(|e| format!("{name}: {e}")))
        .collect()
}
