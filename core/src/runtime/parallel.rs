//! Splitting one piece of work over the machine's cores: a process-wide pool of worker threads
//! (thread-tree's, the pool matrixmultiply uses: jobs go straight to a waiting thread, no work
//! stealing, so a fork costs a few microseconds) and [`split`], which cuts a job in halves
//! until the halves are small or every thread has one.
//!
//! The number of threads is `STRATIC_NUM_THREADS` if set, otherwise the available parallelism,
//! at most [`MAX_THREADS`]; without the `threading` feature it is 1 and everything runs on the
//! caller's thread. Work smaller than the caller's `min_len` never forks: on small models the
//! hand-off costs more than it saves (issue 8's peers lose up to 4x on W1 to it).

#[cfg(feature = "threading")]
use std::cell::Cell;
#[cfg(feature = "threading")]
use std::sync::OnceLock;

#[cfg(feature = "threading")]
use thread_tree::{ThreadTree, ThreadTreeCtx};

// The most threads the pool starts (a tree of depth 3).
#[cfg(feature = "threading")]
const MAX_THREADS: usize = 8;

#[cfg(feature = "threading")]
struct Pool {
    tree: Box<ThreadTree>,
    threads: usize,
}

#[cfg(feature = "threading")]
fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let wanted = std::env::var("STRATIC_NUM_THREADS")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .clamp(1, MAX_THREADS);
        // The tree has 2^depth leaves; round down so no two leaves share a core.
        let depth = usize::BITS - 1 - wanted.leading_zeros();
        Pool {
            tree: ThreadTree::new_with_level(depth as usize),
            threads: 1 << depth,
        }
    })
}

#[cfg(feature = "threading")]
thread_local! {
    // Set while this thread runs a job of the pool: a job that splits again runs its halves
    // in place rather than sending them to the tree's top, where it could wait on itself.
    static IN_JOB: Cell<bool> = const { Cell::new(false) };
}

/// The number of threads stratic splits its own work over (optimizer updates, large products):
/// `STRATIC_NUM_THREADS` if set, otherwise the available parallelism, rounded down to a power of
/// two and at most 8; 1 without the `threading` feature (on by default).
pub fn threads() -> usize {
    #[cfg(feature = "threading")]
    {
        pool().threads
    }
    #[cfg(not(feature = "threading"))]
    {
        1
    }
}

/// Runs `work` on parts of `job` that together cover it, in parallel where that pays.
///
/// `job` has `len` units (rows, elements); `cut(job, at)` splits it into the units before `at`
/// and those from `at` on (e.g. `split_at_mut` on a tuple of slices). A part is split while it
/// has at least `2 * min_len` units and a thread is free for its second half; cut points are
/// multiples of `align` (at least 1), so SIMD lanes or cache lines are not shared.
pub(crate) fn split<J, C, W>(job: J, len: usize, min_len: usize, align: usize, cut: C, work: W)
where
    J: Send,
    C: Fn(J, usize) -> (J, J) + Sync,
    W: Fn(J) + Sync,
{
    #[cfg(feature = "threading")]
    {
        let pool = pool();
        if pool.threads > 1 && len >= 2 * min_len.max(1) && !IN_JOB.with(Cell::get) {
            let task = Task {
                min_len: min_len.max(1),
                align: align.max(1),
                cut: &cut,
                work: &work,
            };
            task.run(pool.tree.top(), job, len);
            return;
        }
    }
    let _ = (len, min_len, align, &cut);
    work(job);
}

#[cfg(feature = "threading")]
struct Task<'a, C, W> {
    min_len: usize,
    align: usize,
    cut: &'a C,
    work: &'a W,
}

#[cfg(feature = "threading")]
impl<C, W> Task<'_, C, W> {
    fn run<J>(&self, ctx: ThreadTreeCtx<'_>, job: J, len: usize)
    where
        J: Send,
        C: Fn(J, usize) -> (J, J) + Sync,
        W: Fn(J) + Sync,
    {
        let at = (len / 2) / self.align * self.align;
        if !ctx.is_parallel() || len < 2 * self.min_len || at == 0 {
            in_job(|| (self.work)(job));
            return;
        }
        let (first, second) = (self.cut)(job, at);
        ctx.join(
            |ctx| self.run(ctx, first, at),
            |ctx| self.run(ctx, second, len - at),
        );
    }
}

#[cfg(feature = "threading")]
fn in_job(f: impl FnOnce()) {
    let was = IN_JOB.with(|flag| flag.replace(true));
    f();
    IN_JOB.with(|flag| flag.set(was));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut_slice(job: &mut [u64], at: usize) -> (&mut [u64], &mut [u64]) {
        job.split_at_mut(at)
    }

    #[test]
    fn every_unit_is_worked_once() {
        for len in [0, 1, 7, 64, 1000, 4097] {
            let mut data = vec![0u64; len];
            split(&mut data[..], len, 16, 8, cut_slice, |part| {
                for x in part.iter_mut() {
                    *x += 1;
                }
            });
            assert!(data.iter().all(|&x| x == 1), "len {len}");
        }
    }

    #[test]
    fn cuts_fall_on_the_alignment() {
        let len = 1000;
        let mut data: Vec<u64> = (0..len as u64).collect();
        let starts = std::sync::Mutex::new(Vec::new());
        split(&mut data[..], len, 10, 64, cut_slice, |part| {
            starts.lock().expect("not poisoned").push(part[0]);
        });
        let starts = starts.into_inner().expect("not poisoned");
        assert!(starts.iter().all(|s| s % 64 == 0), "{starts:?}");
        assert!(
            !starts.is_empty() && starts.len() <= threads(),
            "{starts:?}"
        );
        if threads() >= 2 {
            assert!(starts.len() >= 2, "a large job was not split: {starts:?}");
        }
    }

    #[test]
    fn nested_splits_run_in_place() {
        let mut data = vec![0u64; 4096];
        split(&mut data[..], 4096, 8, 1, cut_slice, |part| {
            let n = part.len();
            split(part, n, 8, 1, cut_slice, |inner| {
                for x in inner.iter_mut() {
                    *x += 1;
                }
            });
        });
        assert!(data.iter().all(|&x| x == 1));
    }

    #[test]
    fn small_jobs_stay_on_the_calling_thread() {
        let caller = std::thread::current().id();
        let mut data = vec![0u64; 100];
        split(&mut data[..], 100, 64, 1, cut_slice, |_| {
            assert_eq!(std::thread::current().id(), caller);
        });
    }
}
