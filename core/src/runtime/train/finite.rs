//! The check `fit` runs before its first step: every input value, target and sample weight
//! must be finite (`FitOptions::check_finite`, on by default).
//!
//! One NaN among the inputs silently ruins a model: it reaches the loss, and through the
//! gradient every weight it touches. Keras leaves this to the user; here it is one pass over
//! the data before training (BENCHMARKS.md gives its cost), reporting the first offending
//! value with its input, row and column.

use ndarray::{ArrayD, ArrayView, ArrayView1, Dimension};

use super::super::{Error, RaggedTensor, SparseTensor};

/// Where a non-finite value sits in one input of a call: the row (sample) and the column
/// (position within the sample, row-major over the axes after the first).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NonFinite {
    /// The input's position among the model's inputs (0 for a model with one input).
    pub input: usize,
    /// The sample.
    pub row: usize,
    /// The position within the sample: the column of a matrix, the row-major offset over
    /// the axes after the first otherwise, the position in the row of a ragged tensor.
    pub column: usize,
    /// The value found.
    pub value: f32,
}

/// The values a model input carries, as `fit` checks them for NaN and infinity before
/// training. Implemented for every input type `model!` declares (dense views, sparse and
/// ragged tensors, optional inputs, and tuples of them for several inputs).
pub trait InputValues {
    /// The first value that is NaN or infinite, in input order then row-major order.
    fn first_non_finite(&self) -> Option<NonFinite>;
}

/// An element type an input may hold: floats can be NaN or infinite, integers cannot.
pub trait FiniteElement: Copy {
    /// The value as `f32` when it is NaN or infinite.
    fn non_finite(self) -> Option<f32>;
}

impl FiniteElement for f32 {
    fn non_finite(self) -> Option<f32> {
        (!self.is_finite()).then_some(self)
    }
}

impl FiniteElement for f64 {
    fn non_finite(self) -> Option<f32> {
        (!self.is_finite()).then_some(self as f32)
    }
}

macro_rules! always_finite {
    ($($t:ty),*) => {$(
        impl FiniteElement for $t {
            fn non_finite(self) -> Option<f32> {
                None
            }
        }
    )*};
}
always_finite!(i8, i16, i32, i64, u8, u16, u32, u64, usize, isize, bool);

/// Whether every value of `values` is finite. The fast pass sums sixteen independent lanes
/// (one add per value; the compiler vectorises it, as the sum is not reassociated): a NaN or
/// an infinity leaves its lane non-finite. Finite values can overflow a lane too, so a
/// non-finite lane is settled by the exact test of each value.
pub(crate) fn all_finite(values: &[f32]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if avx2() {
        // SAFETY: the CPU has AVX2, checked by `avx2`.
        return unsafe { all_finite_avx2(values) };
    }
    lane_sums_finite(values) || values.iter().all(|v| v.is_finite())
}

// With AVX2 when the CPU has it: twice the lanes of the baseline build's SSE2 per
// instruction (the gradient check runs on every training step).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn all_finite_avx2(values: &[f32]) -> bool {
    lane_sums_finite(values) || values.iter().all(|v| v.is_finite())
}

#[cfg(target_arch = "x86_64")]
fn avx2() -> bool {
    static DETECTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DETECTED.get_or_init(|| std::arch::is_x86_feature_detected!("avx2"))
}

#[inline(always)]
fn lane_sums_finite(values: &[f32]) -> bool {
    let mut acc = [0.0f32; 16];
    let mut chunks = values.chunks_exact(16);
    for chunk in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a += v;
        }
    }
    acc.iter().chain(chunks.remainder()).all(|a| a.is_finite())
}

// The first non-finite element of `values` (row-major, `per_row` to a row): the fast pass
// first, the search only when it failed.
fn first_in_rows(values: &[f32], per_row: usize) -> Option<(usize, usize, f32)> {
    if all_finite(values) {
        return None;
    }
    let (i, v) = values.iter().enumerate().find(|(_, v)| !v.is_finite())?;
    let per_row = per_row.max(1);
    Some((i / per_row, i % per_row, *v))
}

impl<D: Dimension> InputValues for ArrayView<'_, f32, D> {
    fn first_non_finite(&self) -> Option<NonFinite> {
        let per_row: usize = self.shape().iter().skip(1).product();
        let found = match self.as_slice() {
            Some(values) => first_in_rows(values, per_row),
            // A strided view: the logical order, element by element.
            None => self
                .iter()
                .enumerate()
                .find(|(_, v)| !v.is_finite())
                .map(|(i, v)| (i / per_row.max(1), i % per_row.max(1), *v)),
        };
        found.map(|(row, column, value)| NonFinite {
            input: 0,
            row,
            column,
            value,
        })
    }
}

/// Ids are integers: never NaN nor infinite.
impl<D: Dimension> InputValues for ArrayView<'_, i32, D> {
    fn first_non_finite(&self) -> Option<NonFinite> {
        None
    }
}

/// Ids are integers: never NaN nor infinite.
impl<D: Dimension> InputValues for ArrayView<'_, i64, D> {
    fn first_non_finite(&self) -> Option<NonFinite> {
        None
    }
}

impl InputValues for &SparseTensor<f32> {
    fn first_non_finite(&self) -> Option<NonFinite> {
        if all_finite(self.values()) {
            return None;
        }
        let entry = self.values().iter().position(|v| !v.is_finite())?;
        let row = self.row_of_entry(entry);
        Some(NonFinite {
            input: 0,
            row,
            column: self.col_indices().get(entry).copied().unwrap_or(0),
            value: self.values()[entry],
        })
    }
}

impl<T: FiniteElement> InputValues for &RaggedTensor<T> {
    fn first_non_finite(&self) -> Option<NonFinite> {
        let values = self.flat_values();
        let (i, value) = values
            .iter()
            .enumerate()
            .find_map(|(i, v)| v.non_finite().map(|f| (i, f)))?;
        // The flat value holding element `i`, then up through the partitions to the outer
        // row (at each level the last row starting at or before the position, which skips
        // empty rows); the column is the element's offset from that row's first element.
        let inner: usize = self.inner_shape().iter().product::<usize>().max(1);
        let mut row = i / inner;
        for splits in self.nested_row_splits().iter().rev() {
            row = splits.partition_point(|&s| s <= row).saturating_sub(1);
        }
        let mut start = row;
        for splits in self.nested_row_splits() {
            start = splits.get(start).copied().unwrap_or(0);
        }
        Some(NonFinite {
            input: 0,
            row,
            column: i - start * inner,
            value,
        })
    }
}

impl<X: InputValues> InputValues for Option<X> {
    fn first_non_finite(&self) -> Option<NonFinite> {
        self.as_ref().and_then(InputValues::first_non_finite)
    }
}

macro_rules! tuples {
    ($(($($x:ident $i:tt),+))*) => {$(
        impl<$($x: InputValues),+> InputValues for ($($x,)+) {
            fn first_non_finite(&self) -> Option<NonFinite> {
                $(
                    if let Some(found) = self.$i.first_non_finite() {
                        return Some(NonFinite { input: $i, ..found });
                    }
                )+
                None
            }
        }
    )*};
}
// Up to the 32 inputs a model runs with (macros' MAX_INPUTS).
tuples! {
    (X0 0)
    (X0 0, X1 1)
    (X0 0, X1 1, X2 2)
    (X0 0, X1 1, X2 2, X3 3)
    (X0 0, X1 1, X2 2, X3 3, X4 4)
    (X0 0, X1 1, X2 2, X3 3, X4 4, X5 5)
    (X0 0, X1 1, X2 2, X3 3, X4 4, X5 5, X6 6)
    (X0 0, X1 1, X2 2, X3 3, X4 4, X5 5, X6 6, X7 7)
    (X0 0, X1 1, X2 2, X3 3, X4 4, X5 5, X6 6, X7 7, X8 8)
    (X0 0, X1 1, X2 2, X3 3, X4 4, X5 5, X6 6, X7 7, X8 8, X9 9)
    (X0 0, X1 1, X2 2, X3 3, X4 4, X5 5, X6 6, X7 7, X8 8, X9 9, X10 10)
    (X0 0, X1 1, X2 2, X3 3, X4 4, X5 5, X6 6, X7 7, X8 8, X9 9, X10 10, X11 11)
    (X0 0, X1 1, X2 2, X3 3, X4 4, X5 5, X6 6, X7 7, X8 8, X9 9, X10 10, X11 11, X12 12)
    (X0 0, X1 1, X2 2, X3 3, X4 4, X5 5, X6 6, X7 7, X8 8, X9 9, X10 10, X11 11, X12 12, X13 13)
    (X0 0, X1 1, X2 2, X3 3, X4 4, X5 5, X6 6, X7 7, X8 8, X9 9, X10 10, X11 11, X12 12, X13 13, X14 14)
    (X0 0, X1 1, X2 2, X3 3, X4 4, X5 5, X6 6, X7 7, X8 8, X9 9, X10 10, X11 11, X12 12, X13 13, X14 14, X15 15)
    (X0 0, X1 1, X2 2, X3 3, X4 4, X5 5, X6 6, X7 7, X8 8, X9 9, X10 10, X11 11, X12 12, X13 13, X14 14, X15 15, X16 16)
    (X0 0, X1 1, X2 2, X3 3, X4 4, X5 5, X6 6, X7 7, X8 8, X9 9, X10 10, X11 11, X12 12, X13 13, X14 14, X15 15, X16 16, X17 17)
    (X0 0, X1 1, X2 2, X3 3, X4 4, X5 5, X6 6, X7 7, X8 8, X9 9, X10 10, X11 11, X12 12, X13 13, X14 14, X15 15, X16 16, X17 17, X18 18)
    (X0 0, X1 1, X2 2, X3 3, X4 4, X5 5, X6 6, X7 7, X8 8, X9 9, X10 10, X11 11, X12 12, X13 13, X14 14, X15 15, X16 16, X17 17, X18 18, X19 19)
    (X0 0, X1 1, X2 2, X3 3, X4 4, X5 5, X6 6, X7 7, X8 8, X9 9, X10 10, X11 11, X12 12, X13 13, X14 14, X15 15, X16 16, X17 17, X18 18, X19 19, X20 20)
    (X0 0, X1 1, X2 2, X3 3, X4 4, X5 5, X6 6, X7 7, X8 8, X9 9, X10 10, X11 11, X12 12, X13 13, X14 14, X15 15, X16 16, X17 17, X18 18, X19 19, X20 20, X21 21)
    (X0 0, X1 1, X2 2, X3 3, X4 4, X5 5, X6 6, X7 7, X8 8, X9 9, X10 10, X11 11, X12 12, X13 13, X14 14, X15 15, X16 16, X17 17, X18 18, X19 19, X20 20, X21 21, X22 22)
    (X0 0, X1 1, X2 2, X3 3, X4 4, X5 5, X6 6, X7 7, X8 8, X9 9, X10 10, X11 11, X12 12, X13 13, X14 14, X15 15, X16 16, X17 17, X18 18, X19 19, X20 20, X21 21, X22 22, X23 23)
    (X0 0, X1 1, X2 2, X3 3, X4 4, X5 5, X6 6, X7 7, X8 8, X9 9, X10 10, X11 11, X12 12, X13 13, X14 14, X15 15, X16 16, X17 17, X18 18, X19 19, X20 20, X21 21, X22 22, X23 23, X24 24)
    (X0 0, X1 1, X2 2, X3 3, X4 4, X5 5, X6 6, X7 7, X8 8, X9 9, X10 10, X11 11, X12 12, X13 13, X14 14, X15 15, X16 16, X17 17, X18 18, X19 19, X20 20, X21 21, X22 22, X23 23, X24 24, X25 25)
    (X0 0, X1 1, X2 2, X3 3, X4 4, X5 5, X6 6, X7 7, X8 8, X9 9, X10 10, X11 11, X12 12, X13 13, X14 14, X15 15, X16 16, X17 17, X18 18, X19 19, X20 20, X21 21, X22 22, X23 23, X24 24, X25 25, X26 26)
    (X0 0, X1 1, X2 2, X3 3, X4 4, X5 5, X6 6, X7 7, X8 8, X9 9, X10 10, X11 11, X12 12, X13 13, X14 14, X15 15, X16 16, X17 17, X18 18, X19 19, X20 20, X21 21, X22 22, X23 23, X24 24, X25 25, X26 26, X27 27)
    (X0 0, X1 1, X2 2, X3 3, X4 4, X5 5, X6 6, X7 7, X8 8, X9 9, X10 10, X11 11, X12 12, X13 13, X14 14, X15 15, X16 16, X17 17, X18 18, X19 19, X20 20, X21 21, X22 22, X23 23, X24 24, X25 25, X26 26, X27 27, X28 28)
    (X0 0, X1 1, X2 2, X3 3, X4 4, X5 5, X6 6, X7 7, X8 8, X9 9, X10 10, X11 11, X12 12, X13 13, X14 14, X15 15, X16 16, X17 17, X18 18, X19 19, X20 20, X21 21, X22 22, X23 23, X24 24, X25 25, X26 26, X27 27, X28 28, X29 29)
    (X0 0, X1 1, X2 2, X3 3, X4 4, X5 5, X6 6, X7 7, X8 8, X9 9, X10 10, X11 11, X12 12, X13 13, X14 14, X15 15, X16 16, X17 17, X18 18, X19 19, X20 20, X21 21, X22 22, X23 23, X24 24, X25 25, X26 26, X27 27, X28 28, X29 29, X30 30)
    (X0 0, X1 1, X2 2, X3 3, X4 4, X5 5, X6 6, X7 7, X8 8, X9 9, X10 10, X11 11, X12 12, X13 13, X14 14, X15 15, X16 16, X17 17, X18 18, X19 19, X20 20, X21 21, X22 22, X23 23, X24 24, X25 25, X26 26, X27 27, X28 28, X29 29, X30 30, X31 31)
}

/// The error for `found` in the input named `name`.
fn error(name: String, found: NonFinite) -> Error {
    Error::NonFiniteInput {
        input: name,
        row: found.row,
        column: found.column,
        value: found.value,
    }
}

/// Checks the inputs `x` (named `names`, or by position when the model gives no names, with
/// `prefix` before each name) for non-finite values.
pub(crate) fn check_inputs<X: InputValues>(
    x: &X,
    names: &[&str],
    prefix: &str,
) -> Result<(), Error> {
    match x.first_non_finite() {
        None => Ok(()),
        Some(found) => {
            let name = match names.get(found.input) {
                Some(n) => format!("{prefix}{n}"),
                None => format!("{prefix}input {}", found.input),
            };
            Err(error(name, found))
        }
    }
}

/// Checks prepared targets (one array per output, samples first); an output is named `y`
/// for a model with one output and `y[<output>]` with several.
pub(crate) fn check_targets(
    targets: &[ArrayD<f32>],
    outputs: &[&str],
    prefix: &str,
) -> Result<(), Error> {
    for (i, t) in targets.iter().enumerate() {
        if let Some(found) = t.view().first_non_finite() {
            let name = match (targets.len(), outputs.get(i)) {
                (1, _) | (_, None) => format!("{prefix}y"),
                (_, Some(out)) => format!("{prefix}y[{out}]"),
            };
            return Err(error(name, found));
        }
    }
    Ok(())
}

/// Checks sample weights (one per sample).
pub(crate) fn check_sample_weights(w: ArrayView1<'_, f32>) -> Result<(), Error> {
    match w.first_non_finite() {
        None => Ok(()),
        Some(found) => Err(error("sample_weight".into(), found)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array3};

    #[test]
    fn the_fast_pass_finds_every_kind_at_every_position() {
        for len in [0, 1, 15, 16, 17, 100] {
            let v = vec![1.5f32; len];
            assert!(all_finite(&v));
            for at in 0..len {
                for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                    let mut w = v.clone();
                    w[at] = bad;
                    assert!(!all_finite(&w), "{bad} at {at} of {len}");
                }
            }
        }
        // The largest finite values do not overflow into a false alarm.
        assert!(all_finite(&[f32::MAX; 40]));
        assert!(all_finite(&[f32::MIN; 40]));
    }

    #[test]
    fn dense_positions_are_row_and_column() {
        let mut x = Array3::<f32>::zeros((3, 2, 4));
        x[[2, 1, 3]] = f32::NAN;
        let found = x.view().first_non_finite().expect("a NaN");
        assert_eq!((found.input, found.row, found.column), (0, 2, 7));
        // A transposed (strided) view reports logical positions.
        let mut m = ndarray::Array2::<f32>::zeros((3, 5));
        m[[4 % 3, 2]] = f32::INFINITY;
        let t = m.t();
        let found = t.first_non_finite().expect("inf");
        assert_eq!((found.row, found.column), (2, 1));
        assert!(array![1.0f32, 2.0].view().first_non_finite().is_none());
    }

    #[test]
    fn sparse_and_ragged_positions() {
        let x = SparseTensor::from_coo(
            array![[0i64, 1], [2, 0], [2, 3]].view(),
            array![1.0f32, 2.0, f32::NAN].view(),
            &[4, 5],
            Default::default(),
        )
        .expect("valid");
        let found = (&x).first_non_finite().expect("NaN");
        assert_eq!((found.row, found.column), (2, 3));
        let r = RaggedTensor::from_row_splits(vec![1.0f32, 2.0, 3.0, f32::NAN, 5.0], &[0, 2, 2, 5])
            .expect("valid");
        let found = (&r).first_non_finite().expect("NaN");
        assert_eq!((found.row, found.column), (2, 1));
        let nested = RaggedTensor::from_nested_row_splits(
            vec![1.0f32, 2.0, 3.0, 4.0, f32::INFINITY],
            &[vec![0usize, 1, 3], vec![0, 2, 3, 5]],
        )
        .expect("valid");
        let found = (&nested).first_non_finite().expect("inf");
        assert_eq!((found.row, found.column), (1, 2));
        let ids = RaggedTensor::from_row_splits(vec![1i32, 2], &[0, 2]).expect("valid");
        assert!((&ids).first_non_finite().is_none());
    }

    #[test]
    fn tuples_name_the_input_by_position() {
        let a = array![[1.0f32]];
        let b = array![[2.0f32, f32::NAN]];
        let found = (a.view(), b.view()).first_non_finite().expect("NaN");
        assert_eq!((found.input, found.row, found.column), (1, 0, 1));
        let err = check_inputs(&(a.view(), b.view()), &["query", "doc"], "").unwrap_err();
        assert!(
            matches!(err, Error::NonFiniteInput { ref input, row: 0, column: 1, .. } if input == "doc")
        );
        assert!(check_inputs(&Some(a.view()), &[], "").is_ok());
        assert!(check_inputs(&None::<ndarray::ArrayView2<'_, f32>>, &[], "").is_ok());
    }
}
