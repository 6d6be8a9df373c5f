//! Fuzzes the `RaggedTensor` constructors with arbitrary parts, and everything a constructed
//! tensor supports: malformed input must give a typed error, never a panic.
//!
//! `cargo fuzz run ragged` (nightly), or on stable `RUSTC_BOOTSTRAP=1 cargo fuzz run ragged`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stratic_core::shape::{EmbeddingConfig, PoolingMode};
use stratic_core::{Embedding, GlobalPooling, Layer, RaggedTensor, Rng, ToDense};

// Padded tensors above this many elements are skipped: their allocation is legitimate
// (`to_dense` reports only sizes that overflow or cannot be reserved) but would trip
// libFuzzer's memory limit.
const MAX_PADDED: usize = 1 << 22;

/// Reads the input as a stream of small signed numbers (mostly small, so that well-formed
/// tensors are common), with the occasional huge one.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> u8 {
        let (b, rest) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = rest;
        b
    }
    fn number(&mut self) -> i64 {
        match self.byte() {
            250 => i64::MAX,
            251 => i64::MIN,
            252 => -1,
            253 => u32::MAX as i64,
            b => (b % 16) as i64,
        }
    }
    fn list(&mut self) -> Vec<i64> {
        let n = self.byte() % 12;
        (0..n).map(|_| self.number()).collect()
    }
}

fn padded_size<T>(x: &RaggedTensor<T>) -> usize {
    let mut size = x.n_rows().max(1);
    for s in x.nested_row_splits() {
        let longest = s.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
        size = size.saturating_mul(longest.max(1));
    }
    size.saturating_mul(x.inner_shape().iter().product::<usize>().max(1))
}

fn exercise(x: RaggedTensor<i32>) {
    if padded_size(&x) <= MAX_PADDED {
        let _ = x.to_dense(0);
    }
    let n = x.n_rows();
    let order: Vec<usize> = (0..n).rev().collect();
    let mut out = RaggedTensor::default();
    x.gather_rows(&order, &mut out);
    assert_eq!(out.n_rows(), n);
    assert_eq!(out.n_values(), x.n_values());
    let ranges: usize = x.view().row_ranges().map(|(a, b)| b - a).sum();
    assert_eq!(ranges, x.view().values().nrows());
    for i in 0..x.n_values().min(64) {
        let _ = x.position_of(i);
    }
    // Ids straight into an embedding (checked and unchecked), then every pooling.
    let emb = Embedding::build(EmbeddingConfig::new(8, 2), &mut Rng::new(0));
    let _ = emb.check_ragged_ids("embedding", &x);
    let v = x.view();
    let h = emb.call_ragged(v);
    let hv = v.with_values(h.view());
    for (mode, _) in PoolingMode::ALL {
        let mut p = GlobalPooling::new(mode);
        p.forward_train_ragged(hv);
        let g = ndarray::Array2::ones(p.output().dim());
        p.backward_ragged(hv, g.view());
    }
    if padded_size(&x).saturating_mul(2) <= MAX_PADDED {
        let mut t = ToDense::new(0.0);
        t.forward_train_ragged(hv);
        let g = ndarray::Array2::ones(t.output().dim());
        t.backward_ragged(hv, g.view());
    }
}

fuzz_target!(|data: &[u8]| {
    let mut r = Reader(data);
    let mode = r.byte() % 4;
    let values: Vec<i32> = r.list().into_iter().map(|v| v as i32).collect();
    let built = match mode {
        0 => RaggedTensor::from_row_splits(values, &r.list()),
        1 => RaggedTensor::from_row_lengths(values, &r.list()),
        2 => {
            let ids = r.list();
            // Any `nrows`: above 4 per value + 65 536 it is refused before allocating.
            RaggedTensor::from_value_rowids(values, &ids, r.number())
        }
        _ => {
            let inner: Vec<usize> = (0..r.byte() % 3).map(|_| (r.byte() % 4) as usize).collect();
            let nested: Vec<Vec<i64>> = (0..r.byte() % 4).map(|_| r.list()).collect();
            RaggedTensor::from_parts(values, &inner, &nested)
        }
    };
    if let Ok(x) = built {
        exercise(x);
    }
});
