//! Keras' `Embedding`: integer ids -> rows of a trainable `[input_dim, output_dim]` table.
//!
//! `output[..., :] = embeddings[id, :]`, for each id of a ragged or dense integer input.
//!
//! # Shapes
//!
//! - ragged `(batch, None)` ids -> ragged `(batch, None, output_dim)`, the same row
//!   partitions; as flat rows, `(n_ids, output_dim)`.
//! - dense `(batch, d1, ...)` ids -> `(batch, d1, ..., output_dim)`; as rows,
//!   `(n_ids, output_dim)`.
//!
//! # Gradient
//!
//! The gradient of the table is sparse: only the rows of the ids in the batch are non-zero.
//! The optimizer interface visits a dense gradient slice, so the layer keeps one, and keeps it
//! cheap: `backward` zeroes only the rows the previous step touched and then accumulates into
//! the rows of this batch, `O(ids x output_dim)` whatever the vocabulary. The optimizer still
//! walks the whole table, as Keras 3's optimizers do (their moment updates densify the
//! gradient), so Adam's moments decay on every row as in Keras.
//!
//! # Ids out of range
//!
//! [`check_ragged_ids`] / [`check_dense_ids`] report an id outside `[0, input_dim)` with its
//! position; a model calls them in `check_input`, before any computation. The forward pass
//! itself never reads out of bounds: an unchecked bad id yields a zero vector and no gradient.
//!
//! ```
//! # use stratic_core::{shape::EmbeddingConfig, Embedding, RaggedTensor, Rng};
//! let mut emb = Embedding::build(EmbeddingConfig::new(10, 3), &mut Rng::new(0));
//! let ids = RaggedTensor::from_rows(&[vec![1, 2, 3], vec![4]])?;
//! emb.check_ragged_ids("embedding", &ids)?;
//! let out = emb.call_ragged(ids.view());
//! assert_eq!(out.dim(), (4, 3));
//! assert_eq!(out.row(3), emb.embeddings().row(4));
//! let bad = RaggedTensor::from_rows(&[vec![1], vec![4, 10]])?;
//! assert!(emb.check_ragged_ids("embedding", &bad).is_err());
//! # Ok::<(), stratic_core::Error>(())
//! ```

use crate::onnx::{Attr, DataType, LayerExport};
use ndarray::{Array2, ArrayView, ArrayView2, Dimension};

use super::{empty_rows, ensure_rows, PerUse};
use crate::runtime::{
    init, ActivityRegularizer, BuildLayer, Error, ForwardContext, Input, Layer, ParamMut, ParamRef,
    RaggedTensor, RaggedView, Rng,
};
use crate::shape::{Config, EmbeddingConfig, LayerSpec, TensorSpec};

/// A built `Embedding` layer: the table `[input_dim, output_dim]` and training buffers.
#[derive(Clone, Debug)]
pub struct Embedding {
    config: EmbeddingConfig,
    embeddings: Array2<f32>,
    shape: [usize; 2],
    out: Array2<f32>,
    grad: Array2<f32>,
    /// Rows of `grad` that the last `backward` made non-zero, each once.
    touched: Vec<usize>,
    /// `in_touched[r]`: whether row `r` is in `touched`.
    in_touched: Vec<bool>,
    /// The other uses' outputs, for a shared layer.
    uses: PerUse<Array2<f32>>,
    /// Whether `backward` adds to the table's gradient (later uses of a shared layer).
    accumulate: bool,
    /// Keras' `activity_regularizer`, on the looked-up vectors.
    activity: ActivityRegularizer,
    /// With `mask_zero`, the mask of the last training forward (`id != 0`, one per id).
    mask: Vec<bool>,
}

/// Checks that every id of a ragged input lies in `[0, input_dim)`; the error names the id and
/// its position (`[row, index in row]` for ragged rank 1).
pub fn check_ragged_ids(
    layer: &str,
    input_dim: usize,
    ids: &RaggedTensor<i32>,
) -> Result<(), Error> {
    match first_bad(ids.flat_values().iter().map(|&id| id.into()), input_dim) {
        None => Ok(()),
        Some((i, id)) => {
            // Flat index -> value index and the position inside the value's inner block.
            let inner: usize = ids.inner_shape().iter().product();
            let mut position = ids.position_of(i / inner.max(1));
            position.extend(unravel(i % inner.max(1), ids.inner_shape()));
            Err(Error::IdOutOfRange {
                layer: layer.to_string(),
                id,
                position,
                input_dim,
            })
        }
    }
}

/// Checks that every id of a dense input lies in `[0, input_dim)`; the error names the id and
/// its index in the array.
pub fn check_dense_ids<T: Copy + Into<i64>, D: Dimension>(
    layer: &str,
    input_dim: usize,
    ids: &ArrayView<'_, T, D>,
) -> Result<(), Error> {
    match first_bad(ids.iter().map(|&id| id.into()), input_dim) {
        None => Ok(()),
        Some((i, id)) => Err(Error::IdOutOfRange {
            layer: layer.to_string(),
            id,
            position: unravel(i, ids.shape()),
            input_dim,
        }),
    }
}

fn first_bad(ids: impl Iterator<Item = i64>, input_dim: usize) -> Option<(usize, i64)> {
    ids.enumerate().find(|(_, id)| !valid(*id, input_dim))
}

fn valid(id: impl Into<i64>, input_dim: usize) -> bool {
    usize::try_from(id.into()).is_ok_and(|i| i < input_dim)
}

// Row-major multi-index of flat index `i` in `shape`.
fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut pos = vec![0; shape.len()];
    for (p, d) in pos.iter_mut().zip(shape).rev() {
        if *d > 0 {
            *p = i % d;
            i /= d;
        }
    }
    pos
}

impl Embedding {
    /// Builds the table with the configured initializer (Keras: `uniform`, U(-0.05, 0.05)).
    pub fn build(config: EmbeddingConfig, rng: &mut Rng) -> Embedding {
        let shape = [config.input_dim, config.output_dim];
        let mut embeddings = Array2::zeros((config.input_dim, config.output_dim));
        init::fill(
            config.embeddings_initializer,
            &shape,
            embeddings.iter_mut(),
            rng,
        );
        Embedding {
            config,
            embeddings,
            shape,
            out: Array2::zeros((0, config.output_dim)),
            grad: Array2::zeros((config.input_dim, config.output_dim)),
            touched: Vec::new(),
            in_touched: vec![false; config.input_dim],
            uses: PerUse::default(),
            accumulate: false,
            activity: ActivityRegularizer::default(),
            mask: Vec::new(),
        }
    }

    /// The configuration the layer was built from.
    pub fn config(&self) -> &EmbeddingConfig {
        &self.config
    }

    /// The table, `[input_dim, output_dim]`.
    pub fn embeddings(&self) -> ArrayView2<'_, f32> {
        self.embeddings.view()
    }

    /// Replaces the table; its shape must be `[input_dim, output_dim]`.
    pub fn set_embeddings(&mut self, embeddings: ArrayView2<'_, f32>) -> Result<(), Error> {
        if embeddings.shape() != self.shape {
            return Err(Error::Weight {
                key: "embeddings".into(),
                message: format!(
                    "expected shape {:?}, received {:?}",
                    self.shape,
                    embeddings.shape()
                ),
            });
        }
        self.embeddings.assign(&embeddings);
        Ok(())
    }

    /// The table's gradient from the last `backward` (non-zero only in
    /// [`touched_rows`](Self::touched_rows)).
    pub fn grad_embeddings(&self) -> ArrayView2<'_, f32> {
        self.grad.view()
    }

    /// The rows of the table the last `backward` gave a gradient, each once, in order of first
    /// use.
    pub fn touched_rows(&self) -> &[usize] {
        &self.touched
    }

    /// With `mask_zero`, the mask of the last training forward on dense ids: one entry per
    /// id (per output row), `true` where the id is not 0 (Keras' `compute_mask`). Empty
    /// without `mask_zero`.
    pub fn mask(&self) -> &[bool] {
        &self.mask
    }

    /// The mask of the dense ids `x`, for inference (see [`mask`](Self::mask)); empty for any
    /// other input or without `mask_zero`.
    pub fn mask_of(&self, x: Input<'_>) -> Vec<bool> {
        let mut mask = Vec::new();
        self.fill_mask(&x, &mut mask);
        mask
    }

    fn fill_mask(&self, x: &Input<'_>, mask: &mut Vec<bool>) {
        mask.clear();
        if let (true, Input::Ids(ids)) = (self.config.mask_zero, x) {
            mask.extend(ids.iter().map(|&id| id != 0));
        }
    }

    /// [`check_ragged_ids`] with this layer's `input_dim`.
    pub fn check_ragged_ids(&self, layer: &str, ids: &RaggedTensor<i32>) -> Result<(), Error> {
        check_ragged_ids(layer, self.config.input_dim, ids)
    }

    /// [`check_dense_ids`] with this layer's `input_dim`.
    pub fn check_dense_ids<T: Copy + Into<i64>, D: Dimension>(
        &self,
        layer: &str,
        ids: &ArrayView<'_, T, D>,
    ) -> Result<(), Error> {
        check_dense_ids(layer, self.config.input_dim, ids)
    }

    fn lookup<'a>(&self, ids: impl Iterator<Item = &'a i32>, out: &mut Array2<f32>) {
        let d = self.config.output_dim;
        // Both are standard layout (built here), so rows are plain slices.
        let (Some(table), Some(out)) = (self.embeddings.as_slice(), out.as_slice_mut()) else {
            return;
        };
        for (row, &id) in out.chunks_exact_mut(d).zip(ids) {
            if valid(id, self.config.input_dim) {
                let r = id as usize;
                row.copy_from_slice(&table[r * d..(r + 1) * d]);
            } else {
                row.fill(0.0);
            }
        }
    }

    fn accumulate<'a>(&mut self, ids: impl Iterator<Item = &'a i32>, grad: ArrayView2<'_, f32>) {
        let d = self.config.output_dim;
        let Some(dst) = self.grad.as_slice_mut() else {
            return;
        };
        // Zero what the previous step wrote, then sum this step's rows; a shared layer's later
        // uses add to the sum of the earlier ones.
        if !self.accumulate {
            for &r in &self.touched {
                dst[r * d..(r + 1) * d].fill(0.0);
                self.in_touched[r] = false;
            }
            self.touched.clear();
        }
        let grad = grad.as_standard_layout();
        let Some(g) = grad.as_slice() else { return };
        for (g, &id) in g.chunks_exact(d.max(1)).zip(ids) {
            if !valid(id, self.config.input_dim) {
                continue;
            }
            let r = id as usize;
            if !self.in_touched[r] {
                self.in_touched[r] = true;
                self.touched.push(r);
            }
            for (a, b) in dst[r * d..(r + 1) * d].iter_mut().zip(g) {
                *a += b;
            }
        }
    }

    /// Inference on ragged ids: the flat rows `(n_ids, output_dim)` of the ragged output,
    /// whose partitions are those of `ids` (`ids.with_values(out.view())`).
    pub fn call_ragged(&self, ids: RaggedView<'_, i32>) -> Array2<f32> {
        let v = ids.values();
        let mut out = Array2::zeros((v.len(), self.config.output_dim));
        self.lookup(v.iter(), &mut out);
        out
    }

    /// Training forward on ragged ids, into the layer's buffer ([`output`](Self::output)).
    pub fn forward_train_ragged(&mut self, ids: RaggedView<'_, i32>) {
        let v = ids.values();
        let mut out = std::mem::take(&mut self.out);
        ensure_rows(&mut out, v.len(), self.config.output_dim);
        self.lookup(v.iter(), &mut out);
        self.out = out;
    }

    /// Backward on ragged ids: accumulates `grad_output` (the flat rows of the gradient,
    /// `(n_ids, output_dim)`) into the rows of the table the ids name. Ids have no gradient.
    pub fn backward_ragged(&mut self, ids: RaggedView<'_, i32>, grad_output: ArrayView2<'_, f32>) {
        let v = ids.values();
        self.accumulate(v.iter(), grad_output);
    }

    /// Inference on dense ids of any shape: `(n_ids, output_dim)` rows in row-major order
    /// of the ids, i.e. `(batch, ..., output_dim)` folded.
    pub fn call_dense<D: Dimension>(&self, ids: ArrayView<'_, i32, D>) -> Array2<f32> {
        let mut out = Array2::zeros((ids.len(), self.config.output_dim));
        self.lookup(ids.iter(), &mut out);
        out
    }

    /// Training forward on dense ids, into the layer's buffer.
    pub fn forward_train_dense<D: Dimension>(&mut self, ids: ArrayView<'_, i32, D>) {
        let mut out = std::mem::take(&mut self.out);
        ensure_rows(&mut out, ids.len(), self.config.output_dim);
        self.lookup(ids.iter(), &mut out);
        self.out = out;
    }

    /// Backward on dense ids, as [`backward_ragged`](Self::backward_ragged).
    pub fn backward_dense<D: Dimension>(
        &mut self,
        ids: ArrayView<'_, i32, D>,
        grad_output: ArrayView2<'_, f32>,
    ) {
        self.accumulate(ids.iter(), grad_output);
    }
}

impl BuildLayer for Embedding {
    fn from_config(
        _: &'static LayerSpec,
        config: &Config,
        _: &[TensorSpec],
        rng: &mut Rng,
    ) -> Self {
        let mut embedding = Embedding::build(EmbeddingConfig::from_config(config), rng);
        embedding.activity = ActivityRegularizer::from_config(config);
        embedding
    }
}

impl Layer for Embedding {
    /// `Gather` of the table's rows by the ids, cast from the `int32` input `predict` takes
    /// to `int64`. Ragged ids are refused by the exporter before this.
    fn export_onnx(&self, cx: &mut LayerExport<'_>) -> Result<(), Error> {
        if self.config.mask_zero {
            // The layers after it would read the padding that the mask hides here.
            return Err(cx.unsupported(
                "`mask_zero = true` makes a mask over the steps, which the export does not carry to the layers reading it",
            ));
        }
        let table = cx.weight("embeddings")?;
        let (x, out) = (cx.input(0).to_string(), cx.output().to_string());
        let ids = cx.tmp("ids");
        cx.node(
            "Cast",
            &[&x],
            &[&ids],
            vec![Attr::int("to", DataType::Int64 as i64)],
        );
        cx.node(
            "Gather",
            &[&table, &ids],
            &[&out],
            vec![Attr::int("axis", 0)],
        );
        Ok(())
    }

    fn call(&self, x: Input<'_>) -> Array2<f32> {
        match x {
            Input::RaggedIds(ids) => self.call_ragged(ids),
            Input::Ids(ids) => self.call_dense(ids),
            // The spec admits integer ids only.
            _ => Array2::zeros((0, self.config.output_dim)),
        }
    }

    fn forward(&mut self, x: Input<'_>, cx: &mut ForwardContext) {
        match x {
            Input::RaggedIds(ids) => self.forward_train_ragged(ids),
            Input::Ids(ids) => self.forward_train_dense(ids),
            _ => return,
        }
        let mut mask = std::mem::take(&mut self.mask);
        self.fill_mask(&x, &mut mask);
        self.mask = mask;
        self.activity.forward(self.out.view(), cx);
    }

    /// The output of the last training forward, as flat rows `(n_ids, output_dim)`.
    fn output(&self) -> ArrayView2<'_, f32> {
        self.out.view()
    }

    fn backward(&mut self, x: Input<'_>, grad_output: ArrayView2<'_, f32>, _need: bool) {
        if !matches!(x, Input::RaggedIds(_) | Input::Ids(_)) {
            return;
        }
        // Taken out for the call, so its buffer and the layer's can be borrowed together.
        let mut activity = std::mem::take(&mut self.activity);
        let grad_output = activity.backward(self.out.view(), grad_output.reborrow());
        match x {
            Input::RaggedIds(ids) => self.backward_ragged(ids, grad_output),
            Input::Ids(ids) => self.backward_dense(ids, grad_output),
            _ => {}
        }
        self.activity = activity;
    }

    /// Ids have no gradient: always empty.
    fn grad_input(&self) -> ArrayView2<'_, f32> {
        empty_rows()
    }

    fn set_uses(&mut self, uses: usize) {
        self.uses.set_uses(uses, &mut self.out);
    }

    fn select_use(&mut self, index: usize) {
        self.uses.select(index, &mut self.out);
    }

    fn set_accumulate(&mut self, accumulate: bool) {
        self.accumulate = accumulate;
    }

    /// Visits the table with its gradient (Keras' variable name `embeddings`).
    fn visit_params(&mut self, layer: &str, f: &mut dyn FnMut(ParamMut<'_>)) {
        // Both arrays are built in standard layout and never reshaped, so the slices exist.
        if let (Some(value), Some(grad)) = (self.embeddings.as_slice_mut(), self.grad.as_slice()) {
            f(ParamMut {
                layer,
                variable: "embeddings",
                shape: &self.shape,
                value,
                grad,
            });
        }
    }

    /// Visits the table, read-only.
    fn visit_weights(&self, layer: &str, f: &mut dyn FnMut(ParamRef<'_>)) {
        if let Some(value) = self.embeddings.as_slice() {
            f(ParamRef {
                layer,
                variable: "embeddings",
                shape: &self.shape,
                value,
                trainable: true,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr2, Array1};

    fn layer() -> Embedding {
        let mut e = Embedding::build(EmbeddingConfig::new(5, 2), &mut Rng::new(1));
        let table = Array1::range(0.0, 10.0, 1.0)
            .into_shape_with_order((5, 2))
            .unwrap();
        e.set_embeddings(table.view()).unwrap();
        e
    }

    #[test]
    fn keras_default_initializer_is_uniform_005() {
        let e = Embedding::build(EmbeddingConfig::new(100, 8), &mut Rng::new(3));
        assert!(e.embeddings().iter().all(|v| v.abs() <= 0.05));
        assert!(e.embeddings().iter().any(|v| v.abs() > 0.04));
    }

    #[test]
    fn sparse_gradient_touches_only_used_rows() {
        let mut e = layer();
        let ids = RaggedTensor::from_rows(&[vec![1, 3, 1], vec![4]]).unwrap();
        e.forward_train_ragged(ids.view());
        assert_eq!(
            e.output(),
            arr2(&[[2.0, 3.0], [6.0, 7.0], [2.0, 3.0], [8.0, 9.0]])
        );
        let g = arr2(&[[1.0f32, 1.0], [2.0, 2.0], [10.0, 10.0], [0.5, 0.5]]);
        e.backward_ragged(ids.view(), g.view());
        assert_eq!(e.touched_rows(), &[1, 3, 4]);
        assert_eq!(
            e.grad_embeddings(),
            arr2(&[[0.0, 0.0], [11.0, 11.0], [0.0, 0.0], [2.0, 2.0], [0.5, 0.5]])
        );
        // The next step clears the previous rows.
        let ids2 = RaggedTensor::from_rows(&[vec![0]]).unwrap();
        e.backward_ragged(ids2.view(), arr2(&[[1.0f32, -1.0]]).view());
        assert_eq!(e.touched_rows(), &[0]);
        assert_eq!(e.grad_embeddings().sum(), 0.0);
        assert_eq!(e.grad_embeddings()[[0, 1]], -1.0);
    }

    #[test]
    fn bad_ids_are_reported_with_their_position() {
        let e = layer();
        let ids = RaggedTensor::from_rows(&[vec![1, 2], vec![0, 4, -1]]).unwrap();
        assert_eq!(
            e.check_ragged_ids("emb", &ids),
            Err(Error::IdOutOfRange {
                layer: "emb".into(),
                id: -1,
                position: vec![1, 2],
                input_dim: 5
            })
        );
        let dense = arr2(&[[0, 1], [5, 2]]);
        match e.check_dense_ids("emb", &dense.view()) {
            Err(Error::IdOutOfRange { id, position, .. }) => {
                assert_eq!((id, position), (5, vec![1, 0]));
            }
            other => panic!("{other:?}"),
        }
        // Unchecked, a bad id gives a zero vector and no gradient rather than a panic.
        let mut e = e;
        let out = e.call_ragged(ids.view());
        assert_eq!(out.row(4).to_vec(), vec![0.0, 0.0]);
        e.forward_train_ragged(ids.view());
        e.backward_ragged(ids.view(), Array2::ones((5, 2)).view());
        assert_eq!(e.touched_rows(), &[1, 2, 0, 4]);
    }

    /// Through the `Layer` trait, dense ids (`Input::Ids`) give what ragged rows of the same
    /// ids give: the output, the activity penalty and the table's gradient.
    #[test]
    fn the_layer_on_dense_ids_is_the_layer_on_the_same_ragged_rows() {
        use crate::shape::layers::EMBEDDING;
        use crate::shape::{ParamValue, Regularizer};
        let config = EMBEDDING.configure(vec![
            ("input_dim", ParamValue::Int(5)),
            ("output_dim", ParamValue::Int(2)),
            (
                "activity_regularizer",
                ParamValue::Regularizer(Regularizer::l2(0.5)),
            ),
        ]);
        let build = || {
            let mut e = Embedding::from_config(&EMBEDDING, &config, &[], &mut Rng::new(4));
            e.set_embeddings(layer().embeddings()).unwrap();
            e
        };
        let dense = arr2(&[[1, 4, 1], [0, 3, 3]]);
        let ragged = RaggedTensor::from_rows(&[vec![1, 4, 1], vec![0, 3, 3]]).unwrap();
        let (mut a, mut b) = (build(), build());
        let want = arr2(&[
            [2.0f32, 3.0],
            [8.0, 9.0],
            [2.0, 3.0],
            [0.0, 1.0],
            [6.0, 7.0],
            [6.0, 7.0],
        ]);
        assert_eq!(a.call(Input::Ids(dense.view())), want);
        assert_eq!(b.call(Input::RaggedIds(ragged.view())), want);
        let (mut ca, mut cb) = (ForwardContext::training(0), ForwardContext::training(0));
        a.forward(Input::Ids(dense.view()), &mut ca);
        b.forward(Input::RaggedIds(ragged.view()), &mut cb);
        assert_eq!(a.output(), want);
        // 0.5 · Σx² of the looked-up rows, in f64.
        let penalty = 0.5 * want.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>();
        assert!(
            (ca.penalty - penalty).abs() < 1e-9 * penalty,
            "{}",
            ca.penalty
        );
        assert_eq!(ca.penalty, cb.penalty);
        let g = Array2::from_shape_fn((6, 2), |(r, c)| (r * 2 + c) as f32);
        a.backward(Input::Ids(dense.view()), g.view(), false);
        b.backward(Input::RaggedIds(ragged.view()), g.view(), false);
        assert_eq!(a.grad_embeddings(), b.grad_embeddings());
        // Row 1 of the table gets rows 0 and 2 of `g`, plus the penalty's 2 · 0.5 · x.
        let row1: Vec<f32> = (0..2)
            .map(|c| g[[0, c]] + g[[2, c]] + 2.0 * want[[0, c]])
            .collect();
        assert_eq!(a.grad_embeddings().row(1).to_vec(), row1);
        assert_eq!(a.touched_rows(), &[1, 4, 0, 3]);
        assert_eq!(a.grad_input().len(), 0);
        // Float rows are no ids: no output, no gradient.
        let mut c = build();
        let floats = Array2::<f32>::zeros((2, 3));
        assert_eq!(c.call(Input::Dense(floats.view())).dim(), (0, 2));
        c.forward(
            Input::Dense(floats.view()),
            &mut ForwardContext::training(0),
        );
        c.backward(Input::Dense(floats.view()), g.view(), false);
        assert!(c.touched_rows().is_empty());
    }

    #[test]
    fn dense_ids_fold_into_rows() {
        let mut e = layer();
        let ids = arr2(&[[0, 4], [2, 2]]);
        let out = e.call_dense(ids.view());
        assert_eq!(out, arr2(&[[0.0, 1.0], [8.0, 9.0], [4.0, 5.0], [4.0, 5.0]]));
        e.forward_train_dense(ids.view());
        assert_eq!(e.output(), out);
        e.backward_dense(ids.view(), Array2::ones((4, 2)).view());
        assert_eq!(e.grad_embeddings().row(2).to_vec(), vec![2.0, 2.0]);
        let mut n = 0;
        e.visit_params("embedding", &mut |p| {
            assert_eq!((p.variable, p.shape), ("embeddings", &[5usize, 2][..]));
            n += 1;
        });
        assert_eq!(n, 1);
    }
}
