//! Keras' `Activation` layer: an activation function with no weights.

use crate::onnx::LayerExport;
use crate::runtime::Error;
use ndarray::{Array2, ArrayView2};

use super::{empty_rows, ensure_shape, UseSlots};
use crate::runtime::kernels::activations;
use crate::runtime::{BuildLayer, ForwardContext, Input, Layer, Rng};
use crate::shape::{Activation, Config, LayerSpec, TensorSpec};

/// A layer applying an activation function; it has no weights.
#[derive(Clone, Debug)]
pub struct ActivationLayer {
    activation: Activation,
    out: Array2<f32>,
    grad_input: Array2<f32>,
    /// Buffer sets (`out`, `grad_input`) of the other uses of a shared layer.
    uses: UseSlots<2>,
}

impl ActivationLayer {
    /// The layer for `activation`.
    pub fn new(activation: Activation) -> Self {
        ActivationLayer {
            activation,
            out: Array2::zeros((0, 0)),
            grad_input: Array2::zeros((0, 0)),
            uses: UseSlots::default(),
        }
    }

    /// The activation function.
    pub fn activation(&self) -> Activation {
        self.activation
    }
}

impl BuildLayer for ActivationLayer {
    fn from_config(_: &'static LayerSpec, config: &Config, _: &[TensorSpec], _: &mut Rng) -> Self {
        ActivationLayer::new(config.activation("activation"))
    }
}

impl Layer for ActivationLayer {
    fn export_onnx(&self, cx: &mut LayerExport<'_>) -> Result<(), Error> {
        let (x, out) = (cx.input(0).to_string(), cx.output().to_string());
        cx.activation(self.activation, &x, &out);
        Ok(())
    }

    fn call(&self, x: Input<'_>) -> Array2<f32> {
        let mut out = x.rows().unwrap_or_else(empty_rows).to_owned();
        activations::forward(self.activation, out.view_mut());
        out
    }

    fn forward(&mut self, x: Input<'_>, _cx: &mut ForwardContext) {
        let x = x.rows().unwrap_or_else(empty_rows);
        let (rows, cols) = x.dim();
        ensure_shape(&mut self.out, rows, cols);
        self.out.assign(&x);
        activations::forward(self.activation, self.out.view_mut());
    }

    fn output(&self) -> ArrayView2<'_, f32> {
        self.out.view()
    }

    fn backward(&mut self, x: Input<'_>, grad_output: ArrayView2<'_, f32>, need_grad_input: bool) {
        if !need_grad_input {
            return;
        }
        let x = x.rows().unwrap_or_else(empty_rows);
        let (rows, cols) = grad_output.dim();
        ensure_shape(&mut self.grad_input, rows, cols);
        // The layer's input is the pre-activation.
        activations::backward(
            self.activation,
            x,
            self.out.view(),
            grad_output,
            self.grad_input.view_mut(),
        );
    }

    fn grad_input(&self) -> ArrayView2<'_, f32> {
        self.grad_input.view()
    }

    fn set_uses(&mut self, uses: usize) {
        self.uses
            .set_uses(uses, [&mut self.out, &mut self.grad_input]);
    }

    fn select_use(&mut self, index: usize) {
        self.uses
            .select(index, [&mut self.out, &mut self.grad_input]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn forward_and_backward() {
        let mut l = ActivationLayer::new(Activation::Relu);
        let x = array![[-1.0f32, 2.0], [3.0, -4.0]];
        l.forward(x.view().into(), &mut ForwardContext::default());
        assert_eq!(l.output(), array![[0.0f32, 2.0], [3.0, 0.0]]);
        assert_eq!(l.call(x.view().into()), l.output());
        l.backward(
            x.view().into(),
            array![[1.0f32, 1.0], [1.0, 1.0]].view(),
            true,
        );
        assert_eq!(l.grad_input(), array![[0.0f32, 1.0], [1.0, 0.0]]);
    }
}
