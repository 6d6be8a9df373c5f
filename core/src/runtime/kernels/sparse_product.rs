//! The products of a sparse input with Dense's kernel: `x · kernel` forward and `xᵀ · dz` for
//! the kernel gradient, touching only the stored entries.
//!
//! Training runs both on the batch's entries grouped by column ([`ByColumn`], built once per
//! forward pass and reused by backward): forward then reads each kernel row once, in order,
//! instead of once per entry at random (a 20 000 x 64 kernel does not fit in L2), and backward
//! sums each kernel-gradient row in registers and writes it once, so the gradient is neither
//! zeroed beforehand nor read back per entry. Within each output element the terms are added
//! in the same order as the row-by-row loops (increasing column, increasing row), so the
//! results are the same bit for bit. Inference keeps the row-by-row product, which needs no
//! workspace.

use ndarray::{ArrayView2, ArrayViewMut2, Axis};

use crate::runtime::SparseTensor;

// Output units per pass of a column's or a row's entries: the partial sums stay in registers
// (8 SSE registers; the default target is x86-64's baseline).
const CHUNK: usize = 32;

/// A sparse batch's entries grouped by column, each column's entries in increasing row order
/// (a CSC copy of the CSR batch). Buffers are reused from batch to batch.
#[derive(Clone, Debug, Default)]
pub(crate) struct ByColumn {
    /// `starts[c]..starts[c + 1]` are column `c`'s entries.
    starts: Vec<u32>,
    /// `(row, value)` per entry.
    entries: Vec<(u32, f32)>,
    /// What the buffers were built from: (use of a shared layer, rows, entries, address of
    /// the values), so backward rebuilds them when handed another input than forward had.
    key: Option<(usize, usize, usize, usize)>,
}

impl ByColumn {
    /// Groups `x` (the input of use `use_index` of the layer) by column unless the last
    /// [`build`](Self::build) did so for it: what backward calls, to reuse forward's work.
    /// False as for `build`.
    pub(crate) fn ensure(&mut self, x: &SparseTensor<f32>, use_index: usize) -> bool {
        self.key == Some(Self::key(x, use_index)) || self.build(x, use_index)
    }

    // Within one step forward's and backward's inputs are the same tensor; across steps `fit`
    // refills one batch at the same address, which is why forward always rebuilds.
    fn key(x: &SparseTensor<f32>, use_index: usize) -> (usize, usize, usize, usize) {
        (use_index, x.n_rows(), x.nnz(), x.values().as_ptr() as usize)
    }

    /// Groups `x`'s entries (the input of use `use_index` of the layer) by column. False
    /// when the batch is too large for 32-bit positions: then nothing is built and the
    /// caller takes the row-by-row path.
    pub(crate) fn build(&mut self, x: &SparseTensor<f32>, use_index: usize) -> bool {
        let key = Self::key(x, use_index);
        self.key = None;
        if u32::try_from(x.nnz()).is_err() || u32::try_from(x.n_rows()).is_err() {
            return false;
        }
        let n_cols = x.n_cols();
        let starts = &mut self.starts;
        starts.clear();
        starts.resize(n_cols + 1, 0);
        for &c in x.col_indices() {
            starts[c] += 1;
        }
        // Counts to starts, then each column's start advances as its entries are placed and
        // ends at the next column's start; shifting by one restores the starts.
        let mut total = 0;
        for s in starts.iter_mut() {
            let count = *s;
            *s = total;
            total += count;
        }
        self.entries.clear();
        self.entries.resize(x.nnz(), (0, 0.0));
        let indptr = x.indptr();
        let (cols, values) = (x.col_indices(), x.values());
        for (r, bounds) in indptr.windows(2).enumerate() {
            for e in bounds[0]..bounds[1] {
                let c = cols[e];
                let p = starts[c] as usize;
                starts[c] += 1;
                // Fits: nnz and rows were checked above.
                self.entries[p] = (r as u32, values[e]);
            }
        }
        starts.copy_within(0..n_cols, 1);
        starts[0] = 0;
        self.key = Some(key);
        true
    }

    // Column `c`'s entries.
    fn column(&self, c: usize) -> &[(u32, f32)] {
        &self.entries[self.starts[c] as usize..self.starts[c + 1] as usize]
    }

    fn n_cols(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }
}

/// `out = x · kernel` from the batch grouped by column: each column's kernel row, read once,
/// scaled into the output rows of its entries. `out` is `(rows, units)`, contiguous.
pub(crate) fn dot_by_column(t: &ByColumn, kernel: &[f32], units: usize, out: &mut [f32]) {
    out.fill(0.0);
    if units == 0 {
        return;
    }
    for (c, krow) in kernel.chunks_exact(units).enumerate().take(t.n_cols()) {
        for &(r, v) in t.column(c) {
            let r = r as usize;
            let orow = &mut out[r * units..(r + 1) * units];
            for (o, &w) in orow.iter_mut().zip(krow) {
                *o += v * w;
            }
        }
    }
}

/// `grad = xᵀ · dz` (`+=` when `accumulate`) from the batch grouped by column: each row of
/// the kernel gradient summed in registers over its column's entries and written once; the
/// rows of columns without entries are zeroed (left alone when accumulating). `dz` is
/// `(rows, units)` and `grad` `(in, units)`, both contiguous.
pub(crate) fn transpose_dot_by_column(
    t: &ByColumn,
    dz: &[f32],
    units: usize,
    grad: &mut [f32],
    accumulate: bool,
) {
    if units == 0 {
        return;
    }
    for (c, grow) in grad.chunks_exact_mut(units).enumerate().take(t.n_cols()) {
        let entries = t.column(c);
        if entries.is_empty() {
            if !accumulate {
                grow.fill(0.0);
            }
            continue;
        }
        let mut chunks = grow.chunks_exact_mut(CHUNK);
        let mut offset = 0;
        for g in &mut chunks {
            let mut acc = [0.0f32; CHUNK];
            if accumulate {
                acc.copy_from_slice(g);
            }
            for &(r, v) in entries {
                let start = r as usize * units + offset;
                if let Some(d) = dz[start..].first_chunk::<CHUNK>() {
                    for (a, &d) in acc.iter_mut().zip(d) {
                        *a += v * d;
                    }
                }
            }
            g.copy_from_slice(&acc);
            offset += CHUNK;
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let width = rest.len();
            let mut acc = [0.0f32; CHUNK];
            let acc = &mut acc[..width];
            if accumulate {
                acc.copy_from_slice(rest);
            }
            for &(r, v) in entries {
                let start = r as usize * units + offset;
                for (a, &d) in acc.iter_mut().zip(&dz[start..start + width]) {
                    *a += v * d;
                }
            }
            rest.copy_from_slice(acc);
        }
    }
}

/// out = x · kernel for a sparse `x` (rows, in) and a dense `kernel` (in, units), row by row:
/// each stored entry (r, c, v) adds v · kernel[c, :] to out[r, :], so the cost is
/// nnz · units. Used for inference (no workspace) and batches too large for [`ByColumn`].
pub(crate) fn sparse_dot(
    x: &SparseTensor<f32>,
    kernel: ArrayView2<'_, f32>,
    mut out: ArrayViewMut2<'_, f32>,
) {
    let units = kernel.ncols();
    assert_eq!(
        (x.n_cols(), x.n_rows()),
        (kernel.nrows(), out.nrows()),
        "sparse input of {} features for a kernel of {} rows",
        x.n_cols(),
        kernel.nrows()
    );
    if units == 0 {
        return;
    }
    // Both sides are contiguous in practice (layer buffers); slices let the inner loop
    // vectorise. The ndarray fallback covers any other layout.
    if let (Some(k), Some(o)) = (kernel.as_slice(), out.as_slice_mut()) {
        for (r, orow) in o.chunks_exact_mut(units).enumerate() {
            let (cols, vals) = x.row(r);
            // A chunk of the output row summed in registers over the row's entries, rather
            // than loaded and stored per entry.
            let mut chunks = orow.chunks_exact_mut(CHUNK);
            let mut offset = 0;
            for o in &mut chunks {
                let mut acc = [0.0f32; CHUNK];
                for (&c, &v) in cols.iter().zip(vals) {
                    if let Some(w) = k[c * units + offset..].first_chunk::<CHUNK>() {
                        for (a, &w) in acc.iter_mut().zip(w) {
                            *a += v * w;
                        }
                    }
                }
                o.copy_from_slice(&acc);
                offset += CHUNK;
            }
            let rest = chunks.into_remainder();
            rest.fill(0.0);
            let width = rest.len();
            for (&c, &v) in cols.iter().zip(vals) {
                let start = c * units + offset;
                for (o, &w) in rest.iter_mut().zip(&k[start..start + width]) {
                    *o += v * w;
                }
            }
        }
        return;
    }
    for (r, mut orow) in out.axis_iter_mut(Axis(0)).enumerate() {
        orow.fill(0.0);
        let (cols, vals) = x.row(r);
        for (&c, &v) in cols.iter().zip(vals) {
            orow.scaled_add(v, &kernel.row(c));
        }
    }
}

/// grad = xᵀ · dz (grad += xᵀ · dz when `accumulate`) for a sparse `x` (rows, in) and dense
/// `dz` (rows, units), row by row: each stored entry (r, c, v) adds v · dz[r, :] to
/// grad[c, :]. For batches too large for [`ByColumn`] and as the reference in tests.
pub(crate) fn sparse_transpose_dot(
    x: &SparseTensor<f32>,
    dz: ArrayView2<'_, f32>,
    mut grad: ArrayViewMut2<'_, f32>,
    accumulate: bool,
) {
    let units = dz.ncols();
    if !accumulate {
        grad.fill(0.0);
    }
    if units == 0 {
        return;
    }
    if let (Some(d), Some(g)) = (dz.as_slice(), grad.as_slice_mut()) {
        for (r, drow) in d.chunks_exact(units).enumerate() {
            let (cols, vals) = x.row(r);
            for (&c, &v) in cols.iter().zip(vals) {
                let grow = &mut g[c * units..(c + 1) * units];
                for (g, &d) in grow.iter_mut().zip(drow) {
                    *g += v * d;
                }
            }
        }
        return;
    }
    for (r, drow) in dz.axis_iter(Axis(0)).enumerate() {
        let (cols, vals) = x.row(r);
        for (&c, &v) in cols.iter().zip(vals) {
            grad.row_mut(c).scaled_add(v, &drow);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{Rng, SparseOptions};
    use ndarray::Array2;

    // A random CSR batch with sorted distinct columns per row, some rows empty.
    fn batch(rng: &mut Rng, rows: usize, cols: usize, per_row: usize) -> SparseTensor<f32> {
        let mut indptr = vec![0i64];
        let (mut idx, mut vals) = (Vec::new(), Vec::new());
        for _ in 0..rows {
            let mut row: Vec<i64> = (0..rng.below(per_row + 1))
                .map(|_| rng.below(cols) as i64)
                .collect();
            row.sort_unstable();
            row.dedup();
            vals.extend(row.iter().map(|_| rng.uniform(-1.0, 1.0)));
            idx.extend(row);
            indptr.push(idx.len() as i64);
        }
        SparseTensor::from_csr(
            &indptr,
            &idx,
            &vals,
            &[rows as i64, cols as i64],
            SparseOptions::default(),
        )
        .unwrap()
    }

    // The column-grouped products against the row-by-row ones, bit for bit, over several
    // batches in a row (rows of the previous batch's gradient must not linger), for widths
    // below, at and around the register chunk, and accumulating (a shared layer's later use).
    #[test]
    fn by_column_products_equal_the_row_by_row_ones() {
        let mut rng = Rng::new(11);
        for units in [1, 5, CHUNK, CHUNK + 3, 2 * CHUNK, 70] {
            let cols = 50;
            let kernel = Array2::from_shape_fn((cols, units), |_| rng.uniform(-1.0, 1.0));
            let mut t = ByColumn::default();
            let mut grad = Array2::from_elem((cols, units), f32::NAN);
            let mut want = Array2::<f32>::zeros((cols, units));
            for step in 0..4 {
                let rows = 1 + rng.below(9);
                let x = batch(&mut rng, rows, cols, 12);
                assert!(t.build(&x, 0));
                let mut out = Array2::from_elem((rows, units), f32::NAN);
                let mut want_out = Array2::<f32>::zeros((rows, units));
                dot_by_column(
                    &t,
                    kernel.as_slice().unwrap(),
                    units,
                    out.as_slice_mut().unwrap(),
                );
                sparse_dot(&x, kernel.view(), want_out.view_mut());
                assert_eq!(out, want_out, "forward, units {units}, step {step}");
                let mut naive = Array2::<f32>::zeros((rows, units));
                for r in 0..rows {
                    let (c, v) = x.row(r);
                    for (&c, &v) in c.iter().zip(v) {
                        for u in 0..units {
                            naive[[r, u]] += v * kernel[[c, u]];
                        }
                    }
                }
                assert_eq!(out, naive, "forward against the plain loop, units {units}");

                let dz = Array2::from_shape_fn((rows, units), |_| rng.uniform(-1.0, 1.0));
                let accumulate = step == 3;
                transpose_dot_by_column(
                    &t,
                    dz.as_slice().unwrap(),
                    units,
                    grad.as_slice_mut().unwrap(),
                    accumulate,
                );
                sparse_transpose_dot(&x, dz.view(), want.view_mut(), accumulate);
                assert_eq!(grad, want, "gradient, units {units}, step {step}");
            }
        }
    }

    // Backward reuses forward's grouping only for the same input and use.
    #[test]
    fn by_column_rebuilds_for_another_input_or_use() {
        let mut rng = Rng::new(2);
        let (a, b) = (batch(&mut rng, 4, 9, 5), batch(&mut rng, 4, 9, 5));
        let mut t = ByColumn::default();
        assert!(t.build(&a, 0));
        let key = t.key;
        t.entries.clear();
        assert!(t.ensure(&a, 0));
        assert!(t.entries.is_empty(), "reused");
        assert!(t.ensure(&a, 1));
        assert_eq!(t.entries.len(), a.nnz(), "rebuilt for another use");
        assert_ne!(t.key, key);
        assert!(t.ensure(&b, 1));
        for c in 0..9 {
            let want: Vec<(u32, f32)> = (0..4)
                .flat_map(|r| {
                    let (cols, vals) = b.row(r);
                    cols.iter()
                        .zip(vals)
                        .filter(move |(&cc, _)| cc == c)
                        .map(move |(_, &v)| (r as u32, v))
                        .collect::<Vec<_>>()
                })
                .collect();
            assert_eq!(t.column(c), want.as_slice(), "column {c}");
        }
    }
}
