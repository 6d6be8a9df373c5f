//! Data-parallel training over several processes (Horovod's and Keras'
//! `MultiWorkerMirroredStrategy`'s scheme): every rank holds the same model, takes its share
//! of each global batch, and the gradients are averaged with one all-reduce per step, so
//! every rank applies the same update and the weights stay bitwise identical.
//!
//! A [`World`] is the group of ranks. `Mpi::init` (feature `mpi`) makes one over MPI; run
//! without `mpirun` it is a world of one rank and training is the ordinary one.
//! [`LocalGroup`] makes one of threads in a single process, for tests. Hand the world to
//! `fit` with `FitOptions::distributed(&world)`, and give each rank its part of the data with
//! [`shard`].
//!
//! ```
//! use stratic::distributed::{shard, World};
//! use ndarray::Array2;
//!
//! let world = World::single();
//! let x = Array2::<f32>::zeros((10, 4));
//! let mine = shard(x.view(), &world);
//! assert_eq!(mine.nrows(), 10);
//! ```

use std::fmt;
use std::sync::{Arc, Barrier, Mutex, PoisonError};

use ndarray::{Array, ArrayView, Axis, RemoveAxis};

/// The collective operations data-parallel training needs, over some transport (MPI,
/// threads). Every rank must call the same operations in the same order with buffers of the
/// same length; the training loop guarantees this.
///
/// Implementations must give every rank the same bits for an all-reduce (a fixed reduction
/// order), which is what keeps the weights identical on every rank.
pub trait Communicator: Send + Sync {
    /// This process's rank, in `0..size()`.
    fn rank(&self) -> usize;
    /// The number of ranks.
    fn size(&self) -> usize;
    /// Replaces `buf` on every rank with the element-wise sum over all ranks.
    fn all_reduce_sum_f32(&self, buf: &mut [f32]);
    /// Replaces `buf` on every rank with the element-wise sum over all ranks.
    fn all_reduce_sum_f64(&self, buf: &mut [f64]);
    /// Replaces `buf` on every rank with rank `root`'s.
    fn broadcast_f32(&self, buf: &mut [f32], root: usize);
    /// Replaces `buf` on every rank with rank `root`'s, whatever its length on the others.
    fn broadcast_bytes(&self, buf: &mut Vec<u8>, root: usize);
}

/// A group of ranks training together: a cheap handle to a [`Communicator`], cloned into
/// `FitOptions`.
#[derive(Clone)]
pub struct World {
    comm: Arc<dyn Communicator>,
}

impl World {
    /// Wraps a communicator.
    pub fn new(comm: impl Communicator + 'static) -> Self {
        World {
            comm: Arc::new(comm),
        }
    }

    /// A world of one rank: distributed training is then ordinary training.
    pub fn single() -> Self {
        LocalGroup::new(1).world(0)
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.comm.rank()
    }

    /// The number of ranks.
    pub fn size(&self) -> usize {
        self.comm.size()
    }

    /// Whether this is rank 0, the one that prints progress and writes checkpoints.
    pub fn is_root(&self) -> bool {
        self.rank() == 0
    }

    /// The communicator.
    pub fn communicator(&self) -> &dyn Communicator {
        &*self.comm
    }

    /// Each rank's `value`, indexed by rank (a sum of one-hot vectors, so any transport with
    /// a sum does it).
    pub(crate) fn gather_f64(&self, value: f64) -> Vec<f64> {
        let mut all = vec![0.0; self.size()];
        if let Some(mine) = all.get_mut(self.rank()) {
            *mine = value;
        }
        self.comm.all_reduce_sum_f64(&mut all);
        all
    }
}

impl PartialEq for World {
    /// The same group: the same communicator.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.comm, &other.comm)
    }
}

impl fmt::Debug for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("World")
            .field("rank", &self.rank())
            .field("size", &self.size())
            .finish()
    }
}

/// Rank `world.rank()`'s part of the samples of `x` (its first axis): samples `rank`,
/// `rank + size`, `rank + 2 * size`, ...
///
/// Strided rather than in blocks: when the world size divides the batch size and shuffling
/// is off, the ranks' `k`-th local batches together are exactly the `k`-th global batch of
/// one process training on all of `x`, so the two train the same model. Shard inputs and
/// targets alike.
pub fn shard<A: Clone, D: RemoveAxis>(x: ArrayView<'_, A, D>, world: &World) -> Array<A, D> {
    let idx: Vec<usize> = shard_indices(x.len_of(Axis(0)), world).collect();
    x.select(Axis(0), &idx)
}

/// The indices of the samples [`shard`] gives this rank out of `n`, for data that is not an
/// ndarray (sparse or ragged tensors, files).
pub fn shard_indices(n: usize, world: &World) -> impl Iterator<Item = usize> {
    (world.rank().min(n)..n).step_by(world.size().max(1))
}

/// A world of `size` ranks that are threads of this process, for tests and for trying
/// distributed code without MPI: each thread takes its rank's [`World`] with
/// [`world`](LocalGroup::world). Reductions sum in rank order, so every rank gets the same
/// bits, as with MPI.
#[derive(Clone)]
pub struct LocalGroup {
    shared: Arc<Shared>,
}

struct Shared {
    size: usize,
    barrier: Barrier,
    f32s: Mutex<Vec<Vec<f32>>>,
    f64s: Mutex<Vec<Vec<f64>>>,
    bytes: Mutex<Vec<u8>>,
}

impl LocalGroup {
    /// A group of `size` ranks (at least one).
    pub fn new(size: usize) -> Self {
        let size = size.max(1);
        LocalGroup {
            shared: Arc::new(Shared {
                size,
                barrier: Barrier::new(size),
                f32s: Mutex::new(vec![Vec::new(); size]),
                f64s: Mutex::new(vec![Vec::new(); size]),
                bytes: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The number of ranks.
    pub fn size(&self) -> usize {
        self.shared.size
    }

    /// The world as rank `rank` sees it (taken modulo the size). Every rank must take its
    /// own, each on its own thread: a collective waits for all of them.
    pub fn world(&self, rank: usize) -> World {
        World::new(Local {
            rank: rank % self.shared.size,
            shared: Arc::clone(&self.shared),
        })
    }
}

impl fmt::Debug for LocalGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalGroup")
            .field("size", &self.shared.size)
            .finish()
    }
}

struct Local {
    rank: usize,
    shared: Arc<Shared>,
}

impl Local {
    // Every rank deposits its buffer, then every rank sums them in rank order; the second
    // wait keeps a fast rank from overwriting its slot before the others have read it.
    fn all_reduce<T: Copy + std::ops::AddAssign>(&self, slots: &Mutex<Vec<Vec<T>>>, buf: &mut [T]) {
        if self.shared.size == 1 {
            return;
        }
        {
            let mut slots = slots.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(mine) = slots.get_mut(self.rank) {
                mine.clear();
                mine.extend_from_slice(buf);
            }
        }
        self.shared.barrier.wait();
        {
            let slots = slots.lock().unwrap_or_else(PoisonError::into_inner);
            let mut ranks = slots.iter();
            if let Some(first) = ranks.next() {
                for (b, v) in buf.iter_mut().zip(first) {
                    *b = *v;
                }
            }
            for slot in ranks {
                for (b, v) in buf.iter_mut().zip(slot) {
                    *b += *v;
                }
            }
        }
        self.shared.barrier.wait();
    }
}

impl Communicator for Local {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.shared.size
    }

    fn all_reduce_sum_f32(&self, buf: &mut [f32]) {
        self.all_reduce(&self.shared.f32s, buf);
    }

    fn all_reduce_sum_f64(&self, buf: &mut [f64]) {
        self.all_reduce(&self.shared.f64s, buf);
    }

    fn broadcast_f32(&self, buf: &mut [f32], root: usize) {
        if self.shared.size == 1 {
            return;
        }
        if self.rank == root {
            let mut slots = self
                .shared
                .f32s
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(slot) = slots.get_mut(root) {
                slot.clear();
                slot.extend_from_slice(buf);
            }
        }
        self.shared.barrier.wait();
        if self.rank != root {
            let slots = self
                .shared
                .f32s
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(slot) = slots.get(root) {
                for (b, v) in buf.iter_mut().zip(slot) {
                    *b = *v;
                }
            }
        }
        self.shared.barrier.wait();
    }

    fn broadcast_bytes(&self, buf: &mut Vec<u8>, root: usize) {
        if self.shared.size == 1 {
            return;
        }
        if self.rank == root {
            let mut bytes = self
                .shared
                .bytes
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            bytes.clear();
            bytes.extend_from_slice(buf);
        }
        self.shared.barrier.wait();
        if self.rank != root {
            let bytes = self
                .shared
                .bytes
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            buf.clear();
            buf.extend_from_slice(&bytes);
        }
        self.shared.barrier.wait();
    }
}

#[cfg(feature = "mpi")]
pub use self::mpi_world::Mpi;

#[cfg(feature = "mpi")]
mod mpi_world {
    use std::sync::{Mutex, PoisonError};

    use mpi::collective::SystemOperation;
    use mpi::topology::SimpleCommunicator;
    use mpi::traits::{Communicator as _, CommunicatorCollectives, Root};
    use mpi::Threading;

    use super::{Communicator, World};
    use crate::runtime::Error;

    /// MPI's world (`MPI_COMM_WORLD`) through the `mpi` crate (rsmpi): every process started
    /// by `mpirun`. Started without `mpirun`, it is a world of one rank. MPI is finalized when
    /// this value and every [`World`] cloned from it are dropped; keep it alive in `main`.
    ///
    /// It dereferences to its [`World`], so `FitOptions::distributed(&mpi)` takes it as is.
    #[derive(Debug)]
    pub struct Mpi {
        world: World,
    }

    // Field order is drop order: the communicator handle before MPI_Finalize.
    struct MpiComm {
        // MPI is initialized as MPI_THREAD_SERIALIZED: calls may come from any thread, one
        // at a time, which this lock ensures. It also guards the send buffers, kept so that
        // a step allocates nothing.
        lock: Mutex<Scratch>,
        comm: SimpleCommunicator,
        rank: usize,
        size: usize,
        _universe: mpi::environment::Universe,
    }

    #[derive(Default)]
    struct Scratch {
        f32s: Vec<f32>,
        f64s: Vec<f64>,
    }

    // SAFETY: every MPI call made through `MpiComm` holds `lock`, and MPI was initialized with
    // MPI_THREAD_SERIALIZED (checked in `Mpi::init`), which allows calls from any thread as
    // long as no two are concurrent.
    unsafe impl Send for MpiComm {}
    // SAFETY: as for `Send`: shared access only reaches MPI under `lock`.
    unsafe impl Sync for MpiComm {}

    impl Mpi {
        /// Initializes MPI and returns its world.
        ///
        /// With more than one rank, a panic on any rank aborts the whole job (`MPI_Abort`)
        /// rather than leaving the other ranks waiting in a collective.
        ///
        /// # Errors
        /// [`Error::Distributed`] if MPI was already initialized in this process, or cannot
        /// serve calls from more than one thread.
        pub fn init() -> Result<Mpi, Error> {
            let fail = |message: &str| Error::Distributed {
                rank: 0,
                message: message.to_string(),
            };
            let (universe, threading) = mpi::initialize_with_threading(Threading::Serialized)
                .ok_or_else(|| fail("MPI is already initialized in this process"))?;
            if threading < Threading::Serialized {
                return Err(fail(
                    "the MPI library does not support MPI_THREAD_SERIALIZED",
                ));
            }
            let comm = universe.world();
            let rank = usize::try_from(comm.rank()).unwrap_or(0);
            let size = usize::try_from(comm.size()).unwrap_or(1);
            if size > 1 {
                let previous = std::panic::take_hook();
                std::panic::set_hook(Box::new(move |info| {
                    previous(info);
                    // MPI is still initialized: the hook is only installed while `Mpi`
                    // lives, and a panic after `main` returns does not reach here.
                    SimpleCommunicator::world().abort(101);
                }));
            }
            Ok(Mpi {
                world: World::new(MpiComm {
                    lock: Mutex::new(Scratch::default()),
                    comm,
                    rank,
                    size,
                    _universe: universe,
                }),
            })
        }

        /// The world.
        pub fn world(&self) -> &World {
            &self.world
        }
    }

    impl std::ops::Deref for Mpi {
        type Target = World;

        fn deref(&self) -> &World {
            &self.world
        }
    }

    impl MpiComm {
        fn guard(&self) -> std::sync::MutexGuard<'_, Scratch> {
            self.lock.lock().unwrap_or_else(PoisonError::into_inner)
        }

        fn root(&self, root: usize) -> i32 {
            i32::try_from(root).unwrap_or(0)
        }
    }

    impl Communicator for MpiComm {
        fn rank(&self) -> usize {
            self.rank
        }

        fn size(&self) -> usize {
            self.size
        }

        fn all_reduce_sum_f32(&self, buf: &mut [f32]) {
            if self.size == 1 {
                return;
            }
            let mut g = self.guard();
            // In place would need MPI_IN_PLACE, which rsmpi does not expose for all-reduce;
            // copying W2's 940 KB costs far less than exchanging it.
            g.f32s.clear();
            g.f32s.extend_from_slice(buf);
            self.comm
                .all_reduce_into(&g.f32s[..], buf, SystemOperation::sum());
        }

        fn all_reduce_sum_f64(&self, buf: &mut [f64]) {
            if self.size == 1 {
                return;
            }
            let mut g = self.guard();
            g.f64s.clear();
            g.f64s.extend_from_slice(buf);
            self.comm
                .all_reduce_into(&g.f64s[..], buf, SystemOperation::sum());
        }

        fn broadcast_f32(&self, buf: &mut [f32], root: usize) {
            if self.size == 1 {
                return;
            }
            let _g = self.guard();
            self.comm
                .process_at_rank(self.root(root))
                .broadcast_into(buf);
        }

        fn broadcast_bytes(&self, buf: &mut Vec<u8>, root: usize) {
            if self.size == 1 {
                return;
            }
            let _g = self.guard();
            let process = self.comm.process_at_rank(self.root(root));
            let mut len = buf.len() as u64;
            process.broadcast_into(&mut len);
            buf.resize(usize::try_from(len).unwrap_or(0), 0);
            process.broadcast_into(&mut buf[..]);
        }
    }
}
