//! Weight initialisers, with Keras' formulas.

use ndarray::{ArrayD, IxDyn};

use super::Rng;
use crate::shape::Initializer;

/// Keras divides the stddev of its truncated normals by the stddev of a standard normal
/// truncated at ±2, so that the samples keep the intended variance.
const TRUNCATED_STDDEV_CORRECTION: f64 = 0.879_625_661_034_239_8;

/// Keras' `compute_fans`: `(fan_in, fan_out)` of a variable of this shape. A kernel
/// `[in, units]` gives `(in, units)`; convolution kernels multiply by the receptive field.
pub fn fans(shape: &[usize]) -> (f64, f64) {
    match shape {
        [] => (1.0, 1.0),
        [n] => (*n as f64, *n as f64),
        [a, b] => (*a as f64, *b as f64),
        [spatial @ .., a, b] => {
            let receptive: f64 = spatial.iter().map(|&d| d as f64).product();
            (*a as f64 * receptive, *b as f64 * receptive)
        }
    }
}

/// How one initializer draws its values: a distribution with its parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Sampler {
    Constant(f32),
    Uniform(f32),
    Normal(f32),
    TruncatedNormal(f32),
    /// Keras' `Orthogonal(gain)`: needs the whole variable, so `fill` handles it apart.
    Orthogonal(f32),
}

// Keras' VarianceScaling: n is fan_in, fan_out or their mean; the uniform limit is
// sqrt(3 * scale / n) and the truncated normal's stddev sqrt(scale / n) / 0.8796...
fn variance_scaling(scale: f64, n: f64, uniform: bool) -> Sampler {
    let n = n.max(1.0);
    if uniform {
        Sampler::Uniform((3.0 * scale / n).sqrt() as f32)
    } else {
        Sampler::TruncatedNormal(((scale / n).sqrt() / TRUNCATED_STDDEV_CORRECTION) as f32)
    }
}

fn sampler(init: Initializer, shape: &[usize]) -> Sampler {
    let (fan_in, fan_out) = fans(shape);
    let avg = (fan_in + fan_out) / 2.0;
    match init {
        Initializer::GlorotUniform => variance_scaling(1.0, avg, true),
        Initializer::GlorotNormal => variance_scaling(1.0, avg, false),
        Initializer::HeUniform => variance_scaling(2.0, fan_in, true),
        Initializer::HeNormal => variance_scaling(2.0, fan_in, false),
        Initializer::LecunUniform => variance_scaling(1.0, fan_in, true),
        Initializer::LecunNormal => variance_scaling(1.0, fan_in, false),
        Initializer::RandomUniform => Sampler::Uniform(0.05),
        Initializer::RandomNormal => Sampler::Normal(0.05),
        Initializer::Zeros => Sampler::Constant(0.0),
        Initializer::Ones => Sampler::Constant(1.0),
        Initializer::Orthogonal => Sampler::Orthogonal(1.0),
    }
}

/// Fills `values` (the elements of a variable of shape `shape`, in row-major order) as
/// `init` does. Elementwise initializers do not depend on the order; `orthogonal` reads the
/// values as the rows of the folded matrix.
pub fn fill<'a>(
    init: Initializer,
    shape: &[usize],
    values: impl IntoIterator<Item = &'a mut f32>,
    rng: &mut Rng,
) {
    let s = sampler(init, shape);
    if let Sampler::Orthogonal(gain) = s {
        let q = orthogonal(shape, gain, rng);
        for (v, q) in values.into_iter().zip(q) {
            *v = q;
        }
        return;
    }
    for v in values {
        *v = match s {
            Sampler::Constant(c) => c,
            Sampler::Uniform(limit) => rng.uniform(-limit, limit),
            Sampler::Normal(stddev) => rng.normal(0.0, stddev),
            Sampler::TruncatedNormal(stddev) => rng.truncated_normal(0.0, stddev),
            Sampler::Orthogonal(_) => 0.0,
        };
    }
}

/// Keras' `Orthogonal`: the variable folded to `(rows, cols) = (prod(shape[..-1]), shape[-1])`;
/// a standard normal `(max, min)` matrix `a`; its QR decomposition with `q` multiplied by the
/// signs of `r`'s diagonal; `q` transposed when `rows < cols`; times `gain`. Returned row-major.
///
/// Modified Gram-Schmidt (run twice for orthogonality at f32 precision, in f64) yields the
/// Q whose R has a positive diagonal, which is exactly the sign-corrected Q.
fn orthogonal(shape: &[usize], gain: f32, rng: &mut Rng) -> Vec<f32> {
    let (cols, lead) = shape.split_last().map_or((1, &[][..]), |(c, l)| (*c, l));
    let rows = lead
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .unwrap_or(0);
    let (m, n) = (rows.max(cols), rows.min(cols));
    let Some(len) = m.checked_mul(n) else {
        return Vec::new();
    };
    // Column-major: column j is `a[j * m..(j + 1) * m]`; the draws fill `a` row-major, as
    // Keras' `random.normal(flat_shape)` does.
    let mut a = vec![0.0f64; len];
    for i in 0..m {
        for j in 0..n {
            a[j * m + i] = rng.standard_normal();
        }
    }
    for j in 0..n {
        let (done, rest) = a.split_at_mut(j * m);
        let col = &mut rest[..m];
        for _ in 0..2 {
            for prev in done.chunks_exact(m) {
                let dot: f64 = prev.iter().zip(col.iter()).map(|(p, c)| p * c).sum();
                for (c, p) in col.iter_mut().zip(prev) {
                    *c -= dot * p;
                }
            }
        }
        let norm = col.iter().map(|c| c * c).sum::<f64>().sqrt();
        // A zero column has probability zero; leave it zero rather than divide by it.
        if norm > 0.0 {
            col.iter_mut().for_each(|c| *c /= norm);
        }
    }
    let gain = gain as f64;
    let mut out = vec![0.0f32; len];
    for r in 0..rows {
        for c in 0..cols {
            // q is (m, n) column-major; the result is q (rows >= cols) or qᵀ, row-major.
            let v = if rows >= cols {
                a[c * m + r]
            } else {
                a[r * m + c]
            };
            out[r * cols + c] = (gain * v) as f32;
        }
    }
    out
}

/// A new variable of shape `shape` initialised by `init`.
pub fn sample(init: Initializer, shape: &[usize], rng: &mut Rng) -> ArrayD<f32> {
    let mut a = ArrayD::zeros(IxDyn(shape));
    fill(init, shape, a.iter_mut(), rng);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(init: Initializer, shape: &[usize]) -> (f64, f64, f32) {
        let a = sample(init, shape, &mut Rng::new(11));
        let n = a.len() as f64;
        let mean = a.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = a.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        let max = a.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        (mean, var.sqrt(), max)
    }

    #[test]
    fn uniform_limits_follow_keras() {
        let shape = [300, 200];
        for (init, limit) in [
            (Initializer::GlorotUniform, (6.0f64 / 500.0).sqrt()),
            (Initializer::HeUniform, (6.0f64 / 300.0).sqrt()),
            (Initializer::LecunUniform, (3.0f64 / 300.0).sqrt()),
            (Initializer::RandomUniform, 0.05),
        ] {
            let (mean, std, max) = stats(init, &shape);
            assert!(max as f64 <= limit, "{init:?}: {max} > {limit}");
            // Near the limit: the sample fills the interval.
            assert!(max as f64 > 0.99 * limit, "{init:?}");
            assert!(mean.abs() < 0.01 * limit, "{init:?} mean {mean}");
            let want = limit / 3f64.sqrt();
            assert!(
                (std - want).abs() < 0.02 * want,
                "{init:?} std {std} vs {want}"
            );
        }
    }

    #[test]
    fn normals_keep_their_variance_and_truncate_at_two_sigma() {
        let shape = [300, 200];
        for (init, stddev) in [
            (Initializer::GlorotNormal, (2.0f64 / 500.0).sqrt()),
            (Initializer::HeNormal, (2.0f64 / 300.0).sqrt()),
            (Initializer::LecunNormal, (1.0f64 / 300.0).sqrt()),
        ] {
            let (mean, std, max) = stats(init, &shape);
            // The corrected truncated normal has (close to) the intended stddev.
            assert!((std - stddev).abs() < 0.02 * stddev, "{init:?} std {std}");
            assert!(mean.abs() < 0.01 * stddev, "{init:?}");
            let bound = 2.0 * stddev / TRUNCATED_STDDEV_CORRECTION;
            assert!((max as f64) <= bound * (1.0 + 1e-6), "{init:?}");
        }
        let (_, std, max) = stats(Initializer::RandomNormal, &shape);
        assert!((std - 0.05).abs() < 0.001);
        assert!(max > 0.15, "random_normal is not truncated");
    }

    /// `a · aᵀ` (`by_rows`) or `aᵀ · a` of a row-major `(rows, cols)` matrix, minus the identity.
    fn gram_error(a: &[f32], rows: usize, cols: usize, by_rows: bool) -> f64 {
        let (k, len) = if by_rows { (rows, cols) } else { (cols, rows) };
        let at = |i: usize, t: usize| -> f64 {
            if by_rows {
                a[i * cols + t] as f64
            } else {
                a[t * cols + i] as f64
            }
        };
        let mut worst = 0.0f64;
        for i in 0..k {
            for j in 0..k {
                let dot: f64 = (0..len).map(|t| at(i, t) * at(j, t)).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                worst = worst.max((dot - want).abs());
            }
        }
        worst
    }

    #[test]
    fn orthogonal_is_orthonormal_in_both_orientations() {
        // A recurrent kernel (u, 4u): orthonormal rows; a tall kernel: orthonormal columns.
        let wide = sample(Initializer::Orthogonal, &[8, 32], &mut Rng::new(3));
        let wide = wide.as_slice().unwrap();
        assert!(gram_error(wide, 8, 32, true) < 1e-5);
        let tall = sample(Initializer::Orthogonal, &[2, 10, 6], &mut Rng::new(3));
        let tall = tall.as_slice().unwrap();
        assert!(gram_error(tall, 20, 6, false) < 1e-5);
        let square = sample(Initializer::Orthogonal, &[16, 16], &mut Rng::new(4));
        let square = square.as_slice().unwrap();
        assert!(gram_error(square, 16, 16, true) < 1e-5);
        assert!(gram_error(square, 16, 16, false) < 1e-5);
        // Not a permutation or the identity: the values are spread.
        assert!(square.iter().filter(|v| v.abs() > 1e-3).count() > 200);
    }

    #[test]
    fn orthogonal_is_seeded_and_sign_corrected() {
        let a = sample(Initializer::Orthogonal, &[5, 5], &mut Rng::new(9));
        let b = sample(Initializer::Orthogonal, &[5, 5], &mut Rng::new(9));
        let c = sample(Initializer::Orthogonal, &[5, 5], &mut Rng::new(10));
        assert_eq!(a, b);
        assert_ne!(a, c);
        // Sign correction: r = qᵀ · a has a positive diagonal, so r[0, 0] = q[.., 0] · a[.., 0]
        // is positive, where a holds the normal draws row-major.
        let mut rng = Rng::new(9);
        let draws: Vec<f64> = (0..25).map(|_| rng.standard_normal()).collect();
        let q = a.as_slice().unwrap();
        let r00: f64 = (0..5).map(|i| q[i * 5] as f64 * draws[i * 5]).sum();
        assert!(r00 > 0.0, "{r00}");
    }

    #[test]
    fn constants_and_fans() {
        let a = sample(Initializer::Ones, &[3], &mut Rng::new(0));
        assert!(a.iter().all(|&v| v == 1.0));
        let a = sample(Initializer::Zeros, &[2, 3], &mut Rng::new(0));
        assert!(a.iter().all(|&v| v == 0.0));
        assert_eq!(fans(&[4, 8]), (4.0, 8.0));
        assert_eq!(fans(&[3, 3, 2, 5]), (18.0, 45.0));
        assert_eq!(fans(&[7]), (7.0, 7.0));
    }
}
