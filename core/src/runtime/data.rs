//! Helpers the generated code calls at a model's boundary: checking dense and sparse inputs,
//! folding dense ones into `(rows, features)`, gathering samples into a batch, and restoring
//! the output's shape.

use ndarray::{
    Array, Array2, ArrayView, ArrayView2, ArrayViewD, ArrayViewMutD, Axis, CowArray, Dimension,
    Ix2, IxDyn,
};

use super::{Error, SparseTensor};
use crate::shape::{check_runtime_shape, TensorSpec};

/// Checks a dense input (`f32` values, or `i32` ids) against its declared spec and returns the
/// number of samples (the length of the batch axis).
pub fn check_dense_input<A, D: Dimension>(
    name: &str,
    spec: &TensorSpec,
    x: &ArrayView<'_, A, D>,
) -> Result<usize, Error> {
    check_dense_shape(name, spec, x.shape())
}

/// What a dense model input holds: `f32` values, or `i32` ids (into `embedding`). Sealed: the
/// row helpers below are compiled once, in this crate, for each.
pub trait Element: Copy + Default + sealed::Sealed + 'static {
    #[doc(hidden)]
    fn slice_as_rows<'a>(shape: &[usize], values: &'a [Self]) -> Option<ArrayView2<'a, Self>>;
    #[doc(hidden)]
    fn as_rows_dyn(x: ArrayViewD<'_, Self>) -> CowArray<'_, Self, Ix2>;
    #[doc(hidden)]
    fn copy_rows(src: &[Self], dst: &mut [Self], per_sample: usize, rows: &[usize]);
    #[doc(hidden)]
    fn gather_rows_dyn(x: ArrayViewD<'_, Self>, rows: &[usize], out: ArrayViewMutD<'_, Self>);
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for i32 {}
    impl Sealed for i64 {}
}

/// What dense ids may be: `i32` or `i64` (Keras users pass either). Layers read them as `i32`
/// rows ([`ids_as_rows`]).
pub trait IdElement: Element + Into<i64> {
    #[doc(hidden)]
    fn ids_as_rows<D: Dimension>(x: ArrayView<'_, Self, D>) -> CowArray<'_, i32, Ix2>;
}

impl IdElement for i32 {
    fn ids_as_rows<D: Dimension>(x: ArrayView<'_, i32, D>) -> CowArray<'_, i32, Ix2> {
        as_rows(x)
    }
}

impl IdElement for i64 {
    // A copy: layers index with `i32`. The model checked every id against its layers'
    // bounds before any layer runs, so none is cut; one outside `i32` all the same becomes -1,
    // which every layer skips.
    fn ids_as_rows<D: Dimension>(x: ArrayView<'_, i64, D>) -> CowArray<'_, i32, Ix2> {
        CowArray::from(as_rows(x).mapv(|v| i32::try_from(v).unwrap_or(-1)))
    }
}

/// Dense ids as the `i32` rows layers read ([`Input::Ids`](super::Input::Ids)): borrowed
/// for row-major `i32` ids, copied for `i64` ones.
pub fn ids_as_rows<'a, A: IdElement, D: Dimension>(
    x: ArrayView<'a, A, D>,
) -> CowArray<'a, i32, Ix2> {
    A::ids_as_rows(x)
}

macro_rules! element {
    ($($t:ty),*) => {$(
        impl Element for $t {
            fn slice_as_rows<'a>(shape: &[usize], values: &'a [$t]) -> Option<ArrayView2<'a, $t>> {
                slice_as_rows(shape, values)
            }
            fn as_rows_dyn(x: ArrayViewD<'_, $t>) -> CowArray<'_, $t, Ix2> {
                as_rows_dyn(x)
            }
            fn copy_rows(src: &[$t], dst: &mut [$t], per_sample: usize, rows: &[usize]) {
                copy_rows(src, dst, per_sample, rows)
            }
            fn gather_rows_dyn(x: ArrayViewD<'_, $t>, rows: &[usize], out: ArrayViewMutD<'_, $t>) {
                gather_rows_dyn(x, rows, out)
            }
        }
    )*};
}
element!(f32, i32, i64);

// `check_dense_input` on the shape alone: compiled once, here, not per model.
fn check_dense_shape(name: &str, spec: &TensorSpec, shape: &[usize]) -> Result<usize, Error> {
    check_runtime_shape(spec, shape).map_err(|message| Error::InputShape {
        input: name.to_string(),
        expected: spec.shape_string(),
        actual: shape.to_vec(),
        message,
    })?;
    Ok(shape.first().copied().unwrap_or(1))
}

/// Checks a sparse `f32` input against its declared spec (its `dense_shape` against the
/// declared shape, batch axis first) and returns the number of samples (rows).
///
/// The tensor's own parts were validated when it was built, so this is the shape check alone.
pub fn check_sparse_input(
    name: &str,
    spec: &TensorSpec,
    x: &SparseTensor<f32>,
) -> Result<usize, Error> {
    check_runtime_shape(spec, x.dense_shape()).map_err(|message| Error::InputShape {
        input: name.to_string(),
        expected: spec.shape_string(),
        actual: x.dense_shape().to_vec(),
        message,
    })?;
    Ok(x.n_rows())
}

/// Views `x` as `(rows, features)`: every axis but the last folded into rows. Borrows when `x`
/// is in standard (row-major) layout, copies otherwise. A 0-d array is one row of one feature.
pub fn as_rows<'a, A: Element, D: Dimension>(x: ArrayView<'a, A, D>) -> CowArray<'a, A, Ix2> {
    // The work is done on a slice or a dynamic-rank view, so it is compiled once, here,
    // rather than in every crate that declares a model (BENCHMARKS.md, compile time). The
    // slice is the common case, and the fast one: a dynamic-rank reshape costs ~40 ns.
    let view = x
        .to_slice()
        .and_then(|values| A::slice_as_rows(x.shape(), values));
    match view {
        Some(v) => CowArray::from(v),
        None => A::as_rows_dyn(x.into_dyn()),
    }
}

// `as_rows` of row-major `values` of `shape`.
fn slice_as_rows<'a, A>(shape: &[usize], values: &'a [A]) -> Option<ArrayView2<'a, A>> {
    let cols = shape.last().copied().unwrap_or(1);
    let rows = shape[..shape.len().saturating_sub(1)].iter().product();
    ArrayView2::from_shape((rows, cols), values).ok()
}

fn as_rows_dyn<A: Copy + Default>(x: ArrayViewD<'_, A>) -> CowArray<'_, A, Ix2> {
    let shape = x.shape();
    let cols = shape.last().copied().unwrap_or(1);
    let rows = shape[..shape.len().saturating_sub(1)].iter().product();
    if x.is_standard_layout() {
        if let Ok(v) = x.clone().into_shape_with_order((rows, cols)) {
            return CowArray::from(v);
        }
    }
    let mut out = Array2::default((rows, cols));
    // `iter` walks in logical (row-major) order whatever the memory layout.
    for (o, v) in out.iter_mut().zip(x.iter()) {
        *o = *v;
    }
    CowArray::from(out)
}

/// Copies the samples `rows` (indices along the batch axis) of `x` into `out`, resizing `out`
/// only when its shape differs from `[rows.len(), ...]`.
///
/// # Panics
///
/// If an index is out of bounds; callers pass permutations of `0..n` they built.
pub fn gather_rows<A: Element, D: Dimension>(
    x: ArrayView<'_, A, D>,
    rows: &[usize],
    out: &mut Array<A, D>,
) {
    if x.ndim() == 0 {
        return;
    }
    let mut dim = x.raw_dim();
    dim[0] = rows.len();
    if out.raw_dim() != dim {
        *out = Array::default(dim);
    }
    let per_sample: usize = x.shape()[1..].iter().product();
    match (x.to_slice(), out.as_slice_mut()) {
        (Some(src), Some(dst)) => A::copy_rows(src, dst, per_sample, rows),
        _ => A::gather_rows_dyn(x.into_dyn(), rows, out.view_mut().into_dyn()),
    }
}

// Copies the samples `rows` of `src` (`per_sample` values each) into `dst`: one memcpy per
// sample.
fn copy_rows<A: Copy>(src: &[A], dst: &mut [A], per_sample: usize, rows: &[usize]) {
    for (i, &r) in rows.iter().enumerate() {
        dst[i * per_sample..(i + 1) * per_sample]
            .copy_from_slice(&src[r * per_sample..(r + 1) * per_sample]);
    }
}

// `gather_rows` for layouts other than row-major, on dynamic-rank views: compiled once, here.
fn gather_rows_dyn<A: Copy>(x: ArrayViewD<'_, A>, rows: &[usize], mut out: ArrayViewMutD<'_, A>) {
    for (i, &r) in rows.iter().enumerate() {
        out.index_axis_mut(Axis(0), i)
            .assign(&x.index_axis(Axis(0), r));
    }
}

/// Restores a model output's logical shape (`logical_shape`, batch axis first) from its 2-D
/// `(rows, features)` form, without copying when `out` is in standard layout.
///
/// # Panics
///
/// If `logical_shape` does not hold exactly `out.len()` elements or does not have the rank of
/// `D`: the generated code derives both from the declared model, so this is a bug there.
pub fn rows_to_output<D: Dimension>(out: Array2<f32>, logical_shape: &[usize]) -> Array<f32, D> {
    // Outputs the runtime builds are standard layout; anything else is made so first, since
    // reshaping needs row-major order.
    let out = if out.is_standard_layout() {
        out
    } else {
        out.as_standard_layout().into_owned()
    };
    let n = out.len();
    let reshaped = out
        .into_shape_with_order(IxDyn(logical_shape))
        .map_err(|e| format!("{n} values cannot have shape {logical_shape:?}: {e}"))
        .and_then(|a| {
            a.into_dimensionality::<D>().map_err(|e| {
                format!("shape {logical_shape:?} does not have the rank of the output type: {e}")
            })
        });
    match reshaped {
        Ok(a) => a,
        Err(message) => panic!("rows_to_output: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::Dim;
    use ndarray::{array, Array3, Ix3};

    #[test]
    fn check_names_input_and_shapes() {
        let spec = TensorSpec::dense(vec![Dim::Known(4)]);
        let x = Array2::<f32>::zeros((3, 4));
        assert_eq!(check_dense_input("input", &spec, &x.view()), Ok(3));
        let x = Array2::<f32>::zeros((3, 5));
        match check_dense_input("features", &spec, &x.view()) {
            Err(Error::InputShape {
                input,
                expected,
                actual,
                ..
            }) => {
                assert_eq!(input, "features");
                assert_eq!(expected, "(None, 4)");
                assert_eq!(actual, vec![3, 5]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sparse_check_names_input_and_shapes() {
        let mut spec = TensorSpec::dense(vec![Dim::Known(6)]);
        spec.layout = crate::shape::Layout::Sparse;
        let x = SparseTensor::from_dense(Array2::<f32>::eye(6).view()).unwrap();
        assert_eq!(check_sparse_input("words", &spec, &x), Ok(6));
        let x = SparseTensor::from_dense(Array2::<f32>::zeros((2, 5)).view()).unwrap();
        match check_sparse_input("words", &spec, &x) {
            Err(Error::InputShape {
                input,
                expected,
                actual,
                ..
            }) => {
                assert_eq!(input, "words");
                assert_eq!(expected, "(None, 6)");
                assert_eq!(actual, vec![2, 5]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rows_fold_and_unfold() {
        let x = Array3::from_shape_fn((2, 3, 4), |(a, b, c)| (a * 100 + b * 10 + c) as f32);
        let r = as_rows(x.view());
        assert!(r.is_view());
        assert_eq!(r.dim(), (6, 4));
        assert_eq!(r[[4, 2]], 112.0);
        // A transposed (non-standard) view is copied in logical order.
        let t = x.view().reversed_axes();
        let rt = as_rows(t);
        assert_eq!(rt.dim(), (12, 2));
        assert_eq!(rt[[1, 1]], t[[0, 1, 1]]);
        let back: Array<f32, Ix3> = rows_to_output(r.into_owned(), &[2, 3, 4]);
        assert_eq!(back, x);
    }

    #[test]
    fn gather_reuses_buffer() {
        let x = array![[1.0f32, 2.0], [3.0, 4.0], [5.0, 6.0]];
        let mut out = Array2::zeros((0, 0));
        gather_rows(x.view(), &[2, 0], &mut out);
        assert_eq!(out, array![[5.0f32, 6.0], [1.0, 2.0]]);
        let ptr = out.as_ptr();
        gather_rows(x.view(), &[1, 1], &mut out);
        assert_eq!(out, array![[3.0f32, 4.0], [3.0, 4.0]]);
        assert_eq!(out.as_ptr(), ptr);
        // Strided source.
        let xt = x.t();
        let mut o2 = Array2::zeros((0, 0));
        gather_rows(xt, &[1], &mut o2);
        assert_eq!(o2, array![[2.0f32, 4.0, 6.0]]);
    }

    #[test]
    fn ids_fold_and_gather_as_values_do() {
        let ids = Array3::from_shape_fn((3, 2, 2), |(a, b, c)| (a * 100 + b * 10 + c) as i32);
        let r = as_rows(ids.view());
        assert!(r.is_view());
        assert_eq!((r.dim(), r[[3, 1]]), ((6, 2), 111));
        let mut out = Array3::<i32>::zeros((0, 0, 0));
        gather_rows(ids.view(), &[2, 0], &mut out);
        assert_eq!(out.index_axis(Axis(0), 0), ids.index_axis(Axis(0), 2));
        assert_eq!(out.index_axis(Axis(0), 1), ids.index_axis(Axis(0), 0));
        // Strided: the dynamic-rank paths.
        let t = ids.view().reversed_axes();
        assert_eq!(as_rows(t)[[1, 2]], t[[0, 1, 2]]);
        let mut o2 = Array3::<i32>::zeros((0, 0, 0));
        gather_rows(t, &[1], &mut o2);
        assert_eq!(o2.index_axis(Axis(0), 0), t.index_axis(Axis(0), 1));
        let spec = TensorSpec {
            dtype: crate::shape::DType::I32,
            ..TensorSpec::dense(vec![Dim::Known(2), Dim::Known(2)])
        };
        assert_eq!(check_dense_input("ids", &spec, &ids.view()), Ok(3));
        // `i64` ids are read as `i32` rows; one beyond `i32` is never a valid id.
        let wide = array![[3i64, i64::from(i32::MAX) + 1], [-2, 7]];
        assert_eq!(ids_as_rows(wide.view()), array![[3, -1], [-2, 7]]);
        assert!(ids_as_rows(ids.view()).is_view());
    }
}

/// Used by generated code for a model with several inputs: the common number of samples, or
/// [`Error::InputSamples`] listing every input's count.
pub fn same_samples(inputs: &[(&str, usize)]) -> Result<usize, Error> {
    let first = inputs.first().map_or(0, |(_, n)| *n);
    if inputs.iter().all(|(_, n)| *n == first) {
        Ok(first)
    } else {
        Err(Error::InputSamples {
            inputs: inputs
                .iter()
                .map(|(name, n)| (name.to_string(), *n))
                .collect(),
        })
    }
}

/// Buffers a graph model keeps beside its layers for training: copies of the outputs of
/// shared layers (a shared layer holds one output per use, and a consumer may need two at
/// once) and the summed gradients of tensors consumed more than once. Sized on first use,
/// reused after.
#[derive(Clone, Debug, Default)]
pub struct GraphBuffers {
    /// Node values, by the index the generated code gives them.
    pub values: Vec<Array2<f32>>,
    /// Node gradients, by the index the generated code gives them.
    pub grads: Vec<Array2<f32>>,
}

impl GraphBuffers {
    /// Buffers for `values` node values and `grads` node gradients.
    pub fn new(values: usize, grads: usize) -> Self {
        GraphBuffers {
            values: vec![Array2::zeros((0, 0)); values],
            grads: vec![Array2::zeros((0, 0)); grads],
        }
    }
}

/// `dst = src`, resizing `dst` only when the shape changes.
pub fn assign_rows(dst: &mut Array2<f32>, src: ArrayView2<'_, f32>) {
    if dst.dim() != src.dim() {
        *dst = Array2::zeros(src.dim());
    }
    dst.assign(&src);
}

/// `dst += src` (shapes agree: both are gradients of the same tensor).
pub fn add_rows(dst: &mut Array2<f32>, src: ArrayView2<'_, f32>) {
    *dst += &src;
}

/// Checks that every weight of `layers` can be allocated, by reserving each (and freeing it):
/// `try_new` and `try_with_seed` call it so that a model too large for the machine is a typed
/// error instead of an abort in the allocator. (Where the operating system overcommits memory
/// a reservation can succeed and the pages still fail later; that is beyond a library's reach.)
///
/// # Errors
/// [`Error::InvalidArgument`] naming the layer, the weight and its shape.
pub fn reserve_weights(layers: &[crate::shape::LayerInfo]) -> Result<(), Error> {
    for l in layers {
        for w in &l.weights {
            let fits = w
                .len()
                .is_some_and(|n| Vec::<f32>::new().try_reserve_exact(n).is_ok());
            if !fits {
                return Err(Error::InvalidArgument {
                    name: "model",
                    message: format!(
                        "layer '{}': weight '{}' of shape {:?} cannot be allocated on this machine",
                        l.name, w.name, w.shape
                    ),
                });
            }
        }
    }
    Ok(())
}
