//! Keras' `Activation` layer: an activation function with no weights.

use ndarray::{Array2, ArrayView2};

use super::{ensure_shape, UseSlots};
use crate::runtime::activations;
use crate::runtime::{Layer, ParamMut, ParamRef};
use crate::shape::Activation;

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

impl Layer for ActivationLayer {
    fn call(&self, x: ArrayView2<'_, f32>) -> Array2<f32> {
        let mut out = x.to_owned();
        activations::forward(self.activation, out.view_mut());
        out
    }

    fn forward_train(&mut self, x: ArrayView2<'_, f32>) {
        let (rows, cols) = x.dim();
        ensure_shape(&mut self.out, rows, cols);
        self.out.assign(&x);
        activations::forward(self.activation, self.out.view_mut());
    }

    fn output(&self) -> ArrayView2<'_, f32> {
        self.out.view()
    }

    fn backward(
        &mut self,
        x: ArrayView2<'_, f32>,
        grad_output: ArrayView2<'_, f32>,
        need_grad_input: bool,
    ) {
        if !need_grad_input {
            return;
        }
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

    fn visit_params(&mut self, _layer: &str, _f: &mut dyn FnMut(ParamMut<'_>)) {}

    fn visit_weights(&self, _layer: &str, _f: &mut dyn FnMut(ParamRef<'_>)) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn forward_and_backward() {
        let mut l = ActivationLayer::new(Activation::Relu);
        let x = array![[-1.0f32, 2.0], [3.0, -4.0]];
        l.forward_train(x.view());
        assert_eq!(l.output(), array![[0.0f32, 2.0], [3.0, 0.0]]);
        assert_eq!(l.call(x.view()), l.output());
        l.backward(x.view(), array![[1.0f32, 1.0], [1.0, 1.0]].view(), true);
        assert_eq!(l.grad_input(), array![[0.0f32, 1.0], [1.0, 0.0]]);
    }
}
