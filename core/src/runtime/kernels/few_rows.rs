//! `x · kernel` for a few rows (a batch of at most [`FEW_ROWS`], or with AVX2 up to 12 rows
//! in groups of four) without the general product (`sgemm`, matrixmultiply), which packs the
//! whole kernel on every call: for one row of W2 (a 784 x 256 kernel) the packing costs
//! several times the product itself.
//!
//! Each output row is the sum of the kernel's rows scaled by the input row's entries, several
//! kernel rows per pass over the output rows, so the kernel is read once, in order, and each
//! output element is loaded and stored once per pass. At one row the product is bound by
//! reading the kernel (W2's 1.07 MB, from L2), at four by the multiply-adds. The bias and a
//! ReLU follow in a last pass over the output, still in L1.
//!
//! On x86-64 with AVX2 and FMA (detected once, at the first call) the loop runs as explicit
//! 8-lane fused multiply-adds; otherwise it is the portable loop as compiled for the target
//! (baseline x86-64: SSE2, 4 lanes, separate multiply and add).

use ndarray::{ArrayView2, Axis};

/// Up to this many rows, `Dense` computes its product here.
pub(crate) const FEW_ROWS: usize = 4;

// With AVX2 and FMA, up to this many rows are computed in groups of `FEW_ROWS` when the output
// has at least `GROUPED_MIN_UNITS` columns: 1.1-2.3x faster than matrixmultiply at 5-12 rows
// for kernels of 32-512 columns, about even at 16, and slower below 32 columns (where each
// pass has too few columns to hide its latency) or without AVX2.
const GROUPED_ROWS: usize = 12;
const GROUPED_MIN_UNITS: usize = 32;

/// What the output pass applies to `x · kernel`: `relu(x · kernel + bias)`, each part optional.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Epilogue<'a> {
    /// Added to every row; as long as a kernel row.
    pub bias: Option<&'a [f32]>,
    /// `max(v, 0)` after the bias (NaN kept).
    pub relu: bool,
}

/// `out = epilogue(x · kernel)` for a few rows (`x.nrows() <= FEW_ROWS`, or up to 12 for wide
/// kernels with AVX2), `out` row-major `(x.nrows(), kernel.ncols())`. False, with nothing
/// written, when this path does not apply: more rows, a kernel or input row not contiguous in
/// standard order, no columns, or shapes that disagree (the general product then takes over,
/// and panics on a shape error as before).
pub(crate) fn few_rows_dot(
    x: ArrayView2<'_, f32>,
    kernel: ArrayView2<'_, f32>,
    out: &mut [f32],
    epilogue: Epilogue<'_>,
) -> bool {
    if x.nrows() > FEW_ROWS {
        #[cfg(target_arch = "x86_64")]
        return avx2::grouped(x, kernel, out, epilogue);
        #[cfg(not(target_arch = "x86_64"))]
        return false;
    }
    let Some(mut p) = Product::new(x.reborrow(), kernel.reborrow(), out, epilogue) else {
        return false;
    };
    #[cfg(target_arch = "x86_64")]
    if avx2::product(&mut p) {
        return true;
    }
    portable_product(&mut p);
    true
}

/// A checked few-row product. Invariants, on which the AVX2 build's pointer arithmetic
/// relies: `1 <= n_rows <= FEW_ROWS`, `units >= 1`, `rows[r].len() == inputs` for every
/// `r < n_rows`, `kernel.len() == inputs * units`, `out.len() == n_rows * units`, and the bias,
/// if any, `units` long.
pub(crate) struct Product<'a, 'o> {
    rows: [&'a [f32]; FEW_ROWS],
    n_rows: usize,
    kernel: &'a [f32],
    units: usize,
    out: &'o mut [f32],
    epilogue: Epilogue<'a>,
}

impl<'a, 'o> Product<'a, 'o> {
    fn new(
        x: ArrayView2<'a, f32>,
        kernel: ArrayView2<'a, f32>,
        out: &'o mut [f32],
        epilogue: Epilogue<'a>,
    ) -> Option<Product<'a, 'o>> {
        let (n_rows, inputs) = x.dim();
        let units = kernel.ncols();
        let k = kernel.to_slice()?;
        if n_rows == 0
            || n_rows > FEW_ROWS
            || units == 0
            || inputs != kernel.nrows()
            || k.len() != inputs * units
            || out.len() != n_rows * units
            || epilogue.bias.is_some_and(|b| b.len() != units)
        {
            return None;
        }
        let mut rows: [&[f32]; FEW_ROWS] = [&[]; FEW_ROWS];
        for (r, slot) in rows.iter_mut().take(n_rows).enumerate() {
            let row = x.index_axis_move(Axis(0), r).to_slice()?;
            if row.len() != inputs {
                return None;
            }
            *slot = row;
        }
        Some(Product {
            rows,
            n_rows,
            kernel: k,
            units,
            out,
            epilogue,
        })
    }
}

// The portable loop, one output row at a time: four kernel rows per pass over the output row,
// a quarter of the output row's loads and stores, which bound it more than the arithmetic does.
fn portable_product(p: &mut Product<'_, '_>) {
    let units = p.units;
    p.out.fill(0.0);
    for (xr, orow) in p.rows.iter().zip(p.out.chunks_exact_mut(units)) {
        let mut blocks = p.kernel.chunks_exact(4 * units);
        let mut xs = xr.iter();
        for block in &mut blocks {
            let (k0, rest) = block.split_at(units);
            let (k1, rest) = rest.split_at(units);
            let (k2, k3) = rest.split_at(units);
            let (Some(&a), Some(&b), Some(&c), Some(&d)) =
                (xs.next(), xs.next(), xs.next(), xs.next())
            else {
                break;
            };
            for ((((ov, &w0), &w1), &w2), &w3) in orow.iter_mut().zip(k0).zip(k1).zip(k2).zip(k3) {
                *ov += a * w0 + b * w1 + c * w2 + d * w3;
            }
        }
        for (krow, &xv) in blocks.remainder().chunks_exact(units).zip(xs) {
            for (ov, &kv) in orow.iter_mut().zip(krow) {
                *ov += xv * kv;
            }
        }
    }
    apply_epilogue(p.epilogue, p.out);
}

// The bias and ReLU over the finished rows.
#[inline(always)]
fn apply_epilogue(e: Epilogue<'_>, out: &mut [f32]) {
    if let Some(b) = e.bias {
        for row in out.chunks_exact_mut(b.len()) {
            for (o, &b) in row.iter_mut().zip(b) {
                *o += b;
            }
        }
    }
    if e.relu {
        for o in out.iter_mut() {
            // NaN-propagating, as Keras' relu (`f32::max` would turn NaN into 0).
            *o = crate::runtime::kernels::activations::relu(*o);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{apply_epilogue, Epilogue, Product, FEW_ROWS, GROUPED_MIN_UNITS, GROUPED_ROWS};
    use ndarray::{ArrayView2, Axis};
    use std::arch::x86_64::{
        __m256, _mm256_add_ps, _mm256_cmpgt_epi32, _mm256_fmadd_ps, _mm256_loadu_ps,
        _mm256_maskload_ps, _mm256_maskstore_ps, _mm256_set1_epi32, _mm256_set1_ps,
        _mm256_setr_epi32, _mm256_setzero_ps, _mm256_storeu_ps, _mm_prefetch, _MM_HINT_T0,
    };
    use std::sync::OnceLock;

    const LANES: usize = 8;
    // In f32s.
    const CACHE_LINE: usize = 16;
    // The largest block of kernel rows (in f32s, 16 KiB) prefetched whole: a third of L1, so
    // it is not evicted before use.
    const PREFETCH_BLOCK: usize = 4096;

    /// Whether this CPU has AVX2 and FMA, detected on the first call.
    fn available() -> bool {
        static DETECTED: OnceLock<bool> = OnceLock::new();
        *DETECTED.get_or_init(|| {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        })
    }

    /// `few_rows_dot` for more than `FEW_ROWS` rows: groups of `FEW_ROWS` rows, if the CPU has
    /// AVX2 and FMA and the shape is one where that beats matrixmultiply (`GROUPED_ROWS`).
    pub(crate) fn grouped(
        x: ArrayView2<'_, f32>,
        kernel: ArrayView2<'_, f32>,
        out: &mut [f32],
        epilogue: Epilogue<'_>,
    ) -> bool {
        let (rows, units) = (x.nrows(), kernel.ncols());
        if rows > GROUPED_ROWS
            || units < GROUPED_MIN_UNITS
            || out.len() != rows * units
            || !available()
        {
            return false;
        }
        let groups = x.axis_chunks_iter(Axis(0), FEW_ROWS);
        for (x, out) in groups.zip(out.chunks_mut(FEW_ROWS * units)) {
            // The checks are the same for every group (all rows share their layout), so
            // either the first group is refused, before anything is written, or none is.
            let Some(mut p) = Product::new(x, kernel.reborrow(), out, epilogue) else {
                return false;
            };
            product(&mut p);
        }
        true
    }

    /// Computes the product with AVX2 and FMA if this CPU has them; false (nothing written)
    /// otherwise.
    pub(crate) fn product(p: &mut Product<'_, '_>) -> bool {
        if !available() {
            return false;
        }
        // SAFETY: `available` checked that this CPU has AVX2 and FMA, and a `Product` holds
        // its invariants by construction: the two requirements of `product_avx2`.
        unsafe { product_avx2(p) };
        true
    }

    // Kernel rows per pass for each row count, measured on W2's shapes: at one row, enough to
    // amortise the output's loads and stores (8 and 16 measured alike, 4 and 32 slower); with
    // more rows, the `rows * N` broadcast inputs and `rows` accumulators share 16 registers.
    //
    // Safety: the CPU has AVX2 and FMA; `p` holds `Product`'s invariants.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn product_avx2(p: &mut Product<'_, '_>) {
        let (kernel, units, out) = (p.kernel, p.units, &mut *p.out);
        out.fill(0.0);
        let [a, b, c, d] = p.rows;
        if units <= 2 * LANES {
            match p.n_rows {
                1 => narrow::<1>(&[a], kernel, units, out),
                2 => narrow::<2>(&[a, b], kernel, units, out),
                3 => narrow::<3>(&[a, b, c], kernel, units, out),
                _ => narrow::<4>(&[a, b, c, d], kernel, units, out),
            }
            apply_epilogue(p.epilogue, out);
            return;
        }
        match p.n_rows {
            1 => rows::<1, 8>(&[a], kernel, units, out),
            2 => rows::<2, 6>(&[a, b], kernel, units, out),
            3 => rows::<3, 4>(&[a, b, c], kernel, units, out),
            _ => rows::<4, 3>(&[a, b, c, d], kernel, units, out),
        }
        apply_epilogue(p.epilogue, out);
    }

    // out = xs · kernel for outputs of at most two vectors (`units <= 2 * LANES`, W2's last
    // layer): the sums stay in registers over all the kernel rows instead of going through
    // `out` after each pass, whose store-then-load latency would bind a row this narrow. One
    // output row keeps two partial sums (even and odd kernel rows) for independent chains.
    //
    // Safety: as `rows`, and `units <= 2 * LANES`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn narrow<const R: usize>(
        xs: &[&[f32]; R],
        kernel: &[f32],
        units: usize,
        out: &mut [f32],
    ) {
        let inputs = kernel.len() / units;
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        // Lane masks of the two vectors: the columns below `units`.
        let masks = [
            _mm256_cmpgt_epi32(_mm256_set1_epi32(units.min(LANES) as i32), lane),
            _mm256_cmpgt_epi32(_mm256_set1_epi32(units.saturating_sub(LANES) as i32), lane),
        ];
        let vectors = units.div_ceil(LANES);
        let k = kernel.as_ptr();
        let mut even = [[_mm256_setzero_ps(); 2]; R];
        let mut odd = [[_mm256_setzero_ps(); 2]; R];
        let mut i = 0;
        // SAFETY: the masked loads read kernel[i, v * LANES..] and kernel[i + 1, ..] only in
        // the lanes below `units`, with `i + 1 < inputs`: inside `kernel`.
        while i + 2 <= inputs {
            for v in 0..vectors {
                let w0 = _mm256_maskload_ps(k.add(i * units + v * LANES), masks[v]);
                let w1 = _mm256_maskload_ps(k.add((i + 1) * units + v * LANES), masks[v]);
                for r in 0..R {
                    let x0 = _mm256_set1_ps(xs[r][i]);
                    let x1 = _mm256_set1_ps(xs[r][i + 1]);
                    even[r][v] = _mm256_fmadd_ps(x0, w0, even[r][v]);
                    odd[r][v] = _mm256_fmadd_ps(x1, w1, odd[r][v]);
                }
            }
            i += 2;
        }
        if i < inputs {
            // SAFETY: as above, row `i < inputs`.
            for v in 0..vectors {
                let w = _mm256_maskload_ps(k.add(i * units + v * LANES), masks[v]);
                for r in 0..R {
                    even[r][v] = _mm256_fmadd_ps(_mm256_set1_ps(xs[r][i]), w, even[r][v]);
                }
            }
        }
        let o = out.as_mut_ptr();
        for r in 0..R {
            for v in 0..vectors {
                // SAFETY: out[r, v * LANES..] in the lanes below `units`, inside `out`
                // (`R * units` long).
                let sum = _mm256_add_ps(even[r][v], odd[r][v]);
                _mm256_maskstore_ps(o.add(r * units + v * LANES), masks[v], sum);
            }
        }
    }

    // out[r, :] += xs[r] · kernel, `N` kernel rows per pass, then the remaining rows one by one.
    //
    // Safety: AVX2 and FMA; `units >= 1`, `kernel.len() == inputs * units` and
    // `xs[r].len() == inputs` for some `inputs`, `out.len() == R * units`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn rows<const R: usize, const N: usize>(
        xs: &[&[f32]; R],
        kernel: &[f32],
        units: usize,
        out: &mut [f32],
    ) {
        let inputs = kernel.len() / units;
        let mut i = 0;
        while i + N <= inputs {
            let prefetch = i + 2 * N <= inputs && N * units <= PREFETCH_BLOCK;
            block::<R, N>(xs, i, kernel, units, out, prefetch);
            i += N;
        }
        while i < inputs {
            block::<R, 1>(xs, i, kernel, units, out, false);
            i += 1;
        }
    }

    // out[r, :] += the sum over n < N of xs[r][i + n] * kernel[i + n, :]. With `prefetch`, the
    // next block of kernel rows (contiguous) is requested into L1 meanwhile, in step with
    // this block's progress: the hardware prefetchers alone leave 8-12 % of the time waiting
    // on L2.
    //
    // Safety: as `rows`, and `i + N <= inputs`; `i + 2 * N <= inputs` if `prefetch`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn block<const R: usize, const N: usize>(
        xs: &[&[f32]; R],
        i: usize,
        kernel: &[f32],
        units: usize,
        out: &mut [f32],
        prefetch: bool,
    ) {
        let mut xv = [[_mm256_setzero_ps(); N]; R];
        for (xv, x) in xv.iter_mut().zip(xs) {
            for (v, &x) in xv.iter_mut().zip(&x[i..i + N]) {
                *v = _mm256_set1_ps(x);
            }
        }
        let lanes_end = units - units % LANES;
        let k = kernel.as_ptr().add(i * units);
        let o = out.as_mut_ptr();
        let mut j = 0;
        while j < lanes_end {
            // SAFETY: `j + LANES <= units`, so the loads read kernel[i + n, j..j + LANES] with
            // `i + n < i + N <= inputs`, inside `kernel` (`inputs * units` long), and the loads
            // and stores of out[r, j..j + LANES] stay inside `out` (`R * units` long). The
            // prefetched addresses are below `k + N * units + (j + LANES) * N`, inside the next
            // block (`i + 2 * N <= inputs`).
            if prefetch {
                for c in (0..N * LANES).step_by(CACHE_LINE) {
                    _mm_prefetch::<_MM_HINT_T0>(k.add(N * units + j * N + c).cast::<i8>());
                }
            }
            let mut acc: [__m256; R] = [_mm256_setzero_ps(); R];
            for (r, a) in acc.iter_mut().enumerate() {
                *a = _mm256_loadu_ps(o.add(r * units + j));
            }
            for n in 0..N {
                let w = _mm256_loadu_ps(k.add(n * units + j));
                for (a, xv) in acc.iter_mut().zip(&xv) {
                    *a = _mm256_fmadd_ps(xv[n], w, *a);
                }
            }
            for (r, a) in acc.iter().enumerate() {
                _mm256_storeu_ps(o.add(r * units + j), *a);
            }
            j += LANES;
        }
        let tail = units - lanes_end;
        if tail > 0 {
            // The last `tail < LANES` columns with masked loads and stores, which touch only the
            // lanes whose mask is set: one vector step instead of `tail` scalar ones per row.
            // SAFETY: as above for the `tail` columns from `lanes_end`, all below `units`.
            let mask = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(tail as i32), mask);
            let mut acc: [__m256; R] = [_mm256_setzero_ps(); R];
            for (r, a) in acc.iter_mut().enumerate() {
                *a = _mm256_maskload_ps(o.add(r * units + lanes_end), mask);
            }
            for n in 0..N {
                let w = _mm256_maskload_ps(k.add(n * units + lanes_end), mask);
                for (a, xv) in acc.iter_mut().zip(&xv) {
                    *a = _mm256_fmadd_ps(xv[n], w, *a);
                }
            }
            for (r, a) in acc.iter().enumerate() {
                _mm256_maskstore_ps(o.add(r * units + lanes_end), mask, *a);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Rng;
    use ndarray::Array2;

    // The product plus epilogue in f64, and for each element the sum of the absolute terms,
    // which scales its rounding error.
    fn exact(x: &Array2<f32>, kernel: &Array2<f32>, e: Epilogue<'_>) -> (Vec<f64>, Vec<f64>) {
        let (mut values, mut scales) = (Vec::new(), Vec::new());
        for row in x.rows() {
            for (j, col) in kernel.columns().into_iter().enumerate() {
                let b = e.bias.map_or(0.0, |b| f64::from(b[j]));
                let terms = row
                    .iter()
                    .zip(col)
                    .map(|(&a, &w)| f64::from(a) * f64::from(w));
                let v = terms.clone().sum::<f64>() + b;
                values.push(if e.relu { v.max(0.0) } else { v });
                scales.push(terms.map(f64::abs).sum::<f64>() + b.abs());
            }
        }
        (values, scales)
    }

    // The largest error of `out` relative to the sum of the absolute terms.
    fn relative_error(out: &[f32], (values, scales): &(Vec<f64>, Vec<f64>)) -> f64 {
        let errors = out.iter().zip(values).zip(scales);
        errors.fold(0.0, |m, ((&o, &v), &s)| {
            m.max((f64::from(o) - v).abs() / s.max(1e-30))
        })
    }

    // Both builds of the product, every row count, column tails of 0-7 past the 8 lanes and
    // kernel-row tails past each pass, against the product and epilogue computed in f64. FMA
    // rounds once per multiply-add and the portable build twice, so they differ in the last
    // bits; both stay within a few units of f32's rounding (6e-8) of the sum of the absolute
    // terms (measured at most 1.7e-7).
    #[test]
    fn both_builds_match_the_exact_product_with_the_epilogue() {
        let mut rng = Rng::new(5);
        let shapes = [
            (1, 1),
            (3, 5),
            (7, 9),
            (4, 8),
            (13, 15),
            (784, 10),
            (50, 100),
            (9, 256),
        ];
        for (inputs, units) in shapes {
            let kernel = Array2::from_shape_fn((inputs, units), |_| rng.next_f32() * 2.0 - 1.0);
            let bias: Vec<f32> = (0..units).map(|_| rng.next_f32() - 0.5).collect();
            for rows in 1..=FEW_ROWS {
                let x = Array2::from_shape_fn((rows, inputs), |_| rng.next_f32() * 2.0 - 1.0);
                for (with_bias, relu) in [(false, false), (true, false), (true, true)] {
                    let epilogue = Epilogue {
                        bias: with_bias.then_some(bias.as_slice()),
                        relu,
                    };
                    let expected = exact(&x, &kernel, epilogue);
                    let mut out = vec![f32::NAN; rows * units];
                    let mut p = Product::new(x.view(), kernel.view(), &mut out, epilogue)
                        .expect("the few-row product applies");
                    portable_product(&mut p);
                    let err = relative_error(&out, &expected);
                    assert!(
                        err <= 1e-6,
                        "portable, {rows}x{inputs}x{units}: error {err}"
                    );
                    #[cfg(target_arch = "x86_64")]
                    {
                        let mut fused = vec![f32::NAN; rows * units];
                        let mut p = Product::new(x.view(), kernel.view(), &mut fused, epilogue)
                            .expect("the few-row product applies");
                        if avx2::product(&mut p) {
                            let err = relative_error(&fused, &expected);
                            assert!(err <= 1e-6, "avx2, {rows}x{inputs}x{units}: error {err}");
                        }
                    }
                }
            }
        }
    }

    // Past `FEW_ROWS` rows, groups of four (with a last group of 1-4 rows) on wide kernels,
    // with AVX2 only; beyond `GROUPED_ROWS` rows or below `GROUPED_MIN_UNITS` columns, nothing.
    #[test]
    fn groups_of_rows_match_the_exact_product() {
        let mut rng = Rng::new(8);
        #[cfg(target_arch = "x86_64")]
        let grouped = std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma");
        #[cfg(not(target_arch = "x86_64"))]
        let grouped = false;
        for (inputs, units) in [(5, GROUPED_MIN_UNITS), (33, 45), (3, GROUPED_MIN_UNITS - 1)] {
            let kernel = Array2::from_shape_fn((inputs, units), |_| rng.next_f32() * 2.0 - 1.0);
            let bias: Vec<f32> = (0..units).map(|_| rng.next_f32() - 0.5).collect();
            let epilogue = Epilogue {
                bias: Some(&bias),
                relu: true,
            };
            for rows in FEW_ROWS + 1..=GROUPED_ROWS + 1 {
                let x = Array2::from_shape_fn((rows, inputs), |_| rng.next_f32() * 2.0 - 1.0);
                let mut out = vec![f32::NAN; rows * units];
                let done = few_rows_dot(x.view(), kernel.view(), &mut out, epilogue);
                let expect_done = grouped && rows <= GROUPED_ROWS && units >= GROUPED_MIN_UNITS;
                assert_eq!(done, expect_done, "{rows}x{inputs}x{units}");
                if done {
                    let err = relative_error(&out, &exact(&x, &kernel, epilogue));
                    assert!(err <= 1e-6, "{rows}x{inputs}x{units}: error {err}");
                } else {
                    assert!(out.iter().all(|v| v.is_nan()), "written though refused");
                }
            }
        }
    }

    #[test]
    fn refuses_what_it_does_not_cover() {
        let kernel = Array2::<f32>::zeros((3, 2));
        let x = Array2::<f32>::zeros((5, 3));
        let mut out = vec![0.0; 10];
        let none = Epilogue::default();
        assert!(!few_rows_dot(x.view(), kernel.view(), &mut out, none));
        let x = Array2::<f32>::zeros((2, 4));
        assert!(!few_rows_dot(x.view(), kernel.view(), &mut out[..4], none));
        let x = Array2::<f32>::zeros((2, 2));
        assert!(!few_rows_dot(x.view(), kernel.t(), &mut out[..6], none));
        let x = Array2::<f32>::zeros((3, 2));
        assert!(!few_rows_dot(x.t(), kernel.view(), &mut out[..4], none));
        let x = Array2::<f32>::zeros((2, 3));
        let bias = [0.0; 3];
        let with_bias = Epilogue {
            bias: Some(&bias),
            relu: false,
        };
        assert!(!few_rows_dot(
            x.view(),
            kernel.view(),
            &mut out[..4],
            with_bias
        ));
        assert!(few_rows_dot(x.view(), kernel.view(), &mut out[..4], none));
    }

    // A NaN in an input row reaches every output of that row through the fused ReLU, in the
    // portable build, the AVX2 build and the grouped rows, as Keras' relu keeps it; the other
    // rows stay finite.
    #[test]
    fn relu_epilogue_keeps_nan() {
        let mut rng = Rng::new(9);
        for units in [5, 20, GROUPED_MIN_UNITS + 3] {
            let kernel = Array2::from_shape_fn((6, units), |_| rng.next_f32() * 2.0 - 1.0);
            let bias: Vec<f32> = (0..units).map(|_| rng.next_f32() - 0.5).collect();
            let epilogue = Epilogue {
                bias: Some(&bias),
                relu: true,
            };
            for rows in 1..=GROUPED_ROWS {
                let mut x = Array2::from_shape_fn((rows, 6), |_| rng.next_f32() * 2.0 - 1.0);
                let bad = rows / 2;
                x[[bad, 3]] = f32::NAN;
                let mut out = vec![0.0; rows * units];
                if !few_rows_dot(x.view(), kernel.view(), &mut out, epilogue) {
                    continue;
                }
                for (r, row) in out.chunks(units).enumerate() {
                    if r == bad {
                        assert!(row.iter().all(|v| v.is_nan()), "{rows}x{units}: {row:?}");
                    } else {
                        assert!(row.iter().all(|v| v.is_finite()), "{rows}x{units}: {row:?}");
                    }
                }
                if rows <= FEW_ROWS {
                    let mut p = Product::new(x.view(), kernel.view(), &mut out, epilogue)
                        .expect("a few rows, standard layout");
                    portable_product(&mut p);
                    assert!(out[bad * units..(bad + 1) * units]
                        .iter()
                        .all(|v| v.is_nan()));
                }
            }
        }
    }
}
