//! Keras' `Flatten` at run time. Tensors flow as rows with every axis but the last folded in
//! (`(batch · d1 · ... · dn-1, dn)`), in row-major order, so flattening keeps the values in
//! place and regroups them as `(batch, d1 · ... · dn)`: H, W, C order, as Keras.

use crate::onnx::{Attr, LayerExport};
use crate::runtime::Error;
use ndarray::{Array2, ArrayView2};

use super::{empty_rows, ensure_rows, PerUse};
use crate::runtime::{BuildLayer, ForwardContext, Input, Layer, Rng};
use crate::shape::{Config, LayerSpec, TensorSpec};

/// A built `Flatten` layer: the sizes it regroups and its training buffers.
#[derive(Clone, Debug)]
pub struct Flatten {
    /// Values per sample (the product of the input's dims).
    features: usize,
    /// The input's last axis: the width of its rows.
    last: usize,
    buf: [Array2<f32>; 2],
    /// The other uses' buffers, for a shared layer.
    uses: PerUse<[Array2<f32>; 2]>,
}

impl Flatten {
    /// A layer for inputs whose dims after the batch axis are `dims`.
    pub fn new(dims: &[usize]) -> Self {
        Flatten {
            features: dims.iter().product(),
            last: dims.last().copied().unwrap_or(1),
            buf: [Array2::zeros((0, 0)), Array2::zeros((0, 0))],
            uses: PerUse::default(),
        }
    }

    // Copies the values of `x` (rows of any width) into `out` as rows of `cols`.
    fn regroup(x: ArrayView2<'_, f32>, cols: usize, out: &mut Array2<f32>) {
        let n = x.len();
        ensure_rows(out, n / cols.max(1), cols);
        let x = x.as_standard_layout();
        if let (Some(src), Some(dst)) = (x.as_slice(), out.as_slice_mut()) {
            dst.copy_from_slice(&src[..dst.len()]);
        }
    }
}

impl BuildLayer for Flatten {
    fn from_config(_: &'static LayerSpec, _: &Config, inputs: &[TensorSpec], _: &mut Rng) -> Self {
        let dims: Vec<usize> = inputs
            .first()
            .map(|s| s.dims.iter().map(|d| d.known().unwrap_or(1)).collect())
            .unwrap_or_default();
        Flatten::new(&dims)
    }
}

impl Layer for Flatten {
    /// ONNX's `Flatten` on the channels-last tensor: H, W, C order, as Keras flattens.
    fn export_onnx(&self, cx: &mut LayerExport<'_>) -> Result<(), Error> {
        let (x, out) = (cx.input(0).to_string(), cx.output().to_string());
        cx.node("Flatten", &[&x], &[&out], vec![Attr::int("axis", 1)]);
        Ok(())
    }

    fn call(&self, x: Input<'_>) -> Array2<f32> {
        let mut out = Array2::zeros((0, 0));
        Self::regroup(x.rows().unwrap_or_else(empty_rows), self.features, &mut out);
        out
    }

    fn forward(&mut self, x: Input<'_>, _cx: &mut ForwardContext) {
        Self::regroup(
            x.rows().unwrap_or_else(empty_rows),
            self.features,
            &mut self.buf[0],
        );
    }

    fn output(&self) -> ArrayView2<'_, f32> {
        self.buf[0].view()
    }

    fn backward(&mut self, _x: Input<'_>, grad_output: ArrayView2<'_, f32>, need: bool) {
        if need {
            Self::regroup(grad_output, self.last, &mut self.buf[1]);
        }
    }

    fn grad_input(&self) -> ArrayView2<'_, f32> {
        self.buf[1].view()
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
    use ndarray::Array2;

    #[test]
    fn regroups_rows_in_row_major_order_and_back() {
        // Two samples of shape (2, 3): rows (4, 3) -> (2, 6).
        let x = Array2::from_shape_fn((4, 3), |(r, c)| (r * 3 + c) as f32);
        let mut f = Flatten::new(&[2, 3]);
        let y = f.call(x.view().into());
        assert_eq!(y.dim(), (2, 6));
        assert_eq!(y.row(1).to_vec(), vec![6.0, 7.0, 8.0, 9.0, 10.0, 11.0]);
        f.forward(x.view().into(), &mut ForwardContext::default());
        assert_eq!(f.output(), y);
        f.backward(x.view().into(), y.view(), true);
        assert_eq!(f.grad_input(), x);
    }
}
