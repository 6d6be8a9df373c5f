//! Keras' `Conv1D` and `Conv2D` at run time, one rank-generic type: im2col into a column
//! matrix, then one `sgemm` with the kernel read as `(kh · kw · c, filters)` (Keras' layout,
//! so Keras weights load unchanged). Backward is two products, `dW = colsᵀ · dZ` and
//! `dCols = dZ · Wᵀ`, then col2im. A 1D convolution is the 2D one on a single row.

use ndarray::{Array1, Array2, ArrayView2, Zip};

use super::{empty_rows, ensure_shape};
use crate::runtime::kernels::activations::{self, needs_pre_activation};
use crate::runtime::kernels::gemm::sgemm;
use crate::runtime::kernels::window::{col2im, im2col, Windows};
use crate::runtime::{
    init, ActivityRegularizer, BuildLayer, ForwardContext, Input, Layer, ParamMut, ParamRef, Rng,
};
use crate::shape::layers::conv_geometry;
use crate::shape::{Activation, Config, LayerSpec, RuleInput, TensorSpec};

/// A built convolution: kernel `(*kernel_size, channels, filters)`, bias `[filters]`, and the
/// training buffers.
#[derive(Clone, Debug)]
pub struct Conv {
    windows: Windows,
    channels: usize,
    filters: usize,
    activation: Activation,
    use_bias: bool,
    /// The kernel as a `(taps · channels, filters)` matrix: the same values, row-major, as
    /// Keras' `(kh, kw, channels, filters)` array.
    kernel: Array2<f32>,
    kernel_shape: Vec<usize>,
    bias: Array1<f32>,
    bias_shape: [usize; 1],
    /// The last training input's column matrix (unused for a pointwise kernel).
    cols: Array2<f32>,
    z: Array2<f32>,
    out: Array2<f32>,
    dz: Array2<f32>,
    grad_cols: Array2<f32>,
    grad_kernel: Array2<f32>,
    grad_bias: Array1<f32>,
    grad_input: Array2<f32>,
    /// Keras' `activity_regularizer`, on the output (after the activation).
    activity: ActivityRegularizer,
}

impl Conv {
    /// The number of samples in `rows` rows of input.
    fn samples(&self, rows: usize) -> usize {
        rows / self.windows.input_size().max(1)
    }

    fn col_width(&self) -> usize {
        self.windows.taps() * self.channels
    }

    // Fills `cols` with the column matrix of `x`; false (and `cols` untouched) for a
    // pointwise kernel, whose column matrix is `x` itself.
    fn columns(&self, x: ArrayView2<'_, f32>, cols: &mut Array2<f32>) -> bool {
        if self.windows.is_pointwise() {
            return false;
        }
        let n = self.samples(x.nrows());
        ensure_shape(cols, n * self.windows.output_size(), self.col_width());
        let x = x.as_standard_layout();
        if let (Some(src), Some(dst)) = (x.as_slice(), cols.as_slice_mut()) {
            im2col(src, n, self.channels, &self.windows, dst);
        }
        true
    }

    fn bias_view(&self) -> Option<ndarray::ArrayView1<'_, f32>> {
        self.use_bias.then(|| self.bias.view())
    }
}

impl Conv {
    /// Backward from the gradient with respect to the output, its activity penalty's
    /// included.
    fn backward_unregularized(
        &mut self,
        x: Input<'_>,
        grad_output: ArrayView2<'_, f32>,
        need: bool,
    ) {
        let x = x.rows().unwrap_or_else(empty_rows);
        let act = self.activation;
        if act != Activation::Linear {
            ensure_shape(&mut self.dz, grad_output.nrows(), grad_output.ncols());
            let z = if needs_pre_activation(act) {
                self.z.view()
            } else {
                self.out.view()
            };
            activations::backward(act, z, self.out.view(), grad_output, self.dz.view_mut());
        }
        let dz = if act == Activation::Linear {
            grad_output.reborrow()
        } else {
            self.dz.view()
        };
        let pointwise = self.windows.is_pointwise();
        let cols = if pointwise {
            x.reborrow()
        } else {
            self.cols.view()
        };
        sgemm(1.0, cols.t(), dz, 0.0, &mut self.grad_kernel);
        if self.use_bias {
            self.grad_bias.fill(0.0);
            for row in dz.rows() {
                Zip::from(&mut self.grad_bias)
                    .and(&row)
                    .for_each(|g, &d| *g += d);
            }
        }
        if !need {
            return;
        }
        ensure_shape(&mut self.grad_input, x.nrows(), self.channels);
        if pointwise {
            sgemm(1.0, dz, self.kernel.t(), 0.0, &mut self.grad_input);
            return;
        }
        let width = self.col_width();
        ensure_shape(&mut self.grad_cols, dz.nrows(), width);
        sgemm(1.0, dz, self.kernel.t(), 0.0, &mut self.grad_cols);
        let n = self.samples(x.nrows());
        if let (Some(src), Some(dst)) = (self.grad_cols.as_slice(), self.grad_input.as_slice_mut())
        {
            col2im(src, n, self.channels, &self.windows, dst);
        }
    }
}

impl BuildLayer for Conv {
    fn from_config(
        spec: &'static LayerSpec,
        config: &Config,
        inputs: &[TensorSpec],
        rng: &mut Rng,
    ) -> Self {
        let rule = RuleInput {
            name: spec.name,
            config,
            inputs,
        };
        // The macro builds only configurations its rule accepted; anything else builds an
        // empty layer, which every call maps to empty rows.
        let g = conv_geometry(&rule, spec.class_name).ok();
        let windows = Windows::from_axes(g.as_ref().map_or(&[], |g| g.windows.as_slice()));
        let (channels, filters) = g.as_ref().map_or((0, 0), |g| (g.channels, g.filters));
        let mut kernel_shape: Vec<usize> = g
            .as_ref()
            .map(|g| g.windows.iter().map(|w| w.kernel).collect())
            .unwrap_or_default();
        kernel_shape.extend([channels, filters]);
        let rows = windows.taps() * channels;
        let mut kernel = Array2::zeros((rows, filters));
        init::fill(
            config.initializer("kernel_initializer"),
            &kernel_shape,
            kernel.iter_mut(),
            rng,
        );
        let use_bias = config.bool("use_bias");
        let bias_len = if use_bias { filters } else { 0 };
        let mut bias = Array1::zeros(bias_len);
        init::fill(
            config.initializer("bias_initializer"),
            &[filters],
            bias.iter_mut(),
            rng,
        );
        Conv {
            windows,
            channels,
            filters,
            activation: config.activation("activation"),
            use_bias,
            kernel,
            kernel_shape,
            bias,
            bias_shape: [bias_len],
            cols: Array2::zeros((0, rows)),
            z: Array2::zeros((0, filters)),
            out: Array2::zeros((0, filters)),
            dz: Array2::zeros((0, filters)),
            grad_cols: Array2::zeros((0, rows)),
            grad_kernel: Array2::zeros((rows, filters)),
            grad_bias: Array1::zeros(bias_len),
            grad_input: Array2::zeros((0, channels)),
            activity: ActivityRegularizer::from_config(config),
        }
    }
}

impl Layer for Conv {
    fn call(&self, x: Input<'_>) -> Array2<f32> {
        let x = x.rows().unwrap_or_else(empty_rows);
        let mut buf = Array2::zeros((0, 0));
        let cols = if self.columns(x, &mut buf) {
            buf.view()
        } else {
            x.reborrow()
        };
        let mut out = Array2::zeros((cols.nrows(), self.filters));
        sgemm(1.0, cols, self.kernel.view(), 0.0, &mut out);
        activations::bias_and_activate(self.activation, out.view_mut(), self.bias_view(), None);
        out
    }

    fn forward(&mut self, x: Input<'_>, cx: &mut ForwardContext) {
        let x = x.rows().unwrap_or_else(empty_rows);
        let mut cols = std::mem::take(&mut self.cols);
        let mut out = std::mem::take(&mut self.out);
        let c = if self.columns(x, &mut cols) {
            cols.view()
        } else {
            x.reborrow()
        };
        ensure_shape(&mut out, c.nrows(), self.filters);
        sgemm(1.0, c, self.kernel.view(), 0.0, &mut out);
        let z = if needs_pre_activation(self.activation) {
            ensure_shape(&mut self.z, out.nrows(), self.filters);
            Some(self.z.view_mut())
        } else {
            None
        };
        let bias = self.use_bias.then(|| self.bias.view());
        activations::bias_and_activate(self.activation, out.view_mut(), bias, z);
        self.cols = cols;
        self.out = out;
        self.activity.forward(self.out.view(), cx);
    }

    fn output(&self) -> ArrayView2<'_, f32> {
        self.out.view()
    }

    fn backward(&mut self, x: Input<'_>, grad_output: ArrayView2<'_, f32>, need: bool) {
        // Taken out for the call, so its buffer and the layer's can be borrowed together.
        let mut activity = std::mem::take(&mut self.activity);
        let grad_output = activity.backward(self.out.view(), grad_output.reborrow());
        self.backward_unregularized(x, grad_output, need);
        self.activity = activity;
    }

    fn grad_input(&self) -> ArrayView2<'_, f32> {
        self.grad_input.view()
    }

    fn visit_params(&mut self, layer: &str, f: &mut dyn FnMut(ParamMut<'_>)) {
        // Built in standard layout and never reshaped, so the slices exist.
        if let (Some(value), Some(grad)) = (self.kernel.as_slice_mut(), self.grad_kernel.as_slice())
        {
            f(ParamMut {
                layer,
                variable: "kernel",
                shape: &self.kernel_shape,
                value,
                grad,
            });
        }
        if self.use_bias {
            if let (Some(value), Some(grad)) = (self.bias.as_slice_mut(), self.grad_bias.as_slice())
            {
                f(ParamMut {
                    layer,
                    variable: "bias",
                    shape: &self.bias_shape,
                    value,
                    grad,
                });
            }
        }
    }

    fn visit_weights(&self, layer: &str, f: &mut dyn FnMut(ParamRef<'_>)) {
        if let Some(value) = self.kernel.as_slice() {
            f(ParamRef {
                layer,
                variable: "kernel",
                shape: &self.kernel_shape,
                value,
                trainable: true,
            });
        }
        if self.use_bias {
            if let Some(value) = self.bias.as_slice() {
                f(ParamRef {
                    layer,
                    variable: "bias",
                    shape: &self.bias_shape,
                    value,
                    trainable: true,
                });
            }
        }
    }
}
