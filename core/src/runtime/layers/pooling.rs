//! Global pooling over the steps axis: Keras' `GlobalAveragePooling1D`,
//! `GlobalMaxPooling1D`, and the sum, on ragged tensors (segment reductions over each row's
//! values, never over padding) and on dense `(batch, steps, features)` inputs.
//!
//! `out[i, f] = reduce(x[i, t, f] for t in row i)`, with `reduce` the mean, max or sum.
//!
//! # Shapes
//!
//! Ragged `(batch, None, features)` (ragged rank 1; for deeper nesting every value under a
//! batch row is pooled) or dense `(batch, steps, features)` -> dense `(batch, features)`.
//!
//! An empty row pools to 0 in every mode. (TensorFlow's ragged `reduce_mean` gives NaN there
//! and `reduce_max` the lowest float; 0 keeps a batch with an empty sequence trainable.)
//!
//! ```
//! # use stratic_core::{shape::PoolingMode, GlobalPooling, RaggedTensor};
//! let x = RaggedTensor::from_parts(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2], &[[0, 2, 3]])?;
//! let mean = GlobalPooling::new(PoolingMode::Average).call_ragged(x.view());
//! assert_eq!(mean, ndarray::arr2(&[[2.0, 3.0], [5.0, 6.0]]));
//! # Ok::<(), stratic_core::Error>(())
//! ```

use crate::onnx::{Attr, LayerExport};
use crate::runtime::Error;
use ndarray::{Array2, ArrayView2};

use super::{empty_rows, ensure_rows, ensure_shape, PerUse};
use crate::runtime::{BuildLayer, ForwardContext, Input, Layer, RaggedView, Rng};
use crate::shape::{Config, LayerSpec, PoolingMode, TensorSpec};

/// A global pooling layer (no weights) with its training buffers.
#[derive(Clone, Debug)]
pub struct GlobalPooling {
    mode: PoolingMode,
    /// The steps of a dense `(batch, steps, features)` input, from the spec it was built for.
    steps: usize,
    buf: PoolBuffers,
    /// The other uses' buffers, for a shared layer.
    uses: PerUse<PoolBuffers>,
}

/// What one use of the layer keeps between its forward and backward passes.
#[derive(Clone, Debug)]
struct PoolBuffers {
    out: Array2<f32>,
    /// For max pooling: the input row holding each output's maximum (`usize::MAX` for an
    /// empty row).
    argmax: Vec<usize>,
    ranges: Vec<(usize, usize)>,
    /// A masked input's mask over its rows (empty without one): only its steps count.
    mask: Vec<bool>,
    grad_input: Array2<f32>,
}

impl Default for PoolBuffers {
    fn default() -> Self {
        PoolBuffers {
            out: Array2::zeros((0, 0)),
            argmax: Vec::new(),
            ranges: Vec::new(),
            mask: Vec::new(),
            grad_input: Array2::zeros((0, 0)),
        }
    }
}

/// Keras' masked average: over each range, the mean of the rows whose mask is set (0 for
/// none, where Keras divides 0 by 0).
fn pool_masked(
    x: ArrayView2<'_, f32>,
    ranges: &[(usize, usize)],
    mask: &[bool],
    out: &mut Array2<f32>,
) {
    for (&(a, b), mut o) in ranges.iter().zip(out.rows_mut()) {
        o.fill(0.0);
        let rows = (a..b).filter(|&r| mask.get(r) == Some(&true));
        let n = rows.clone().count();
        for r in rows {
            o += &x.row(r);
        }
        if n > 0 {
            o.mapv_inplace(|v| v / n as f32);
        }
    }
}

fn pool(
    mode: PoolingMode,
    x: ArrayView2<'_, f32>,
    ranges: &[(usize, usize)],
    out: &mut Array2<f32>,
    mut argmax: Option<&mut Vec<usize>>,
) {
    let f = x.ncols();
    if let Some(am) = argmax.as_deref_mut() {
        am.clear();
        am.resize(ranges.len() * f, usize::MAX);
    }
    // Contiguous rows let the inner loop run over plain slices, which the compiler vectorises.
    let x = x.as_standard_layout();
    let xs = x.as_slice().unwrap_or(&[]);
    for (i, (&(a, b), mut o)) in ranges.iter().zip(out.rows_mut()).enumerate() {
        let Some(o) = o.as_slice_mut() else { continue };
        o.fill(0.0);
        if a >= b {
            continue;
        }
        match mode {
            PoolingMode::Average | PoolingMode::Sum => {
                for r in a..b {
                    for (acc, v) in o.iter_mut().zip(&xs[r * f..(r + 1) * f]) {
                        *acc += v;
                    }
                }
                if mode == PoolingMode::Average {
                    let inv = 1.0 / (b - a) as f32;
                    o.iter_mut().for_each(|v| *v *= inv);
                }
            }
            PoolingMode::Max => {
                o.copy_from_slice(&xs[a * f..(a + 1) * f]);
                let mut am = argmax.as_deref_mut().map(|am| &mut am[i * f..(i + 1) * f]);
                if let Some(am) = am.as_deref_mut() {
                    am.fill(a);
                }
                for r in a + 1..b {
                    let row = &xs[r * f..(r + 1) * f];
                    match am.as_deref_mut() {
                        Some(am) => {
                            for ((m, idx), v) in o.iter_mut().zip(am.iter_mut()).zip(row) {
                                if *v > *m {
                                    *m = *v;
                                    *idx = r;
                                }
                            }
                        }
                        None => {
                            for (m, v) in o.iter_mut().zip(row) {
                                if *v > *m {
                                    *m = *v;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

impl GlobalPooling {
    /// A pooling layer with this reduction.
    pub fn new(mode: PoolingMode) -> Self {
        GlobalPooling {
            mode,
            steps: 1,
            buf: PoolBuffers::default(),
            uses: PerUse::default(),
        }
    }

    /// The reduction.
    pub fn mode(&self) -> PoolingMode {
        self.mode
    }

    /// Inference on a ragged input: `(batch, features)`.
    pub fn call_ragged(&self, x: RaggedView<'_, f32>) -> Array2<f32> {
        let ranges: Vec<_> = x.row_ranges().collect();
        let mut out = Array2::zeros((ranges.len(), x.values().ncols()));
        pool(self.mode, x.values(), &ranges, &mut out, None);
        out
    }

    /// Training forward on a ragged input, into the layer's buffer.
    pub fn forward_train_ragged(&mut self, x: RaggedView<'_, f32>) {
        self.buf.ranges.clear();
        self.buf.ranges.extend(x.row_ranges());
        self.buf.mask.clear();
        self.forward_ranges(x.values());
    }

    /// Backward on a ragged input: the gradient with respect to its flat rows
    /// ([`grad_input`](Self::grad_input), `(rows of x.values(), features)`), from the
    /// gradient with respect to the output.
    pub fn backward_ragged(&mut self, x: RaggedView<'_, f32>, grad_output: ArrayView2<'_, f32>) {
        self.backward_ranges(x.values(), grad_output);
    }

    /// Inference on a dense `(batch, steps, features)` input given as rows
    /// `(batch * steps, features)`.
    pub fn call_dense(&self, x: ArrayView2<'_, f32>, steps: usize) -> Array2<f32> {
        let ranges = uniform_ranges(x.nrows(), steps);
        let mut out = Array2::zeros((ranges.len(), x.ncols()));
        pool(self.mode, x, &ranges, &mut out, None);
        out
    }

    /// Training forward on a dense input given as rows (see [`call_dense`](Self::call_dense)).
    pub fn forward_train_dense(&mut self, x: ArrayView2<'_, f32>, steps: usize) {
        self.buf.ranges = uniform_ranges(x.nrows(), steps);
        self.buf.mask.clear();
        self.forward_ranges(x);
    }

    /// Backward on a dense input given as rows.
    pub fn backward_dense(&mut self, x: ArrayView2<'_, f32>, grad_output: ArrayView2<'_, f32>) {
        self.backward_ranges(x, grad_output);
    }

    fn forward_ranges(&mut self, x: ArrayView2<'_, f32>) {
        ensure_shape(&mut self.buf.out, self.buf.ranges.len(), x.ncols());
        if !self.buf.mask.is_empty() {
            pool_masked(x, &self.buf.ranges, &self.buf.mask, &mut self.buf.out);
            return;
        }
        let argmax = (self.mode == PoolingMode::Max).then_some(&mut self.buf.argmax);
        pool(self.mode, x, &self.buf.ranges, &mut self.buf.out, argmax);
    }

    fn backward_ranges(&mut self, x: ArrayView2<'_, f32>, grad_output: ArrayView2<'_, f32>) {
        let f = x.ncols();
        ensure_rows(&mut self.buf.grad_input, x.nrows(), f);
        if !self.buf.mask.is_empty() {
            // The masked mean: each counted step gets the gradient over the count.
            self.buf.grad_input.fill(0.0);
            let mask = &self.buf.mask;
            for (&(a, b), g) in self.buf.ranges.iter().zip(grad_output.rows()) {
                let b = b.min(x.nrows());
                let n = (a..b).filter(|&r| mask.get(r) == Some(&true)).count();
                for r in (a..b).filter(|&r| mask.get(r) == Some(&true)) {
                    let mut d = self.buf.grad_input.row_mut(r);
                    d.zip_mut_with(&g, |d, &g| *d = g / n as f32);
                }
            }
            return;
        }
        if self.mode == PoolingMode::Max {
            // Only the maxima receive the gradient, split evenly between tied ones: Keras'
            // global max pooling is `reduce_max`, whose TensorFlow gradient (`_MinOrMaxGrad`)
            // divides it by the number of inputs equal to the maximum.
            self.buf.grad_input.fill(0.0);
            let mut ties = vec![0u32; f];
            for (i, (&(a, b), g)) in self.buf.ranges.iter().zip(grad_output.rows()).enumerate() {
                let (b, m) = (b.min(x.nrows()), self.buf.out.row(i));
                ties.fill(0);
                for r in a..b {
                    for ((t, v), m) in ties.iter_mut().zip(x.row(r)).zip(m) {
                        *t += u32::from(v == m);
                    }
                }
                for r in a..b {
                    let mut d = self.buf.grad_input.row_mut(r);
                    for (((d, v), m), (&t, &gv)) in
                        d.iter_mut().zip(x.row(r)).zip(m).zip(ties.iter().zip(g))
                    {
                        if v == m {
                            *d = gv / t as f32;
                        }
                    }
                }
                for (j, (&t, &gv)) in ties.iter().zip(g).enumerate() {
                    // A NaN maximum equals nothing: its gradient goes where it was taken.
                    if t == 0 {
                        if let Some(&r) = self.buf.argmax.get(i * f + j) {
                            if let Some(dst) = self.buf.grad_input.get_mut((r, j)) {
                                *dst = gv;
                            }
                        }
                    }
                }
            }
            return;
        }
        let go = grad_output.as_standard_layout();
        let (Some(dst), Some(gs)) = (self.buf.grad_input.as_slice_mut(), go.as_slice()) else {
            return;
        };
        for (&(a, b), g) in self.buf.ranges.iter().zip(gs.chunks_exact(f.max(1))) {
            let scale = match self.mode {
                PoolingMode::Average if b > a => 1.0 / (b - a) as f32,
                _ => 1.0,
            };
            for row in dst[a * f..b.min(x.nrows()) * f].chunks_exact_mut(f.max(1)) {
                for (d, s) in row.iter_mut().zip(g) {
                    *d = s * scale;
                }
            }
        }
    }
}

impl BuildLayer for GlobalPooling {
    fn from_config(
        spec: &'static LayerSpec,
        _: &Config,
        inputs: &[TensorSpec],
        _: &mut Rng,
    ) -> Self {
        let mut layer = GlobalPooling::new(
            PoolingMode::from_layer_name(spec.name).unwrap_or(PoolingMode::Average),
        );
        layer.steps = inputs
            .first()
            .and_then(|s| s.dims.first())
            .and_then(|d| d.known())
            .unwrap_or(1);
        layer
    }
}

impl Layer for GlobalPooling {
    /// `ReduceMean`, `ReduceMax` or `ReduceSum` over the steps axis (ragged inputs are
    /// refused before this, by the exporter).
    fn export_onnx(&self, cx: &mut LayerExport<'_>) -> Result<(), Error> {
        let op = match self.mode {
            PoolingMode::Average => "ReduceMean",
            PoolingMode::Max => "ReduceMax",
            PoolingMode::Sum => "ReduceSum",
        };
        let (x, out) = (cx.input(0).to_string(), cx.output().to_string());
        let axes = cx.ints("axes", &[1]);
        cx.node(op, &[&x, &axes], &[&out], vec![Attr::int("keepdims", 0)]);
        Ok(())
    }

    fn call(&self, x: Input<'_>) -> Array2<f32> {
        match x {
            Input::Ragged(r) => self.call_ragged(r),
            // The spec lets only the average read a mask.
            Input::Masked(rows, mask) if self.mode == PoolingMode::Average => {
                let ranges = uniform_ranges(rows.nrows(), self.steps);
                let mut out = Array2::zeros((ranges.len(), rows.ncols()));
                pool_masked(rows, &ranges, mask, &mut out);
                out
            }
            other => self.call_dense(other.rows().unwrap_or_else(empty_rows), self.steps),
        }
    }

    fn forward(&mut self, x: Input<'_>, _cx: &mut ForwardContext) {
        if let (Input::Masked(rows, mask), PoolingMode::Average) = (x, self.mode) {
            self.buf.ranges = uniform_ranges(rows.nrows(), self.steps);
            self.buf.mask.clear();
            self.buf.mask.extend_from_slice(mask);
            self.forward_ranges(rows);
            return;
        }
        match x {
            Input::Ragged(r) => self.forward_train_ragged(r),
            other => self.forward_train_dense(other.rows().unwrap_or_else(empty_rows), self.steps),
        }
    }

    /// The output of the last training forward, `(batch, features)`.
    fn output(&self) -> ArrayView2<'_, f32> {
        self.buf.out.view()
    }

    fn backward(&mut self, x: Input<'_>, grad_output: ArrayView2<'_, f32>, _need: bool) {
        self.backward_ranges(x.rows().unwrap_or_else(empty_rows), grad_output);
    }

    /// The gradient with respect to the input's flat rows, from the last backward.
    fn grad_input(&self) -> ArrayView2<'_, f32> {
        self.buf.grad_input.view()
    }

    fn set_uses(&mut self, uses: usize) {
        self.uses.set_uses(uses, &mut self.buf);
    }

    fn select_use(&mut self, index: usize) {
        self.uses.select(index, &mut self.buf);
    }
}

fn uniform_ranges(rows: usize, steps: usize) -> Vec<(usize, usize)> {
    if steps == 0 {
        return Vec::new();
    }
    (0..rows / steps)
        .map(|i| (i * steps, (i + 1) * steps))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RaggedTensor;
    use ndarray::arr2;

    fn x() -> RaggedTensor<f32> {
        // Rows: [[1, -1], [3, 5]], [], [[2, 0]]
        RaggedTensor::from_parts(vec![1.0, -1.0, 3.0, 5.0, 2.0, 0.0], &[2], &[[0, 2, 2, 3]])
            .unwrap()
    }

    #[test]
    fn tied_maxima_share_the_gradient_as_tensorflow_does() {
        // Rows [[2, 1], [2, 3], [2, 3]] and [[4, 0]]: in row 0, feature 0 has three tied
        // maxima and feature 1 two; TensorFlow's `reduce_max` gradient splits the output
        // gradient evenly between them (first-maximum-takes-all would give [6, 0, 0]).
        let x = RaggedTensor::from_parts(
            vec![2.0f32, 1.0, 2.0, 3.0, 2.0, 3.0, 4.0, 0.0],
            &[2],
            &[[0, 3, 4]],
        )
        .unwrap();
        let mut p = GlobalPooling::new(PoolingMode::Max);
        p.forward_train_ragged(x.view());
        assert_eq!(p.buf.out, arr2(&[[2.0, 3.0], [4.0, 0.0]]));
        p.backward_ragged(x.view(), arr2(&[[6.0, 5.0], [1.0, 7.0]]).view());
        assert_eq!(
            p.buf.grad_input,
            arr2(&[[2.0, 0.0], [2.0, 2.5], [2.0, 2.5], [1.0, 7.0]])
        );
        // Dense rows, the same rule.
        let d = arr2(&[[1.0f32], [1.0], [0.5], [0.5]]);
        p.forward_train_dense(d.view(), 4);
        p.backward_dense(d.view(), arr2(&[[3.0]]).view());
        assert_eq!(p.buf.grad_input, arr2(&[[1.5], [1.5], [0.0], [0.0]]));
    }

    #[test]
    fn reductions_and_empty_rows() {
        let x = x();
        let cases = [
            (
                PoolingMode::Average,
                arr2(&[[2.0, 2.0], [0.0, 0.0], [2.0, 0.0]]),
            ),
            (
                PoolingMode::Sum,
                arr2(&[[4.0, 4.0], [0.0, 0.0], [2.0, 0.0]]),
            ),
            (
                PoolingMode::Max,
                arr2(&[[3.0, 5.0], [0.0, 0.0], [2.0, 0.0]]),
            ),
        ];
        for (mode, want) in cases {
            let mut p = GlobalPooling::new(mode);
            assert_eq!(p.call_ragged(x.view()), want, "{mode:?}");
            p.forward_train_ragged(x.view());
            assert_eq!(p.output(), want, "{mode:?}");
        }
    }

    #[test]
    fn gradients_go_to_the_rows_of_each_segment() {
        let x = x();
        let g = arr2(&[[1.0f32, 2.0], [7.0, 7.0], [3.0, 4.0]]);
        let mut p = GlobalPooling::new(PoolingMode::Average);
        p.forward_train_ragged(x.view());
        p.backward_ragged(x.view(), g.view());
        assert_eq!(p.grad_input(), arr2(&[[0.5, 1.0], [0.5, 1.0], [3.0, 4.0]]));
        let mut p = GlobalPooling::new(PoolingMode::Max);
        p.forward_train_ragged(x.view());
        p.backward_ragged(x.view(), g.view());
        assert_eq!(p.grad_input(), arr2(&[[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]]));
        let mut p = GlobalPooling::new(PoolingMode::Sum);
        p.forward_train_ragged(x.view());
        p.backward_ragged(x.view(), g.view());
        assert_eq!(p.grad_input(), arr2(&[[1.0, 2.0], [1.0, 2.0], [3.0, 4.0]]));
    }

    #[test]
    fn a_masked_average_counts_only_the_unmasked_steps() {
        // Two samples of three steps; the second masked entirely.
        let rows = arr2(&[
            [1.0f32, 2.0],
            [9.0, 9.0],
            [3.0, -4.0],
            [5.0, 5.0],
            [6.0, 6.0],
            [7.0, 7.0],
        ]);
        let mask = [true, false, true, false, false, false];
        let mut p = GlobalPooling::new(PoolingMode::Average);
        p.steps = 3;
        let want = arr2(&[[2.0, -1.0], [0.0, 0.0]]);
        assert_eq!(p.call(Input::Masked(rows.view(), &mask)), want);
        p.forward(
            Input::Masked(rows.view(), &mask),
            &mut ForwardContext::default(),
        );
        assert_eq!(p.output(), want);
        let g = arr2(&[[2.0f32, 4.0], [1.0, 1.0]]);
        p.backward(Input::Masked(rows.view(), &mask), g.view(), true);
        let want = arr2(&[
            [1.0, 2.0],
            [0.0, 0.0],
            [1.0, 2.0],
            [0.0, 0.0],
            [0.0, 0.0],
            [0.0, 0.0],
        ]);
        assert_eq!(p.grad_input(), want);
        // Without the mask, the same rows average every step.
        p.forward(Input::Dense(rows.view()), &mut ForwardContext::default());
        let want = arr2(&[[13.0 / 3.0, 7.0 / 3.0], [6.0, 6.0]]);
        assert!((&p.output() - &want).iter().all(|d| d.abs() < 1e-6));
    }

    #[test]
    fn dense_input_pools_uniform_steps() {
        let rows = arr2(&[[1.0f32], [3.0], [5.0], [7.0]]);
        let mut p = GlobalPooling::new(PoolingMode::Average);
        assert_eq!(p.call_dense(rows.view(), 2), arr2(&[[2.0], [6.0]]));
        p.forward_train_dense(rows.view(), 2);
        p.backward_dense(rows.view(), arr2(&[[2.0f32], [4.0]]).view());
        assert_eq!(p.grad_input(), arr2(&[[1.0], [1.0], [2.0], [2.0]]));
    }
}
