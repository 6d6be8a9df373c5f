//! Keras' windowed pooling (max and average, 1D and 2D) and the global pooling of images at
//! run time, one type: the windows come from the spec's geometry, the kernels from
//! `kernels::window`. A global pooling layer is one window over every position.

use crate::onnx::{window_attrs, Attr, LayerExport};
use crate::runtime::Error;
use ndarray::{Array2, ArrayView2};

use super::{empty_rows, ensure_shape};
use crate::runtime::kernels::window::{
    avg_pool, avg_pool_backward, max_pool, max_pool_backward, Windows,
};
use crate::runtime::{BuildLayer, ForwardContext, Input, Layer, Rng};
use crate::shape::layers::pooling_windows;
use crate::shape::{Config, LayerSpec, RuleInput, TensorSpec};

/// A built pooling layer: its windows, its reduction and its training buffers.
#[derive(Clone, Debug)]
pub struct Pooling {
    windows: Windows,
    channels: usize,
    max: bool,
    out: Array2<f32>,
    /// For max pooling, the input index of each output's maximum, from the last forward.
    argmax: Vec<usize>,
    grad_input: Array2<f32>,
}

impl Pooling {
    fn samples(&self, rows: usize) -> usize {
        rows / self.windows.input_size().max(1)
    }

    fn run(&self, x: ArrayView2<'_, f32>, out: &mut Array2<f32>, argmax: Option<&mut Vec<usize>>) {
        let n = self.samples(x.nrows());
        ensure_shape(out, n * self.windows.output_size(), self.channels);
        let x = x.as_standard_layout();
        let (Some(src), Some(dst)) = (x.as_slice(), out.as_slice_mut()) else {
            return;
        };
        if self.max {
            let arg = argmax.map(|a| {
                a.resize(dst.len(), 0);
                a.as_mut_slice()
            });
            max_pool(src, n, self.channels, &self.windows, dst, arg);
        } else {
            avg_pool(src, n, self.channels, &self.windows, dst);
        }
    }
}

impl BuildLayer for Pooling {
    fn from_config(
        spec: &'static LayerSpec,
        config: &Config,
        inputs: &[TensorSpec],
        _: &mut Rng,
    ) -> Self {
        let rule = RuleInput {
            name: spec.name,
            config,
            inputs,
        };
        // The macro builds only what the rule accepted; anything else is an empty layer.
        let windows = pooling_windows(&rule, spec.class_name).unwrap_or_default();
        let channels = inputs.first().and_then(|s| s.last().known()).unwrap_or(0);
        Pooling {
            windows: Windows::from_axes(&windows),
            channels,
            max: spec.class_name.contains("Max"),
            out: Array2::zeros((0, channels)),
            argmax: Vec::new(),
            grad_input: Array2::zeros((0, channels)),
        }
    }
}

impl Layer for Pooling {
    /// `MaxPool` / `AveragePool` (padding excluded from the mean, as TensorFlow) between
    /// transposes to channels-first and back; the global poolings reduce the spatial axes.
    fn export_onnx(&self, cx: &mut LayerExport<'_>) -> Result<(), Error> {
        let info = cx.info();
        let class = info.spec.class_name;
        let inputs: Vec<TensorSpec> = cx.input_spec(0).cloned().into_iter().collect();
        let rank = inputs.first().map_or(0, |s| s.dims.len().saturating_sub(1));
        let out = cx.output().to_string();
        if class.starts_with("Global") {
            let x = cx.input(0).to_string();
            let spatial: Vec<i64> = (1..=rank as i64).collect();
            let axes = cx.ints("axes", &spatial);
            let op = if self.max { "ReduceMax" } else { "ReduceMean" };
            cx.node(op, &[&x, &axes], &[&out], vec![Attr::int("keepdims", 0)]);
            return Ok(());
        }
        let rule = RuleInput {
            name: info.name,
            config: &info.config,
            inputs: &inputs,
        };
        let windows = pooling_windows(&rule, class).map_err(|e| cx.unsupported(e.message))?;
        let mut attrs = window_attrs(&windows, false).map_err(|e| cx.unsupported(e))?;
        let op = if self.max {
            "MaxPool"
        } else {
            attrs.push(Attr::int("count_include_pad", 0));
            "AveragePool"
        };
        cx.channels_first(&out, |cx, xt, yt| {
            cx.node(op, &[xt], &[yt], attrs);
            Ok(())
        })
    }

    fn call(&self, x: Input<'_>) -> Array2<f32> {
        let mut out = Array2::zeros((0, 0));
        self.run(x.rows().unwrap_or_else(empty_rows), &mut out, None);
        out
    }

    fn forward(&mut self, x: Input<'_>, _cx: &mut ForwardContext) {
        let mut out = std::mem::take(&mut self.out);
        let mut argmax = std::mem::take(&mut self.argmax);
        self.run(
            x.rows().unwrap_or_else(empty_rows),
            &mut out,
            Some(&mut argmax),
        );
        self.out = out;
        self.argmax = argmax;
    }

    fn output(&self) -> ArrayView2<'_, f32> {
        self.out.view()
    }

    fn backward(&mut self, x: Input<'_>, grad_output: ArrayView2<'_, f32>, need: bool) {
        if !need {
            return;
        }
        let rows = x.n_rows();
        ensure_shape(&mut self.grad_input, rows, self.channels);
        let g = grad_output.as_standard_layout();
        let (Some(g), Some(dx)) = (g.as_slice(), self.grad_input.as_slice_mut()) else {
            return;
        };
        if self.max {
            max_pool_backward(g, &self.argmax, dx);
        } else {
            let n = rows / self.windows.input_size().max(1);
            avg_pool_backward(g, n, self.channels, &self.windows, dx);
        }
    }

    fn grad_input(&self) -> ArrayView2<'_, f32> {
        self.grad_input.view()
    }
}
