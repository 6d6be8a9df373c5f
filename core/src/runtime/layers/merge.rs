//! Keras' merge layers on `(rows, features)` arrays: `concatenate` (along the features, the
//! last axis), `add`, `subtract`, `multiply`, `average`, `maximum`, `minimum` and `dot`.
//!
//! Formulas (`x_i` the inputs, `g` the gradient of the loss with respect to the output):
//! - concatenate: `[x_0 | x_1 | ...]`; the gradient is `g` split by columns.
//! - add: `Σ x_i`, gradient `g`; subtract: `x_0 - x_1`, gradients `g` and `-g`;
//!   average: `Σ x_i / n`, gradient `g / n`.
//! - multiply: `Π x_i`; the gradient of `x_i` is `g · Π_{j≠i} x_j` (computed without division,
//!   so zeros are fine).
//! - maximum / minimum: the gradient goes to the input holding the extreme value; on a tie, to
//!   the first such input. This is TensorFlow's gradient for Keras' chain
//!   `maximum(maximum(x_0, x_1), x_2)`: `tf.maximum`'s gradient sends a tie to its first operand
//!   (`greater_equal`, `less_equal` for `minimum`). JAX would split a tie instead.
//! - dot: `out[r] = x_0[r] · x_1[r]`, shape `(rows, 1)`. With `normalize`, each row is first
//!   L2-normalised as Keras' `ops.normalize` does: `x · min(1 / sqrt(Σ x²), 1 / ε)`, ε = 1e-7,
//!   so the output is the cosine similarity; the gradient goes through the normalisation
//!   (`(dy - y (y · dy)) / ‖x‖`, or `dy / ε` where the clip is active).
//!
//! # Shapes
//! Every input is `(rows, features)` with the same `rows`; element-wise merges need equal
//! shapes (what [`merge_output`](crate::shape::merge_output) guarantees for known dims),
//! concatenate sums the features, dot gives `(rows, 1)`.
//!
//! ```
//! use ndarray::array;
//! use stratic_core::shape::{MergeConfig, MergeOp};
//! use stratic_core::{Merge, MergeLayer};
//!
//! let cat = Merge::new(MergeConfig::new(MergeOp::Concatenate), 2);
//! let (a, b) = (array![[1.0f32, 2.0]], array![[3.0f32]]);
//! assert_eq!(cat.call(&[a.view(), b.view()]), array![[1.0f32, 2.0, 3.0]]);
//! let dot = Merge::new(MergeConfig::new(MergeOp::Dot), 2);
//! assert_eq!(dot.call(&[a.view(), array![[3.0f32, 4.0]].view()]), array![[11.0f32]]);
//! ```

use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewMut2, Axis, Zip};

use super::ensure_shape;
use crate::onnx::{Attr, LayerExport};
use crate::runtime::{BuildLayer, Error, MergeLayer, Rng};
use crate::shape::{Config, LayerSpec, MergeConfig, MergeOp, TensorSpec};

/// Keras' `epsilon()`, the floor of a norm in `ops.normalize`.
const NORM_EPSILON: f32 = 1e-7;

/// A merge layer; it has no weights.
#[derive(Clone, Debug)]
pub struct Merge {
    config: MergeConfig,
    n_inputs: usize,
    out: Array2<f32>,
    /// The gradient with respect to each input, from the last `backward`.
    grads: Vec<Array2<f32>>,
    /// `dot` with `normalize`: per row and input, the inverse norm and whether the `1 / ε`
    /// clip was active, kept from `forward_train` for `backward`.
    norms: DotNorms,
    /// `maximum` / `minimum`: the part of the output gradient not yet assigned to an input.
    scratch: Array2<f32>,
    /// What `grad_input` returns for an index past the inputs.
    empty: Array2<f32>,
}

#[derive(Clone, Debug, Default)]
struct DotNorms {
    inv: [Array1<f32>; 2],
    clipped: [Vec<bool>; 2],
}

impl DotNorms {
    // Sizes the buffers for `rows` rows; `Vec::resize` keeps its capacity, so a steady batch
    // size allocates nothing.
    fn fill(&mut self, xs: [ArrayView2<'_, f32>; 2]) {
        for (k, x) in xs.iter().enumerate() {
            let rows = x.nrows();
            if self.inv[k].len() != rows {
                self.inv[k] = Array1::zeros(rows);
            }
            self.clipped[k].resize(rows, false);
            for (r, row) in x.rows().into_iter().enumerate() {
                let sq: f32 = row.iter().map(|v| v * v).sum();
                let inv = 1.0 / sq.sqrt();
                // `min(rsqrt, 1/ε)`: TensorFlow's `minimum` sends the gradient to rsqrt on a
                // tie, so the clip counts as active only strictly above (a zero row has an
                // infinite rsqrt). A NaN row stays NaN, as in Keras.
                let clipped = inv > 1.0 / NORM_EPSILON;
                self.clipped[k][r] = clipped;
                self.inv[k][r] = if clipped { 1.0 / NORM_EPSILON } else { inv };
            }
        }
    }
}

impl BuildLayer for Merge {
    fn from_config(
        spec: &'static LayerSpec,
        config: &Config,
        inputs: &[TensorSpec],
        _: &mut Rng,
    ) -> Self {
        let op = MergeOp::from_name(spec.name).unwrap_or(MergeOp::Concatenate);
        Merge::new(MergeConfig::from_config(op, config), inputs.len())
    }
}

impl Merge {
    /// The merge `config` for `n_inputs` inputs (the count [`merge_output`] checked).
    ///
    /// [`merge_output`]: crate::shape::merge_output
    pub fn new(config: MergeConfig, n_inputs: usize) -> Merge {
        Merge {
            config,
            n_inputs,
            out: Array2::zeros((0, 0)),
            grads: (0..n_inputs).map(|_| Array2::zeros((0, 0))).collect(),
            norms: DotNorms::default(),
            scratch: Array2::zeros((0, 0)),
            empty: Array2::zeros((0, 0)),
        }
    }

    /// The configuration the layer was built from.
    pub fn config(&self) -> &MergeConfig {
        &self.config
    }

    /// The number of inputs.
    pub fn n_inputs(&self) -> usize {
        self.n_inputs
    }

    /// Checks that `xs` can be merged: the declared number of inputs, the same number of rows,
    /// and equal feature counts for element-wise merges and `dot`. The shape rule guarantees
    /// this for known dims; inputs whose dims are `None` (only known at run time) are checked
    /// here, and the other methods assume it holds.
    ///
    /// # Errors
    /// [`Error::MergeShape`] naming `layer` and every input's shape.
    pub fn check_inputs(&self, layer: &str, xs: &[ArrayView2<'_, f32>]) -> Result<(), Error> {
        let shapes: Vec<[usize; 2]> = xs.iter().map(|x| [x.nrows(), x.ncols()]).collect();
        let fail = |what: String| {
            Err(Error::MergeShape {
                layer: layer.to_string(),
                shapes: shapes.clone(),
                message: what,
            })
        };
        if xs.len() != self.n_inputs {
            return fail(format!(
                "expected {} inputs, received {}",
                self.n_inputs,
                xs.len()
            ));
        }
        let Some(first) = shapes.first() else {
            return Ok(());
        };
        if shapes.iter().any(|s| s[0] != first[0]) {
            return fail("every input must hold the same number of samples".into());
        }
        if self.config.op != MergeOp::Concatenate && shapes.iter().any(|s| s[1] != first[1]) {
            return fail(format!(
                "`{}` needs inputs of equal shapes",
                self.config.op.name()
            ));
        }
        Ok(())
    }

    fn out_cols(&self, xs: &[ArrayView2<'_, f32>]) -> usize {
        match self.config.op {
            MergeOp::Concatenate => xs.iter().map(|x| x.ncols()).sum(),
            MergeOp::Dot => 1,
            _ => xs.first().map_or(0, |x| x.ncols()),
        }
    }
}

// The forward pass into `out` (already `(rows, out_cols)`); `norms` is filled for a
// normalising `dot`.
fn forward_into(
    config: &MergeConfig,
    xs: &[ArrayView2<'_, f32>],
    mut out: ArrayViewMut2<'_, f32>,
    norms: &mut DotNorms,
) {
    let Some((first, rest)) = xs.split_first() else {
        out.fill(0.0);
        return;
    };
    match config.op {
        MergeOp::Concatenate => {
            let mut off = 0;
            for x in xs {
                let c = x.ncols();
                out.slice_mut(s![.., off..off + c]).assign(x);
                off += c;
            }
        }
        MergeOp::Add | MergeOp::Average => {
            out.assign(first);
            for x in rest {
                out += x;
            }
            if config.op == MergeOp::Average {
                // Keras divides the sum (rather than multiplying by 1/n).
                let n = xs.len() as f32;
                out.map_inplace(|v| *v /= n);
            }
        }
        MergeOp::Subtract => {
            out.assign(first);
            for x in rest {
                out -= x;
            }
        }
        MergeOp::Multiply => {
            out.assign(first);
            for x in rest {
                out *= x;
            }
        }
        // Strict comparisons keep the first of equal values, matching the gradient below.
        MergeOp::Maximum => {
            out.assign(first);
            for x in rest {
                Zip::from(&mut out)
                    .and(x)
                    .for_each(|o, &v| *o = if v > *o { v } else { *o });
            }
        }
        MergeOp::Minimum => {
            out.assign(first);
            for x in rest {
                Zip::from(&mut out)
                    .and(x)
                    .for_each(|o, &v| *o = if v < *o { v } else { *o });
            }
        }
        MergeOp::Dot => {
            let Some(b) = rest.first() else {
                out.fill(0.0);
                return;
            };
            if config.normalize {
                norms.fill([*first, *b]);
            }
            for (r, (ra, rb)) in first.rows().into_iter().zip(b.rows()).enumerate() {
                let mut d: f32 = ra.iter().zip(rb.iter()).map(|(p, q)| p * q).sum();
                if config.normalize {
                    d *= norms.inv[0][r] * norms.inv[1][r];
                }
                out[[r, 0]] = d;
            }
        }
    }
}

impl MergeLayer for Merge {
    /// `Sum`, `Sub`, `Mul`, `Mean`, `Max`, `Min` or `Concat`; `dot` as the sum of the
    /// product over the last axis (each input first divided by its norm, floored at Keras'
    /// epsilon, with `normalize`).
    fn export_onnx(&self, cx: &mut LayerExport<'_>) -> Result<(), Error> {
        let xs: Vec<String> = cx.inputs().to_vec();
        let refs: Vec<&str> = xs.iter().map(String::as_str).collect();
        let out = cx.output().to_string();
        match self.config.op {
            MergeOp::Add => cx.node("Sum", &refs, &[&out], vec![]),
            MergeOp::Average => cx.node("Mean", &refs, &[&out], vec![]),
            MergeOp::Maximum => cx.node("Max", &refs, &[&out], vec![]),
            MergeOp::Minimum => cx.node("Min", &refs, &[&out], vec![]),
            MergeOp::Subtract => cx.node("Sub", &refs, &[&out], vec![]),
            MergeOp::Concatenate => {
                cx.node(
                    "Concat",
                    &refs,
                    &[&out],
                    vec![Attr::int("axis", self.config.axis)],
                );
            }
            MergeOp::Multiply => {
                // `Mul` is binary: a chain, left to right as the runtime multiplies.
                let mut acc = refs.first().map(|s| s.to_string()).unwrap_or_default();
                for (k, x) in refs.iter().enumerate().skip(1) {
                    let next = if k + 1 == refs.len() {
                        out.clone()
                    } else {
                        cx.tmp("product")
                    };
                    cx.node("Mul", &[&acc, x], &[&next], vec![]);
                    acc = next;
                }
            }
            MergeOp::Dot => {
                if cx.input_spec(0).is_some_and(|s| s.ndim() != 2) {
                    return Err(cx.unsupported("`dot` is exported for inputs of rank 2 only"));
                }
                let axes = cx.ints("axes", &[-1]);
                let mut sides = Vec::new();
                for x in &refs {
                    if self.config.normalize {
                        let (sq, norm, floored, unit) = (
                            cx.tmp("sum_squares"),
                            cx.tmp("norm"),
                            cx.tmp("norm_floored"),
                            cx.tmp("normalized"),
                        );
                        let eps = cx.scalar("epsilon", NORM_EPSILON);
                        cx.node(
                            "ReduceSumSquare",
                            &[x, &axes],
                            &[&sq],
                            vec![Attr::int("keepdims", 1)],
                        );
                        cx.node("Sqrt", &[&sq], &[&norm], vec![]);
                        cx.node("Max", &[&norm, &eps], &[&floored], vec![]);
                        cx.node("Div", &[x, &floored], &[&unit], vec![]);
                        sides.push(unit);
                    } else {
                        sides.push(x.to_string());
                    }
                }
                let (Some(a), Some(b)) = (sides.first(), sides.get(1)) else {
                    return Err(cx.unsupported("`dot` needs two inputs"));
                };
                let product = cx.tmp("product");
                cx.node("Mul", &[a, b], &[&product], vec![]);
                cx.node(
                    "ReduceSum",
                    &[&product, &axes],
                    &[&out],
                    vec![Attr::int("keepdims", 1)],
                );
            }
        }
        Ok(())
    }

    fn call(&self, xs: &[ArrayView2<'_, f32>]) -> Array2<f32> {
        let rows = xs.first().map_or(0, |x| x.nrows());
        let mut out = Array2::zeros((rows, self.out_cols(xs)));
        let mut norms = DotNorms::default();
        forward_into(&self.config, xs, out.view_mut(), &mut norms);
        out
    }

    fn forward_train(&mut self, xs: &[ArrayView2<'_, f32>]) {
        let rows = xs.first().map_or(0, |x| x.nrows());
        let cols = self.out_cols(xs);
        ensure_shape(&mut self.out, rows, cols);
        forward_into(&self.config, xs, self.out.view_mut(), &mut self.norms);
    }

    fn output(&self) -> ArrayView2<'_, f32> {
        self.out.view()
    }

    fn backward(&mut self, xs: &[ArrayView2<'_, f32>], grad_output: ArrayView2<'_, f32>) {
        let n = xs.len().min(self.grads.len());
        for (grad, x) in self.grads.iter_mut().zip(xs) {
            ensure_shape(grad, x.nrows(), x.ncols());
        }
        let grads = &mut self.grads[..n];
        let xs = &xs[..n];
        let g = grad_output;
        match self.config.op {
            MergeOp::Concatenate => {
                let mut off = 0;
                for (grad, x) in grads.iter_mut().zip(xs) {
                    let c = x.ncols();
                    grad.assign(&g.slice(s![.., off..off + c]));
                    off += c;
                }
            }
            MergeOp::Add => grads.iter_mut().for_each(|d| d.assign(&g)),
            MergeOp::Average => {
                let n = n as f32;
                for d in grads.iter_mut() {
                    Zip::from(d).and(&g).for_each(|d, &g| *d = g / n);
                }
            }
            MergeOp::Subtract => {
                for (i, d) in grads.iter_mut().enumerate() {
                    let sign = if i == 0 { 1.0 } else { -1.0 };
                    Zip::from(d).and(&g).for_each(|d, &g| *d = sign * g);
                }
            }
            MergeOp::Multiply => {
                // O(n²) products per element, without dividing by x_i: n is a handful.
                for (i, d) in grads.iter_mut().enumerate() {
                    d.assign(&g);
                    for (j, x) in xs.iter().enumerate() {
                        if j != i {
                            *d *= x;
                        }
                    }
                }
            }
            MergeOp::Maximum | MergeOp::Minimum => {
                // The output holds a copy of the first input with the extreme value (the
                // forward pass replaces only on a strict comparison), so each element's
                // gradient goes to the first input equal to it: `left` is what is not yet
                // given away, in input order.
                ensure_shape(&mut self.scratch, g.nrows(), g.ncols());
                self.scratch.assign(&g);
                for (d, x) in grads.iter_mut().zip(xs) {
                    Zip::from(d)
                        .and(x)
                        .and(&self.out)
                        .and(&mut self.scratch)
                        .for_each(|d, &x, &o, left| {
                            // Selects rather than branches: which input wins is data, and
                            // mispredicted branches doubled the step's time.
                            let take = x == o;
                            *d = if take { *left } else { 0.0 };
                            *left = if take { 0.0 } else { *left };
                        });
                }
            }
            MergeOp::Dot => {
                if let ([da, db], [a, b]) = (grads, xs) {
                    dot_backward(&self.config, &self.norms, &self.out, [a, b], g, [da, db]);
                }
            }
        }
    }

    fn grad_input(&self, index: usize) -> ArrayView2<'_, f32> {
        self.grads.get(index).unwrap_or(&self.empty).view()
    }
}

// The gradient of `dot` with respect to both inputs. Without normalisation it is `g · x_1` and
// `g · x_0`. With it, y_k = x_k · inv_k and out = y_0 · y_1, so for input 0
// d = inv_0 · (g · y_1 - y_0 · (y_0 · g y_1)) = g · inv_0 · (y_1 - y_0 · out), and `g · y_1 / ε`
// where the clip is active (the factor is then a constant).
fn dot_backward(
    config: &MergeConfig,
    norms: &DotNorms,
    out: &Array2<f32>,
    xs: [&ArrayView2<'_, f32>; 2],
    g: ArrayView2<'_, f32>,
    grads: [&mut Array2<f32>; 2],
) {
    for (k, d) in grads.into_iter().enumerate() {
        let (this, other) = (xs[k], xs[1 - k]);
        for (r, mut row) in d.axis_iter_mut(Axis(0)).enumerate() {
            let gr = g[[r, 0]];
            if !config.normalize {
                Zip::from(&mut row)
                    .and(other.row(r))
                    .for_each(|d, &o| *d = gr * o);
                continue;
            }
            let (inv, inv_o) = (norms.inv[k][r], norms.inv[1 - k][r]);
            if norms.clipped[k][r] {
                Zip::from(&mut row)
                    .and(other.row(r))
                    .for_each(|d, &o| *d = gr * inv * o * inv_o);
            } else {
                let cos = out[[r, 0]];
                Zip::from(&mut row)
                    .and(this.row(r))
                    .and(other.row(r))
                    .for_each(|d, &t, &o| *d = gr * inv * (o * inv_o - t * inv * cos));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Rng;
    use ndarray::array;

    const ALL: [MergeOp; 8] = [
        MergeOp::Concatenate,
        MergeOp::Add,
        MergeOp::Subtract,
        MergeOp::Multiply,
        MergeOp::Average,
        MergeOp::Maximum,
        MergeOp::Minimum,
        MergeOp::Dot,
    ];

    fn random(rng: &mut Rng, rows: usize, cols: usize) -> Array2<f32> {
        Array2::from_shape_fn((rows, cols), |_| rng.uniform(-1.5, 1.5))
    }

    // loss = Σ out ⊙ w for a fixed random `w`, so dloss/dout = w.
    fn loss(m: &Merge, xs: &[Array2<f32>], w: &Array2<f32>) -> f64 {
        let views: Vec<_> = xs.iter().map(|x| x.view()).collect();
        let out = m.call(&views);
        out.iter().zip(w.iter()).map(|(a, b)| (a * b) as f64).sum()
    }

    fn check_gradients(config: MergeConfig, xs: Vec<Array2<f32>>, rng: &mut Rng) {
        let mut m = Merge::new(config, xs.len());
        let views: Vec<_> = xs.iter().map(|x| x.view()).collect();
        m.check_inputs("merge", &views).unwrap();
        m.forward_train(&views);
        assert_eq!(m.output(), m.call(&views), "{config:?}");
        let (rows, cols) = m.output().dim();
        let w = random(rng, rows, cols);
        m.backward(&views, w.view());
        let h = 1e-2f32;
        for (i, x) in xs.iter().enumerate() {
            assert_eq!(m.grad_input(i).dim(), x.dim());
            for r in 0..x.nrows() {
                for c in 0..x.ncols() {
                    let mut p = xs.clone();
                    p[i][[r, c]] += h;
                    let up = loss(&m, &p, &w);
                    p[i][[r, c]] -= 2.0 * h;
                    let down = loss(&m, &p, &w);
                    let fd = (up - down) / (2.0 * h as f64);
                    let an = m.grad_input(i)[[r, c]] as f64;
                    assert!(
                        (fd - an).abs() < 2e-3 * (1.0 + an.abs()),
                        "{config:?} input {i} [{r}, {c}]: finite difference {fd}, analytic {an}"
                    );
                }
            }
        }
    }

    // Maximum and minimum have a kink where two inputs are equal; a finite difference that
    // crosses it is meaningless, so the inputs are spread at least 0.4 apart per element
    // (in a random order, so every input wins somewhere).
    fn separate(xs: &mut [Array2<f32>], rng: &mut Rng) {
        let (rows, cols) = xs[0].dim();
        let mut order: Vec<usize> = (0..xs.len()).collect();
        for r in 0..rows {
            for c in 0..cols {
                rng.shuffle(&mut order);
                for (rank, &i) in order.iter().enumerate() {
                    xs[i][[r, c]] = rank as f32 * 0.5 + rng.uniform(-0.05, 0.05) - 0.5;
                }
            }
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = Rng::new(11);
        for op in ALL {
            let counts: &[usize] = match op {
                MergeOp::Subtract | MergeOp::Dot => &[2],
                _ => &[1, 2, 3],
            };
            for &n in counts {
                let mut xs: Vec<_> = (0..n)
                    .map(|i| {
                        let cols = if op == MergeOp::Concatenate { 2 + i } else { 4 };
                        random(&mut rng, 3, cols)
                    })
                    .collect();
                if matches!(op, MergeOp::Maximum | MergeOp::Minimum) {
                    separate(&mut xs, &mut rng);
                }
                check_gradients(MergeConfig::new(op), xs, &mut rng);
            }
        }
        let mut c = MergeConfig::new(MergeOp::Dot);
        c.normalize = true;
        let xs = vec![random(&mut rng, 3, 5), random(&mut rng, 3, 5)];
        check_gradients(c, xs, &mut rng);
    }

    #[test]
    fn forward_values() {
        let a = array![[1.0f32, -2.0], [3.0, 0.5]];
        let b = array![[4.0f32, 1.0], [-1.0, 0.5]];
        let c = array![[0.0f32, 5.0], [2.0, -3.0]];
        let xs = [a.view(), b.view(), c.view()];
        let run =
            |op, xs: &[ArrayView2<'_, f32>]| Merge::new(MergeConfig::new(op), xs.len()).call(xs);
        assert_eq!(run(MergeOp::Add, &xs), array![[5.0f32, 4.0], [4.0, -2.0]]);
        assert_eq!(
            run(MergeOp::Average, &xs),
            array![[5.0f32 / 3.0, 4.0 / 3.0], [4.0 / 3.0, -2.0 / 3.0]]
        );
        assert_eq!(
            run(MergeOp::Multiply, &xs),
            array![[0.0f32, -10.0], [-6.0, -0.75]]
        );
        assert_eq!(
            run(MergeOp::Maximum, &xs),
            array![[4.0f32, 5.0], [3.0, 0.5]]
        );
        assert_eq!(
            run(MergeOp::Minimum, &xs),
            array![[0.0f32, -2.0], [-1.0, -3.0]]
        );
        assert_eq!(
            run(MergeOp::Subtract, &xs[..2]),
            array![[-3.0f32, -3.0], [4.0, 0.0]]
        );
        assert_eq!(run(MergeOp::Dot, &xs[..2]), array![[2.0f32], [-2.75]]);
        assert_eq!(
            run(MergeOp::Concatenate, &xs[..2]),
            array![[1.0f32, -2.0, 4.0, 1.0], [3.0, 0.5, -1.0, 0.5]]
        );
    }

    #[test]
    fn normalized_dot_is_cosine_and_zero_rows_are_safe() {
        let mut c = MergeConfig::new(MergeOp::Dot);
        c.normalize = true;
        let mut m = Merge::new(c, 2);
        let a = array![[3.0f32, 4.0], [0.0, 0.0]];
        let b = array![[4.0f32, 3.0], [1.0, 2.0]];
        m.forward_train(&[a.view(), b.view()]);
        assert!((m.output()[[0, 0]] - 24.0 / 25.0).abs() < 1e-6);
        // A zero row: Keras' clip at 1/ε gives 0, not NaN, and a finite gradient.
        assert_eq!(m.output()[[1, 0]], 0.0);
        m.backward(&[a.view(), b.view()], array![[1.0f32], [1.0]].view());
        assert!(m.grad_input(0).iter().all(|v| v.is_finite()));
        assert!(m.grad_input(1).iter().all(|v| v.is_finite()));
        // The clipped row's gradient with respect to the zero input is y_1 / ε.
        let y1 = [1.0f32 / 5f32.sqrt(), 2.0 / 5f32.sqrt()];
        for (k, y) in y1.iter().enumerate() {
            let want = y / NORM_EPSILON;
            assert!((m.grad_input(0)[[1, k]] - want).abs() <= want * 1e-5);
        }
    }

    #[test]
    fn ties_send_the_gradient_to_the_first_input() {
        for op in [MergeOp::Maximum, MergeOp::Minimum] {
            let mut m = Merge::new(MergeConfig::new(op), 3);
            let a = array![[1.0f32, 2.0]];
            let b = array![[1.0f32, 5.0]];
            let c = array![[1.0f32, -5.0]];
            let xs = [a.view(), b.view(), c.view()];
            m.forward_train(&xs);
            m.backward(&xs, array![[3.0f32, 7.0]].view());
            // Column 0 is a three-way tie: input 0 takes it.
            assert_eq!(m.grad_input(0)[[0, 0]], 3.0);
            assert_eq!(m.grad_input(1)[[0, 0]], 0.0);
            assert_eq!(m.grad_input(2)[[0, 0]], 0.0);
            let winner = if op == MergeOp::Maximum { 1 } else { 2 };
            for i in 0..3 {
                let want = if i == winner { 7.0 } else { 0.0 };
                assert_eq!(m.grad_input(i)[[0, 1]], want, "{op:?} input {i}");
            }
        }
    }

    #[test]
    fn buffers_are_reused_across_steps() {
        let mut rng = Rng::new(3);
        for op in ALL {
            let n = if matches!(op, MergeOp::Subtract | MergeOp::Dot) {
                2
            } else {
                3
            };
            let mut c = MergeConfig::new(op);
            c.normalize = true;
            let mut m = Merge::new(c, n);
            let xs: Vec<_> = (0..n).map(|_| random(&mut rng, 4, 3)).collect();
            let views: Vec<_> = xs.iter().map(|x| x.view()).collect();
            m.forward_train(&views);
            let g = random(&mut rng, 4, m.output().ncols());
            m.backward(&views, g.view());
            let out_ptr = m.output().as_ptr();
            let grad_ptrs: Vec<_> = (0..n).map(|i| m.grad_input(i).as_ptr()).collect();
            m.forward_train(&views);
            m.backward(&views, g.view());
            assert_eq!(m.output().as_ptr(), out_ptr, "{op:?}");
            for (i, p) in grad_ptrs.iter().enumerate() {
                assert_eq!(m.grad_input(i).as_ptr(), *p, "{op:?}");
            }
        }
    }

    #[test]
    fn check_inputs_reports_runtime_mismatches() {
        let m = Merge::new(MergeConfig::new(MergeOp::Add), 2);
        let (a, b) = (Array2::<f32>::zeros((3, 4)), Array2::<f32>::zeros((3, 5)));
        let e = m.check_inputs("add", &[a.view(), b.view()]).unwrap_err();
        assert_eq!(
            e,
            Error::MergeShape {
                layer: "add".into(),
                shapes: vec![[3, 4], [3, 5]],
                message: "`add` needs inputs of equal shapes".into(),
            }
        );
        assert!(e.to_string().contains("(3, 4), (3, 5)"), "{e}");
        let e = m.check_inputs("add", &[a.view()]).unwrap_err();
        assert!(
            e.to_string().contains("expected 2 inputs, received 1"),
            "{e}"
        );
        let cat = Merge::new(MergeConfig::new(MergeOp::Concatenate), 2);
        assert!(cat.check_inputs("c", &[a.view(), b.view()]).is_ok());
        let short = Array2::<f32>::zeros((2, 4));
        assert!(cat.check_inputs("c", &[a.view(), short.view()]).is_err());
        // An index past the inputs is an empty gradient, not a panic.
        assert_eq!(m.grad_input(7).dim(), (0, 0));
    }
}
