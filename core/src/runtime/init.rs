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
    }
}

/// Fills `values` (the elements of a variable of shape `shape`, in any order) as `init` does.
pub fn fill<'a>(
    init: Initializer,
    shape: &[usize],
    values: impl IntoIterator<Item = &'a mut f32>,
    rng: &mut Rng,
) {
    let s = sampler(init, shape);
    for v in values {
        *v = match s {
            Sampler::Constant(c) => c,
            Sampler::Uniform(limit) => rng.uniform(-limit, limit),
            Sampler::Normal(stddev) => rng.normal(0.0, stddev),
            Sampler::TruncatedNormal(stddev) => rng.truncated_normal(0.0, stddev),
        };
    }
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
