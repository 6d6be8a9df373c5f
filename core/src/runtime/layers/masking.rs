//! Keras' `Masking` at run time: the steps whose features all equal `mask_value` are set to 0
//! and reported by [`Masking::mask`] / [`Masking::mask_of`], which the generated code hands
//! to the layers that read a mask (as `Input::Masked`).
//!
//! # Shapes
//!
//! Dense `(batch, steps, features)` as rows `(batch · steps, features)`, unchanged; the mask
//! has one entry per row (per step), `true` for a step that counts.

use ndarray::{Array2, ArrayView2};

use super::{empty_rows, ensure_rows};
use crate::runtime::{BuildLayer, ForwardContext, Input, Layer, Rng};
use crate::shape::{Config, LayerSpec, TensorSpec};

/// A built masking layer: its value, and the mask and output of the last training pass.
#[derive(Clone, Debug)]
pub struct Masking {
    mask_value: f32,
    mask: Vec<bool>,
    out: Array2<f32>,
    grad_input: Array2<f32>,
}

impl Masking {
    /// A masking layer for steps whose features all equal `mask_value`.
    pub fn new(mask_value: f32) -> Self {
        Masking {
            mask_value,
            mask: Vec::new(),
            out: Array2::zeros((0, 0)),
            grad_input: Array2::zeros((0, 0)),
        }
    }

    /// The mask of the last training forward: one entry per input row, `true` where some
    /// feature differs from `mask_value` (Keras' `any(inputs != mask_value, axis=-1)`).
    pub fn mask(&self) -> &[bool] {
        &self.mask
    }

    /// The mask of `x`, for inference (see [`mask`](Self::mask)).
    pub fn mask_of(&self, x: Input<'_>) -> Vec<bool> {
        let mut mask = Vec::new();
        self.fill_mask(x.rows().unwrap_or_else(empty_rows), &mut mask);
        mask
    }

    fn fill_mask(&self, rows: ArrayView2<'_, f32>, mask: &mut Vec<bool>) {
        mask.clear();
        mask.extend(
            rows.rows()
                .into_iter()
                .map(|r| r.iter().any(|&v| v != self.mask_value)),
        );
    }

    /// `rows` with the masked ones set to 0, into `out`.
    fn apply(rows: ArrayView2<'_, f32>, mask: &[bool], out: &mut Array2<f32>) {
        ensure_rows(out, rows.nrows(), rows.ncols());
        for ((mut o, r), &keep) in out.rows_mut().into_iter().zip(rows.rows()).zip(mask) {
            if keep {
                o.assign(&r);
            } else {
                o.fill(0.0);
            }
        }
    }
}

impl BuildLayer for Masking {
    fn from_config(_: &'static LayerSpec, config: &Config, _: &[TensorSpec], _: &mut Rng) -> Self {
        Masking::new(config.float("mask_value") as f32)
    }
}

impl Layer for Masking {
    fn call(&self, x: Input<'_>) -> Array2<f32> {
        let rows = x.rows().unwrap_or_else(empty_rows);
        let mask = self.mask_of(x);
        let mut out = Array2::zeros((0, 0));
        Self::apply(rows, &mask, &mut out);
        out
    }

    fn forward(&mut self, x: Input<'_>, _cx: &mut ForwardContext) {
        let rows = x.rows().unwrap_or_else(empty_rows);
        let mut mask = std::mem::take(&mut self.mask);
        self.fill_mask(rows, &mut mask);
        Self::apply(rows, &mask, &mut self.out);
        self.mask = mask;
    }

    fn output(&self) -> ArrayView2<'_, f32> {
        self.out.view()
    }

    /// The output is the input times the mask: so is the gradient.
    fn backward(&mut self, _x: Input<'_>, grad_output: ArrayView2<'_, f32>, _need: bool) {
        let mask = std::mem::take(&mut self.mask);
        Self::apply(grad_output, &mask, &mut self.grad_input);
        self.mask = mask;
    }

    fn grad_input(&self) -> ArrayView2<'_, f32> {
        self.grad_input.view()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr2;

    #[test]
    fn masks_the_steps_equal_to_the_value_and_zeroes_them() {
        let x = arr2(&[[0.0f32, 0.0], [1.0, 0.0], [-1.0, -1.0], [0.0, 2.0]]);
        let mut l = Masking::new(-1.0);
        assert_eq!(l.mask_of(Input::Dense(x.view())), [true, true, false, true]);
        let y = l.call(Input::Dense(x.view()));
        assert_eq!(y, arr2(&[[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 2.0]]));
        l.forward(Input::Dense(x.view()), &mut ForwardContext::default());
        assert_eq!(l.output(), y);
        assert_eq!(l.mask(), [true, true, false, true]);
        let g = arr2(&[[1.0f32, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]);
        l.backward(Input::Dense(x.view()), g.view(), true);
        assert_eq!(
            l.grad_input(),
            arr2(&[[1.0, 2.0], [3.0, 4.0], [0.0, 0.0], [7.0, 8.0]])
        );
        // Keras' default value, 0: a step of zeros is padding.
        let l = Masking::new(0.0);
        assert_eq!(l.mask_of(Input::Dense(x.view())), [false, true, true, true]);
    }
}
