//! Regularization at run time (Keras 3): the activity penalty of a layer's output, which the
//! layer adds to its forward context and whose gradient it adds to the gradient it receives,
//! and the weight penalties, which a training step adds to the loss and to the gradients from
//! the regularizers its layers' configs name.

use ndarray::{Array2, ArrayView2, Zip};

use super::layers::ensure_rows;
use super::{ForwardContext, Model, ParamMut, ParamRef};
use crate::shape::{LayerInfo, Regularizer};

/// A layer's `activity_regularizer`, with the buffer its gradient is built in.
#[derive(Clone, Debug, Default)]
pub struct ActivityRegularizer {
    regularizer: Option<Regularizer>,
    grad: Array2<f32>,
}

impl ActivityRegularizer {
    /// The regularizer the config's `activity_regularizer` names (none if `None`).
    pub fn from_config(config: &crate::shape::Config) -> Self {
        ActivityRegularizer {
            regularizer: config.regularizer("activity_regularizer"),
            grad: Array2::zeros((0, 0)),
        }
    }

    /// The regularizer, if any.
    pub fn regularizer(&self) -> Option<Regularizer> {
        self.regularizer
    }

    /// Adds the penalty of the layer's output `out` to `cx`.
    pub fn forward(&self, out: ArrayView2<'_, f32>, cx: &mut ForwardContext) {
        if let Some(r) = self.regularizer {
            cx.penalty += match out.as_slice() {
                Some(values) => r.penalty(values),
                None => r.penalty(&out.iter().copied().collect::<Vec<f32>>()),
            };
        }
    }

    /// The gradient with respect to the layer's output: `grad_output` itself without a
    /// regularizer, else `grad_output` plus the penalty's derivative at `out`.
    pub fn backward<'a>(
        &'a mut self,
        out: ArrayView2<'_, f32>,
        grad_output: ArrayView2<'a, f32>,
    ) -> ArrayView2<'a, f32> {
        let Some(r) = self.regularizer else {
            return grad_output;
        };
        let (rows, cols) = grad_output.dim();
        ensure_rows(&mut self.grad, rows, cols);
        if out.dim() != grad_output.dim() {
            // Not reached: the model hands back a gradient shaped as the output.
            self.grad.assign(&grad_output);
            return self.grad.view();
        }
        Zip::from(&mut self.grad)
            .and(&grad_output)
            .and(&out)
            .for_each(|g, &d, &y| *g = d + r.gradient(y));
        self.grad.view()
    }
}

/// The regularizer of the weight `variable` of layer `layer`, from the layers' configs.
fn weight_regularizer(layers: &[LayerInfo], layer: &str, variable: &str) -> Option<Regularizer> {
    let info = layers.iter().find(|l| l.name == layer)?;
    crate::shape::weight_regularizer(&info.config, variable)
}

/// Whether any layer of `M` regularizes a weight.
pub(crate) fn has_weight_regularizers<M: Model>() -> bool {
    M::layers().iter().any(|l| {
        l.weights
            .iter()
            .any(|w| crate::shape::weight_regularizer(&l.config, w.name).is_some())
    })
}

/// Whether any layer of `M` has an `activity_regularizer`.
pub(crate) fn has_activity_regularizers<M: Model>() -> bool {
    M::layers()
        .iter()
        .any(|l| crate::shape::activity_regularizer(&l.config).is_some())
}

/// The weight penalty of `model`: the sum over its trainable weights of their regularizers'
/// penalties (Keras' `Layer._get_regularization_losses`).
pub fn weight_penalty<M: Model>(model: &M) -> f64 {
    let layers = M::layers();
    let mut total = 0.0;
    model.visit_weights(&mut |p: ParamRef<'_>| {
        if p.trainable {
            if let Some(r) = weight_regularizer(layers, p.layer, p.variable) {
                total += r.penalty(p.value);
            }
        }
    });
    total
}

/// Runs `update` on every trainable parameter of `model` in visit order, with the gradient
/// `grads` gives (the last backward's when `None`) plus its regularizer's gradient at the
/// current value. `scratch` holds the sum for regularized parameters.
/// The L2 norm of the gradient a step applies (`grads`, or the model's own, plus every
/// weight regularizer's), over all trainable weights together: for `global_clipnorm`.
pub(crate) fn gradient_norm<M: Model>(
    model: &mut M,
    grads: Option<&[f32]>,
    scratch: &mut Vec<f32>,
) -> f32 {
    let mut sum = 0.0f64;
    regularized_update(model, grads, scratch, &mut |_, p| {
        sum += p
            .grad
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>();
    });
    sum.sqrt() as f32
}

pub(crate) fn regularized_update<M: Model>(
    model: &mut M,
    grads: Option<&[f32]>,
    scratch: &mut Vec<f32>,
    update: &mut dyn FnMut(usize, ParamMut<'_>),
) {
    let layers = M::layers();
    let mut index = 0;
    let mut at = 0;
    model.visit_params(&mut |p| {
        let n = p.value.len();
        let grad = match grads {
            Some(all) => all.get(at..at + n).unwrap_or(&[]),
            None => p.grad,
        };
        at += n;
        let grad = match weight_regularizer(layers, p.layer, p.variable) {
            Some(r) => {
                scratch.clear();
                scratch.extend_from_slice(grad);
                r.add_gradient(p.value, scratch);
                &scratch[..]
            }
            None => grad,
        };
        update(
            index,
            ParamMut {
                layer: p.layer,
                variable: p.variable,
                shape: p.shape,
                value: p.value,
                grad,
            },
        );
        index += 1;
    });
}
