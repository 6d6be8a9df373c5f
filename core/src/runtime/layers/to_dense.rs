//! `to_dense(pad = ...)`: a ragged tensor padded to its longest rows (TensorFlow's
//! `RaggedTensor.to_tensor(default_value)` as a layer), with its backward.
//!
//! # Shapes
//!
//! Ragged `(batch, None, features)` -> dense `(batch, longest row, features)`; each ragged axis
//! becomes as long as its longest row in the batch. As rows: `(batch * longest, features)`,
//! with the logical shape in [`ToDense::dense_shape`].
//!
//! ```
//! # use stratic_core::{Layer, RaggedTensor, ToDense};
//! let x = RaggedTensor::from_parts(vec![1.0f32, 2.0, 3.0], &[1], &[[0, 2, 3]])?;
//! let mut layer = ToDense::new(-1.0);
//! layer.forward_train_ragged(x.view());
//! assert_eq!(layer.dense_shape(), &[2, 2, 1]);
//! assert_eq!(layer.output(), ndarray::arr2(&[[1.0], [2.0], [3.0], [-1.0]]));
//! # Ok::<(), stratic_core::Error>(())
//! ```

use ndarray::{Array2, ArrayView2};

use super::{ensure_rows, PerUse};
use crate::runtime::{BuildLayer, ForwardContext, Input, Layer, RaggedView, Rng};
use crate::shape::{Config, LayerSpec, TensorSpec};

/// The `to_dense` layer: the padding value and the buffers of a training step.
#[derive(Clone, Debug)]
pub struct ToDense {
    pad: f32,
    buf: ToDenseBuffers,
    /// The other uses' buffers, for a shared layer.
    uses: PerUse<ToDenseBuffers>,
}

/// What one use of the layer keeps between its forward and backward passes.
#[derive(Clone, Debug)]
struct ToDenseBuffers {
    out: Array2<f32>,
    dense_shape: Vec<usize>,
    /// For each flat row of the input, its row in the padded output.
    index: Vec<usize>,
    grad_input: Array2<f32>,
}

impl Default for ToDenseBuffers {
    fn default() -> Self {
        ToDenseBuffers {
            out: Array2::zeros((0, 0)),
            dense_shape: Vec::new(),
            index: Vec::new(),
            grad_input: Array2::zeros((0, 0)),
        }
    }
}

// Fills `index` with the padded row of each flat row of `x` and returns the logical dense
// shape: `[batch, longest row of each ragged axis...]`, then the folded inner rows per value
// when there are several, then the features.
fn plan(x: &RaggedView<'_, f32>, index: &mut Vec<usize>) -> Vec<usize> {
    let splits = x.nested_row_splits();
    let v = x.values();
    let per_value = v.nrows().checked_div(x.n_values()).unwrap_or(1);
    let mut shape = vec![x.n_rows()];
    for s in splits {
        shape.push(s.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0));
    }
    // Row strides, in units of one value's rows.
    let mut strides = vec![0usize; shape.len()];
    let mut acc = 1usize;
    for (k, d) in shape.iter().enumerate().rev() {
        strides[k] = acc;
        acc = acc.saturating_mul(*d);
    }
    let mut offsets: Vec<usize> = (0..x.n_rows()).map(|i| i * strides[0]).collect();
    for (k, s) in splits.iter().enumerate() {
        let mut next = vec![0usize; s.last().copied().unwrap_or(0)];
        for (j, w) in s.windows(2).enumerate() {
            let base = offsets.get(j).copied().unwrap_or(0);
            for (c, slot) in next.iter_mut().enumerate().take(w[1]).skip(w[0]) {
                *slot = base + (c - w[0]) * strides[k + 1];
            }
        }
        offsets = next;
    }
    index.clear();
    for off in &offsets {
        index.extend((0..per_value).map(|p| off * per_value + p));
    }
    if per_value != 1 {
        shape.push(per_value);
    }
    shape.push(v.ncols());
    shape
}

fn fill(pad: f32, x: ArrayView2<'_, f32>, index: &[usize], out: &mut Array2<f32>) {
    out.fill(pad);
    let f = out.ncols();
    let Some(dst) = out.as_slice_mut() else {
        return;
    };
    for (src, &r) in x.rows().into_iter().zip(index) {
        if let Some(row) = dst.get_mut(r * f..(r + 1) * f) {
            for (d, s) in row.iter_mut().zip(src.iter()) {
                *d = *s;
            }
        }
    }
}

impl ToDense {
    /// The layer, padding with `pad` (TensorFlow's `default_value`; 0 in Keras' idiom).
    pub fn new(pad: f32) -> Self {
        ToDense {
            pad,
            buf: ToDenseBuffers::default(),
            uses: PerUse::default(),
        }
    }

    /// The padding value.
    pub fn pad(&self) -> f32 {
        self.pad
    }

    /// Inference: the padded tensor as rows, and its logical shape (batch axis first).
    pub fn call_ragged(&self, x: RaggedView<'_, f32>) -> (Array2<f32>, Vec<usize>) {
        let mut index = Vec::new();
        let shape = plan(&x, &mut index);
        let rows: usize = shape[..shape.len() - 1].iter().product();
        let mut out = Array2::zeros((rows, x.values().ncols()));
        fill(self.pad, x.values(), &index, &mut out);
        (out, shape)
    }

    /// Training forward, into the layer's buffer.
    pub fn forward_train_ragged(&mut self, x: RaggedView<'_, f32>) {
        self.buf.dense_shape = plan(&x, &mut self.buf.index);
        let rows: usize = self.buf.dense_shape[..self.buf.dense_shape.len() - 1]
            .iter()
            .product();
        ensure_rows(&mut self.buf.out, rows, x.values().ncols());
        fill(self.pad, x.values(), &self.buf.index, &mut self.buf.out);
    }

    /// The logical shape of the last training output (batch axis first).
    pub fn dense_shape(&self) -> &[usize] {
        &self.buf.dense_shape
    }

    /// Backward: the gradient with respect to the input's flat rows is the output gradient at
    /// each value's padded position (padding gets none).
    pub fn backward_ragged(&mut self, x: RaggedView<'_, f32>, grad_output: ArrayView2<'_, f32>) {
        let v = x.values();
        ensure_rows(&mut self.buf.grad_input, v.nrows(), v.ncols());
        for (mut dst, &src) in self
            .buf
            .grad_input
            .rows_mut()
            .into_iter()
            .zip(&self.buf.index)
        {
            if src < grad_output.nrows() {
                dst.assign(&grad_output.row(src));
            }
        }
    }
}

impl BuildLayer for ToDense {
    fn from_config(_: &'static LayerSpec, config: &Config, _: &[TensorSpec], _: &mut Rng) -> Self {
        ToDense::new(config.float("pad") as f32)
    }
}

impl Layer for ToDense {
    fn call(&self, x: Input<'_>) -> Array2<f32> {
        match x {
            Input::Ragged(r) => self.call_ragged(r).0,
            // The spec's `runs` admits ragged inputs only.
            _ => Array2::zeros((0, 0)),
        }
    }

    fn forward(&mut self, x: Input<'_>, _cx: &mut ForwardContext) {
        if let Input::Ragged(r) = x {
            self.forward_train_ragged(r);
        }
    }

    /// The padded output of the last training forward, as rows.
    fn output(&self) -> ArrayView2<'_, f32> {
        self.buf.out.view()
    }

    fn backward(&mut self, x: Input<'_>, grad_output: ArrayView2<'_, f32>, _need: bool) {
        if let Input::Ragged(r) = x {
            self.backward_ragged(r, grad_output);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RaggedTensor;
    use ndarray::{arr2, Array2};

    #[test]
    fn matches_the_tensor_conversion_and_routes_gradients() {
        let values: Vec<f32> = (1..=10).map(|v| v as f32).collect();
        // Nested, 5 values of 2 features: [[[v0, v1]], [], [[], [v2, v3, v4]]], padded to
        // (3, 2, 3, 2).
        let x =
            RaggedTensor::from_parts(values, &[2], &[vec![0, 1, 1, 3], vec![0, 2, 2, 5]]).unwrap();
        let want = x.to_dense(0.0).unwrap();
        let layer = ToDense::new(0.0);
        let (rows, shape) = layer.call_ragged(x.view());
        assert_eq!(shape, want.shape());
        assert_eq!(
            rows.iter().copied().collect::<Vec<_>>(),
            want.iter().copied().collect::<Vec<_>>()
        );
        let mut layer = ToDense::new(0.0);
        layer.forward_train_ragged(x.view());
        assert_eq!(layer.output(), rows);
        let g = Array2::from_shape_fn(rows.dim(), |(r, c)| (r * 10 + c) as f32);
        layer.backward_ragged(x.view(), g.view());
        // Each value's gradient is the output gradient at its padded position.
        assert_eq!(layer.grad_input().row(0).to_vec(), vec![0.0, 1.0]);
        assert_eq!(layer.grad_input().row(2).to_vec(), vec![150.0, 151.0]);
        assert_eq!(
            layer.grad_input(),
            arr2(&[
                [0.0, 1.0],
                [10.0, 11.0],
                [150.0, 151.0],
                [160.0, 161.0],
                [170.0, 171.0]
            ])
        );
    }
}
