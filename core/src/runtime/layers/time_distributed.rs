//! Keras' `TimeDistributed` at run time: the layer written inside, built for one step, run on
//! all the steps at once.
//!
//! # Shapes
//!
//! Dense `(batch, steps, ...)` flows as rows with every axis but the last folded in, which are
//! exactly the rows of the inner layer's input `(batch · steps, ...)`: the wrapper hands its
//! input, output and gradients through unchanged, and only renames the inner layer's weights
//! (`kernel` -> `dense/kernel`, as Keras 3's variable paths have them).

use ndarray::{Array2, ArrayView2};

use super::{build_dyn_send, empty_rows};
use crate::runtime::{BuildLayer, ForwardContext, Input, Layer, ParamMut, ParamRef, Rng};
use crate::shape::layers::{distributed_name, step_spec, time_distributed_inner};
use crate::shape::{Config, LayerSpec, TensorSpec};

/// A built time-distributed layer: the inner layer, built for one step.
pub struct TimeDistributed {
    /// `None` only for a configuration the rule refuses (the macro never builds one): the
    /// layer then computes nothing.
    inner: Option<Box<dyn Layer + Send + Sync>>,
    /// The inner layer's DSL name, which prefixes its weights.
    inner_name: &'static str,
}

impl std::fmt::Debug for TimeDistributed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimeDistributed")
            .field("inner", &self.inner_name)
            .finish()
    }
}

impl BuildLayer for TimeDistributed {
    fn from_config(
        _spec: &'static LayerSpec,
        config: &Config,
        inputs: &[TensorSpec],
        rng: &mut Rng,
    ) -> Self {
        let Some((spec, inner)) = time_distributed_inner(config) else {
            return TimeDistributed {
                inner: None,
                inner_name: "",
            };
        };
        let step: Vec<TensorSpec> = inputs.first().map(step_spec).into_iter().collect();
        TimeDistributed {
            inner: build_dyn_send(spec, &inner, &step, rng),
            inner_name: spec.name,
        }
    }
}

impl TimeDistributed {
    /// The layer inside, built for one step.
    pub fn inner(&self) -> Option<&dyn Layer> {
        self.inner.as_deref().map(|l| l as &dyn Layer)
    }
}

impl Layer for TimeDistributed {
    fn call(&self, x: Input<'_>) -> Array2<f32> {
        match &self.inner {
            Some(l) => l.call(x),
            None => Array2::zeros((0, 0)),
        }
    }

    fn forward(&mut self, x: Input<'_>, cx: &mut ForwardContext) {
        if let Some(l) = &mut self.inner {
            l.forward(x, cx);
        }
    }

    fn output(&self) -> ArrayView2<'_, f32> {
        self.inner.as_ref().map_or_else(empty_rows, |l| l.output())
    }

    fn backward(&mut self, x: Input<'_>, grad_output: ArrayView2<'_, f32>, need: bool) {
        if let Some(l) = &mut self.inner {
            l.backward(x, grad_output, need);
        }
    }

    fn grad_input(&self) -> ArrayView2<'_, f32> {
        self.inner
            .as_ref()
            .map_or_else(empty_rows, |l| l.grad_input())
    }

    /// The inner layer's weights, under its name (`dense/kernel`).
    fn visit_params(&mut self, layer: &str, f: &mut dyn FnMut(ParamMut<'_>)) {
        let name = self.inner_name;
        if let Some(l) = &mut self.inner {
            l.visit_params(layer, &mut |p| {
                f(ParamMut {
                    variable: distributed_name(name, p.variable),
                    ..p
                })
            });
        }
    }

    fn visit_state(&mut self, layer: &str, f: &mut dyn FnMut(ParamMut<'_>)) {
        let name = self.inner_name;
        if let Some(l) = &mut self.inner {
            l.visit_state(layer, &mut |p| {
                f(ParamMut {
                    variable: distributed_name(name, p.variable),
                    ..p
                })
            });
        }
    }

    fn visit_weights(&self, layer: &str, f: &mut dyn FnMut(ParamRef<'_>)) {
        let name = self.inner_name;
        if let Some(l) = &self.inner {
            l.visit_weights(layer, &mut |p| {
                f(ParamRef {
                    variable: distributed_name(name, p.variable),
                    ..p
                })
            });
        }
    }

    fn set_trainable(&mut self, trainable: bool) {
        if let Some(l) = &mut self.inner {
            l.set_trainable(trainable);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::layers::TIME_DISTRIBUTED;
    use crate::shape::{layer_spec, Dim, ParamValue};

    fn wrapped(
        name: &str,
        inner: Vec<(&'static str, ParamValue)>,
        dims: &[usize],
    ) -> TimeDistributed {
        let spec = layer_spec(name).unwrap();
        let c = spec.configure(inner);
        let config = TIME_DISTRIBUTED.configure(vec![(
            "layer",
            ParamValue::Layer(spec.name.into(), c.values().to_vec().into()),
        )]);
        let input = TensorSpec::dense(dims.iter().copied().map(Dim::Known).collect());
        TimeDistributed::from_config(&TIME_DISTRIBUTED, &config, &[input], &mut Rng::new(3))
    }

    /// The sum of `out · probe` for `x`, in f64.
    fn objective(l: &TimeDistributed, x: &Array2<f32>, probe: &Array2<f32>) -> f64 {
        let y = l.call(Input::Dense(x.view()));
        y.iter()
            .zip(probe)
            .map(|(a, b)| *a as f64 * *b as f64)
            .sum()
    }

    /// Every weight's and the input's gradient against central differences.
    fn check_gradients(mut l: TimeDistributed, x: Array2<f32>) {
        let mut rng = Rng::new(5);
        let y = l.call(Input::Dense(x.view()));
        let probe = Array2::from_shape_fn(y.dim(), |_| rng.uniform(-1.0, 1.0));
        l.forward(Input::Dense(x.view()), &mut ForwardContext::default());
        l.backward(Input::Dense(x.view()), probe.view(), true);
        let gx = l.grad_input().to_owned();
        let h = 1e-2f32;
        for i in 0..x.len() {
            let (mut plus, mut minus) = (x.clone(), x.clone());
            plus.as_slice_mut().unwrap()[i] += h;
            minus.as_slice_mut().unwrap()[i] -= h;
            let fd =
                (objective(&l, &plus, &probe) - objective(&l, &minus, &probe)) / (2.0 * h as f64);
            let got = gx.as_slice().unwrap()[i] as f64;
            assert!(
                (fd - got).abs() < 2e-3 * fd.abs().max(1.0),
                "input {i}: {got} vs {fd}"
            );
        }
        // Weight gradients: perturb each value through `visit_params`.
        let mut grads = Vec::new();
        l.visit_params("td", &mut |p| grads.push((p.variable, p.grad.to_vec())));
        assert!(!grads.is_empty());
        for (w, (name, grad)) in grads.iter().enumerate() {
            for (k, &g) in grad.iter().enumerate() {
                let shift = |d: f32, l: &mut TimeDistributed| {
                    let mut seen = 0;
                    l.visit_params("td", &mut |p| {
                        if seen == w {
                            p.value[k] += d;
                        }
                        seen += 1;
                    });
                };
                shift(h, &mut l);
                let p = objective(&l, &x, &probe);
                shift(-2.0 * h, &mut l);
                let m = objective(&l, &x, &probe);
                shift(h, &mut l);
                let fd = (p - m) / (2.0 * h as f64);
                assert!(
                    (fd - g as f64).abs() < 2e-3 * fd.abs().max(1.0),
                    "{name}[{k}]: {g} vs {fd}"
                );
            }
        }
    }

    #[test]
    fn a_wrapped_dense_layer_is_the_dense_layer_on_every_step() {
        let l = wrapped(
            "dense",
            vec![
                ("units", ParamValue::Int(2)),
                (
                    "activation",
                    ParamValue::Activation(crate::shape::Activation::Tanh),
                ),
            ],
            &[4, 3],
        );
        let names: Vec<_> = {
            let mut v = Vec::new();
            l.visit_weights("td", &mut |p| v.push((p.variable, p.shape.to_vec())));
            v
        };
        assert_eq!(
            names,
            [("dense/kernel", vec![3, 2]), ("dense/bias", vec![2])]
        );
        // (batch 2, 4 steps, 3 features) as 8 rows: each step's output is
        // tanh(x · kernel + bias), an independent f64 formula.
        let mut rng = Rng::new(9);
        let x = Array2::from_shape_fn((8, 3), |_| rng.uniform(-1.0, 1.0));
        let y = l.call(Input::Dense(x.view()));
        let mut w = Vec::new();
        l.visit_weights("td", &mut |p| w.push(p.value.to_vec()));
        for r in 0..8 {
            for u in 0..2 {
                let z: f64 = (0..3)
                    .map(|f| x[[r, f]] as f64 * w[0][f * 2 + u] as f64)
                    .sum::<f64>()
                    + w[1][u] as f64;
                assert!((y[[r, u]] as f64 - z.tanh()).abs() < 1e-6);
            }
        }
        check_gradients(l, x);
    }

    #[test]
    fn a_wrapped_convolution_and_recurrent_layer_have_finite_difference_gradients() {
        // conv1d over 5 inner steps of 2 features, in each of 3 outer steps (batch 2).
        let l = wrapped(
            "conv1d",
            vec![
                ("filters", ParamValue::Int(2)),
                ("kernel_size", ParamValue::Ints(vec![2].into())),
            ],
            &[3, 5, 2],
        );
        let mut rng = Rng::new(11);
        check_gradients(
            l,
            Array2::from_shape_fn((2 * 3 * 5, 2), |_| rng.uniform(-1.0, 1.0)),
        );
        // A GRU over 4 inner steps, in each of 3 outer steps.
        let l = wrapped("gru", vec![("units", ParamValue::Int(2))], &[3, 4, 2]);
        let x = Array2::from_shape_fn((2 * 3 * 4, 2), |_| rng.uniform(-1.0, 1.0));
        assert_eq!(l.call(Input::Dense(x.view())).dim(), (6, 2));
        check_gradients(l, x);
    }
}
