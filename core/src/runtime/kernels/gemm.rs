//! The f32 matrix product of `Dense`: an AVX-512 micro-kernel with BLIS-style packing and
//! blocking, chosen at run time. matrixmultiply (behind ndarray's `general_mat_mul`) has
//! AVX2/FMA kernels only, which run at half the FMA throughput of 512-bit ones on CPUs that have
//! them. CPUs without `avx512f`, other targets and tiny products take `general_mat_mul`.

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayBase, ArrayView2, DataMut, Ix2};
#[cfg(target_arch = "x86_64")]
use {
    crate::runtime::parallel::{split, threads},
    ndarray::{ArrayViewMut2, Axis},
    std::sync::atomic::{AtomicU32, AtomicU64, Ordering},
    std::time::Instant,
};

/// `c = alpha · a · b + beta · c`, with the semantics of ndarray's `general_mat_mul`: views of
/// any strides (transposed ones included), and `beta == 0` ignores what `c` held (NaN
/// included). Not public API (exported for the benchmarks only).
///
/// **Panics** if the shapes disagree: `a` is `m x k`, `b` `k x n` and `c` `m x n`.
#[inline]
pub fn sgemm<S: DataMut<Elem = f32>>(
    alpha: f32,
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    beta: f32,
    c: &mut ArrayBase<S, Ix2>,
) {
    product(alpha, a, b, beta, c, false);
}

// `sgemm`; `any_size` takes the AVX-512 path below the size threshold too (for the tests).
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
#[inline]
fn product<S: DataMut<Elem = f32>>(
    alpha: f32,
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    beta: f32,
    c: &mut ArrayBase<S, Ix2>,
    any_size: bool,
) {
    let ((m, k), n) = (a.dim(), b.ncols());
    #[cfg(target_arch = "x86_64")]
    if (any_size || large_enough(m, k, n)) && avx512::available() {
        // (`general_mat_mul` checks the shapes itself.)
        assert!(
            b.nrows() == k && c.dim() == (m, n),
            "matrix product of {m} x {k} and {} x {n} into {:?}",
            b.nrows(),
            c.dim()
        );
        // The kernel stores whole rows of a tile, so `c` needs unit column stride; a column-major
        // `c` is the row-major `cᵀ = bᵀ · aᵀ`.
        if c.ncols() == 1 || c.strides()[1] == 1 {
            parallel_gemm(alpha, a, b, beta, c.view_mut());
            return;
        }
        if c.nrows() == 1 || c.strides()[0] == 1 {
            parallel_gemm(
                alpha,
                b.reversed_axes(),
                a.reversed_axes(),
                beta,
                c.view_mut().reversed_axes(),
            );
            return;
        }
    }
    general_mat_mul(alpha, &a, &b, beta, c);
}

// Below this many multiply-adds matrixmultiply is as fast or faster: packing and the tile
// loop's set-up are not amortised (measured, BENCHMARKS.md "Matrix products").
#[cfg(target_arch = "x86_64")]
fn large_enough(m: usize, k: usize, n: usize) -> bool {
    const MIN_MULTIPLY_ADDS: usize = 64 * 64 * 64;
    m.saturating_mul(k).saturating_mul(n) >= MIN_MULTIPLY_ADDS
}

// Each thread's part of a product has at least this many multiply-adds (about 15 µs of work):
// the hand-off to another thread costs a few to tens of microseconds.
#[cfg(target_arch = "x86_64")]
const MIN_MULTIPLY_ADDS_PER_THREAD: usize = 1 << 20;

// The AVX-512 product (`c` of unit column stride) split over the cores in whole tiles: along
// the rows of `a` and `c` when there are more of them than columns of `b`, else along those
// columns. Each part packs its own operands; splitting the longer side duplicates the packing
// of the smaller operand only. Not split for a while after a part started late (`UNSPLIT`).
#[cfg(target_arch = "x86_64")]
fn parallel_gemm<'a, 'b, 'c>(
    alpha: f32,
    a: ArrayView2<'a, f32>,
    b: ArrayView2<'b, f32>,
    beta: f32,
    c: ArrayViewMut2<'c, f32>,
) {
    let ((m, k), n) = (a.dim(), b.ncols());
    let by_rows = m >= n;
    let (mr, nr) = avx512::tile(n);
    let (len, other, align) = if by_rows { (m, n, mr) } else { (n, m, nr) };
    let min_len = MIN_MULTIPLY_ADDS_PER_THREAD.div_ceil(k.saturating_mul(other).max(1));
    type Job<'a, 'b, 'c> = (
        ArrayView2<'a, f32>,
        ArrayView2<'b, f32>,
        ArrayViewMut2<'c, f32>,
    );
    let cut = |(a, b, c): Job<'a, 'b, 'c>, at: usize| -> (Job<'a, 'b, 'c>, Job<'a, 'b, 'c>) {
        if by_rows {
            let ((a0, a1), (c0, c1)) = (a.split_at(Axis(0), at), c.split_at(Axis(0), at));
            ((a0, b, c0), (a1, b, c1))
        } else {
            let ((b0, b1), (c0, c1)) = (b.split_at(Axis(1), at), c.split_at(Axis(1), at));
            ((a, b0, c0), (a, b1, c1))
        }
    };
    if threads() < 2 || len < 2 * min_len {
        return avx512::gemm(alpha, a, b, beta, c);
    }
    let backing_off = UNSPLIT
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok();
    if backing_off {
        return avx512::gemm(alpha, a, b, beta, c);
    }
    let start = Instant::now();
    let last_start = AtomicU64::new(0);
    split(
        (a, b, c),
        len,
        min_len,
        align,
        cut,
        |(a, b, c): Job<'a, 'b, 'c>| {
            let delay = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
            last_start.fetch_max(delay, Ordering::Relaxed);
            avx512::gemm(alpha, a, b, beta, c)
        },
    );
    // The later part started after half the product's time: run whole, it would have ended
    // no later.
    let total = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    if last_start.load(Ordering::Relaxed).saturating_mul(2) > total {
        UNSPLIT.store(UNSPLIT_PRODUCTS, Ordering::Relaxed);
    }
}

// After a split product whose later part started late (its core was busy with other
// processes, or slow to wake), this many of the next products that would be split run whole:
// waiting for that core costs more than the split saves. A parked worker takes 50-80 µs to
// start on this KVM guest, one whose core runs another process 160-230 µs, against 50-200 µs
// for half of a W2 training product (BENCHMARKS.md "Matrix products").
#[cfg(target_arch = "x86_64")]
const UNSPLIT_PRODUCTS: u32 = 64;
#[cfg(target_arch = "x86_64")]
static UNSPLIT: AtomicU32 = AtomicU32::new(0);

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::{
        __m512, _mm512_castpd_ps, _mm512_castps_pd, _mm512_fmadd_ps, _mm512_loadu_ps,
        _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps, _mm512_mul_ps, _mm512_set1_ps,
        _mm512_setzero_ps, _mm512_shuffle_f32x4, _mm512_unpackhi_pd, _mm512_unpackhi_ps,
        _mm512_unpacklo_pd, _mm512_unpacklo_ps,
    };
    use std::cell::RefCell;

    use ndarray::{s, ArrayView2, ArrayViewMut2};

    /// Tile shapes (rows MR x columns NR of `c`, NR = 16 · NV for NV zmm registers a row).
    /// Wide: 2·12 accumulators, two loads of `b` and a broadcast of `a` fit in the 32 zmm
    /// registers.
    const WIDE: (usize, usize) = (12, 32);
    /// Narrow, for at most 16 columns (W2's output layer of 10): 16 accumulators, so a
    /// 32-column tile does not waste 22 of its 32 lanes.
    const NARROW: (usize, usize) = (16, 16);
    /// Depth of a block: a packed panel of `b`, KC x NR, stays in the 48 KiB L1 (32 KiB).
    const KC: usize = 256;
    /// Rows of a packed block of `a`, in tiles (12 x 12 x KC: 144 KiB, which stays in L2).
    const MC_TILES: usize = 12;
    /// Columns of a packed block of `b` (KC x NC).
    const NC: usize = 1024;

    /// The tile shape (MR, NR) for products with `n` columns.
    pub(crate) fn tile(n: usize) -> (usize, usize) {
        if n <= NARROW.1 {
            NARROW
        } else {
            WIDE
        }
    }

    /// Whether the CPU has AVX-512F (std caches the detection).
    pub(crate) fn available() -> bool {
        std::is_x86_feature_detected!("avx512f")
    }

    thread_local! {
        // The packing buffers, reused so a product allocates nothing in steady state.
        static PACKED_A: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
        static PACKED_B: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    }

    /// `c = alpha · a · b + beta · c` for a `c` of unit column stride.
    ///
    /// **Panics** if `avx512f` is missing or `c`'s columns are not adjacent.
    pub(crate) fn gemm(
        alpha: f32,
        a: ArrayView2<'_, f32>,
        b: ArrayView2<'_, f32>,
        beta: f32,
        c: ArrayViewMut2<'_, f32>,
    ) {
        assert!(available(), "the AVX-512 product needs avx512f");
        assert!(
            c.ncols() <= 1 || c.strides()[1] == 1,
            "c needs unit column stride"
        );
        PACKED_A.with(|pa| {
            PACKED_B.with(|pb| {
                let (mut pa, mut pb) = (pa.borrow_mut(), pb.borrow_mut());
                let (pa, pb) = (&mut *pa, &mut *pb);
                // SAFETY: avx512f is present (checked above).
                unsafe {
                    if tile(b.ncols()) == NARROW {
                        gemm_blocked::<16, 1, 16>(alpha, a, b, beta, c, pa, pb);
                    } else {
                        gemm_blocked::<12, 2, 32>(alpha, a, b, beta, c, pa, pb);
                    }
                }
            })
        })
    }

    // The BLIS loops: blocks of NC columns, KC depths and MC rows of the operands are packed
    // into tiles' panels, and the micro-kernel computes one MR x NR tile of `c` per call.
    #[target_feature(enable = "avx512f")]
    fn gemm_blocked<const MR: usize, const NV: usize, const NR: usize>(
        alpha: f32,
        a: ArrayView2<'_, f32>,
        b: ArrayView2<'_, f32>,
        beta: f32,
        mut c: ArrayViewMut2<'_, f32>,
        buf_a: &mut Vec<f32>,
        buf_b: &mut Vec<f32>,
    ) {
        const { assert!(NR == 16 * NV) };
        let mc_max = MC_TILES * MR;
        let ((m, k), n) = (a.dim(), b.ncols());
        debug_assert_eq!(c.dim(), (m, n));
        if m == 0 || n == 0 {
            return;
        }
        if k == 0 {
            if beta == 0.0 {
                c.fill(0.0);
            } else {
                c *= beta;
            }
            return;
        }
        // Equal depth blocks, so the last one is not a sliver.
        let kc_max = k.div_ceil(k.div_ceil(KC));
        let packed_b = aligned(buf_b, kc_max * NC.min(n).next_multiple_of(NR));
        let packed_a = aligned(buf_a, kc_max * mc_max.min(m).next_multiple_of(MR));
        let row_stride = if m > 1 { c.strides()[0] } else { 0 };
        for jc in (0..n).step_by(NC) {
            let nc = NC.min(n - jc);
            let mut pc = 0;
            while pc < k {
                let kc = kc_max.min(k - pc);
                // Later depth blocks add to what the first one stored.
                let beta = if pc == 0 { beta } else { 1.0 };
                let b_panels = &mut packed_b[..kc * nc.next_multiple_of(NR)];
                // `b` (kc x nc) into panels of NR columns, depth by depth.
                pack::<NR>(
                    b.slice(s![pc..pc + kc, jc..jc + nc]).reversed_axes(),
                    b_panels,
                );
                for ic in (0..m).step_by(mc_max) {
                    let mc = mc_max.min(m - ic);
                    let a_panels = &mut packed_a[..kc * mc.next_multiple_of(MR)];
                    // `a` (mc x kc) into panels of MR rows, depth by depth.
                    pack::<MR>(a.slice(s![ic..ic + mc, pc..pc + kc]), a_panels);
                    let mut tile_c = c.slice_mut(s![ic..ic + mc, jc..jc + nc]);
                    let origin = tile_c.as_mut_ptr();
                    for (jr, b_panel) in b_panels.chunks_exact(kc * NR).enumerate() {
                        let (j, nr) = (jr * NR, NR.min(nc - jr * NR));
                        for (ir, a_panel) in a_panels.chunks_exact(kc * MR).enumerate() {
                            let (i, mr) = (ir * MR, MR.min(mc - ir * MR));
                            // SAFETY: rows i..i + mr of 0..mc and columns j..j + nr of 0..nc
                            // are elements of `tile_c`, whose element (r, q) is at
                            // `origin + r · row_stride + q` (unit column stride, asserted by
                            // `gemm`; a single row never moves by `row_stride`); `tile_c` is
                            // borrowed mutably for the whole loop.
                            unsafe {
                                let tile = origin.offset(i as isize * row_stride + j as isize);
                                kernel::<MR, NV, NR>(
                                    a_panel, b_panel, tile, row_stride, mr, nr, alpha, beta,
                                );
                            }
                        }
                    }
                }
                pc += kc;
            }
        }
    }

    // A 64-byte aligned slice of `len` elements of `buf` (grown if needed, never shrunk), so
    // the panels' loads do not straddle cache lines.
    fn aligned(buf: &mut Vec<f32>, len: usize) -> &mut [f32] {
        const LANES: usize = 16;
        if buf.len() < len + LANES {
            buf.resize(len + LANES, 0.0);
        }
        let offset = buf.as_ptr().align_offset(64).min(LANES);
        &mut buf[offset..offset + len]
    }

    // `x` (lines x depth) into panels of W lines, depth by depth (W values per depth); the
    // slots of lines past the end are zero.
    #[target_feature(enable = "avx512f")]
    fn pack<const W: usize>(x: ArrayView2<'_, f32>, out: &mut [f32]) {
        let depth = x.ncols();
        for (panel, dst) in out.chunks_exact_mut(depth * W).enumerate() {
            let lines = x.slice(s![panel * W..((panel + 1) * W).min(x.nrows()), ..]);
            let h = lines.nrows();
            if h < W {
                dst.fill(0.0);
            }
            if h == 1 || lines.strides()[0] == 1 {
                // A depth's values are adjacent (a transposed `a`, a row-major `b`).
                for (d, values) in dst.chunks_exact_mut(W).zip(lines.columns()) {
                    match values.to_slice() {
                        Some(src) => copy_line::<W>(src, d),
                        None => d.iter_mut().zip(values).for_each(|(d, &v)| *d = v),
                    }
                }
                continue;
            }
            // Each line is contiguous (a row-major `a`, a transposed `b`): transposed in blocks.
            let mut slices: [&[f32]; W] = [&[]; W];
            let mut contiguous = true;
            for (slot, line) in slices.iter_mut().zip(lines.rows()) {
                match line.to_slice() {
                    Some(line) => *slot = line,
                    None => contiguous = false,
                }
            }
            if contiguous {
                interleave::<W>(&slices[..h], dst);
            } else {
                for (r, line) in lines.rows().into_iter().enumerate() {
                    for (d, &v) in dst.chunks_exact_mut(W).zip(line) {
                        d[r] = v;
                    }
                }
            }
        }
    }

    // `dst[..src.len()] = src`, as two register moves when `src` fills `dst` (W values), which
    // a call to memcpy is not.
    fn copy_line<const W: usize>(src: &[f32], dst: &mut [f32]) {
        match (
            <&[f32; W]>::try_from(src),
            <&mut [f32; W]>::try_from(&mut *dst),
        ) {
            (Ok(src), Ok(dst)) => *dst = *src,
            _ => dst[..src.len()].copy_from_slice(src),
        }
    }

    // `dst[p·W + r] = lines[r][p]` for the given lines (at most W, each of at least
    // `dst.len() / W` values); the slots of missing lines get zeros in whole blocks of 16
    // depths, which go through a 16 x 16 transpose in registers, and are left as they are in
    // the remaining depths.
    #[target_feature(enable = "avx512f")]
    fn interleave<const W: usize>(lines: &[&[f32]], dst: &mut [f32]) {
        let blocks = dst.len() / W / 16;
        for g in (0..lines.len()).step_by(16) {
            let group = &lines[g..(g + 16).min(lines.len())];
            let width = (W - g).min(16);
            let mask = ((1u32 << width) - 1) as u16;
            for p in (0..blocks).map(|block| block * 16) {
                let mut rows = [_mm512_setzero_ps(); 16];
                for (row, line) in rows.iter_mut().zip(group) {
                    let src = &line[p..p + 16];
                    // SAFETY: `src` holds 16 values.
                    *row = unsafe { _mm512_loadu_ps(src.as_ptr()) };
                }
                for (q, values) in transpose16(rows).into_iter().enumerate() {
                    let at = &mut dst[(p + q) * W + g..][..width];
                    // SAFETY: `at` holds `width` values, the lanes the mask writes.
                    unsafe { _mm512_mask_storeu_ps(at.as_mut_ptr(), mask, values) };
                }
            }
        }
        for (r, line) in lines.iter().enumerate() {
            let rest = dst.chunks_exact_mut(W).zip(line.iter()).skip(blocks * 16);
            for (d, &v) in rest {
                d[r] = v;
            }
        }
    }

    // The transpose of 16 rows of 16 values: unpacks of pairs of values, of pairs of pairs,
    // then two shuffles of 128-bit lanes.
    #[target_feature(enable = "avx512f")]
    fn transpose16(r: [__m512; 16]) -> [__m512; 16] {
        let lo = |a, b| _mm512_unpacklo_ps(a, b);
        let hi = |a, b| _mm512_unpackhi_ps(a, b);
        let lo2 =
            |a, b| _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
        let hi2 =
            |a, b| _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
        // t[2i], t[2i + 1]: rows 2i and 2i + 1 interleaved (low and high pairs of each lane).
        let mut t = [_mm512_setzero_ps(); 16];
        for i in 0..8 {
            t[2 * i] = lo(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = hi(r[2 * i], r[2 * i + 1]);
        }
        // u[4g + j]: value j (and j + 4, 8, 12) of rows 4g..4g + 4, per 128-bit lane.
        let mut u = [_mm512_setzero_ps(); 16];
        for g in 0..4 {
            let b = 4 * g;
            u[b] = lo2(t[b], t[b + 2]);
            u[b + 1] = hi2(t[b], t[b + 2]);
            u[b + 2] = lo2(t[b + 1], t[b + 3]);
            u[b + 3] = hi2(t[b + 1], t[b + 3]);
        }
        // v: lanes 0 and 2 (0x88) or 1 and 3 (0xdd) of two groups of four rows.
        let mut v = [_mm512_setzero_ps(); 16];
        for j in 0..4 {
            v[j] = _mm512_shuffle_f32x4::<0x88>(u[j], u[j + 4]);
            v[j + 4] = _mm512_shuffle_f32x4::<0xdd>(u[j], u[j + 4]);
            v[j + 8] = _mm512_shuffle_f32x4::<0x88>(u[j + 8], u[j + 12]);
            v[j + 12] = _mm512_shuffle_f32x4::<0xdd>(u[j + 8], u[j + 12]);
        }
        let mut out = [_mm512_setzero_ps(); 16];
        for j in 0..8 {
            out[j] = _mm512_shuffle_f32x4::<0x88>(v[j], v[j + 8]);
            out[j + 8] = _mm512_shuffle_f32x4::<0xdd>(v[j], v[j + 8]);
        }
        out
    }

    // One MR x NR tile: `c = alpha · a_panel · b_panel + beta · c` on its first `mr` rows and
    // `nr` columns (`c` is not read when `beta == 0`).
    //
    // SAFETY (caller): `c.offset(r · row_stride + q)` is valid for reads and writes for
    // r < mr, q < nr, and no other reference to those elements is live.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn kernel<const MR: usize, const NV: usize, const NR: usize>(
        a_panel: &[f32],
        b_panel: &[f32],
        c: *mut f32,
        row_stride: isize,
        mr: usize,
        nr: usize,
        alpha: f32,
        beta: f32,
    ) {
        let mut acc = [[_mm512_setzero_ps(); NV]; MR];
        for (a, b) in a_panel.chunks_exact(MR).zip(b_panel.chunks_exact(NR)) {
            let mut bv = [_mm512_setzero_ps(); NV];
            for (v, b) in bv.iter_mut().zip(b.chunks_exact(16)) {
                // SAFETY: `b` is a chunk of 16 values.
                *v = unsafe { _mm512_loadu_ps(b.as_ptr()) };
            }
            for (row, &x) in acc.iter_mut().zip(a) {
                let x = _mm512_set1_ps(x);
                for (acc, &b) in row.iter_mut().zip(&bv) {
                    *acc = _mm512_fmadd_ps(x, b, *acc);
                }
            }
        }
        let (alpha, beta_v) = (_mm512_set1_ps(alpha), _mm512_set1_ps(beta));
        for (r, row) in acc.iter().enumerate().take(mr) {
            for (v, &sum) in row.iter().enumerate() {
                let from = 16 * v;
                let mask = ((1u32 << nr.saturating_sub(from).min(16)) - 1) as u16;
                let sum = _mm512_mul_ps(alpha, sum);
                // SAFETY: row r < mr, and lanes from + q < nr only (masked), per the caller's
                // contract; masked-off lanes are neither read nor written (no fault).
                unsafe {
                    let at = c.offset(r as isize * row_stride).wrapping_add(from);
                    let value = if beta == 0.0 {
                        sum
                    } else {
                        fma_c(beta_v, _mm512_maskz_loadu_ps(mask, at), sum)
                    };
                    _mm512_mask_storeu_ps(at, mask, value);
                }
            }
        }
    }

    #[target_feature(enable = "avx512f")]
    fn fma_c(beta: __m512, c: __m512, v: __m512) -> __m512 {
        _mm512_fmadd_ps(beta, c, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Rng;
    use ndarray::{s, Array2, ShapeBuilder};

    fn random(rng: &mut Rng, shape: (usize, usize)) -> Array2<f32> {
        Array2::from_shape_fn(shape, |_| rng.next_f32() * 2.0 - 1.0)
    }

    // `sgemm` against `general_mat_mul` on the same views; the tolerance grows with the
    // depth (sums in another order).
    fn check(
        alpha: f32,
        a: ArrayView2<'_, f32>,
        b: ArrayView2<'_, f32>,
        beta: f32,
        c0: &Array2<f32>,
        c_layout_f: bool,
    ) {
        let (m, n) = (a.nrows(), b.ncols());
        let mut expected = c0.clone();
        if beta == 0.0 {
            expected.fill(0.0);
        }
        general_mat_mul(alpha, &a, &b, beta, &mut expected);
        let mut got = if c_layout_f {
            let mut f = Array2::zeros((m, n).f());
            f.assign(c0);
            f
        } else {
            c0.clone()
        };
        product(alpha, a, b, beta, &mut got, true);
        let tol = 1e-5 * (a.ncols() as f32 + 1.0) * (alpha.abs() + beta.abs() + 1.0);
        for ((i, j), &e) in expected.indexed_iter() {
            let g = got[(i, j)];
            assert!(
                (g - e).abs() <= tol,
                "{m}x{}x{n} alpha {alpha} beta {beta}: c[{i},{j}] = {g}, expected {e}",
                a.ncols()
            );
        }
    }

    #[test]
    fn matches_the_general_product_on_small_shapes() {
        let mut rng = Rng::new(7);
        let sizes = [1, 2, 5, 11, 12, 13, 16, 17, 24, 31, 32, 33, 40];
        for &m in &sizes {
            for &k in &sizes {
                for &n in &sizes {
                    let a = random(&mut rng, (m, k));
                    let b = random(&mut rng, (k, n));
                    let c = random(&mut rng, (m, n));
                    check(1.0, a.view(), b.view(), 0.0, &c, false);
                }
            }
        }
    }

    #[test]
    fn matches_on_every_size_up_to_40_along_each_axis() {
        let mut rng = Rng::new(8);
        for x in 1..=40 {
            for (m, k, n) in [
                (x, 40, 40),
                (40, x, 40),
                (40, 40, x),
                (x, x, x),
                (x, 37, 41 - x),
            ] {
                let a = random(&mut rng, (m, k));
                let b = random(&mut rng, (k, n));
                let c = random(&mut rng, (m, n));
                check(1.0, a.view(), b.view(), 1.0, &c, false);
            }
        }
    }

    #[test]
    fn alpha_beta_transposes_strides_and_layouts() {
        let mut rng = Rng::new(9);
        let (m, k, n) = (45, 70, 67);
        let a = random(&mut rng, (m, k));
        let at = random(&mut rng, (k, m));
        let b = random(&mut rng, (k, n));
        let bt = random(&mut rng, (n, k));
        let wide = random(&mut rng, (2 * m, 3 * k));
        let c = random(&mut rng, (m, n));
        let a_views = [a.view(), at.t(), wide.slice(s![..;2, 1..;3])];
        let wide_b = random(&mut rng, (3 * k, 2 * n));
        let b_views = [b.view(), bt.t(), wide_b.slice(s![..;-3, ..;2])];
        for av in &a_views {
            for bv in &b_views {
                for (alpha, beta) in [(1.0, 0.0), (1.0, 1.0), (-0.5, 0.25), (2.0, -1.0)] {
                    for f in [false, true] {
                        check(alpha, av.view(), bv.view(), beta, &c, f);
                    }
                }
            }
        }
        // A strided `c` (neither stride 1) takes the general product.
        let mut wide_c = Array2::zeros((2 * m, 2 * n));
        let mut expected = Array2::zeros((m, n));
        general_mat_mul(1.0, &a, &b, 0.0, &mut expected);
        product(
            1.0,
            a.view(),
            b.view(),
            0.0,
            &mut wide_c.slice_mut(s![..;2, ..;2]),
            true,
        );
        let got = wide_c.slice(s![..;2, ..;2]);
        assert!(got
            .iter()
            .zip(&expected)
            .all(|(g, e)| (g - e).abs() <= 1e-3));
    }

    #[test]
    fn beta_zero_ignores_nan_and_zero_depth_scales() {
        let mut rng = Rng::new(10);
        let a = random(&mut rng, (50, 60));
        let b = random(&mut rng, (60, 70));
        let mut c = Array2::from_elem((50, 70), f32::NAN);
        product(1.0, a.view(), b.view(), 0.0, &mut c, true);
        assert!(c.iter().all(|v| v.is_finite()));
        let empty_a = Array2::<f32>::zeros((50, 0));
        let empty_b = Array2::<f32>::zeros((0, 70));
        let before = c.clone();
        product(1.0, empty_a.view(), empty_b.view(), 2.0, &mut c, true);
        assert_eq!(c, &before * 2.0);
    }

    #[test]
    fn matches_on_the_w2_shapes() {
        let mut rng = Rng::new(11);
        // forward x · kernel, the second layer, dz · kernelᵀ, xᵀ · dz and inference at 1024.
        let x = random(&mut rng, (128, 784));
        let k1 = random(&mut rng, (784, 256));
        let h = random(&mut rng, (128, 256));
        let k2 = random(&mut rng, (256, 256));
        let dz = random(&mut rng, (128, 256));
        let c = random(&mut rng, (784, 256));
        check(
            1.0,
            x.view(),
            k1.view(),
            0.0,
            &c.slice(s![..128, ..]).to_owned(),
            false,
        );
        check(
            1.0,
            h.view(),
            k2.view(),
            0.0,
            &c.slice(s![..128, ..]).to_owned(),
            false,
        );
        check(
            1.0,
            dz.view(),
            k1.t(),
            0.0,
            &random(&mut rng, (128, 784)),
            false,
        );
        check(1.0, x.t(), dz.view(), 0.0, &c, false);
        check(1.0, x.t(), dz.view(), 1.0, &c, false);
        let big = random(&mut rng, (1024, 784));
        check(
            1.0,
            big.view(),
            k1.view(),
            0.0,
            &random(&mut rng, (1024, 256)),
            false,
        );
    }
}
