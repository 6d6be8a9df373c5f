//! Keras' `BatchNormalization` and `LayerNormalization` at run time, on the kernels of
//! `kernels::normalization`.
//!
//! Batch normalization keeps its moving statistics as non-trainable weights: a training
//! forward pass normalizes with the batch's statistics and updates the moving ones
//! (`moving = moving · momentum + batch · (1 - momentum)`, the biased variance, as Keras);
//! inference, and a forward pass outside training, normalize with the moving statistics.

use std::borrow::Cow;

use ndarray::{Array1, Array2, ArrayView2};

use super::{empty_rows, ensure_shape, UseSlots};
use crate::onnx::{Attr, LayerExport};
use crate::runtime::kernels::normalization::{
    channel_affine, channel_grad_input, channel_grad_sums, channel_moments, channel_standardize,
    group_backward, group_normalize, Blocks,
};
use crate::runtime::{
    init, BuildLayer, Error, ForwardContext, Input, Layer, ParamMut, ParamRef, Rng,
};
use crate::shape::{
    norm_axis, BatchNormConfig, Config, Initializer, LayerNormConfig, LayerSpec, TensorSpec,
};

/// The values of `x` as one row-major slice (a copy only if `x` is not in standard layout).
fn flat<'a>(x: &ArrayView2<'a, f32>) -> Cow<'a, [f32]> {
    match x.to_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(x.iter().copied().collect()),
    }
}

/// The layout of the normalized axis of `inputs[0]` (an empty one for inputs the rule refuses,
/// which the macro never builds).
fn blocks_of(inputs: &[TensorSpec], axis: i64) -> Blocks {
    inputs
        .first()
        .and_then(|s| norm_axis(s, axis).ok())
        .and_then(|a| Blocks::new(a.size, a.inner))
        .unwrap_or(Blocks::EMPTY)
}

fn initialized(init_with: Initializer, n: usize, rng: &mut Rng) -> Array1<f32> {
    let mut a = Array1::zeros(n);
    init::fill(init_with, &[n], a.iter_mut(), rng);
    a
}

fn ensure_len(buf: &mut Vec<f64>, n: usize) {
    if buf.len() != n {
        buf.resize(n, 0.0);
    }
}

/// A built `BatchNormalization` layer: `gamma`, `beta` (trainable, when `scale` and
/// `center`), `moving_mean`, `moving_variance` (non-trainable), and the training buffers.
#[derive(Clone, Debug)]
pub struct BatchNormalization {
    config: BatchNormConfig,
    blocks: Blocks,
    shape: [usize; 1],
    /// Ones without `scale`, so the passes need no special case.
    gamma: Array1<f32>,
    /// Zeros without `center`.
    beta: Array1<f32>,
    moving_mean: Array1<f32>,
    moving_variance: Array1<f32>,
    grad_gamma: Array1<f32>,
    grad_beta: Array1<f32>,
    /// The statistics of the last forward pass: the batch's in training, the moving ones
    /// outside; `inv = 1 / sqrt(variance + epsilon)`.
    mean: Vec<f32>,
    variance: Vec<f32>,
    inv: Vec<f32>,
    /// Whether the last forward pass used the batch's statistics (backward then goes through
    /// them too).
    batch_statistics: bool,
    /// Keras' `trainable = False`: training too normalizes with the moving statistics.
    frozen: bool,
    /// Per channel: `gamma · inv`, `beta - mean · gamma · inv`.
    scale_c: Vec<f32>,
    shift_c: Vec<f32>,
    xhat: Array2<f32>,
    out: Array2<f32>,
    grad_input: Array2<f32>,
    acc: Vec<f64>,
    acc2: Vec<f64>,
    /// Backward's per-channel means of `dy` and `dy · xhat`.
    mean_dy: Vec<f32>,
    mean_dy_xhat: Vec<f32>,
}

impl BatchNormalization {
    /// The layer for `config` on the axis laid out as `blocks`, its weights from the
    /// configured initializers.
    fn build(config: BatchNormConfig, blocks: Blocks, rng: &mut Rng) -> Self {
        let n = blocks.size;
        BatchNormalization {
            config,
            blocks,
            shape: [n],
            gamma: initialized(
                if config.scale {
                    config.gamma_initializer
                } else {
                    Initializer::Ones
                },
                n,
                rng,
            ),
            beta: initialized(
                if config.center {
                    config.beta_initializer
                } else {
                    Initializer::Zeros
                },
                n,
                rng,
            ),
            moving_mean: initialized(config.moving_mean_initializer, n, rng),
            moving_variance: initialized(config.moving_variance_initializer, n, rng),
            grad_gamma: Array1::zeros(n),
            grad_beta: Array1::zeros(n),
            mean: vec![0.0; n],
            variance: vec![0.0; n],
            inv: vec![0.0; n],
            batch_statistics: false,
            frozen: false,
            scale_c: vec![0.0; n],
            shift_c: vec![0.0; n],
            xhat: Array2::zeros((0, 0)),
            out: Array2::zeros((0, 0)),
            grad_input: Array2::zeros((0, 0)),
            acc: vec![0.0; n],
            acc2: vec![0.0; n],
            mean_dy: vec![0.0; n],
            mean_dy_xhat: vec![0.0; n],
        }
    }

    /// The configuration the layer was built from.
    pub fn config(&self) -> &BatchNormConfig {
        &self.config
    }

    /// The moving mean, `[size]`.
    pub fn moving_mean(&self) -> &[f32] {
        self.moving_mean.as_slice().unwrap_or(&[])
    }

    /// The moving variance, `[size]`.
    pub fn moving_variance(&self) -> &[f32] {
        self.moving_variance.as_slice().unwrap_or(&[])
    }

    fn epsilon(&self) -> f32 {
        self.config.epsilon as f32
    }

    // `inv`, `scale_c` and `shift_c` from `mean` and `variance` (the batch's or the moving
    // ones), the same arithmetic for inference and training.
    fn set_affine(&mut self) {
        let eps = self.epsilon();
        let per_channel = self
            .mean
            .iter()
            .zip(&self.variance)
            .zip(self.gamma.iter().zip(self.beta.iter()));
        let outs = self
            .inv
            .iter_mut()
            .zip(self.scale_c.iter_mut().zip(self.shift_c.iter_mut()));
        for (((&m, &v), (&g, &b)), (inv, (s, t))) in per_channel.zip(outs) {
            (*inv, *s, *t) = affine(m, v, g, b, eps);
        }
    }
}

/// `(inv, scale, shift)` of one channel: `inv = 1 / sqrt(variance + epsilon)`,
/// `scale = gamma · inv`, `shift = beta - mean · scale` (TensorFlow's `batch_normalization`).
fn affine(mean: f32, variance: f32, gamma: f32, beta: f32, epsilon: f32) -> (f32, f32, f32) {
    let inv = 1.0 / (variance + epsilon).sqrt();
    let scale = gamma * inv;
    (inv, scale, beta - mean * scale)
}

impl BuildLayer for BatchNormalization {
    fn from_config(
        _: &'static LayerSpec,
        config: &Config,
        inputs: &[TensorSpec],
        rng: &mut Rng,
    ) -> Self {
        let config = BatchNormConfig::from_config(config);
        BatchNormalization::build(config, blocks_of(inputs, config.axis), rng)
    }
}

/// The normalized axis of the exported layer's input (the batch axis being 0).
fn export_axis(cx: &LayerExport<'_>, axis: i64) -> Result<usize, Error> {
    let input = cx
        .input_spec(0)
        .ok_or_else(|| cx.unsupported("the layer has no input"))?;
    norm_axis(input, axis)
        .map(|a| a.axis)
        .map_err(|e| cx.unsupported(e))
}

impl Layer for BatchNormalization {
    /// Inference with the moving statistics, as `call` computes it: `x · scale + shift`
    /// per channel, `scale = gamma / sqrt(moving_variance + epsilon)` and
    /// `shift = beta - moving_mean · scale`, from the initializers.
    fn export_onnx(&self, cx: &mut LayerExport<'_>) -> Result<(), Error> {
        let axis = export_axis(cx, self.config.axis)?;
        let (x, out) = (cx.input(0).to_string(), cx.output().to_string());
        let (mean, variance) = (cx.weight("moving_mean")?, cx.weight("moving_variance")?);
        let eps = cx.scalar("epsilon", self.epsilon());
        let (shifted, sd, inv) = (cx.tmp("variance_eps"), cx.tmp("std"), cx.tmp("inv"));
        cx.node("Add", &[&variance, &eps], &[&shifted], vec![]);
        cx.node("Sqrt", &[&shifted], &[&sd], vec![]);
        cx.node("Reciprocal", &[&sd], &[&inv], vec![]);
        let scale = if self.config.scale {
            let (gamma, scale) = (cx.weight("gamma")?, cx.tmp("scale"));
            cx.node("Mul", &[&gamma, &inv], &[&scale], vec![]);
            scale
        } else {
            inv
        };
        let moved = cx.tmp("mean_scaled");
        cx.node("Mul", &[&mean, &scale], &[&moved], vec![]);
        let shift = cx.tmp("shift");
        if self.config.center {
            let beta = cx.weight("beta")?;
            cx.node("Sub", &[&beta, &moved], &[&shift], vec![]);
        } else {
            cx.node("Neg", &[&moved], &[&shift], vec![]);
        }
        let (scale, shift) = (cx.along_axis(&scale, axis), cx.along_axis(&shift, axis));
        let scaled = cx.tmp("scaled");
        cx.node("Mul", &[&x, &scale], &[&scaled], vec![]);
        cx.node("Add", &[&scaled, &shift], &[&out], vec![]);
        Ok(())
    }

    fn call(&self, x: Input<'_>) -> Array2<f32> {
        let x = x.rows().unwrap_or_else(empty_rows);
        let eps = self.epsilon();
        let (scale, shift): (Vec<f32>, Vec<f32>) = self
            .moving_mean
            .iter()
            .zip(self.moving_variance.iter())
            .zip(self.gamma.iter().zip(self.beta.iter()))
            .map(|((&m, &v), (&g, &b))| {
                let (_, s, t) = affine(m, v, g, b, eps);
                (s, t)
            })
            .unzip();
        let mut out = Array2::zeros(x.dim());
        if let Some(o) = out.as_slice_mut() {
            channel_affine(&flat(&x), self.blocks, &scale, &shift, o);
        }
        out
    }

    fn forward(&mut self, x: Input<'_>, cx: &mut ForwardContext) {
        let x = x.rows().unwrap_or_else(empty_rows);
        let (rows, cols) = x.dim();
        ensure_shape(&mut self.out, rows, cols);
        ensure_shape(&mut self.xhat, rows, cols);
        let xs = flat(&x);
        self.batch_statistics = false;
        if cx.training && !self.frozen {
            let counted = channel_moments(
                &xs,
                self.blocks,
                &mut self.acc,
                &mut self.mean,
                &mut self.variance,
            );
            self.batch_statistics = counted > 0;
        }
        if self.batch_statistics {
            // A batch whose statistics overflow must not ruin the moving ones; its gradients
            // are not finite either, so the step is refused as a whole.
            let finite = self
                .mean
                .iter()
                .chain(&self.variance)
                .all(|v| v.is_finite());
            if finite {
                let momentum = self.config.momentum as f32;
                let stats = self.mean.iter().zip(&self.variance);
                let moving = self
                    .moving_mean
                    .iter_mut()
                    .zip(self.moving_variance.iter_mut());
                for ((&m, &v), (mm, mv)) in stats.zip(moving) {
                    *mm = *mm * momentum + m * (1.0 - momentum);
                    *mv = *mv * momentum + v * (1.0 - momentum);
                }
            }
        } else {
            self.mean.clear();
            self.mean.extend(self.moving_mean.iter());
            self.variance.clear();
            self.variance.extend(self.moving_variance.iter());
        }
        self.set_affine();
        if let (Some(o), Some(h)) = (self.out.as_slice_mut(), self.xhat.as_slice_mut()) {
            if self.batch_statistics {
                let (g, b) = (self.gamma.as_slice(), self.beta.as_slice());
                let affine = g.zip(b).map(|(g, b)| (g, b, o));
                channel_standardize(&xs, self.blocks, &self.mean, &self.inv, h, affine);
            } else {
                // Outside training, the arithmetic of `call`, so that both give the same output.
                channel_affine(&xs, self.blocks, &self.scale_c, &self.shift_c, o);
                channel_standardize(&xs, self.blocks, &self.mean, &self.inv, h, None);
            }
        }
    }

    fn output(&self) -> ArrayView2<'_, f32> {
        self.out.view()
    }

    fn backward(&mut self, _x: Input<'_>, grad_output: ArrayView2<'_, f32>, need: bool) {
        let dy = flat(&grad_output);
        let Some(xhat) = self.xhat.as_slice() else {
            return;
        };
        let n = self.blocks.size;
        ensure_len(&mut self.acc, n);
        ensure_len(&mut self.acc2, n);
        channel_grad_sums(&dy, xhat, self.blocks, &mut self.acc, &mut self.acc2);
        for (g, &s) in self.grad_beta.iter_mut().zip(&self.acc) {
            *g = s as f32;
        }
        for (g, &s) in self.grad_gamma.iter_mut().zip(&self.acc2) {
            *g = s as f32;
        }
        if !need {
            return;
        }
        let (rows, cols) = grad_output.dim();
        ensure_shape(&mut self.grad_input, rows, cols);
        // The means of the two sums over the channel's values when the statistics were the
        // batch's (they depend on x); 0 with the moving ones.
        let count = self.blocks.per_channel(dy.len()).max(1) as f64;
        for ((m1, m2), (&s1, &s2)) in self
            .mean_dy
            .iter_mut()
            .zip(self.mean_dy_xhat.iter_mut())
            .zip(self.acc.iter().zip(&self.acc2))
        {
            (*m1, *m2) = if self.batch_statistics {
                ((s1 / count) as f32, (s2 / count) as f32)
            } else {
                (0.0, 0.0)
            };
        }
        if let Some(gi) = self.grad_input.as_slice_mut() {
            channel_grad_input(
                &dy,
                xhat,
                self.blocks,
                &self.scale_c,
                &self.mean_dy,
                &self.mean_dy_xhat,
                gi,
            );
        }
    }

    fn grad_input(&self) -> ArrayView2<'_, f32> {
        self.grad_input.view()
    }

    fn set_trainable(&mut self, trainable: bool) {
        self.frozen = !trainable;
    }

    fn visit_params(&mut self, layer: &str, f: &mut dyn FnMut(ParamMut<'_>)) {
        let (scale, center) = (self.config.scale, self.config.center);
        visit_affine(
            layer,
            &self.shape,
            (scale, &mut self.gamma, &self.grad_gamma),
            (center, &mut self.beta, &self.grad_beta),
            f,
        );
    }

    fn visit_state(&mut self, layer: &str, f: &mut dyn FnMut(ParamMut<'_>)) {
        for (variable, a) in [
            ("moving_mean", &mut self.moving_mean),
            ("moving_variance", &mut self.moving_variance),
        ] {
            if let Some(value) = a.as_slice_mut() {
                f(ParamMut {
                    layer,
                    variable,
                    shape: &self.shape,
                    value,
                    grad: &[],
                });
            }
        }
    }

    fn visit_weights(&self, layer: &str, f: &mut dyn FnMut(ParamRef<'_>)) {
        let weights = [
            ("gamma", &self.gamma, self.config.scale, true),
            ("beta", &self.beta, self.config.center, true),
            ("moving_mean", &self.moving_mean, true, false),
            ("moving_variance", &self.moving_variance, true, false),
        ];
        for (variable, a, present, trainable) in weights {
            if let (true, Some(value)) = (present, a.as_slice()) {
                f(ParamRef {
                    layer,
                    variable,
                    shape: &self.shape,
                    value,
                    trainable,
                });
            }
        }
    }
}

/// A built `LayerNormalization` layer: `gamma`, `beta` (when `scale` and `center`) and the
/// training buffers, one set per use when shared.
#[derive(Clone, Debug)]
pub struct LayerNormalization {
    config: LayerNormConfig,
    blocks: Blocks,
    shape: [usize; 1],
    /// Ones without `scale`, so the passes need no special case.
    gamma: Array1<f32>,
    /// Zeros without `center`.
    beta: Array1<f32>,
    grad_gamma: Array1<f32>,
    grad_beta: Array1<f32>,
    xhat: Array2<f32>,
    /// `1 / sqrt(variance + epsilon)` per group of the last forward pass, one column.
    inv: Array2<f32>,
    out: Array2<f32>,
    grad_input: Array2<f32>,
    uses: UseSlots<4>,
    accumulate: bool,
    acc: Vec<f64>,
    acc2: Vec<f64>,
}

impl LayerNormalization {
    fn build(config: LayerNormConfig, blocks: Blocks, rng: &mut Rng) -> Self {
        let n = blocks.size;
        let scale_init = if config.scale {
            config.gamma_initializer
        } else {
            Initializer::Ones
        };
        let center_init = if config.center {
            config.beta_initializer
        } else {
            Initializer::Zeros
        };
        LayerNormalization {
            config,
            blocks,
            shape: [n],
            gamma: initialized(scale_init, n, rng),
            beta: initialized(center_init, n, rng),
            grad_gamma: Array1::zeros(n),
            grad_beta: Array1::zeros(n),
            xhat: Array2::zeros((0, 0)),
            inv: Array2::zeros((0, 1)),
            out: Array2::zeros((0, 0)),
            grad_input: Array2::zeros((0, 0)),
            uses: UseSlots::default(),
            accumulate: false,
            acc: vec![0.0; n],
            acc2: vec![0.0; n],
        }
    }

    /// The configuration the layer was built from.
    pub fn config(&self) -> &LayerNormConfig {
        &self.config
    }

    fn epsilon(&self) -> f32 {
        self.config.epsilon as f32
    }

    fn weights(&self) -> (&[f32], &[f32]) {
        (
            self.gamma.as_slice().unwrap_or(&[]),
            self.beta.as_slice().unwrap_or(&[]),
        )
    }
}

impl BuildLayer for LayerNormalization {
    fn from_config(
        _: &'static LayerSpec,
        config: &Config,
        inputs: &[TensorSpec],
        rng: &mut Rng,
    ) -> Self {
        let config = LayerNormConfig::from_config(config);
        LayerNormalization::build(config, blocks_of(inputs, config.axis), rng)
    }
}

impl Layer for LayerNormalization {
    /// Each group's mean and biased variance by `ReduceMean` over the axis, then
    /// `(x - mean) / sqrt(variance + epsilon) · gamma + beta` (ONNX's
    /// `LayerNormalization` normalizes over the trailing axes only; this takes any axis).
    fn export_onnx(&self, cx: &mut LayerExport<'_>) -> Result<(), Error> {
        let axis = export_axis(cx, self.config.axis)?;
        let axis_i = i64::try_from(axis).map_err(|_| cx.unsupported("axis out of range"))?;
        let (x, out) = (cx.input(0).to_string(), cx.output().to_string());
        let axes = cx.ints("axes", &[axis_i]);
        let keep = vec![Attr::int("keepdims", 1)];
        let (mean, centred, square, variance) = (
            cx.tmp("mean"),
            cx.tmp("centred"),
            cx.tmp("square"),
            cx.tmp("variance"),
        );
        cx.node("ReduceMean", &[&x, &axes], &[&mean], keep.clone());
        cx.node("Sub", &[&x, &mean], &[&centred], vec![]);
        cx.node("Mul", &[&centred, &centred], &[&square], vec![]);
        cx.node("ReduceMean", &[&square, &axes], &[&variance], keep);
        let eps = cx.scalar("epsilon", self.epsilon());
        let (shifted, sd, inv) = (cx.tmp("variance_eps"), cx.tmp("std"), cx.tmp("inv"));
        cx.node("Add", &[&variance, &eps], &[&shifted], vec![]);
        cx.node("Sqrt", &[&shifted], &[&sd], vec![]);
        cx.node("Reciprocal", &[&sd], &[&inv], vec![]);
        let (scale, center) = (self.config.scale, self.config.center);
        let normalized = if scale || center {
            cx.tmp("normalized")
        } else {
            out.clone()
        };
        cx.node("Mul", &[&centred, &inv], &[&normalized], vec![]);
        let scaled = if scale {
            let gamma = cx.weight("gamma")?;
            let gamma = cx.along_axis(&gamma, axis);
            let scaled = if center {
                cx.tmp("scaled")
            } else {
                out.clone()
            };
            cx.node("Mul", &[&normalized, &gamma], &[&scaled], vec![]);
            scaled
        } else {
            normalized
        };
        if center {
            let beta = cx.weight("beta")?;
            let beta = cx.along_axis(&beta, axis);
            cx.node("Add", &[&scaled, &beta], &[&out], vec![]);
        }
        Ok(())
    }

    fn call(&self, x: Input<'_>) -> Array2<f32> {
        let x = x.rows().unwrap_or_else(empty_rows);
        let mut out = Array2::zeros(x.dim());
        let (gamma, beta) = self.weights();
        if let Some(o) = out.as_slice_mut() {
            group_normalize(&flat(&x), self.blocks, gamma, beta, self.epsilon(), o, None);
        }
        out
    }

    fn forward(&mut self, x: Input<'_>, _cx: &mut ForwardContext) {
        let x = x.rows().unwrap_or_else(empty_rows);
        let (rows, cols) = x.dim();
        ensure_shape(&mut self.out, rows, cols);
        ensure_shape(&mut self.xhat, rows, cols);
        let groups = self.blocks.groups(rows.saturating_mul(cols));
        ensure_shape(&mut self.inv, groups, 1);
        let xs = flat(&x);
        let eps = self.epsilon();
        let gamma = self.gamma.as_slice().unwrap_or(&[]);
        let beta = self.beta.as_slice().unwrap_or(&[]);
        if let (Some(o), Some(h), Some(i)) = (
            self.out.as_slice_mut(),
            self.xhat.as_slice_mut(),
            self.inv.as_slice_mut(),
        ) {
            group_normalize(&xs, self.blocks, gamma, beta, eps, o, Some((h, i)));
        }
    }

    fn output(&self) -> ArrayView2<'_, f32> {
        self.out.view()
    }

    fn backward(&mut self, _x: Input<'_>, grad_output: ArrayView2<'_, f32>, need: bool) {
        let dy = flat(&grad_output);
        let n = self.blocks.size;
        ensure_len(&mut self.acc, n);
        ensure_len(&mut self.acc2, n);
        self.acc.fill(0.0);
        self.acc2.fill(0.0);
        if need {
            let (rows, cols) = grad_output.dim();
            ensure_shape(&mut self.grad_input, rows, cols);
        }
        let gamma = self.gamma.as_slice().unwrap_or(&[]);
        let (Some(xhat), Some(inv)) = (self.xhat.as_slice(), self.inv.as_slice()) else {
            return;
        };
        let dx = if need {
            self.grad_input.as_slice_mut()
        } else {
            None
        };
        group_backward(
            &dy,
            xhat,
            inv,
            self.blocks,
            gamma,
            &mut self.acc,
            &mut self.acc2,
            dx,
        );
        // A shared layer's gradient is the sum over its uses.
        let keep = if self.accumulate { 1.0 } else { 0.0 };
        for (g, &s) in self.grad_beta.iter_mut().zip(&self.acc) {
            *g = *g * keep + s as f32;
        }
        for (g, &s) in self.grad_gamma.iter_mut().zip(&self.acc2) {
            *g = *g * keep + s as f32;
        }
    }

    fn grad_input(&self) -> ArrayView2<'_, f32> {
        self.grad_input.view()
    }

    fn set_uses(&mut self, uses: usize) {
        let current = [
            &mut self.xhat,
            &mut self.inv,
            &mut self.out,
            &mut self.grad_input,
        ];
        self.uses.set_uses(uses, current);
    }

    fn select_use(&mut self, index: usize) {
        let current = [
            &mut self.xhat,
            &mut self.inv,
            &mut self.out,
            &mut self.grad_input,
        ];
        self.uses.select(index, current);
    }

    fn set_accumulate(&mut self, accumulate: bool) {
        self.accumulate = accumulate;
    }

    fn visit_params(&mut self, layer: &str, f: &mut dyn FnMut(ParamMut<'_>)) {
        let (scale, center) = (self.config.scale, self.config.center);
        visit_affine(
            layer,
            &self.shape,
            (scale, &mut self.gamma, &self.grad_gamma),
            (center, &mut self.beta, &self.grad_beta),
            f,
        );
    }

    fn visit_weights(&self, layer: &str, f: &mut dyn FnMut(ParamRef<'_>)) {
        let weights = [
            ("gamma", &self.gamma, self.config.scale),
            ("beta", &self.beta, self.config.center),
        ];
        for (variable, a, present) in weights {
            if let (true, Some(value)) = (present, a.as_slice()) {
                f(ParamRef {
                    layer,
                    variable,
                    shape: &self.shape,
                    value,
                    trainable: true,
                });
            }
        }
    }
}

/// Visits a normalization's trainable `gamma` (when it scales) and `beta` (when it centres),
/// in Keras' order, with their gradients: the part batch and layer normalization share.
fn visit_affine(
    layer: &str,
    shape: &[usize],
    gamma: (bool, &mut Array1<f32>, &Array1<f32>),
    beta: (bool, &mut Array1<f32>, &Array1<f32>),
    f: &mut dyn FnMut(ParamMut<'_>),
) {
    for (variable, (on, value, grad)) in [("gamma", gamma), ("beta", beta)] {
        if let (true, Some(value), Some(grad)) = (on, value.as_slice_mut(), grad.as_slice()) {
            f(ParamMut {
                layer,
                variable,
                shape,
                value,
                grad,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::{layer_spec, Dim, ParamValue};

    /// A layer `name` configured with `given`, built for samples of shape `dims`.
    fn build(name: &str, given: Vec<(&'static str, ParamValue)>, dims: &[usize]) -> Box<dyn Layer> {
        let spec = layer_spec(name).unwrap();
        let config = spec.configure(given);
        let inputs = [TensorSpec::dense(
            dims.iter().map(|&d| Dim::Known(d)).collect(),
        )];
        super::super::build_dyn(spec, &config, &inputs, &mut Rng::new(3)).unwrap()
    }

    fn values(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
        let mut rng = Rng::new(seed);
        Array2::from_shape_fn((rows, cols), |_| rng.uniform(-2.0, 2.0))
    }

    /// Sets every trainable weight to values away from the initializers' ones and zeros.
    fn perturb(layer: &mut dyn Layer) {
        let mut rng = Rng::new(5);
        layer.visit_params("l", &mut |p| {
            for v in p.value.iter_mut() {
                *v += rng.uniform(-0.5, 0.5);
            }
        });
    }

    /// `sum(output · probe)` of a forward pass.
    fn objective(
        layer: &mut dyn Layer,
        x: &Array2<f32>,
        probe: &Array2<f32>,
        training: bool,
    ) -> f64 {
        let mut cx = ForwardContext {
            training,
            ..ForwardContext::default()
        };
        layer.forward(Input::Dense(x.view()), &mut cx);
        layer
            .output()
            .iter()
            .zip(probe)
            .map(|(&o, &p)| f64::from(o) * f64::from(p))
            .sum()
    }

    /// Backward's input and weight gradients against central differences of the objective.
    fn check_gradients(layer: &mut dyn Layer, x: &Array2<f32>, training: bool) {
        let probe = values(x.nrows(), x.ncols(), 9);
        objective(layer, x, &probe, training);
        layer.backward(Input::Dense(x.view()), probe.view(), true);
        let grad_x = layer.grad_input().to_owned();
        let mut grad_w: Vec<Vec<f32>> = Vec::new();
        layer.visit_params("l", &mut |p| grad_w.push(p.grad.to_vec()));
        let h = 1e-2f32;
        let close = |what: &str, got: f32, want: f64| {
            assert!(
                (f64::from(got) - want).abs() <= 2e-3 * want.abs().max(1.0),
                "{what}: backward {got}, central difference {want}"
            );
        };
        for i in 0..x.len() {
            let mut xp = x.clone();
            let mut xm = x.clone();
            xp.as_slice_mut().unwrap()[i] += h;
            xm.as_slice_mut().unwrap()[i] -= h;
            let d = (objective(layer, &xp, &probe, training)
                - objective(layer, &xm, &probe, training))
                / (2.0 * f64::from(h));
            close(&format!("dx[{i}]"), grad_x.as_slice().unwrap()[i], d);
        }
        for (w, grads) in grad_w.iter().enumerate() {
            for (j, &g) in grads.iter().enumerate() {
                let nudge = |layer: &mut dyn Layer, delta: f32| {
                    let mut k = 0;
                    layer.visit_params("l", &mut |p| {
                        if k == w {
                            p.value[j] += delta;
                        }
                        k += 1;
                    });
                };
                nudge(layer, h);
                let up = objective(layer, x, &probe, training);
                nudge(layer, -2.0 * h);
                let down = objective(layer, x, &probe, training);
                nudge(layer, h);
                close(
                    &format!("weight {w}[{j}]"),
                    g,
                    (up - down) / (2.0 * f64::from(h)),
                );
            }
        }
    }

    /// Batch normalization by its definition, in f64, on values of shape `dims` (batch
    /// first) over `axis`: the output with the batch's statistics, and those statistics.
    fn batch_norm_reference(
        x: &[f32],
        dims: &[usize],
        axis: usize,
        gamma: &[f32],
        beta: &[f32],
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let inner: usize = dims[axis + 1..].iter().product();
        let n = dims[axis];
        let channel = |i: usize| (i / inner) % n;
        let count = (x.len() / n) as f64;
        let mut mean = vec![0.0; n];
        for (i, &v) in x.iter().enumerate() {
            mean[channel(i)] += f64::from(v) / count;
        }
        let mut var = vec![0.0; n];
        for (i, &v) in x.iter().enumerate() {
            var[channel(i)] += (f64::from(v) - mean[channel(i)]).powi(2) / count;
        }
        let out = x
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let c = channel(i);
                (f64::from(v) - mean[c]) / (var[c] + 0.001).sqrt() * f64::from(gamma[c])
                    + f64::from(beta[c])
            })
            .collect();
        (out, mean, var)
    }

    #[test]
    fn batch_normalization_on_rank_4_matches_its_definition_on_every_axis() {
        // (batch 2, 3, 4, channels 5), as after a conv2d.
        let dims = [2usize, 3, 4, 5];
        let x = values(2 * 3 * 4, 5, 1);
        for axis in [3i64, 1, 2, -1] {
            let mut layer = build(
                "batch_normalization",
                vec![
                    ("axis", ParamValue::Int(axis)),
                    ("momentum", ParamValue::Float(0.8)),
                ],
                &dims[1..],
            );
            perturb(layer.as_mut());
            let mut weights: Vec<Vec<f32>> = Vec::new();
            layer.visit_weights("l", &mut |p| weights.push(p.value.to_vec()));
            let a = if axis < 0 { 3 } else { axis as usize };
            let (want, mean, var) =
                batch_norm_reference(x.as_slice().unwrap(), &dims, a, &weights[0], &weights[1]);
            layer.forward(Input::Dense(x.view()), &mut ForwardContext::default());
            for (g, w) in layer.output().iter().zip(&want) {
                assert!(
                    (f64::from(*g) - w).abs() < 1e-5,
                    "axis {axis}: {g} against {w}"
                );
            }
            let mut after: Vec<Vec<f32>> = Vec::new();
            layer.visit_weights("l", &mut |p| after.push(p.value.to_vec()));
            for c in 0..dims[a] {
                let mm = 0.8 * f64::from(weights[2][c]) + 0.2 * mean[c];
                let mv = 0.8 * f64::from(weights[3][c]) + 0.2 * var[c];
                assert!(
                    (f64::from(after[2][c]) - mm).abs() < 1e-6,
                    "axis {axis} moving mean"
                );
                assert!(
                    (f64::from(after[3][c]) - mv).abs() < 1e-6,
                    "axis {axis} moving variance"
                );
            }
        }
    }

    #[test]
    fn batch_normalization_gradients_in_training_and_inference() {
        for (axis, dims) in [(-1i64, vec![4usize]), (1, vec![3, 2]), (2, vec![2, 3, 2])] {
            let rows: usize = 4 * dims[..dims.len() - 1].iter().product::<usize>();
            let x = values(rows, *dims.last().unwrap(), 2);
            for training in [true, false] {
                let mut layer = build(
                    "batch_normalization",
                    vec![("axis", ParamValue::Int(axis))],
                    &dims,
                );
                perturb(layer.as_mut());
                // Moving statistics away from 0 and 1, so inference differs from identity.
                layer.visit_state("l", &mut |p| p.value.iter_mut().for_each(|v| *v += 0.3));
                check_gradients(layer.as_mut(), &x, training);
            }
        }
    }

    #[test]
    fn inference_uses_the_moving_statistics_and_training_updates_them() {
        let mut layer = build("batch_normalization", vec![], &[3]);
        let x = values(8, 3, 4);
        let y = layer.call(Input::Dense(x.view()));
        // moving mean 0, variance 1, gamma 1, beta 0: x / sqrt(1 + epsilon).
        for (o, v) in y.iter().zip(&x) {
            assert!((o - v / 1.001f32.sqrt()).abs() < 1e-6);
        }
        let mut before = Vec::new();
        layer.visit_weights("l", &mut |p| before.push(p.value.to_vec()));
        let mut outside = ForwardContext {
            training: false,
            ..ForwardContext::default()
        };
        layer.forward(Input::Dense(x.view()), &mut outside);
        let mut same = Vec::new();
        layer.visit_weights("l", &mut |p| same.push(p.value.to_vec()));
        assert_eq!(before, same, "no update outside training");
        layer.forward(Input::Dense(x.view()), &mut ForwardContext::default());
        let mut after = Vec::new();
        layer.visit_weights("l", &mut |p| after.push(p.value.to_vec()));
        assert_ne!(before[2], after[2]);
        assert_ne!(before[3], after[3]);
        assert_eq!(
            before[..2],
            after[..2],
            "the optimizer's weights are not touched"
        );
    }

    #[test]
    fn frozen_it_trains_with_the_moving_statistics() {
        let mut layer = build("batch_normalization", vec![], &[3]);
        layer.visit_state("l", &mut |p| p.value.iter_mut().for_each(|v| *v += 0.4));
        layer.set_trainable(false);
        let x = values(6, 3, 8);
        let mut before = Vec::new();
        layer.visit_state("l", &mut |p| before.extend_from_slice(p.value));
        layer.forward(Input::Dense(x.view()), &mut ForwardContext::default());
        assert_eq!(layer.output(), layer.call(Input::Dense(x.view())));
        let mut after = Vec::new();
        layer.visit_state("l", &mut |p| after.extend_from_slice(p.value));
        assert_eq!(before, after);
        check_gradients(layer.as_mut(), &x, true);
    }

    #[test]
    fn a_batch_with_overflowing_statistics_leaves_the_moving_ones() {
        let mut layer = build("batch_normalization", vec![], &[2]);
        let mut x = values(4, 2, 1);
        x[[0, 0]] = 3e38;
        x[[1, 0]] = -3e38;
        layer.forward(Input::Dense(x.view()), &mut ForwardContext::default());
        let mut state = Vec::new();
        layer.visit_state("l", &mut |p| state.extend_from_slice(p.value));
        assert!(state.iter().all(|v| v.is_finite()), "{state:?}");
    }

    #[test]
    fn center_and_scale_false_drop_beta_and_gamma() {
        let mut layer = build(
            "batch_normalization",
            vec![
                ("center", ParamValue::Bool(false)),
                ("scale", ParamValue::Bool(false)),
            ],
            &[3],
        );
        let mut names = Vec::new();
        layer.visit_weights("l", &mut |p| names.push(p.variable));
        assert_eq!(names, ["moving_mean", "moving_variance"]);
        let x = values(5, 3, 6);
        check_gradients(layer.as_mut(), &x, true);
    }

    /// Layer normalization by its definition, over `axis` of values of shape `dims`.
    fn layer_norm_reference(
        x: &[f32],
        dims: &[usize],
        axis: usize,
        gamma: &[f32],
        beta: &[f32],
    ) -> Vec<f64> {
        let inner: usize = dims[axis + 1..].iter().product();
        let n = dims[axis];
        let group = |i: usize| (i / (inner * n), i % inner);
        let mut out = vec![0.0; x.len()];
        for i in 0..x.len() {
            let members: Vec<f64> = (0..x.len())
                .filter(|&j| group(j) == group(i))
                .map(|j| f64::from(x[j]))
                .collect();
            let mean = members.iter().sum::<f64>() / n as f64;
            let var = members.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
            let c = (i / inner) % n;
            out[i] = (f64::from(x[i]) - mean) / (var + 0.001).sqrt() * f64::from(gamma[c])
                + f64::from(beta[c]);
        }
        out
    }

    #[test]
    fn layer_normalization_matches_its_definition_and_its_gradients() {
        let dims = [2usize, 3, 4];
        let x = values(2 * 3, 4, 7);
        for axis in [-1i64, 1] {
            let mut layer = build(
                "layer_normalization",
                vec![("axis", ParamValue::Int(axis))],
                &dims[1..],
            );
            perturb(layer.as_mut());
            let mut w: Vec<Vec<f32>> = Vec::new();
            layer.visit_weights("l", &mut |p| w.push(p.value.to_vec()));
            let a = if axis < 0 { 2 } else { 1 };
            let want = layer_norm_reference(x.as_slice().unwrap(), &dims, a, &w[0], &w[1]);
            let y = layer.call(Input::Dense(x.view()));
            for (g, e) in y.iter().zip(&want) {
                assert!(
                    (f64::from(*g) - e).abs() < 1e-5,
                    "axis {axis}: {g} against {e}"
                );
            }
            check_gradients(layer.as_mut(), &x, true);
        }
    }
}
