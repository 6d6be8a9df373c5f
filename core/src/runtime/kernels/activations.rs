//! Activation functions, forward and backward, on 2-D `(rows, features)` arrays.
//!
//! Formulas are Keras'. Forward works in place; backward turns the gradient with respect to the
//! output into the gradient with respect to the pre-activation, from whichever of the
//! pre-activation `z` and the output `a` the function needs.

use ndarray::{ArrayView1, ArrayView2, ArrayViewMut, ArrayViewMut1, ArrayViewMut2, Axis, Zip};

use crate::shape::Activation;

/// SELU's constants (Klambauer et al.), as Keras uses them.
const SELU_ALPHA: f32 = 1.673_263_2;
const SELU_SCALE: f32 = 1.050_701;
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// The error function, accurate to about 1e-15 (a Maclaurin series near zero, the continued
/// fraction of `erfc` further out).
pub fn erf(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let ax = x.abs();
    let r = if ax < 2.5 {
        // erf(x) = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)); terms shrink quickly here.
        let x2 = ax * ax;
        let mut term = ax;
        let mut sum = ax;
        let mut n = 0.0;
        while term.abs() > 1e-17 * sum.abs() {
            n += 1.0;
            term *= -x2 / n;
            sum += term / (2.0 * n + 1.0);
        }
        sum * std::f64::consts::FRAC_2_SQRT_PI
    } else if ax < 6.0 {
        // erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated
        // from the tail; 80 levels converge to double precision for x >= 2.5.
        let mut t = ax;
        for k in (1..=80).rev() {
            t = ax + (k as f64 / 2.0) / t;
        }
        1.0 - (-ax * ax).exp() / (std::f64::consts::PI.sqrt() * t)
    } else {
        1.0
    };
    r.copysign(x)
}

fn sigmoid(x: f32) -> f32 {
    // Split by sign so exp never overflows.
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `max(x, 0)` with NaN kept, as IEEE `maximum` and Keras do (`f32::max` would return 0 for a
/// NaN and hide it). Written as a comparison with 0 first, which is x86's `maxps(0, x)`: one
/// instruction, the same as `f32::max`'s vectorised form.
#[inline(always)]
pub(crate) fn relu(x: f32) -> f32 {
    if x < 0.0 {
        0.0
    } else {
        x
    }
}

fn softplus(x: f32) -> f32 {
    // log(1 + e^x) = max(x, 0) + log(1 + e^-|x|), stable for large |x|.
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

fn gelu(x: f32) -> f32 {
    let x = x as f64;
    (0.5 * x * (1.0 + erf(x * std::f64::consts::FRAC_1_SQRT_2))) as f32
}

/// Whether backward needs the pre-activation `z`; the others work from the output alone, so a
/// layer can skip keeping `z`.
pub fn needs_pre_activation(act: Activation) -> bool {
    matches!(
        act,
        Activation::Gelu | Activation::Softplus | Activation::Swish
    )
}

// Runs `$body` with `$a` a constant equal to `$act`: with `scalar` and `scalar_derivative`
// inlined, each arm's loop is compiled for one activation, without a match per element (relu
// becomes a vectorised max; it was a call per element, ~5 % of W2's step).
macro_rules! specialise {
    ($act:expr, $a:ident => $body:expr) => {
        match $act {
            Activation::Linear => specialise!(@arm Linear, $a, $body),
            Activation::Relu => specialise!(@arm Relu, $a, $body),
            Activation::Sigmoid => specialise!(@arm Sigmoid, $a, $body),
            Activation::Tanh => specialise!(@arm Tanh, $a, $body),
            Activation::Softmax => specialise!(@arm Softmax, $a, $body),
            Activation::Gelu => specialise!(@arm Gelu, $a, $body),
            Activation::Elu => specialise!(@arm Elu, $a, $body),
            Activation::Selu => specialise!(@arm Selu, $a, $body),
            Activation::Softplus => specialise!(@arm Softplus, $a, $body),
            Activation::Swish => specialise!(@arm Swish, $a, $body),
        }
    };
    (@arm $variant:ident, $a:ident, $body:expr) => {{
        const $a: Activation = Activation::$variant;
        $body
    }};
}

/// Applies an element-wise activation (any but softmax, which is the identity here) to every
/// element of `x`.
pub(crate) fn map_elementwise<D: ndarray::Dimension>(
    act: Activation,
    mut x: ArrayViewMut<'_, f32, D>,
) {
    specialise!(act, A => x.map_inplace(|v| *v = scalar(A, *v)))
}

/// `x = act(x + bias)` (the bias broadcast over the rows, if any) in one pass, writing
/// `x + bias` into `z` first when given (the pre-activation some derivatives need).
pub(crate) fn bias_and_activate(
    act: Activation,
    mut x: ArrayViewMut2<'_, f32>,
    bias: Option<ArrayView1<'_, f32>>,
    z: Option<ArrayViewMut2<'_, f32>>,
) {
    // The layer keeps one bias entry per unit (checked when weights are set or loaded).
    let bias = bias
        .as_ref()
        .map(|b| b.broadcast(x.raw_dim()).expect("one bias entry per column"));
    if act == Activation::Softmax {
        if let Some(b) = &bias {
            x += b;
        }
        if let Some(mut z) = z {
            z.assign(&x);
        }
        for row in x.rows_mut() {
            softmax_row(row);
        }
        return;
    }
    specialise!(act, A => match (bias, z) {
        (Some(b), Some(mut z)) => Zip::from(&mut x).and(&mut z).and(&b).for_each(|v, z, &b| {
            *z = *v + b;
            *v = scalar(A, *z);
        }),
        (Some(b), None) => Zip::from(&mut x).and(&b).for_each(|v, &b| *v = scalar(A, *v + b)),
        (None, Some(mut z)) => Zip::from(&mut x).and(&mut z).for_each(|v, z| {
            *z = *v;
            *v = scalar(A, *v);
        }),
        (None, None) => x.map_inplace(|v| *v = scalar(A, *v)),
    })
}

/// The activation of one element, for the element-wise functions (all but softmax).
#[inline(always)]
pub(crate) fn scalar(act: Activation, x: f32) -> f32 {
    match act {
        Activation::Linear | Activation::Softmax => x,
        Activation::Relu => relu(x),
        Activation::Sigmoid => sigmoid(x),
        Activation::Tanh => x.tanh(),
        Activation::Gelu => gelu(x),
        Activation::Elu => {
            if x > 0.0 {
                x
            } else {
                x.exp_m1()
            }
        }
        Activation::Selu => {
            if x > 0.0 {
                SELU_SCALE * x
            } else {
                SELU_SCALE * SELU_ALPHA * x.exp_m1()
            }
        }
        Activation::Softplus => softplus(x),
        Activation::Swish => x * sigmoid(x),
    }
}

// d a / d z of one element, from z and a = f(z).
#[inline(always)]
pub(crate) fn scalar_derivative(act: Activation, z: f32, a: f32) -> f32 {
    match act {
        Activation::Linear | Activation::Softmax => 1.0,
        Activation::Relu => {
            if a > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        Activation::Sigmoid => a * (1.0 - a),
        Activation::Tanh => 1.0 - a * a,
        Activation::Gelu => {
            let z = z as f64;
            let cdf = 0.5 * (1.0 + erf(z * std::f64::consts::FRAC_1_SQRT_2));
            let pdf = FRAC_1_SQRT_2PI * (-0.5 * z * z).exp();
            (cdf + z * pdf) as f32
        }
        // For z <= 0, a = e^z - 1, so the derivative e^z is a + 1.
        Activation::Elu => {
            if a > 0.0 {
                1.0
            } else {
                a + 1.0
            }
        }
        // TensorFlow's `SeluGrad` (Keras' backend): `scale` unless the output is negative, so
        // `scale` at exactly 0 (JAX's `where(x > 0, ..)` would give `scale · alpha` there).
        // A NaN output takes the second arm and stays NaN.
        Activation::Selu => {
            if a >= 0.0 {
                SELU_SCALE
            } else {
                a + SELU_SCALE * SELU_ALPHA
            }
        }
        Activation::Softplus => sigmoid(z),
        Activation::Swish => {
            let s = sigmoid(z);
            s * (1.0 + z * (1.0 - s))
        }
    }
}

/// Softmax of one row, in place (shifted by the row's maximum so exp cannot overflow).
pub(crate) fn softmax_row(mut row: ArrayViewMut1<'_, f32>) {
    let max = row.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let shift = if max.is_finite() { max } else { 0.0 };
    let mut sum = 0.0f32;
    row.map_inplace(|v| {
        *v = (*v - shift).exp();
        sum += *v;
    });
    let inv = 1.0 / sum;
    row.map_inplace(|v| *v *= inv);
}

/// Applies `act` in place to `x` (`(rows, features)`; softmax acts on each row).
pub fn forward(act: Activation, mut x: ArrayViewMut2<'_, f32>) {
    match act {
        Activation::Linear => {}
        Activation::Softmax => {
            for row in x.rows_mut() {
                softmax_row(row);
            }
        }
        _ => map_elementwise(act, x),
    }
}

/// Backward: writes into `grad_z` the gradient with respect to the pre-activation `z`, given
/// the output `a = act(z)` and `grad_a`, the gradient with respect to `a`. All four arrays have
/// the same shape; `z` is read only by the functions of [`needs_pre_activation`] (others may
/// pass any array of the right shape, e.g. `a` again).
pub fn backward(
    act: Activation,
    z: ArrayView2<'_, f32>,
    a: ArrayView2<'_, f32>,
    grad_a: ArrayView2<'_, f32>,
    mut grad_z: ArrayViewMut2<'_, f32>,
) {
    match act {
        Activation::Linear => grad_z.assign(&grad_a),
        Activation::Softmax => {
            // dz = a * (g - <g, a>) per row: the softmax Jacobian applied to g.
            for ((a_row, g_row), dz_row) in a
                .axis_iter(Axis(0))
                .zip(grad_a.axis_iter(Axis(0)))
                .zip(grad_z.axis_iter_mut(Axis(0)))
            {
                softmax_row_backward(a_row, g_row, dz_row);
            }
        }
        _ => specialise!(act, A => Zip::from(&mut grad_z)
            .and(&z)
            .and(&a)
            .and(&grad_a)
            .for_each(|dz, &z, &a, &g| *dz = g * scalar_derivative(A, z, a))),
    }
}

fn softmax_row_backward(
    a: ArrayView1<'_, f32>,
    g: ArrayView1<'_, f32>,
    mut dz: ArrayViewMut1<'_, f32>,
) {
    let dot: f32 = a.iter().zip(g.iter()).map(|(a, g)| a * g).sum();
    Zip::from(&mut dz)
        .and(&a)
        .and(&g)
        .for_each(|d, &a, &g| *d = a * (g - dot));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::ACTIVATIONS;
    use ndarray::{array, Array2};

    #[test]
    fn erf_matches_reference_values() {
        // Reference values of erf to 16 digits.
        for (x, want) in [
            (0.0, 0.0),
            (0.1, 0.112_462_916_018_284_9),
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.0, 0.995_322_265_018_952_7),
            (2.5, 0.999_593_047_982_555),
            (3.0, 0.999_977_909_503_001_4),
            (4.0, 0.999_999_984_582_742_1),
            (-1.5, -0.966_105_146_475_310_7),
        ] {
            let got = erf(x);
            assert!((got - want).abs() < 1e-12, "erf({x}) = {got}, want {want}");
        }
        assert_eq!(erf(10.0), 1.0);
        assert_eq!(erf(-10.0), -1.0);
    }

    #[test]
    fn backward_matches_finite_differences() {
        let z: Array2<f32> = array![
            [-2.3, -0.7, -0.1, 0.2, 0.9, 1.7],
            [3.1, -4.0, 0.45, -1.2, 2.2, 0.05]
        ];
        // An upstream gradient that weights each output differently, so softmax's coupling shows.
        let g: Array2<f32> = array![
            [0.3, -1.1, 0.7, 0.25, -0.4, 0.9],
            [-0.6, 0.2, 1.3, -0.8, 0.5, 0.1]
        ];
        for (act, name) in ACTIVATIONS {
            let mut a = z.clone();
            forward(act, a.view_mut());
            let mut dz = Array2::zeros(z.dim());
            backward(act, z.view(), a.view(), g.view(), dz.view_mut());
            // Central differences of L = sum(g * act(z)), in f64 through the f32 functions.
            let h = 1e-2f32;
            for i in 0..z.nrows() {
                for j in 0..z.ncols() {
                    let loss = |delta: f32| -> f64 {
                        let mut zz = z.clone();
                        zz[[i, j]] += delta;
                        forward(act, zz.view_mut());
                        zz.iter().zip(g.iter()).map(|(a, g)| (*a * *g) as f64).sum()
                    };
                    let fd = (loss(h) - loss(-h)) / (2.0 * h as f64);
                    let an = dz[[i, j]] as f64;
                    assert!(
                        (fd - an).abs() < 2e-3 * (1.0 + an.abs()),
                        "{name} at ({i},{j}): analytic {an}, numeric {fd}"
                    );
                }
            }
        }
    }

    #[test]
    fn forward_known_values() {
        let mut x = array![[0.0f32, 1.0, -1.0]];
        forward(Activation::Softmax, x.view_mut());
        assert!((x.sum() - 1.0).abs() < 1e-6);
        assert!((x[[0, 1]] - 0.665_240_94).abs() < 1e-6);
        assert_eq!(scalar(Activation::Relu, -3.0), 0.0);
        assert_eq!(scalar(Activation::Relu, 2.5), 2.5);
        assert!((scalar(Activation::Gelu, 1.0) - 0.841_344_7).abs() < 1e-6);
        assert!((scalar(Activation::Softplus, 100.0) - 100.0).abs() < 1e-4);
        assert!((scalar(Activation::Sigmoid, -100.0)).abs() < 1e-30);
        assert!((scalar(Activation::Selu, -1.0) - (-1.111_330_7)).abs() < 1e-6);
        // A softmax row with huge logits stays finite.
        let mut x = array![[1000.0f32, 999.0]];
        forward(Activation::Softmax, x.view_mut());
        assert!(x.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn kinks_take_tensorflows_side() {
        // At exactly 0, TensorFlow's gradient kernels (relu_op_functor.h) give: ReluGrad 0
        // (`features > 0`), EluGrad 1 and SeluGrad `scale` (both `activations < 0` for the
        // exponential side).
        let z = array![[0.0f32, -0.0]];
        let g = array![[1.0f32, 1.0]];
        for (act, want) in [
            (Activation::Relu, 0.0),
            (Activation::Elu, 1.0),
            (Activation::Selu, SELU_SCALE),
        ] {
            let mut a = z.clone();
            forward(act, a.view_mut());
            let mut dz = Array2::zeros(z.dim());
            backward(act, z.view(), a.view(), g.view(), dz.view_mut());
            for &d in dz.iter() {
                assert_eq!(d, want, "{act:?} at 0");
            }
            assert_eq!(
                scalar_derivative(act, 0.0, scalar(act, 0.0)),
                want,
                "{act:?}"
            );
        }
        // Either side of 0, the two branches.
        assert_eq!(
            scalar_derivative(Activation::Selu, 1e-6, scalar(Activation::Selu, 1e-6)),
            SELU_SCALE
        );
        let below = scalar_derivative(Activation::Selu, -1e-6, scalar(Activation::Selu, -1e-6));
        assert!((below - SELU_SCALE * SELU_ALPHA).abs() < 1e-5, "{below}");
    }

    #[test]
    fn every_activation_propagates_nan() {
        // IEEE and Keras: a NaN input gives a NaN output, forward, fused with a bias, and
        // through the gradient (whose upstream value is NaN once the loss is).
        for (act, name) in ACTIVATIONS {
            let mut x = array![[f32::NAN, 1.0, -1.0]];
            forward(act, x.view_mut());
            assert!(x[[0, 0]].is_nan(), "{name} forward gave {}", x[[0, 0]]);
            let mut y = array![[f32::NAN, 0.5], [2.0, -3.0]];
            let bias = array![0.25f32, -0.5];
            let mut z = Array2::zeros(y.dim());
            bias_and_activate(act, y.view_mut(), Some(bias.view()), Some(z.view_mut()));
            assert!(y[[0, 0]].is_nan(), "{name} fused gave {}", y[[0, 0]]);
            assert!(z[[0, 0]].is_nan());
            let mut dz = Array2::zeros(y.dim());
            let g = array![[f32::NAN, 1.0], [1.0, 1.0]];
            backward(act, z.view(), y.view(), g.view(), dz.view_mut());
            assert!(dz[[0, 0]].is_nan(), "{name} backward gave {}", dz[[0, 0]]);
        }
        assert!(relu(f32::NAN).is_nan());
        assert_eq!(relu(f32::NEG_INFINITY), 0.0);
        assert_eq!(relu(f32::INFINITY), f32::INFINITY);
    }
}
