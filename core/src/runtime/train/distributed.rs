//! The data-parallel side of `fit` (`FitOptions::distributed`): the start (every rank agrees,
//! the models are compared, rank 0's weights are broadcast), the step (local forward and
//! backward, one all-reduce of the gradients with the losses and sample counts packed
//! behind them, the same update everywhere), and the reductions of logs and validation.
//!
//! Every rank must make the same collective calls in the same order, or the job hangs. So
//! nothing here returns early on a local error: each error is carried to the next agreement
//! point ([`Ranks::agree`]), where every rank learns of it and all return together.

use ndarray::ArrayD;

use super::{Feed, Logs, MetricState, Net, TrainState};
use crate::runtime::distributed::World;
use crate::runtime::{Error, ParamMut};

/// The state of one distributed `fit` call.
pub(super) struct Ranks {
    world: World,
    // Whether this rank reached the start agreement; a rank that failed before it must
    // still take part in it (see `finish`).
    joined: bool,
    // The step's all-reduce: every gradient (times the local sample count), then the total
    // loss, each output's loss (both times the count), the count, and an error flag.
    buf: Vec<f32>,
    // Reductions of metric states and flags.
    scalars: Vec<f64>,
}

impl Ranks {
    pub(super) fn new(world: World) -> Self {
        Ranks {
            world,
            joined: false,
            buf: Vec::new(),
            scalars: Vec::new(),
        }
    }

    pub(super) fn is_root(&self) -> bool {
        self.world.is_root()
    }

    pub(super) fn rank(&self) -> usize {
        self.world.rank()
    }

    /// This rank's share of a global batch of `global` samples.
    pub(super) fn local_batch(&self, global: usize) -> usize {
        let (n, r) = (self.world.size(), self.world.rank());
        global / n + usize::from(r < global % n)
    }

    /// The largest of every rank's `value`.
    pub(super) fn max(&self, value: usize) -> usize {
        let all = self.world.gather_f64(value as f64);
        all.iter().fold(0.0f64, |a, b| a.max(*b)) as usize
    }

    /// Whether `flag` is set on any rank.
    pub(super) fn any(&self, flag: bool) -> bool {
        self.max(usize::from(flag)) > 0
    }

    /// Every rank reports how its part went and whether it asks to stop. If any failed,
    /// all return an error: the failing rank its own, the others [`Error::Distributed`]
    /// with the lowest failing rank's message. Otherwise `stop` becomes whether any rank
    /// asked to stop.
    pub(super) fn agree(
        &mut self,
        result: Result<(), Error>,
        stop: &mut bool,
    ) -> Result<(), Error> {
        let n = self.world.size();
        self.scalars.clear();
        self.scalars.resize(n + 1, 0.0);
        let me = self.world.rank();
        if result.is_err() {
            self.scalars[me] = 1.0;
        }
        self.scalars[n] = f64::from(u8::from(*stop));
        self.world
            .communicator()
            .all_reduce_sum_f64(&mut self.scalars);
        *stop = self.scalars[n] > 0.0;
        match self.scalars[..n].iter().position(|f| *f > 0.0) {
            None => result,
            Some(first) => Err(self.failure(first, result)),
        }
    }

    // The error rank `first` (the lowest that failed) sends to every rank.
    fn failure(&self, first: usize, result: Result<(), Error>) -> Error {
        let mut message = match &result {
            Err(e) if self.world.rank() == first => e.to_string().into_bytes(),
            _ => Vec::new(),
        };
        self.world
            .communicator()
            .broadcast_bytes(&mut message, first);
        match result {
            Err(own) => own,
            Ok(()) => Error::Distributed {
                rank: first,
                message: String::from_utf8_lossy(&message).into_owned(),
            },
        }
    }

    /// The start of training: waits for every rank's preparation, checks that every rank
    /// trains the same model with the same arguments (`plan` describes them), and gives every
    /// rank rank 0's weights.
    pub(super) fn begin(&mut self, net: &mut dyn Net, plan: &str) -> Result<(), Error> {
        self.joined = true;
        self.agree(Ok(()), &mut false)?;
        let mut mine = String::from(plan);
        let mut count = 0usize;
        net.visit_params(&mut |p| {
            count += p.value.len();
            mine.push_str(&format!("; {}/{} {:?}", p.layer, p.variable, p.shape));
        });
        mine = format!("{count} parameters; {mine}");
        let mut root = mine.clone().into_bytes();
        self.world.communicator().broadcast_bytes(&mut root, 0);
        let root = String::from_utf8_lossy(&root).into_owned();
        let same = if root == mine {
            Ok(())
        } else {
            Err(Error::Distributed {
                rank: self.world.rank(),
                message: format!(
                    "rank {} does not train what rank 0 does (the model, or the arguments of fit): rank 0 has {root}; rank {} has {mine}",
                    self.world.rank(),
                    self.world.rank()
                ),
            })
        };
        self.agree(same, &mut false)?;
        // Rank 0's weights, so that ranks seeded differently still train one model.
        self.buf.clear();
        net.visit_params(&mut |p| self.buf.extend_from_slice(p.value));
        self.world.communicator().broadcast_f32(&mut self.buf, 0);
        let mut at = 0;
        net.visit_params(&mut |p| {
            let n = p.value.len();
            if let Some(src) = self.buf.get(at..at + n) {
                p.value.copy_from_slice(src);
            }
            at += n;
        });
        Ok(())
    }
}

/// Ends a distributed `fit`: a rank that failed before the start agreement takes part in it
/// now, so that the others learn of the failure instead of waiting for this rank.
pub(super) fn finish<T>(sync: Option<Ranks>, result: Result<T, Error>) -> Result<T, Error> {
    match (sync, result) {
        (Some(mut sync), Err(e)) if !sync.joined => {
            sync.joined = true;
            match sync.agree(Err(e), &mut false) {
                Err(e) => Err(e),
                // `agree` of an error is always an error.
                Ok(()) => Err(Error::Distributed {
                    rank: sync.world.rank(),
                    message: "failed before training".into(),
                }),
            }
        }
        (_, result) => result,
    }
}

/// One optimizer step over `model`'s parameters with the gradients `grads` (all of them,
/// flat, in visit order) in place of the model's own.
pub(super) fn update_with<M: crate::runtime::Model, O: crate::runtime::Optimizer>(
    model: &mut M,
    optimizer: &mut O,
    grads: &[f32],
) {
    let mut index = 0;
    let mut at = 0;
    model.visit_params(&mut |p| {
        let n = p.value.len();
        let grad = grads.get(at..at + n).unwrap_or(&[]);
        optimizer.update(
            index,
            ParamMut {
                layer: p.layer,
                variable: p.variable,
                shape: p.shape,
                value: p.value,
                grad,
            },
        );
        index += 1;
        at += n;
    });
    optimizer.finish_step();
}

impl TrainState {
    /// A distributed training step on this rank's samples `idx` (possibly none, when its
    /// shard has run out before the others'). Returns the global batch's loss and size.
    pub(super) fn step_shared(
        &mut self,
        net: &mut dyn Net,
        targets: &[ArrayD<f32>],
        weights: Option<&[f32]>,
        idx: &[usize],
    ) -> Result<(f32, usize), Error> {
        if let Some(lr) = self.scheduled_rate()? {
            net.optimizer().set_learning_rate(lr);
        }
        let k = self.losses.len();
        let local = if idx.is_empty() {
            self.step_losses.fill(0.0);
            Ok(0.0)
        } else {
            self.load_batch(net, targets, weights, idx);
            self.forward_losses(net, Feed::Batch, weights.is_some(), true)
        };
        let count = idx.len() as f32;
        let backward = matches!(local, Ok(loss) if loss.is_finite() && !idx.is_empty());
        if backward {
            net.backward(Feed::Batch, &self.grads);
        }
        let Some(sync) = self.ranks.as_mut() else {
            return Err(Error::Distributed {
                rank: 0,
                message: "a distributed step outside a distributed fit".into(),
            });
        };
        // Gradients times the local count: summed and divided by the global count, they are
        // the mean over the global batch, as one process computes it.
        let buf = &mut sync.buf;
        buf.clear();
        net.visit_params(&mut |p| {
            if backward {
                buf.extend(p.grad.iter().map(|g| g * count));
            } else {
                buf.extend(std::iter::repeat_n(0.0, p.grad.len()));
            }
        });
        let params = buf.len();
        let loss = *local.as_ref().unwrap_or(&0.0);
        buf.push(loss * count);
        buf.extend(self.step_losses.iter().map(|l| l * count));
        buf.push(count);
        buf.push(f32::from(u8::from(local.is_err())));
        sync.world.communicator().all_reduce_sum_f32(buf);
        if buf[params + k + 2] > 0.0 {
            let first = sync.world.gather_f64(f64::from(u8::from(local.is_err())));
            let first = first.iter().position(|f| *f > 0.0).unwrap_or(0);
            return Err(sync.failure(first, local.map(|_| ())));
        }
        let total = buf[params + k + 1];
        let scale = if total > 0.0 { 1.0 / total } else { 0.0 };
        let loss = buf[params] * scale;
        for (l, sum) in self.step_losses.iter_mut().zip(&buf[params + 1..]) {
            *l = sum * scale;
        }
        // A non-finite loss on any rank is non-finite here on every rank: none updates.
        if loss.is_finite() && total > 0.0 {
            for g in &mut buf[..params] {
                *g *= scale;
            }
            // The averaged gradient is the same on every rank, so every rank refuses it
            // together, before any weight changes.
            if let Some(at) = buf[..params].iter().position(|g| !g.is_finite()) {
                return Err(Error::NonFiniteGradient {
                    epoch: 0,
                    batch: 0,
                    weight: weight_at(net, at),
                });
            }
            net.update_with(&buf[..params]);
            self.steps_taken += 1;
        }
        Ok((loss, total as usize))
    }

    /// `fill_logs` with the training metrics summed over the ranks (the running loss
    /// already is).
    pub(super) fn fill_logs_shared(
        &mut self,
        logs: &mut Logs,
        total: f64,
        sums: &[f64],
        seen: usize,
    ) {
        let Some(sync) = self.ranks.as_mut() else {
            return self.fill_logs(logs, total, sums, seen);
        };
        let mut reduced = self.train_metrics.clone();
        reduce_metrics(sync, &mut reduced, &mut []);
        std::mem::swap(&mut self.train_metrics, &mut reduced);
        self.fill_logs(logs, total, sums, seen);
        std::mem::swap(&mut self.train_metrics, &mut reduced);
    }

    /// Ends this rank's part of an evaluation: agrees on errors, then sums the losses
    /// (`sums`: the total, each output's, the sample count) and the metrics over the ranks.
    pub(super) fn reduce_evaluation(
        &mut self,
        failed: Option<Error>,
        sums: &mut [f64],
    ) -> Result<(), Error> {
        let Some(sync) = self.ranks.as_mut() else {
            return failed.map_or(Ok(()), Err);
        };
        sync.agree(failed.map_or(Ok(()), Err), &mut false)?;
        reduce_metrics(sync, &mut self.eval_metrics, sums);
        Ok(())
    }
}

// The name (`layer/variable`) of the parameter holding flat gradient index `at`, in visit
// order.
fn weight_at(net: &mut dyn Net, at: usize) -> String {
    let mut offset = 0usize;
    let mut name = String::new();
    net.visit_params(&mut |p| {
        if name.is_empty() && at < offset + p.grad.len() {
            name = format!("{}/{}", p.layer, p.variable);
        }
        offset += p.grad.len();
    });
    name
}

// Sums `extra` and every state of `metrics` over the ranks, in one all-reduce.
fn reduce_metrics(sync: &mut Ranks, metrics: &mut [Vec<MetricState>], extra: &mut [f64]) {
    let scalars = &mut sync.scalars;
    scalars.clear();
    scalars.extend_from_slice(extra);
    for m in metrics.iter_mut().flatten() {
        m.for_each_value(&mut |v| scalars.push(*v));
    }
    sync.world.communicator().all_reduce_sum_f64(scalars);
    let mut values = scalars.iter();
    for (e, v) in extra.iter_mut().zip(&mut values) {
        *e = *v;
    }
    for m in metrics.iter_mut().flatten() {
        m.for_each_value(&mut |v| {
            if let Some(sum) = values.next() {
                *v = *sum;
            }
        });
    }
}
