//! Fuzzes the `SparseTensor` constructors: whatever the bytes, `from_coo`, `from_coo_dyn` and
//! `from_csr` return a tensor or an error, never panic, and an accepted tensor is canonical.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ndarray::{Array1, Array2, ArrayD, IxDyn};
use stratic_core::{SparseOptions, SparseTensor};

// Reads the input as a stream of small integers, most of them near zero (where bounds live)
// and some at the extremes, so that shapes and indices meet their edges often.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn int(&mut self) -> i64 {
        let b = self.byte();
        match b {
            0xF0 => i64::MIN,
            0xF1 => i64::MAX,
            0xF2 => 1 << 32,
            0xF3 => 1 << 62,
            0xF4 => -(1 << 40),
            0xF5..=0xFF => {
                let mut v = [0u8; 8];
                for x in &mut v {
                    *x = self.byte();
                }
                i64::from_le_bytes(v)
            }
            _ => b as i64 - 8,
        }
    }
}

// Construction is bounded by the entries (a tensor with many more rows than entries keeps
// only its non-empty rows), but `check` walks every row and builds the full `indptr`: keep
// that walk, not the constructors, within libFuzzer's time and memory limits.
fn affordable(shape: &[i64]) -> bool {
    shape.first().is_none_or(|&rows| rows < 1 << 16)
}

fn check(x: &SparseTensor<f32>) {
    let ptr = x.indptr();
    assert_eq!(ptr.len(), x.n_rows() + 1);
    assert_eq!(ptr.last().copied(), Some(x.nnz()));
    for r in 0..x.n_rows() {
        let (cols, _) = x.row(r);
        assert!(cols.windows(2).all(|w| w[0] < w[1]));
        assert!(cols.iter().all(|&c| c < x.n_cols()));
    }
    if x.n_rows().saturating_mul(x.n_cols()) <= 1 << 16 {
        let dense = x.to_dense().expect("small");
        let back = SparseTensor::from_dense(dense.view()).expect("valid dense");
        assert_eq!(back.to_dense().expect("small"), dense);
        let (indices, values) = x.to_coo();
        let shape: Vec<i64> = x.dense_shape().iter().map(|&d| d as i64).collect();
        let again = SparseTensor::from_coo(
            indices.view(),
            values.view(),
            &shape,
            SparseOptions::default(),
        )
        .expect("canonical");
        assert_eq!(&again, x);
    }
    let rows: Vec<usize> = (0..x.n_rows()).rev().collect();
    let mut out = SparseTensor::default();
    x.gather_rows(&rows, &mut out);
    assert_eq!(out.nnz(), x.nnz());
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let flags = b.byte();
    let options = SparseOptions::default()
        .reorder(flags & 1 != 0)
        .sum_duplicates(flags & 2 != 0);
    let rank = (b.byte() % 5) as usize;
    let shape: Vec<i64> = (0..rank).map(|_| b.int()).collect();
    if !affordable(&shape) {
        return;
    }
    let width = (b.byte() % 5) as usize;
    let nnz = (b.byte() % 32) as usize;
    let n_values = if flags & 4 != 0 { nnz + 1 } else { nnz };
    let indices: Vec<i64> = (0..nnz * width).map(|_| b.int()).collect();
    let values: Vec<f32> = (0..n_values).map(|_| b.int() as f32).collect();
    match flags >> 4 {
        // COO with static ranks.
        0..=5 => {
            let indices = Array2::from_shape_vec((nnz, width), indices).expect("sized");
            let values = Array1::from(values);
            if let Ok(x) = SparseTensor::from_coo(indices.view(), values.view(), &shape, options) {
                check(&x);
            }
        }
        // COO with ranks known at run time: indices of any rank.
        6..=9 => {
            let idims: Vec<usize> = match b.byte() % 3 {
                0 => vec![nnz * width],
                1 => vec![nnz, width],
                _ => vec![nnz, width, 1],
            };
            let indices = ArrayD::from_shape_vec(IxDyn(&idims), indices).expect("sized");
            let values = ArrayD::from_shape_vec(IxDyn(&[n_values]), values).expect("sized");
            let shape = ArrayD::from_shape_vec(IxDyn(&[shape.len()]), shape).expect("sized");
            if let Ok(x) =
                SparseTensor::from_coo_dyn(indices.view(), values.view(), shape.view(), options)
            {
                check(&x);
            }
        }
        // CSR: the first indices are row pointers, the rest columns.
        _ => {
            let split = (b.byte() as usize).min(indices.len());
            let (indptr, cols) = indices.split_at(split);
            let values = &values[..values.len().min(cols.len() + (flags as usize & 4) / 4)];
            if let Ok(x) = SparseTensor::from_csr(indptr, cols, values, &shape, options) {
                check(&x);
            }
        }
    }
});
