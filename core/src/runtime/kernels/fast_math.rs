//! Branch-free `exp`, `tanh` and `sigmoid` over slices, which the compiler vectorises: the
//! recurrent cells apply five of them per unit and step, and libm's scalar calls were most of
//! an LSTM's time. Cephes' single-precision polynomials, accurate to about 2 ulp (far inside
//! the 1e-5 of Keras parity).

// Cephes' coefficients, as published.
#![allow(clippy::excessive_precision)]

use crate::shape::Activation;

use super::activations::scalar;

const LOG2E: f32 = std::f32::consts::LOG2_E;
// ln 2 split in two so that `n · ln 2` is exact in its high part (Cephes' C1, C2).
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
// 1.5 · 2^23: adding and subtracting it rounds to the nearest integer in f32.
const ROUND: f32 = 12_582_912.0;
const TWO_23: f32 = 8_388_608.0;

/// `e^x`, saturating to 0 below -87 and to `e^88` above 88; NaN stays NaN.
#[inline(always)]
#[allow(clippy::manual_clamp)] // `clamp` kept the loop scalar; see below.
pub(crate) fn exp(x: f32) -> f32 {
    let nan = x.is_nan();
    // `max`/`min` rather than `clamp`, and the power of two built with integer bit
    // operations rather than `as i32`: both keep the loop vectorisable.
    let x = x.max(-87.0).min(88.0);
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 5.000_000_1e-1;
    let e = p * r * r + r + 1.0;
    // n lies in [-126, 127] after the clamp: a normal power of two. For v in [2^23, 2^24)
    // the bits of v are those of 2^23 plus v - 2^23, which gives n + 127 as an integer.
    let biased = (n + (127.0 + TWO_23)).to_bits() - TWO_23.to_bits();
    let scale = f32::from_bits(biased << 23);
    if nan {
        f32::NAN
    } else {
        e * scale
    }
}

/// `tanh(x)`: an odd polynomial below 0.625, `1 - 2 / (e^2x + 1)` above.
#[inline(always)]
pub(crate) fn tanh(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let small =
        ((((-5.704_988_7e-3 * z + 2.063_908_9e-2) * z - 5.373_971_6e-2) * z + 1.333_144_2e-1) * z
            - 3.333_328_2e-1)
            * z
            * x
            + x;
    let large = 1.0 - 2.0 / (exp(2.0 * a) + 1.0);
    if a < 0.625 {
        small
    } else {
        large.copysign(x)
    }
}

/// `1 / (1 + e^-x)`.
#[inline(always)]
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// `dst[i] = act(src[i])`, vectorised for `tanh` and `sigmoid` (with AVX-512 where the CPU
/// has it, as the matrix product does), `scalar` for the others.
pub(crate) fn apply(act: Activation, src: &[f32], dst: &mut [f32]) {
    match act {
        Activation::Tanh | Activation::Sigmoid => {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F, checked just above.
                unsafe { apply_avx512(act, src, dst) };
                return;
            }
            apply_generic(act, src, dst);
        }
        _ => dst
            .iter_mut()
            .zip(src)
            .for_each(|(d, &s)| *d = scalar(act, s)),
    }
}

#[inline(always)]
fn apply_generic(act: Activation, src: &[f32], dst: &mut [f32]) {
    if act == Activation::Tanh {
        dst.iter_mut().zip(src).for_each(|(d, &s)| *d = tanh(s));
    } else {
        dst.iter_mut().zip(src).for_each(|(d, &s)| *d = sigmoid(s));
    }
}

/// [`apply_generic`] compiled for AVX-512: 16 lanes per instruction.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn apply_avx512(act: Activation, src: &[f32], dst: &mut [f32]) {
    apply_generic(act, src, dst);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_to_libm_over_the_range() {
        let mut worst = [0.0f64; 3];
        for i in -200_000..=200_000 {
            let x = i as f32 * 1e-4; // [-20, 20]
            let pairs = [
                (exp(x) as f64, (x as f64).exp()),
                (tanh(x) as f64, (x as f64).tanh()),
                (sigmoid(x) as f64, 1.0 / (1.0 + (-x as f64).exp())),
            ];
            for (w, (got, want)) in worst.iter_mut().zip(pairs) {
                let rel = (got - want).abs() / want.abs().max(1e-30);
                // Relative for exp and sigmoid; tanh near 0 is checked absolutely too.
                *w = w.max(rel.min((got - want).abs() * 1e3));
            }
        }
        assert!(worst[0] < 5e-7, "exp {}", worst[0]);
        assert!(worst[1] < 5e-7, "tanh {}", worst[1]);
        assert!(worst[2] < 5e-7, "sigmoid {}", worst[2]);
    }

    #[test]
    fn saturates_and_keeps_nan() {
        assert_eq!(tanh(50.0), 1.0);
        assert_eq!(tanh(-50.0), -1.0);
        assert!(sigmoid(-200.0) < 1e-37);
        assert_eq!(sigmoid(200.0), 1.0);
        assert!(exp(1000.0).is_finite());
        assert!(exp(f32::NAN).is_nan());
        assert!(tanh(f32::NAN).is_nan());
        assert_eq!(tanh(0.0), 0.0);
        assert!((exp(1.0) - std::f32::consts::E).abs() < 1e-6);
    }
}
