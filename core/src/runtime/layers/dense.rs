//! Keras' `Dense`: `activation(x · kernel + bias)`, on a dense input or, as a sparse x dense
//! product that never densifies it, on a [`SparseTensor`].

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Zip};

use super::empty_rows;
use super::{ensure_shape, UseSlots};
use crate::runtime::kernels::activations::{self, needs_pre_activation};
use crate::runtime::kernels::few_rows::{few_rows_dot, Epilogue};
use crate::runtime::kernels::gemm::sgemm;
use crate::runtime::kernels::sparse_product::{
    dot_by_column, sparse_dot, sparse_transpose_dot, transpose_dot_by_column, ByColumn,
};
use crate::runtime::{
    init, ActivityRegularizer, BuildLayer, Error, ForwardContext, Input, Layer, ParamMut, ParamRef,
    Rng, SparseTensor,
};
use crate::shape::{Activation, Config, DenseConfig, LayerSpec, TensorSpec};

/// A built `Dense` layer: kernel `[in, units]`, bias `[units]` (empty without `use_bias`), and
/// the training buffers.
#[derive(Clone, Debug)]
pub struct Dense {
    config: DenseConfig,
    kernel: Array2<f32>,
    bias: Array1<f32>,
    kernel_shape: [usize; 2],
    bias_shape: [usize; 1],
    /// Pre-activation, kept only for activations whose derivative needs it.
    z: Array2<f32>,
    out: Array2<f32>,
    /// Gradient with respect to the pre-activation (unused for `linear`).
    dz: Array2<f32>,
    grad_kernel: Array2<f32>,
    grad_bias: Array1<f32>,
    grad_input: Array2<f32>,
    /// Buffer sets of the other uses of a shared layer (`z`, `out`, `dz`, `grad_input`); the
    /// active use's set lives in the fields above and its slot holds empty arrays.
    uses: UseSlots<4>,
    /// Whether `backward` adds to the weight gradients (later uses of a shared layer).
    accumulate: bool,
    /// The last sparse training input's entries grouped by column, built by forward and
    /// reused by backward.
    by_column: ByColumn,
    /// Keras' `activity_regularizer`, on the output (after the activation).
    activity: ActivityRegularizer,
}

impl Dense {
    /// Builds the layer for inputs with `input_dim` features, drawing the initial weights from
    /// `rng` with the configured initializers (Keras: glorot_uniform kernel, zero bias).
    pub fn build(config: DenseConfig, input_dim: usize, rng: &mut Rng) -> Dense {
        let units = config.units;
        let kernel_shape = [input_dim, units];
        let mut kernel = Array2::zeros((input_dim, units));
        init::fill(
            config.kernel_initializer,
            &kernel_shape,
            kernel.iter_mut(),
            rng,
        );
        let bias_len = if config.use_bias { units } else { 0 };
        let mut bias = Array1::zeros(bias_len);
        init::fill(config.bias_initializer, &[units], bias.iter_mut(), rng);
        Dense {
            config,
            kernel,
            bias,
            kernel_shape,
            bias_shape: [bias_len],
            z: Array2::zeros((0, units)),
            out: Array2::zeros((0, units)),
            dz: Array2::zeros((0, units)),
            grad_kernel: Array2::zeros((input_dim, units)),
            grad_bias: Array1::zeros(bias_len),
            grad_input: Array2::zeros((0, input_dim)),
            uses: UseSlots::default(),
            accumulate: false,
            by_column: ByColumn::default(),
            activity: ActivityRegularizer::default(),
        }
    }

    /// The configuration the layer was built from.
    pub fn config(&self) -> &DenseConfig {
        &self.config
    }

    /// The number of input features.
    pub fn input_dim(&self) -> usize {
        self.kernel_shape[0]
    }

    /// The number of output features.
    pub fn units(&self) -> usize {
        self.kernel_shape[1]
    }

    /// The kernel, `[in, units]`.
    pub fn kernel(&self) -> ArrayView2<'_, f32> {
        self.kernel.view()
    }

    /// The bias, `[units]`; `None` for a layer built with `use_bias = false`.
    pub fn bias(&self) -> Option<ArrayView1<'_, f32>> {
        self.config.use_bias.then(|| self.bias.view())
    }

    /// The kernel's gradient from the last `backward`.
    pub fn grad_kernel(&self) -> ArrayView2<'_, f32> {
        self.grad_kernel.view()
    }

    /// The bias' gradient from the last `backward` (empty without a bias).
    pub fn grad_bias(&self) -> ArrayView1<'_, f32> {
        self.grad_bias.view()
    }

    /// Replaces the kernel; its shape must be `[in, units]`.
    pub fn set_kernel(&mut self, kernel: ArrayView2<'_, f32>) -> Result<(), Error> {
        if kernel.shape() != self.kernel_shape {
            return Err(Error::Weight {
                key: "kernel".into(),
                message: format!(
                    "expected shape {:?}, received {:?}",
                    self.kernel_shape,
                    kernel.shape()
                ),
            });
        }
        self.kernel.assign(&kernel);
        Ok(())
    }

    /// Replaces the bias; its shape must be `[units]`, and the layer must have a bias.
    pub fn set_bias(&mut self, bias: ArrayView1<'_, f32>) -> Result<(), Error> {
        if !self.config.use_bias {
            return Err(Error::Weight {
                key: "bias".into(),
                message: "the layer was built with `use_bias = false`".into(),
            });
        }
        if bias.shape() != self.bias_shape {
            return Err(Error::Weight {
                key: "bias".into(),
                message: format!(
                    "expected shape {:?}, received {:?}",
                    self.bias_shape,
                    bias.shape()
                ),
            });
        }
        self.bias.assign(&bias);
        Ok(())
    }

    // Adds the bias and applies the activation to `out` (which holds x · kernel) in one pass
    // per row, keeping the pre-activation in `z` when given.
    fn bias_and_activate(&self, out: &mut Array2<f32>, z: Option<&mut Array2<f32>>) {
        let bias = self.config.use_bias.then_some(self.bias.view());
        activations::bias_and_activate(
            self.config.activation,
            out.view_mut(),
            bias,
            z.map(|z| z.view_mut()),
        );
    }

    // Completes a training forward pass from `out` = x · kernel: bias, activation, and the
    // pre-activation kept when backward needs it.
    fn finish_forward_train(&mut self, mut out: Array2<f32>) {
        if needs_pre_activation(self.config.activation) {
            let (rows, units) = out.dim();
            ensure_shape(&mut self.z, rows, units);
            let mut z = std::mem::take(&mut self.z);
            self.bias_and_activate(&mut out, Some(&mut z));
            self.z = z;
        } else {
            self.bias_and_activate(&mut out, None);
        }
        self.out = out;
    }

    // dL/dz into `self.dz`, through the activation; for `linear` it is `grad_output` itself,
    // so nothing is written.
    fn pre_activation_grad(&mut self, grad_output: ArrayView2<'_, f32>) {
        let act = self.config.activation;
        if act == Activation::Linear {
            return;
        }
        let (rows, units) = grad_output.dim();
        ensure_shape(&mut self.dz, rows, units);
        let z = if needs_pre_activation(act) {
            self.z.view()
        } else {
            self.out.view()
        };
        activations::backward(act, z, self.out.view(), grad_output, self.dz.view_mut());
    }

    /// Inference on a sparse input, rows = its first axis: `activation(x · kernel + bias)`
    /// as [`Layer::call`], with `x · kernel` a sparse x dense product that touches only the
    /// stored entries (no densification).
    ///
    /// **Panics** if `x.n_cols()` is not [`input_dim`](Self::input_dim);
    /// [`check_sparse_input`](crate::check_sparse_input) against the declared shape rules
    /// that out.
    pub fn call_sparse(&self, x: &SparseTensor<f32>) -> Array2<f32> {
        let mut out = Array2::zeros((x.n_rows(), self.units()));
        sparse_dot(x, self.kernel.view(), out.view_mut());
        self.bias_and_activate(&mut out, None);
        out
    }

    /// Training forward on a sparse input: as [`Layer::forward`] (the output in the
    /// layer's reused buffer, read with [`Layer::output`]), computed by the sparse product of
    /// [`call_sparse`](Self::call_sparse).
    ///
    /// **Panics** if `x.n_cols()` is not [`input_dim`](Self::input_dim).
    pub fn forward_train_sparse(&mut self, x: &SparseTensor<f32>) {
        let units = self.units();
        assert_eq!(
            x.n_cols(),
            self.input_dim(),
            "sparse input of {} features for a kernel of {} rows",
            x.n_cols(),
            self.input_dim()
        );
        ensure_shape(&mut self.out, x.n_rows(), units);
        let mut out = std::mem::take(&mut self.out);
        // The grouping by column serves backward too (see `sparse_product`).
        let grouped = self.by_column.build(x, self.uses.active());
        match (grouped, self.kernel.as_slice(), out.as_slice_mut()) {
            (true, Some(k), Some(o)) => dot_by_column(&self.by_column, k, units, o),
            _ => sparse_dot(x, self.kernel.view(), out.view_mut()),
        }
        self.finish_forward_train(out);
    }

    /// Backward on a sparse input `x` (the one given to the last
    /// [`forward_train_sparse`](Self::forward_train_sparse)): the kernel gradient as the
    /// scattered product xᵀ · dz over the stored entries only, and the bias gradient. No
    /// gradient with respect to `x` is computed: a sparse tensor is a model input, with
    /// nothing upstream to receive it.
    ///
    /// **Panics** if `x` and `grad_output` disagree with the last forward pass.
    pub fn backward_sparse(&mut self, x: &SparseTensor<f32>, grad_output: ArrayView2<'_, f32>) {
        self.pre_activation_grad(grad_output);
        let dz = if self.config.activation == Activation::Linear {
            grad_output.reborrow()
        } else {
            self.dz.view()
        };
        assert_eq!(
            (x.n_cols(), x.n_rows()),
            (self.input_dim(), dz.nrows()),
            "sparse input of {} features and {} rows for a kernel of {} rows and {} gradient rows",
            x.n_cols(),
            x.n_rows(),
            self.input_dim(),
            dz.nrows()
        );
        // A shared layer's gradient is the sum over its uses.
        let grouped = self.by_column.ensure(x, self.uses.active());
        match (grouped, dz.as_slice(), self.grad_kernel.as_slice_mut()) {
            (true, Some(d), Some(g)) => transpose_dot_by_column(
                &self.by_column,
                d,
                self.kernel_shape[1],
                g,
                self.accumulate,
            ),
            _ => sparse_transpose_dot(x, dz, self.grad_kernel.view_mut(), self.accumulate),
        }
        if self.config.use_bias {
            sum_rows(dz, &mut self.grad_bias, self.accumulate);
        }
    }
}

// `out = x · kernel`, `out` already shaped `(x.nrows(), kernel.ncols())`. A few rows take the
// product of `few_rows`, which also applies `epilogue` (true returned); more take `sgemm`,
// and the epilogue is left to the caller (false).
fn dot_into(
    x: ArrayView2<'_, f32>,
    kernel: ArrayView2<'_, f32>,
    out: &mut Array2<f32>,
    epilogue: Epilogue<'_>,
) -> bool {
    if let Some(o) = out.as_slice_mut() {
        if few_rows_dot(x, kernel, o, epilogue) {
            return true;
        }
    }
    sgemm(1.0, x, kernel, 0.0, out);
    false
}

// grad_bias = the sum of the rows of `dz` (added to it when `accumulate`).
fn sum_rows(dz: ArrayView2<'_, f32>, grad_bias: &mut Array1<f32>, accumulate: bool) {
    if !accumulate {
        grad_bias.fill(0.0);
    }
    for row in dz.rows() {
        Zip::from(&mut *grad_bias)
            .and(&row)
            .for_each(|g, &d| *g += d);
    }
}

impl Dense {
    /// Inference on dense rows `(rows, input_dim)`: `activation(x · kernel + bias)`.
    pub fn call_rows(&self, x: ArrayView2<'_, f32>) -> Array2<f32> {
        let mut out = Array2::zeros((x.nrows(), self.units()));
        // The few-row product adds the bias and applies these activations as it writes.
        let act = self.config.activation;
        let fused = matches!(act, Activation::Linear | Activation::Relu);
        let epilogue = Epilogue {
            bias: self.config.use_bias.then(|| self.bias.as_slice()).flatten(),
            relu: act == Activation::Relu,
        };
        let epilogue = if fused { epilogue } else { Epilogue::default() };
        if !(dot_into(x, self.kernel.view(), &mut out, epilogue) && fused) {
            self.bias_and_activate(&mut out, None);
        }
        out
    }

    /// Training forward on dense rows; the output is [`Layer::output`].
    pub fn forward_rows(&mut self, x: ArrayView2<'_, f32>) {
        let rows = x.nrows();
        let units = self.units();
        ensure_shape(&mut self.out, rows, units);
        let mut out = std::mem::take(&mut self.out);
        dot_into(x, self.kernel.view(), &mut out, Epilogue::default());
        self.finish_forward_train(out);
    }

    /// Backward on dense rows `x` (the input of the last [`forward_rows`](Self::forward_rows)):
    /// the weight gradients and, when `need_grad_input`, [`Layer::grad_input`].
    pub fn backward_rows(
        &mut self,
        x: ArrayView2<'_, f32>,
        grad_output: ArrayView2<'_, f32>,
        need_grad_input: bool,
    ) {
        let rows = grad_output.nrows();
        if need_grad_input {
            ensure_shape(&mut self.grad_input, rows, self.kernel_shape[0]);
        }
        self.pre_activation_grad(grad_output);
        let dz = if self.config.activation == Activation::Linear {
            grad_output.reborrow()
        } else {
            self.dz.view()
        };
        // A shared layer's gradient is the sum over its uses.
        let beta = if self.accumulate { 1.0 } else { 0.0 };
        sgemm(1.0, x.t(), dz, beta, &mut self.grad_kernel);
        if self.config.use_bias {
            sum_rows(dz, &mut self.grad_bias, self.accumulate);
        }
        if need_grad_input {
            sgemm(1.0, dz, self.kernel.t(), 0.0, &mut self.grad_input);
        }
    }
}

impl BuildLayer for Dense {
    fn from_config(
        _spec: &'static LayerSpec,
        config: &Config,
        inputs: &[TensorSpec],
        rng: &mut Rng,
    ) -> Self {
        let input_dim = inputs.first().and_then(|s| s.last().known()).unwrap_or(0);
        let mut dense = Dense::build(DenseConfig::from_config(config), input_dim, rng);
        dense.activity = ActivityRegularizer::from_config(config);
        dense
    }
}

impl Layer for Dense {
    fn call(&self, x: Input<'_>) -> Array2<f32> {
        match x {
            Input::Sparse(s) => self.call_sparse(s),
            // A ragged tensor with a uniform last axis: the flat values as rows.
            other => self.call_rows(other.rows().unwrap_or_else(empty_rows)),
        }
    }

    fn forward(&mut self, x: Input<'_>, cx: &mut ForwardContext) {
        match x {
            Input::Sparse(s) => self.forward_train_sparse(s),
            other => self.forward_rows(other.rows().unwrap_or_else(empty_rows)),
        }
        self.activity.forward(self.out.view(), cx);
    }

    fn output(&self) -> ArrayView2<'_, f32> {
        self.out.view()
    }

    fn backward(&mut self, x: Input<'_>, grad_output: ArrayView2<'_, f32>, need_grad_input: bool) {
        // Taken out for the call, so its buffer and the layer's can be borrowed together.
        let mut activity = std::mem::take(&mut self.activity);
        let grad_output = activity.backward(self.out.view(), grad_output.reborrow());
        match x {
            Input::Sparse(s) => self.backward_sparse(s, grad_output),
            other => self.backward_rows(
                other.rows().unwrap_or_else(empty_rows),
                grad_output,
                need_grad_input,
            ),
        }
        self.activity = activity;
    }

    fn grad_input(&self) -> ArrayView2<'_, f32> {
        self.grad_input.view()
    }

    fn set_uses(&mut self, uses: usize) {
        let current = [
            &mut self.z,
            &mut self.out,
            &mut self.dz,
            &mut self.grad_input,
        ];
        self.uses.set_uses(uses, current);
    }

    fn select_use(&mut self, index: usize) {
        let current = [
            &mut self.z,
            &mut self.out,
            &mut self.dz,
            &mut self.grad_input,
        ];
        self.uses.select(index, current);
    }

    fn set_accumulate(&mut self, accumulate: bool) {
        self.accumulate = accumulate;
    }

    fn visit_params(&mut self, layer: &str, f: &mut dyn FnMut(ParamMut<'_>)) {
        // Both arrays are built in standard layout and never reshaped, so the slices exist.
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
        if self.config.use_bias {
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
        if self.config.use_bias {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::kernels::few_rows::FEW_ROWS;
    use ndarray::array;
    use ndarray::Axis;

    #[test]
    fn ragged_input_applies_to_each_value_and_keeps_partitions() {
        let x = crate::RaggedTensor::from_parts(
            vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0],
            &[2],
            &[[0, 1, 3]],
        )
        .unwrap();
        let mut d = Dense::build(DenseConfig::new(3), 2, &mut Rng::new(0));
        let out = Layer::call(&d, Input::Ragged(x.view()));
        assert_eq!(out, d.call_rows(x.view().values()));
        Layer::forward(
            &mut d,
            Input::Ragged(x.view()),
            &mut ForwardContext::default(),
        );
        let y = x.view().with_values(Layer::output(&d));
        assert_eq!(y.nested_row_splits(), x.nested_row_splits());
        assert_eq!(y.values().dim(), (3, 3));
        Layer::backward(
            &mut d,
            Input::Ragged(x.view()),
            ndarray::Array2::ones((3, 3)).view(),
            true,
        );
        assert_eq!(Layer::grad_input(&d).dim(), (3, 2));
        assert_eq!(Layer::grad_input(&d), d.grad_input.view());
    }

    // The few-rows product (blocks of four kernel rows, then the remainder) against
    // matrixmultiply, for every row count around the threshold, input widths with and without
    // a remainder, and a transposed kernel view (which takes the general path).
    #[test]
    fn small_row_products_match_the_general_product() {
        let mut rng = Rng::new(3);
        for inputs in [1, 4, 7, 9] {
            let kernel = Array2::from_shape_fn((inputs, 5), |_| rng.next_f32() - 0.5);
            let transposed = Array2::from_shape_fn((5, inputs), |_| rng.next_f32() - 0.5);
            for rows in 1..=FEW_ROWS + 1 {
                let x = Array2::from_shape_fn((rows, inputs), |_| rng.next_f32() * 2.0 - 1.0);
                for k in [kernel.view(), transposed.t()] {
                    let mut out = Array2::from_elem((rows, 5), f32::NAN);
                    dot_into(x.view(), k, &mut out, Epilogue::default());
                    let expected = x.dot(&k);
                    let err = (&out - &expected).fold(0.0f32, |m, d| m.max(d.abs()));
                    assert!(err <= 1e-6, "rows {rows}, inputs {inputs}: max error {err}");
                }
            }
        }
    }

    #[test]
    fn shared_uses_keep_their_buffers_and_sum_gradients() {
        let mut config = DenseConfig::new(3);
        config.activation = Activation::Tanh;
        let mut shared = Dense::build(config, 2, &mut Rng::new(1));
        let (mut alone_a, mut alone_b) = (shared.clone(), shared.clone());
        let a = array![[0.5f32, -1.0], [2.0, 0.25]];
        let b = array![[-0.3f32, 0.7]];
        let (ga, gb) = (
            array![[1.0f32, 0.0, -1.0], [0.5, 0.5, 0.5]],
            array![[2.0f32, -1.0, 0.0]],
        );

        shared.set_uses(2);
        shared.forward_rows(a.view());
        shared.select_use(1);
        shared.forward_rows(b.view());
        shared.select_use(0);
        assert_eq!(shared.output(), alone_a.call_rows(a.view()));
        shared.select_use(1);
        shared.set_accumulate(false);
        shared.backward_rows(b.view(), gb.view(), true);
        shared.select_use(0);
        shared.set_accumulate(true);
        shared.backward_rows(a.view(), ga.view(), true);

        alone_a.forward_rows(a.view());
        alone_a.backward_rows(a.view(), ga.view(), true);
        alone_b.forward_rows(b.view());
        alone_b.backward_rows(b.view(), gb.view(), true);
        let sum = &alone_a.grad_kernel() + &alone_b.grad_kernel();
        for (x, y) in shared.grad_kernel().iter().zip(sum.iter()) {
            assert!((x - y).abs() < 1e-6);
        }
        let bias_sum = &alone_a.grad_bias() + &alone_b.grad_bias();
        for (x, y) in shared.grad_bias().iter().zip(bias_sum.iter()) {
            assert!((x - y).abs() < 1e-6);
        }
        assert_eq!(shared.grad_input(), alone_a.grad_input());
        shared.select_use(1);
        assert_eq!(shared.grad_input(), alone_b.grad_input());
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = Rng::new(5);
        for act in [
            Activation::Linear,
            Activation::Tanh,
            Activation::Gelu,
            Activation::Softmax,
        ] {
            let mut cfg = DenseConfig::new(3);
            cfg.activation = act;
            cfg.bias_initializer = crate::shape::Initializer::RandomNormal;
            let mut d = Dense::build(cfg, 4, &mut rng);
            let x = array![[0.5f32, -1.0, 0.25, 2.0], [-0.3, 0.8, 1.5, -0.7]];
            let g = array![[0.2f32, -0.5, 1.0], [0.7, 0.1, -0.3]];
            d.forward_rows(x.view());
            assert_eq!(d.output(), d.call_rows(x.view()));
            d.backward_rows(x.view(), g.view(), true);
            let loss = |d: &Dense, x: &Array2<f32>| -> f64 {
                let y = d.call_rows(x.view());
                y.iter().zip(g.iter()).map(|(a, b)| (*a * *b) as f64).sum()
            };
            let h = 1e-2f32;
            for i in 0..4 {
                for j in 0..3 {
                    let mut p = d.clone();
                    let mut k = d.kernel.clone();
                    k[[i, j]] += h;
                    p.set_kernel(k.view()).unwrap();
                    let up = loss(&p, &x);
                    k[[i, j]] -= 2.0 * h;
                    p.set_kernel(k.view()).unwrap();
                    let down = loss(&p, &x);
                    let fd = (up - down) / (2.0 * h as f64);
                    let an = d.grad_kernel[[i, j]] as f64;
                    assert!((fd - an).abs() < 2e-3 * (1.0 + an.abs()), "{act:?} kernel");
                }
            }
            for j in 0..3 {
                let mut p = d.clone();
                let mut b = d.bias.clone();
                b[j] += h;
                p.set_bias(b.view()).unwrap();
                let up = loss(&p, &x);
                b[j] -= 2.0 * h;
                p.set_bias(b.view()).unwrap();
                let fd = (up - loss(&p, &x)) / (2.0 * h as f64);
                let an = d.grad_bias[j] as f64;
                assert!((fd - an).abs() < 2e-3 * (1.0 + an.abs()), "{act:?} bias");
            }
            for r in 0..2 {
                for c in 0..4 {
                    let mut xp = x.clone();
                    xp[[r, c]] += h;
                    let up = loss(&d, &xp);
                    xp[[r, c]] -= 2.0 * h;
                    let fd = (up - loss(&d, &xp)) / (2.0 * h as f64);
                    let an = d.grad_input[[r, c]] as f64;
                    assert!((fd - an).abs() < 2e-3 * (1.0 + an.abs()), "{act:?} input");
                }
            }
        }
    }

    #[test]
    fn sparse_input_matches_dense_input() {
        let x = array![
            [0.0f32, 1.5, 0.0, -2.0],
            [0.0, 0.0, 0.0, 0.0],
            [0.7, 0.0, 0.3, 0.0]
        ];
        let sx = SparseTensor::from_dense(x.view()).unwrap();
        let g = array![[0.2f32, -0.5, 1.0], [0.7, 0.1, -0.3], [-1.0, 0.4, 0.6]];
        for act in [Activation::Linear, Activation::Relu, Activation::Gelu] {
            let mut cfg = DenseConfig::new(3);
            cfg.activation = act;
            cfg.bias_initializer = crate::shape::Initializer::RandomNormal;
            let mut dense = Dense::build(cfg, 4, &mut Rng::new(3));
            let mut sparse = dense.clone();
            let close = |a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>| {
                assert_eq!(a.dim(), b.dim());
                for (p, q) in a.iter().zip(b.iter()) {
                    assert!((p - q).abs() < 1e-6, "{act:?}: {a} vs {b}");
                }
            };
            close(
                sparse.call_sparse(&sx).view(),
                dense.call_rows(x.view()).view(),
            );
            dense.forward_rows(x.view());
            sparse.forward_train_sparse(&sx);
            close(sparse.output(), dense.output());
            dense.backward_rows(x.view(), g.view(), false);
            sparse.backward_sparse(&sx, g.view());
            close(sparse.grad_kernel(), dense.grad_kernel());
            close(
                sparse.grad_bias().insert_axis(Axis(0)),
                dense.grad_bias().insert_axis(Axis(0)),
            );
            // A shared layer's second use adds its gradient to the first's.
            sparse.set_accumulate(true);
            sparse.backward_sparse(&sx, g.view());
            close(sparse.grad_kernel(), (&dense.grad_kernel() * 2.0).view());
            close(
                sparse.grad_bias().insert_axis(Axis(0)),
                (&dense.grad_bias() * 2.0).insert_axis(Axis(0)).view(),
            );
        }
    }

    // A layer shared by two sparse inputs: forward groups each use's batch by column, and
    // backward must use its own use's grouping (the second forward replaced the first's).
    #[test]
    fn shared_layer_on_two_sparse_inputs_sums_each_uses_gradient() {
        let a =
            SparseTensor::from_dense(array![[0.0f32, 1.5, 0.0, -2.0], [0.7, 0.0, 0.3, 0.0]].view())
                .unwrap();
        let b = SparseTensor::from_dense(array![[0.0f32, 0.0, 2.5, 0.0]].view()).unwrap();
        let (ga, gb) = (
            array![[1.0f32, 0.0, -1.0], [0.5, 0.5, 0.5]],
            array![[2.0f32, -1.0, 0.5]],
        );
        let mut cfg = DenseConfig::new(3);
        cfg.activation = Activation::Tanh;
        let mut shared = Dense::build(cfg, 4, &mut Rng::new(4));
        let (mut alone_a, mut alone_b) = (shared.clone(), shared.clone());
        shared.set_uses(2);
        shared.forward_train_sparse(&a);
        shared.select_use(1);
        shared.forward_train_sparse(&b);
        shared.set_accumulate(false);
        shared.backward_sparse(&b, gb.view());
        shared.select_use(0);
        shared.set_accumulate(true);
        shared.backward_sparse(&a, ga.view());

        alone_a.forward_train_sparse(&a);
        alone_a.backward_sparse(&a, ga.view());
        alone_b.forward_train_sparse(&b);
        alone_b.backward_sparse(&b, gb.view());
        let sum = &alone_a.grad_kernel() + &alone_b.grad_kernel();
        for (x, y) in shared.grad_kernel().iter().zip(sum.iter()) {
            assert!((x - y).abs() < 1e-6, "{} vs {sum}", shared.grad_kernel());
        }
    }

    #[test]
    fn no_bias_and_setters_check_shapes() {
        let mut cfg = DenseConfig::new(2);
        cfg.use_bias = false;
        let mut d = Dense::build(cfg, 3, &mut Rng::new(0));
        assert!(d.bias().is_none());
        assert!(matches!(
            d.set_bias(array![1.0f32, 2.0].view()),
            Err(Error::Weight { .. })
        ));
        assert!(d.set_kernel(Array2::zeros((2, 3)).view()).is_err());
        let mut n = 0;
        d.visit_weights("dense", &mut |p| {
            assert_eq!(p.variable, "kernel");
            n += 1;
        });
        assert_eq!(n, 1);
    }
}
