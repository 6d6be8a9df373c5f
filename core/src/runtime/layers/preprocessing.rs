//! Keras' preprocessing layers at run time: `Normalization`, `Rescaling` and
//! `CategoryEncoding`.

use std::borrow::Cow;

use ndarray::{Array2, ArrayView2, ArrayViewD, Zip};

use crate::onnx::LayerExport;

use super::{empty_rows, ensure_rows};
use crate::runtime::kernels::normalization::{channel_affine, channel_moments, Blocks};
use crate::runtime::{
    BuildLayer, Error, ForwardContext, Input, Layer, Model, ParamMut, ParamRef, Rng,
};
use crate::shape::layers::{norm_axis, NORMALIZATION, NORMALIZATION_EPSILON};
use crate::shape::{Config, LayerSpec, TensorSpec};

/// A built `Normalization` layer: `(x - mean) / max(sqrt(variance), epsilon)` per feature,
/// or with `invert` its inverse, `mean + x * max(sqrt(variance), epsilon)`.
#[derive(Clone, Debug)]
pub struct Normalization {
    mean: Vec<f32>,
    variance: Vec<f32>,
    /// Keras' `invert`: de-normalizes.
    invert: bool,
    /// Whether `mean` and `variance` were given in the declaration (constants, not weights).
    given: bool,
    blocks: Blocks,
    shape: [usize; 1],
    // The affine map's per-feature factors (see `normalization_factors`), refreshed by every
    // pass (the statistics change under `adapt` and `set_weight`).
    scale: Vec<f32>,
    shift: Vec<f32>,
    zeros: Vec<f32>,
    out: Array2<f32>,
    grad_input: Array2<f32>,
}

/// The per-feature `scale` and `shift` of `x · scale + shift`: with `sd = max(sqrt(variance),
/// epsilon)` (Keras floors the standard deviation, not the variance), `1 / sd` and
/// `-mean / sd`, or inverted `sd` and `mean`.
fn normalization_factors(
    mean: &[f32],
    variance: &[f32],
    invert: bool,
    scale: &mut Vec<f32>,
    shift: &mut Vec<f32>,
) {
    let eps = NORMALIZATION_EPSILON as f32;
    scale.clear();
    shift.clear();
    for (&m, &v) in mean.iter().zip(variance) {
        let sd = v.sqrt().max(eps);
        if invert {
            scale.push(sd);
            shift.push(m);
        } else {
            let s = 1.0 / sd;
            scale.push(s);
            shift.push(-m * s);
        }
    }
}

/// `values` (one per feature, or one for all) as `n` values.
fn broadcast(values: &[f64], n: usize) -> Vec<f32> {
    match values {
        [one] => vec![*one as f32; n],
        many => many
            .iter()
            .map(|&v| v as f32)
            .chain(std::iter::repeat(0.0))
            .take(n)
            .collect(),
    }
}

impl BuildLayer for Normalization {
    fn from_config(
        _: &'static LayerSpec,
        config: &Config,
        inputs: &[TensorSpec],
        _: &mut Rng,
    ) -> Self {
        let blocks = inputs
            .first()
            .and_then(|s| norm_axis(s, config.int("axis")).ok())
            .and_then(|a| Blocks::new(a.size, a.inner))
            .unwrap_or(Blocks::EMPTY);
        let n = blocks.size;
        let (mean, variance, given) = match (config.floats("mean"), config.floats("variance")) {
            (Some(m), Some(v)) => (broadcast(&m, n), broadcast(&v, n), true),
            // Keras' initial statistics, before `adapt`: the identity.
            _ => (vec![0.0; n], vec![1.0; n], false),
        };
        Normalization {
            mean,
            variance,
            invert: config.bool("invert"),
            given,
            blocks,
            shape: [n],
            scale: Vec::with_capacity(n),
            shift: Vec::with_capacity(n),
            zeros: vec![0.0; n],
            out: Array2::zeros((0, 0)),
            grad_input: Array2::zeros((0, 0)),
        }
    }
}

impl Normalization {
    /// The mean and variance in use, one per feature.
    pub fn statistics(&self) -> (&[f32], &[f32]) {
        (&self.mean, &self.variance)
    }
}

fn flat<'a>(x: &ArrayView2<'a, f32>) -> Cow<'a, [f32]> {
    match x.to_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(x.iter().copied().collect()),
    }
}

impl Layer for Normalization {
    /// `x · scale + shift` per channel as `call` computes it, with `sd = max(sqrt(variance),
    /// epsilon)`: `scale = 1 / sd` and `shift = -mean · scale`, or inverted `sd` and `mean`;
    /// from the `mean` and `variance` initializers when adapted, from constants when they
    /// were declared.
    fn export_onnx(&self, cx: &mut LayerExport<'_>) -> Result<(), Error> {
        let axis = cx
            .input_spec(0)
            .ok_or_else(|| cx.unsupported("the layer has no input"))
            .and_then(|s| {
                norm_axis(s, cx.info().config.int("axis"))
                    .map(|a| a.axis)
                    .map_err(|e| cx.unsupported(e))
            })?;
        let (x, out) = (cx.input(0).to_string(), cx.output().to_string());
        let (mean, variance) = if self.given {
            let n =
                i64::try_from(self.mean.len()).map_err(|_| cx.unsupported("too many values"))?;
            (
                cx.floats("mean", &[n], &self.mean),
                cx.floats("variance", &[n], &self.variance),
            )
        } else {
            (cx.weight("mean")?, cx.weight("variance")?)
        };
        let eps = cx.scalar("epsilon", NORMALIZATION_EPSILON as f32);
        let (root, sd) = (cx.tmp("root"), cx.tmp("std"));
        cx.node("Sqrt", &[&variance], &[&root], vec![]);
        cx.node("Max", &[&root, &eps], &[&sd], vec![]);
        let (scale, shift) = if self.invert {
            (sd, mean)
        } else {
            let (scale, moved, shift) = (cx.tmp("scale"), cx.tmp("mean_scaled"), cx.tmp("shift"));
            cx.node("Reciprocal", &[&sd], &[&scale], vec![]);
            cx.node("Mul", &[&mean, &scale], &[&moved], vec![]);
            cx.node("Neg", &[&moved], &[&shift], vec![]);
            (scale, shift)
        };
        let (scale, shift) = (cx.along_axis(&scale, axis), cx.along_axis(&shift, axis));
        let scaled = cx.tmp("scaled");
        cx.node("Mul", &[&x, &scale], &[&scaled], vec![]);
        cx.node("Add", &[&scaled, &shift], &[&out], vec![]);
        Ok(())
    }

    fn call(&self, x: Input<'_>) -> Array2<f32> {
        let x = x.rows().unwrap_or_else(empty_rows);
        let (mut scale, mut shift) = (Vec::new(), Vec::new());
        normalization_factors(
            &self.mean,
            &self.variance,
            self.invert,
            &mut scale,
            &mut shift,
        );
        let mut out = Array2::zeros(x.dim());
        if let Some(o) = out.as_slice_mut() {
            channel_affine(&flat(&x), self.blocks, &scale, &shift, o);
        }
        out
    }

    fn forward(&mut self, x: Input<'_>, _cx: &mut ForwardContext) {
        let x = x.rows().unwrap_or_else(empty_rows);
        let (rows, cols) = x.dim();
        ensure_rows(&mut self.out, rows, cols);
        normalization_factors(
            &self.mean,
            &self.variance,
            self.invert,
            &mut self.scale,
            &mut self.shift,
        );
        if let Some(o) = self.out.as_slice_mut() {
            channel_affine(&flat(&x), self.blocks, &self.scale, &self.shift, o);
        }
    }

    fn output(&self) -> ArrayView2<'_, f32> {
        self.out.view()
    }

    fn backward(&mut self, _x: Input<'_>, grad_output: ArrayView2<'_, f32>, need: bool) {
        if need {
            let (rows, cols) = grad_output.dim();
            ensure_rows(&mut self.grad_input, rows, cols);
            if let Some(g) = self.grad_input.as_slice_mut() {
                channel_affine(
                    &flat(&grad_output),
                    self.blocks,
                    &self.scale,
                    &self.zeros,
                    g,
                );
            }
        }
    }

    fn grad_input(&self) -> ArrayView2<'_, f32> {
        self.grad_input.view()
    }

    fn visit_state(&mut self, layer: &str, f: &mut dyn FnMut(ParamMut<'_>)) {
        if self.given {
            return;
        }
        for (variable, value) in [("mean", &mut self.mean), ("variance", &mut self.variance)] {
            f(ParamMut {
                layer,
                variable,
                shape: &self.shape,
                value,
                grad: &[],
            });
        }
    }

    fn visit_weights(&self, layer: &str, f: &mut dyn FnMut(ParamRef<'_>)) {
        if self.given {
            return;
        }
        for (variable, value) in [("mean", &self.mean), ("variance", &self.variance)] {
            f(ParamRef {
                layer,
                variable,
                shape: &self.shape,
                value,
                trainable: false,
            });
        }
    }
}

/// Keras' `Normalization.adapt(data)` for the layer `layer` of `model`: its mean and (biased)
/// variance over every axis but its own, written to its `mean` and `variance` weights.
pub(crate) fn adapt_normalization<M: Model>(
    model: &mut M,
    layer: &str,
    data: ArrayViewD<'_, f32>,
) -> Result<(), Error> {
    let bad = |message: String| Error::InvalidArgument {
        name: "adapt_normalization",
        message,
    };
    let info = M::layers()
        .iter()
        .find(|l| l.name == layer)
        .ok_or_else(|| bad(format!("the model has no layer '{layer}'")))?;
    if !std::ptr::eq(info.spec, &NORMALIZATION) {
        return Err(bad(format!(
            "layer '{layer}' is a {}, not a Normalization",
            info.spec.class_name
        )));
    }
    if info.weights.is_empty() {
        return Err(bad(format!(
            "layer '{layer}' was declared with its `mean` and `variance`: there is nothing to adapt"
        )));
    }
    let input = &info.input;
    let shape = data.shape();
    let fits = shape.len() == input.ndim()
        && shape
            .iter()
            .skip(1)
            .zip(&input.dims)
            .all(|(&n, d)| d.known().is_none_or(|k| k == n));
    if !fits {
        return Err(bad(format!(
            "layer '{layer}' takes {}, the data has shape {shape:?}",
            input.shape_string()
        )));
    }
    if shape.first().copied().unwrap_or(0) == 0 {
        return Err(bad(format!("no sample to adapt layer '{layer}' to")));
    }
    if data.iter().any(|v| !v.is_finite()) {
        return Err(bad(format!(
            "the data to adapt layer '{layer}' to holds a NaN or an infinity"
        )));
    }
    let axis = norm_axis(input, info.config.int("axis")).map_err(bad)?;
    let blocks = Blocks::new(axis.size, axis.inner)
        .ok_or_else(|| bad(format!("the input of layer '{layer}' is too large")))?;
    let values: Cow<'_, [f32]> = match data.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(data.iter().copied().collect()),
    };
    let n = axis.size;
    let (mut mean, mut variance, mut acc) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    channel_moments(&values, blocks, &mut acc, &mut mean, &mut variance);
    model.visit_state(&mut |p| {
        if p.layer == layer {
            let source = match p.variable {
                "mean" => &mean,
                "variance" => &variance,
                _ => return,
            };
            p.value.iter_mut().zip(source).for_each(|(d, s)| *d = *s);
        }
    });
    Ok(())
}

/// A built `Rescaling` layer: `x * scale + offset`, and its training buffers.
#[derive(Clone, Debug)]
pub struct Rescaling {
    scale: f32,
    offset: f32,
    out: Array2<f32>,
    grad_input: Array2<f32>,
}

impl Rescaling {
    /// A layer computing `x * scale + offset` (finite, checked by the spec).
    pub fn new(scale: f32, offset: f32) -> Self {
        Rescaling {
            scale,
            offset,
            out: Array2::zeros((0, 0)),
            grad_input: Array2::zeros((0, 0)),
        }
    }

    /// The scale and the offset.
    pub fn factors(&self) -> (f32, f32) {
        (self.scale, self.offset)
    }
}

impl BuildLayer for Rescaling {
    fn from_config(_: &'static LayerSpec, config: &Config, _: &[TensorSpec], _: &mut Rng) -> Self {
        Rescaling::new(config.float("scale") as f32, config.float("offset") as f32)
    }
}

impl Layer for Rescaling {
    /// `Mul` by the scale, then `Add` of the offset, in `float32` as the runtime computes.
    fn export_onnx(&self, cx: &mut LayerExport<'_>) -> Result<(), Error> {
        let (x, out) = (cx.input(0).to_string(), cx.output().to_string());
        let (scale, offset) = (
            cx.scalar("scale", self.scale),
            cx.scalar("offset", self.offset),
        );
        let scaled = cx.tmp("scaled");
        cx.node("Mul", &[&x, &scale], &[&scaled], vec![]);
        cx.node("Add", &[&scaled, &offset], &[&out], vec![]);
        Ok(())
    }

    fn call(&self, x: Input<'_>) -> Array2<f32> {
        let (scale, offset) = (self.scale, self.offset);
        x.rows()
            .unwrap_or_else(empty_rows)
            .mapv(|v| v * scale + offset)
    }

    fn forward(&mut self, x: Input<'_>, _cx: &mut ForwardContext) {
        let x = x.rows().unwrap_or_else(empty_rows);
        let (rows, cols) = x.dim();
        ensure_rows(&mut self.out, rows, cols);
        let (scale, offset) = (self.scale, self.offset);
        Zip::from(&mut self.out)
            .and(&x)
            .for_each(|o, &v| *o = v * scale + offset);
    }

    fn output(&self) -> ArrayView2<'_, f32> {
        self.out.view()
    }

    fn backward(&mut self, _x: Input<'_>, grad_output: ArrayView2<'_, f32>, need: bool) {
        if need {
            let (rows, cols) = grad_output.dim();
            ensure_rows(&mut self.grad_input, rows, cols);
            let scale = self.scale;
            Zip::from(&mut self.grad_input)
                .and(&grad_output)
                .for_each(|g, &d| *g = d * scale);
        }
    }

    fn grad_input(&self) -> ArrayView2<'_, f32> {
        self.grad_input.view()
    }
}

/// What a [`CategoryEncoding`] layer writes for its ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CategoryMode {
    /// One vector per id, 1 at the id.
    OneHot,
    /// One vector per sample, 1 at each id it holds.
    MultiHot,
    /// One vector per sample, the number of times it holds each id.
    Count,
}

/// A built `CategoryEncoding` layer: the vector size, the mode, and its training buffer.
#[derive(Clone, Debug)]
pub struct CategoryEncoding {
    num_tokens: usize,
    mode: CategoryMode,
    out: Array2<f32>,
}

impl CategoryEncoding {
    /// A layer encoding ids in `[0, num_tokens)` (a model checks them first).
    pub fn new(num_tokens: usize, mode: CategoryMode) -> Self {
        CategoryEncoding {
            num_tokens,
            mode,
            out: Array2::zeros((0, num_tokens)),
        }
    }

    /// The mode.
    pub fn mode(&self) -> CategoryMode {
        self.mode
    }

    /// Writes the encoding of `ids` into `out`, resized. Ids outside `[0, num_tokens)`
    /// (which the model refuses before any layer runs) are skipped rather than trusted.
    fn encode(&self, ids: Input<'_>, out: &mut Array2<f32>) {
        match ids {
            Input::RaggedIds(ids) => {
                self.encode_rows(ids.values(), ids.row_ranges(), ids.n_rows(), out);
            }
            // Dense `(batch, T)` ids: row `i` of the matrix is sample `i`.
            Input::Ids(ids) => {
                let n = ids.nrows();
                self.encode_rows(ids, (0..n).map(|i| (i, i + 1)), n, out);
            }
            // The spec admits integer ids only.
            _ => ensure_rows(out, 0, self.num_tokens),
        }
    }

    /// The encoding of ids `values`, whose sample `i` is the rows `samples[i]` of `values`.
    fn encode_rows(
        &self,
        values: ArrayView2<'_, i32>,
        samples: impl Iterator<Item = (usize, usize)>,
        n_samples: usize,
        out: &mut Array2<f32>,
    ) {
        let tokens = self.num_tokens;
        let slot = |id: i32| usize::try_from(id).ok().filter(|&i| i < tokens);
        match self.mode {
            CategoryMode::OneHot => {
                ensure_rows(out, values.len(), tokens);
                out.fill(0.0);
                for (mut row, id) in out.rows_mut().into_iter().zip(values.iter()) {
                    if let Some(v) = slot(*id).and_then(|i| row.get_mut(i)) {
                        *v = 1.0;
                    }
                }
            }
            CategoryMode::MultiHot | CategoryMode::Count => {
                ensure_rows(out, n_samples, tokens);
                out.fill(0.0);
                let count = self.mode == CategoryMode::Count;
                for (mut row, (a, b)) in out.rows_mut().into_iter().zip(samples) {
                    for id in values.slice(ndarray::s![a..b, ..]).iter() {
                        if let Some(v) = slot(*id).and_then(|i| row.get_mut(i)) {
                            *v = if count { *v + 1.0 } else { 1.0 };
                        }
                    }
                }
            }
        }
    }
}

impl BuildLayer for CategoryEncoding {
    fn from_config(_: &'static LayerSpec, config: &Config, _: &[TensorSpec], _: &mut Rng) -> Self {
        let mode = match config.str("output_mode") {
            "one_hot" => CategoryMode::OneHot,
            "count" => CategoryMode::Count,
            _ => CategoryMode::MultiHot,
        };
        CategoryEncoding::new(config.usize("num_tokens"), mode)
    }
}

impl Layer for CategoryEncoding {
    fn call(&self, x: Input<'_>) -> Array2<f32> {
        let mut out = Array2::zeros((0, self.num_tokens));
        self.encode(x, &mut out);
        out
    }

    fn forward(&mut self, x: Input<'_>, _cx: &mut ForwardContext) {
        let mut out = std::mem::take(&mut self.out);
        self.encode(x, &mut out);
        self.out = out;
    }

    fn output(&self) -> ArrayView2<'_, f32> {
        self.out.view()
    }

    /// Ids have no gradient.
    fn backward(&mut self, _x: Input<'_>, _grad_output: ArrayView2<'_, f32>, _need: bool) {}

    /// Ids have no gradient: always empty.
    fn grad_input(&self) -> ArrayView2<'_, f32> {
        empty_rows()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn scales_and_shifts_and_its_gradient_is_the_scale() {
        let x = array![[0.0f32, 255.0], [51.0, -10.0]];
        let mut r = Rescaling::new(1.0 / 255.0, -0.5);
        let expected = array![[-0.5f32, 0.5], [-0.3, -0.5 - 10.0 / 255.0]];
        let y = r.call(x.view().into());
        for (a, b) in y.iter().zip(&expected) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        r.forward(x.view().into(), &mut ForwardContext::training(0));
        assert_eq!(r.output(), y);
        let g = array![[1.0f32, -2.0], [0.5, 4.0]];
        r.backward(x.view().into(), g.view(), true);
        assert_eq!(r.grad_input(), g.mapv(|d| d / 255.0));
    }

    #[test]
    fn normalization_gradient_is_one_over_the_standard_deviation() {
        use crate::shape::{Dim, ParamValue};
        let config = NORMALIZATION.configure(vec![
            ("mean", ParamValue::Floats(vec![1.0, -1.0].into())),
            ("variance", ParamValue::Floats(vec![4.0, 0.0].into())),
        ]);
        let input = TensorSpec::dense(vec![Dim::Known(2)]);
        let mut n = Normalization::from_config(&NORMALIZATION, &config, &[input], &mut Rng::new(0));
        let x = array![[3.0f32, -1.0], [0.0, 2.0]];
        n.forward(x.view().into(), &mut ForwardContext::training(0));
        // Keras floors the standard deviation (not the variance) at its epsilon, 1e-7:
        // a variance of 0 divides by 1e-7 (flooring the variance would divide by 3.2e-4).
        let inv = [0.5f32, 1.0 / 1e-7f32];
        let want = array![[1.0f32, 0.0], [-0.5, 3.0 * inv[1]]];
        for (a, b) in n.output().iter().zip(&want) {
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
        }
        assert_eq!(n.call(x.view().into()), n.output());
        let g = array![[1.0f32, -2.0], [0.5, 4.0]];
        n.backward(x.view().into(), g.view(), true);
        for ((r, c), &v) in n.grad_input().indexed_iter() {
            let want = g[[r, c]] * inv[c];
            assert!(
                (v - want).abs() <= 1e-5 * want.abs().max(1.0),
                "{v} vs {want}"
            );
        }
    }

    #[test]
    fn inverted_normalization_multiplies_by_the_standard_deviation() {
        use crate::shape::{Dim, ParamValue};
        let config = NORMALIZATION.configure(vec![
            ("mean", ParamValue::Floats(vec![1.0, -1.0].into())),
            ("variance", ParamValue::Floats(vec![4.0, 0.0].into())),
            ("invert", ParamValue::Bool(true)),
        ]);
        let input = TensorSpec::dense(vec![Dim::Known(2)]);
        let mut n = Normalization::from_config(&NORMALIZATION, &config, &[input], &mut Rng::new(0));
        let x = array![[3.0f32, -1.0], [0.0, 2.0]];
        n.forward(x.view().into(), &mut ForwardContext::training(0));
        // Keras: mean + x * max(sqrt(variance), 1e-7).
        let sd = [2.0f32, 1e-7];
        let want = array![[7.0f32, -1.0 - 1e-7], [1.0, -1.0 + 2e-7]];
        for (a, b) in n.output().iter().zip(&want) {
            assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{a} vs {b}");
        }
        assert_eq!(n.call(x.view().into()), n.output());
        let g = array![[1.0f32, -2.0], [0.5, 4.0]];
        n.backward(x.view().into(), g.view(), true);
        for ((r, c), &v) in n.grad_input().indexed_iter() {
            let want = g[[r, c]] * sd[c];
            assert!(
                (v - want).abs() <= 1e-6 * want.abs().max(1e-6),
                "{v} vs {want}"
            );
        }
    }

    #[test]
    fn category_encoding_writes_one_hot_multi_hot_and_count() {
        use crate::runtime::RaggedTensor;
        let ids = RaggedTensor::from_rows(&[vec![1, 3, 1], vec![], vec![0]]).unwrap();
        let encode = |mode| {
            let mut c = CategoryEncoding::new(4, mode);
            let y = c.call(Input::RaggedIds(ids.view()));
            c.forward(
                Input::RaggedIds(ids.view()),
                &mut ForwardContext::training(0),
            );
            assert_eq!(c.output(), y, "{mode:?}");
            y
        };
        assert_eq!(
            encode(CategoryMode::OneHot),
            array![
                [0.0f32, 1.0, 0.0, 0.0],
                [0.0, 0.0, 0.0, 1.0],
                [0.0, 1.0, 0.0, 0.0],
                [1.0, 0.0, 0.0, 0.0]
            ]
        );
        assert_eq!(
            encode(CategoryMode::MultiHot),
            array![
                [0.0f32, 1.0, 0.0, 1.0],
                [0.0, 0.0, 0.0, 0.0],
                [1.0, 0.0, 0.0, 0.0]
            ]
        );
        assert_eq!(
            encode(CategoryMode::Count),
            array![
                [0.0f32, 2.0, 0.0, 1.0],
                [0.0, 0.0, 0.0, 0.0],
                [1.0, 0.0, 0.0, 0.0]
            ]
        );
        // Ids the model would refuse are skipped, never an out-of-bounds write.
        let bad = RaggedTensor::from_rows(&[vec![-1, 9, 2]]).unwrap();
        let y = CategoryEncoding::new(4, CategoryMode::Count).call(Input::RaggedIds(bad.view()));
        assert_eq!(y, array![[0.0f32, 0.0, 1.0, 0.0]]);
    }

    #[test]
    fn category_encoding_of_dense_ids_encodes_each_row_as_a_sample() {
        let ids = array![[1, 3, 1], [0, 0, 2]];
        let encode = |mode| {
            let mut c = CategoryEncoding::new(4, mode);
            let y = c.call(Input::Ids(ids.view()));
            c.forward(Input::Ids(ids.view()), &mut ForwardContext::training(0));
            assert_eq!(c.output(), y, "{mode:?}");
            y
        };
        let one_hot = encode(CategoryMode::OneHot);
        assert_eq!(one_hot.dim(), (6, 4));
        for (row, id) in one_hot.rows().into_iter().zip(ids.iter()) {
            let hot: Vec<usize> = (0..4).filter(|&i| row[i] == 1.0).collect();
            assert_eq!(hot, vec![*id as usize]);
            assert_eq!(row.sum(), 1.0);
        }
        assert_eq!(
            encode(CategoryMode::MultiHot),
            array![[0.0f32, 1.0, 0.0, 1.0], [1.0, 0.0, 1.0, 0.0]]
        );
        assert_eq!(
            encode(CategoryMode::Count),
            array![[0.0f32, 2.0, 0.0, 1.0], [2.0, 0.0, 1.0, 0.0]]
        );
    }
}
