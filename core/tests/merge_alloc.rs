//! A merge layer's training step allocates nothing once its buffers are sized: a counting
//! global allocator (this test binary only) watches a second forward + backward of every op.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::Array2;
use stratic_core::shape::{MergeConfig, MergeOp, MERGES};
use stratic_core::{Merge, MergeLayer};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Only the test's own thread is counted: the harness' threads allocate at any time (this
    // made the test fail about one run in four). Const-initialised, so reading it never
    // allocates.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

// One test function only, so no other test allocates on another thread meanwhile.
#[test]
fn steady_state_steps_allocate_nothing() {
    for (op, name, _) in MERGES {
        for normalize in [false, true] {
            let n = if matches!(op, MergeOp::Subtract | MergeOp::Dot) {
                2
            } else {
                3
            };
            let mut config = MergeConfig::new(op);
            config.normalize = normalize;
            let mut m = Merge::new(config, n);
            let xs: Vec<Array2<f32>> = (0..n)
                .map(|i| {
                    Array2::from_shape_fn((32, 16), |(r, c)| {
                        (r * 7 + c * 3 + i) as f32 * 0.01 - 1.0
                    })
                })
                .collect();
            let views: Vec<_> = xs.iter().map(|x| x.view()).collect();
            m.forward_train(&views);
            let g = Array2::<f32>::ones(m.output().dim());
            m.backward(&views, g.view());
            let before = ALLOCATIONS.load(Ordering::SeqCst);
            COUNTING.with(|c| c.set(true));
            for _ in 0..3 {
                m.forward_train(&views);
                m.backward(&views, g.view());
            }
            COUNTING.with(|c| c.set(false));
            let after = ALLOCATIONS.load(Ordering::SeqCst);
            assert_eq!(
                after - before,
                0,
                "{name} (normalize = {normalize}) allocated"
            );
        }
    }
}
