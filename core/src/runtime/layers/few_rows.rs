//! `x · kernel` for a few rows (a batch of at most [`FEW_ROWS`]) without matrixmultiply, which
//! packs the whole kernel on every call: for one row of W2 (a 784 x 256 kernel) the packing
//! costs several times the product itself.
//!
//! The output is computed in column tiles held in registers: for each tile, a pass down the
//! kernel's rows adds `x[r, i] * kernel[i, tile]` to the accumulators, and the tile is written
//! once at the end, with the bias and a ReLU applied on the way out (so `Dense::call` needs no
//! second pass). Each kernel element is loaded once per call and feeds `rows` multiply-adds.
//!
//! On x86-64 with AVX2 and FMA (detected once at run time) the same loop is compiled with those
//! features: 8 lanes per instruction and fused multiply-adds. Otherwise it runs as compiled for
//! the target (baseline x86-64: SSE2, 4 lanes, separate multiply and add).

use ndarray::{ArrayView2, Axis};

/// Up to this many rows, `Dense` computes its product here.
pub(super) const FEW_ROWS: usize = 4;

/// What the output pass applies to `x · kernel`: `relu(x · kernel + bias)`, each part optional.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Epilogue<'a> {
    /// Added to every row; as long as a kernel row.
    pub bias: Option<&'a [f32]>,
    /// `max(v, 0)` after the bias.
    pub relu: bool,
}

/// `out = epilogue(x · kernel)` for `x.nrows() <= FEW_ROWS`, `out` row-major `(x.nrows(),
/// kernel.ncols())`. False, with nothing written, when this path does not apply: more rows, a
/// kernel or input row not contiguous in standard order, no columns, or shapes that disagree
/// (the general product then takes over, and panics on a shape error as before).
pub(super) fn few_rows_dot(
    x: ArrayView2<'_, f32>,
    kernel: ArrayView2<'_, f32>,
    out: &mut [f32],
    epilogue: Epilogue<'_>,
) -> bool {
    let Some(p) = Product::new(x.reborrow(), kernel.reborrow(), out.len(), epilogue) else {
        return false;
    };
    #[cfg(target_arch = "x86_64")]
    if avx2::product(&p, out) {
        return true;
    }
    portable_product(&p, out);
    true
}

/// A checked few-row product: every input row and the kernel as slices of agreeing lengths.
pub(super) struct Product<'a> {
    rows: [&'a [f32]; FEW_ROWS],
    n_rows: usize,
    kernel: &'a [f32],
    units: usize,
    epilogue: Epilogue<'a>,
}

impl<'a> Product<'a> {
    fn new(
        x: ArrayView2<'a, f32>,
        kernel: ArrayView2<'a, f32>,
        out_len: usize,
        epilogue: Epilogue<'a>,
    ) -> Option<Product<'a>> {
        let (n_rows, inputs) = x.dim();
        let units = kernel.ncols();
        let k = kernel.to_slice()?;
        if n_rows == 0
            || n_rows > FEW_ROWS
            || units == 0
            || inputs != kernel.nrows()
            || out_len != n_rows * units
            || epilogue.bias.is_some_and(|b| b.len() != units)
        {
            return None;
        }
        let mut rows: [&[f32]; FEW_ROWS] = [&[]; FEW_ROWS];
        for (r, slot) in rows.iter_mut().take(n_rows).enumerate() {
            *slot = x.index_axis_move(Axis(0), r).to_slice()?;
        }
        Some(Product {
            rows,
            n_rows,
            kernel: k,
            units,
            epilogue,
        })
    }
}

// The portable build: SSE2's 16 registers of 4 lanes hold 8 accumulators of one row.
fn portable_product(p: &Product<'_>, out: &mut [f32]) {
    rows_dispatch::<false, 32, 16, 8>(p, out);
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{rows_dispatch, Product};
    use std::sync::OnceLock;

    /// Whether this CPU has AVX2 and FMA, detected on the first call.
    fn available() -> bool {
        static DETECTED: OnceLock<bool> = OnceLock::new();
        *DETECTED.get_or_init(|| {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        })
    }

    /// Computes the product with AVX2 and FMA if this CPU has them; false (nothing written)
    /// otherwise.
    pub(super) fn product(p: &Product<'_>, out: &mut [f32]) -> bool {
        if !available() {
            return false;
        }
        // SAFETY: `available` checked that this CPU has AVX2 and FMA, the only requirement of
        // `product_avx2`, whose body is safe code.
        unsafe { product_avx2(p, out) };
        true
    }

    // The product compiled for AVX2 + FMA: 16 registers of 8 lanes; one row keeps 8
    // accumulators (64 columns), enough independent chains to cover the FMA latency.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn product_avx2(p: &Product<'_>, out: &mut [f32]) {
        rows_dispatch::<true, 64, 32, 16>(p, out);
    }
}

// One monomorphised loop per row count, with the tile width (columns per pass) chosen so the
// accumulators stay in registers: `W1` for one row, `W2` for two or three, `W4` for four.
#[inline(always)]
fn rows_dispatch<const FMA: bool, const W1: usize, const W2: usize, const W4: usize>(
    p: &Product<'_>,
    out: &mut [f32],
) {
    let [a, b, c, d] = p.rows;
    match p.n_rows {
        1 => tiles::<1, W1, FMA>([a], p, out),
        2 => tiles::<2, W2, FMA>([a, b], p, out),
        3 => tiles::<3, W2, FMA>([a, b, c], p, out),
        _ => tiles::<4, W4, FMA>([a, b, c, d], p, out),
    }
}

// Full tiles of `W` columns, then the remainder in halving widths down to 4, then single
// columns.
#[inline(always)]
fn tiles<const R: usize, const W: usize, const FMA: bool>(
    xs: [&[f32]; R],
    p: &Product<'_>,
    out: &mut [f32],
) {
    let units = p.units;
    let mut j = 0;
    while units - j >= W {
        tile::<R, W, FMA>(xs, p, j, out);
        j += W;
    }
    if W > 32 && units - j >= 32 {
        tile::<R, 32, FMA>(xs, p, j, out);
        j += 32;
    }
    if W > 16 && units - j >= 16 {
        tile::<R, 16, FMA>(xs, p, j, out);
        j += 16;
    }
    if W > 8 && units - j >= 8 {
        tile::<R, 8, FMA>(xs, p, j, out);
        j += 8;
    }
    if W > 4 && units - j >= 4 {
        tile::<R, 4, FMA>(xs, p, j, out);
        j += 4;
    }
    while j < units {
        tile::<R, 1, FMA>(xs, p, j, out);
        j += 1;
    }
}

// Columns `j..j + W` of every row: accumulators in registers over the whole kernel, then one
// write with the epilogue.
#[inline(always)]
fn tile<const R: usize, const W: usize, const FMA: bool>(
    xs: [&[f32]; R],
    p: &Product<'_>,
    j: usize,
    out: &mut [f32],
) {
    let units = p.units;
    let mut acc = [[0.0f32; W]; R];
    for (i, krow) in p.kernel.chunks_exact(units).enumerate() {
        let Some(w) = krow.get(j..j + W) else {
            return;
        };
        for (acc, x) in acc.iter_mut().zip(xs) {
            let xv = x[i];
            for (a, &wv) in acc.iter_mut().zip(w) {
                *a = if FMA {
                    xv.mul_add(wv, *a)
                } else {
                    *a + xv * wv
                };
            }
        }
    }
    let bias = p.epilogue.bias.and_then(|b| b.get(j..j + W));
    for (r, acc) in acc.iter().enumerate() {
        let Some(o) = out.get_mut(r * units + j..r * units + j + W) else {
            return;
        };
        for (l, (o, &v)) in o.iter_mut().zip(acc).enumerate() {
            let mut v = v;
            if let Some(b) = bias {
                v += b[l];
            }
            if p.epilogue.relu {
                v = v.max(0.0);
            }
            *o = v;
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

    // Both builds of the product, every row count and tile remainder (units 1..=9 and widths
    // past 64), against the product and epilogue computed in f64. FMA rounds once per
    // multiply-add and the portable build twice, so they differ in the last bits; both stay
    // within a few units of f32's rounding (6e-8) of the sum of the absolute terms.
    #[test]
    fn both_builds_match_the_exact_product_with_the_epilogue() {
        let mut rng = Rng::new(5);
        for (inputs, units) in [
            (1, 1),
            (3, 5),
            (7, 9),
            (4, 8),
            (784, 10),
            (50, 100),
            (9, 256),
        ] {
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
                    let p = Product::new(x.view(), kernel.view(), rows * units, epilogue)
                        .expect("the few-row product applies");
                    let mut out = vec![f32::NAN; rows * units];
                    portable_product(&p, &mut out);
                    let err = relative_error(&out, &expected);
                    assert!(
                        err <= 1e-6,
                        "portable, {rows}x{inputs}x{units}: error {err}"
                    );
                    #[cfg(target_arch = "x86_64")]
                    {
                        let mut fused = vec![f32::NAN; rows * units];
                        if avx2::product(&p, &mut fused) {
                            let err = relative_error(&fused, &expected);
                            assert!(err <= 1e-6, "avx2, {rows}x{inputs}x{units}: error {err}");
                        }
                    }
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
}
