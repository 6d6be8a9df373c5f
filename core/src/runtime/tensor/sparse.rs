//! `SparseTensor`: a validated sparse tensor, kept as CSR over its first (batch) axis.
//!
//! Built from COO parts (TensorFlow's `indices`, `values`, `dense_shape`), from CSR parts or
//! from a dense array. Every input TensorFlow once failed to validate, each the subject of a
//! security advisory (out-of-bounds or negative indices, mismatched lengths, empty or negative
//! shapes, shapes whose element count overflows, unordered or repeated indices), is a
//! [`SparseError`] here naming the offending entry and value. The checks are ordinary code,
//! not debug assertions, so they run in release builds too.
//!
//! Storage: row `r` (an index along axis 0) holds the entries
//! `indptr[r]..indptr[r + 1]` of `cols` and `values`, where a column is the row-major
//! position over the remaining axes. Columns are strictly increasing within a row, so the
//! representation is canonical and never holds two entries for one position.
//!
//! Memory scales with the entries, not the declared shape: a tensor with far more rows than
//! entries (`[2^27, 1]` with a handful of values) keeps pointers for its non-empty rows only,
//! so a few bytes of input cannot claim a gigabyte of row pointers.

use std::borrow::Cow;
use std::fmt;
use std::ops::{Add, Range};

use ndarray::{Array1, Array2, ArrayD, ArrayView, ArrayView1, ArrayView2, ArrayViewD, Axis};
use ndarray::{Dimension, Ix1, Ix2, IxDyn};

use crate::runtime::Error;

/// The element types a [`SparseTensor`] can hold: anything copyable with a zero (`Default`)
/// that can be compared with it and summed (for [`SparseOptions::sum_duplicates`]).
pub trait SparseElement: Copy + Default + PartialEq + Add<Output = Self> {}

impl<T: Copy + Default + PartialEq + Add<Output = T>> SparseElement for T {}

/// What the constructors do with indices that are not in canonical order or that repeat.
///
/// The default rejects both, as TensorFlow's kernels expect canonical input.
///
/// ```
/// # use stratic::prelude::SparseOptions;
/// let lenient = SparseOptions::default().reorder(true).sum_duplicates(true);
/// # let _ = lenient;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SparseOptions {
    /// Sort entries into canonical (row-major) order instead of rejecting them, as Keras'
    /// `tf.sparse.reorder` does.
    pub reorder: bool,
    /// Add up the values of repeated indices instead of rejecting them.
    pub sum_duplicates: bool,
}

impl SparseOptions {
    /// Sets whether out-of-order entries are sorted (`true`) or rejected (`false`).
    pub fn reorder(mut self, reorder: bool) -> Self {
        self.reorder = reorder;
        self
    }

    /// Sets whether repeated indices are summed (`true`) or rejected (`false`).
    pub fn sum_duplicates(mut self, sum: bool) -> Self {
        self.sum_duplicates = sum;
        self
    }
}

/// Why sparse tensor parts were refused. Entries are numbered from 0 in the order given
/// (the row of `indices`, or the position in the CSR column indices); axes from 0, the batch
/// axis first. In CSR parts a column index counts as axis 1 (the position over every axis
/// after the first, row-major).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SparseError {
    /// `indices` is not a matrix `[nnz, rank]`.
    IndicesRank {
        /// The rank received.
        rank: usize,
    },
    /// `values` is not a vector.
    ValuesRank {
        /// The rank received.
        rank: usize,
    },
    /// `dense_shape` is not a vector.
    ShapeRank {
        /// The rank received.
        rank: usize,
    },
    /// `dense_shape` has no dimensions: a sparse tensor needs at least the batch axis.
    EmptyShape,
    /// `indices` (or the CSR column indices) and `values` hold different numbers of entries.
    LengthMismatch {
        /// Entries in `indices`.
        indices: usize,
        /// Entries in `values`.
        values: usize,
    },
    /// The rows of `indices` do not have one index per axis of `dense_shape`.
    IndexWidth {
        /// Indices per entry received.
        width: usize,
        /// The rank of `dense_shape`.
        rank: usize,
    },
    /// A dimension of `dense_shape` is negative.
    NegativeDimension {
        /// The axis.
        axis: usize,
        /// Its value.
        value: i64,
    },
    /// A dimension after the batch axis is zero: a sample would hold no element.
    ZeroDimension {
        /// The axis.
        axis: usize,
    },
    /// The number of elements of `dense_shape` overflows a 64-bit signed integer.
    ShapeOverflow {
        /// The shape received.
        dense_shape: Vec<i64>,
    },
    /// An index is negative or not below its dimension.
    IndexOutOfBounds {
        /// The entry.
        entry: usize,
        /// The axis of the offending index.
        axis: usize,
        /// The index.
        value: i64,
        /// The dimension it must stay below.
        bound: i64,
    },
    /// An entry comes before the previous one in row-major order.
    OutOfOrder {
        /// The entry.
        entry: usize,
        /// Its index.
        index: Vec<i64>,
        /// The index of the entry before it.
        previous: Vec<i64>,
    },
    /// Two entries have the same index.
    Duplicate {
        /// The later of the two entries.
        entry: usize,
        /// The repeated index.
        index: Vec<i64>,
    },
    /// The CSR row pointers do not have one element per row plus one.
    RowPointersLength {
        /// `dense_shape[0] + 1`.
        expected: usize,
        /// The length received.
        actual: usize,
    },
    /// The first CSR row pointer is not 0.
    RowPointerStart {
        /// The value received.
        value: i64,
    },
    /// A CSR row pointer is smaller than the one before it.
    RowPointerDecreasing {
        /// The position of the offending pointer.
        position: usize,
        /// Its value.
        value: i64,
        /// The value before it.
        previous: i64,
    },
    /// The last CSR row pointer is not the number of entries.
    RowPointerEnd {
        /// The value received.
        value: i64,
        /// The number of entries.
        nnz: usize,
    },
    /// Memory for the tensor could not be allocated (e.g. `to_dense` of a huge shape, or
    /// row pointers for billions of rows).
    Allocation {
        /// What was being allocated.
        what: &'static str,
        /// The number of elements requested.
        elements: usize,
    },
}

impl fmt::Display for SparseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SparseError::IndicesRank { rank } => write!(
                f,
                "`indices` must be a matrix of shape [nnz, rank]; received a tensor of rank {rank}"
            ),
            SparseError::ValuesRank { rank } => write!(
                f,
                "`values` must be a vector of shape [nnz]; received a tensor of rank {rank}"
            ),
            SparseError::ShapeRank { rank } => write!(
                f,
                "`dense_shape` must be a vector; received a tensor of rank {rank}"
            ),
            SparseError::EmptyShape => f.write_str(
                "`dense_shape` is empty; a sparse tensor needs at least one (batch) dimension",
            ),
            SparseError::LengthMismatch { indices, values } => write!(
                f,
                "`indices` holds {indices} entries but `values` holds {values}; they must match"
            ),
            SparseError::IndexWidth { width, rank } => write!(
                f,
                "each row of `indices` must hold {rank} indices, one per axis of `dense_shape`; received {width}"
            ),
            SparseError::NegativeDimension { axis, value } => write!(
                f,
                "`dense_shape` has a negative dimension {value} at axis {axis}"
            ),
            SparseError::ZeroDimension { axis } => write!(
                f,
                "`dense_shape` has a zero dimension at axis {axis}; only the batch axis (0) may be empty"
            ),
            SparseError::ShapeOverflow { dense_shape } => write!(
                f,
                "the number of elements of `dense_shape` {dense_shape:?} overflows a 64-bit integer"
            ),
            SparseError::IndexOutOfBounds {
                entry,
                axis,
                value,
                bound,
            } => write!(
                f,
                "index {value} of entry {entry} at axis {axis} is out of bounds: it must be in [0, {bound})"
            ),
            SparseError::OutOfOrder {
                entry,
                index,
                previous,
            } => write!(
                f,
                "entry {entry} with index {index:?} comes after {previous:?}, out of canonical row-major order; sort the entries (Keras: `tf.sparse.reorder`) or build with `SparseOptions::default().reorder(true)`"
            ),
            SparseError::Duplicate { entry, index } => write!(
                f,
                "entry {entry} repeats index {index:?}; remove the repeat or build with `SparseOptions::default().sum_duplicates(true)` to add the values up"
            ),
            SparseError::RowPointersLength { expected, actual } => write!(
                f,
                "the row pointers must hold dense_shape[0] + 1 = {expected} elements; received {actual}"
            ),
            SparseError::RowPointerStart { value } => {
                write!(f, "the first row pointer must be 0; received {value}")
            }
            SparseError::RowPointerDecreasing {
                position,
                value,
                previous,
            } => write!(
                f,
                "row pointer {position} is {value}, smaller than the {previous} before it; row pointers must not decrease"
            ),
            SparseError::RowPointerEnd { value, nnz } => write!(
                f,
                "the last row pointer must be the number of entries, {nnz}; received {value}"
            ),
            SparseError::Allocation { what, elements } => write!(
                f,
                "cannot allocate {elements} elements for the {what}"
            ),
        }
    }
}

impl std::error::Error for SparseError {}

impl From<SparseError> for Error {
    fn from(e: SparseError) -> Self {
        Error::Sparse(e)
    }
}

/// A sparse tensor of rank 1 or more, stored as CSR over its first axis: a batch of samples
/// whose non-zero entries are kept, nothing else.
///
/// ```
/// # use ndarray::array;
/// # use stratic::prelude::{SparseOptions, SparseTensor};
/// // A 2 x 3 matrix with 1.0 at (0, 2) and 5.0 at (1, 0), in TensorFlow's COO form.
/// let x = SparseTensor::from_coo(
///     array![[0i64, 2], [1, 0]].view(),
///     array![1.0f32, 5.0].view(),
///     &[2, 3],
///     SparseOptions::default(),
/// )?;
/// assert_eq!(x.to_dense()?, array![[0.0f32, 0.0, 1.0], [5.0, 0.0, 0.0]].into_dyn());
/// // Out-of-bounds indices are refused, naming the entry, axis and value.
/// let err = SparseTensor::from_coo(
///     array![[0i64, 3]].view(),
///     array![1.0f32].view(),
///     &[2, 3],
///     SparseOptions::default(),
/// );
/// assert!(err.is_err());
/// # Ok::<(), stratic::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct SparseTensor<T> {
    dense_shape: Vec<usize>,
    /// Elements per row: the product of every dimension after the first.
    n_cols: usize,
    rows: RowPointers,
    cols: Vec<usize>,
    values: Vec<T>,
}

/// Where each row's entries are.
#[derive(Clone, Debug)]
enum RowPointers {
    /// CSR: `n_rows + 1` pointers, row `r` is `ptr[r]..ptr[r + 1]`. Used whenever the rows
    /// are not many more than the entries (`dense_rows_fit`), which every batch is.
    Dense(Vec<usize>),
    /// The non-empty rows only, for a tensor with many more rows than entries: row `ids[k]`
    /// (increasing) is `ptr[k]..ptr[k + 1]`, every other row is empty.
    Hyper { ids: Vec<usize>, ptr: Vec<usize> },
}

// Whether `n_rows + 1` pointers cost no more than a few words per entry (plus 32 KiB), so
// that CSR's constant-time row lookup is kept without letting the declared shape, rather
// than the data, decide the memory.
fn dense_rows_fit(n_rows: usize, nnz: usize) -> bool {
    n_rows <= nnz.saturating_mul(4).saturating_add(4096)
}

impl RowPointers {
    // The pointers of the non-empty rows `ids` (`ptr` one longer), as CSR when that is small.
    fn new(n_rows: usize, ids: Vec<usize>, ptr: Vec<usize>) -> Result<Self, SparseError> {
        let nnz = ptr.last().copied().unwrap_or(0);
        if !dense_rows_fit(n_rows, nnz) {
            return Ok(RowPointers::Hyper { ids, ptr });
        }
        let mut dense: Vec<usize> = try_vec(n_rows + 1, "row pointers")?;
        dense.push(0);
        for (k, &row) in ids.iter().enumerate() {
            // Rows before this one end where it starts.
            dense.resize(row + 1, ptr[k]);
            dense.push(ptr[k + 1]);
        }
        dense.resize(n_rows + 1, nnz);
        Ok(RowPointers::Dense(dense))
    }

    // The entries of row `row`; empty for a row past the end of a `Hyper` table, which the
    // callers bound by `n_rows` first.
    fn range(&self, row: usize) -> Range<usize> {
        match self {
            RowPointers::Dense(ptr) => ptr[row]..ptr[row + 1],
            RowPointers::Hyper { ids, ptr } => match ids.binary_search(&row) {
                Ok(k) => ptr[k]..ptr[k + 1],
                Err(_) => 0..0,
            },
        }
    }

    // Every non-empty row with its entries, in row order.
    fn non_empty(&self) -> Box<dyn Iterator<Item = (usize, Range<usize>)> + '_> {
        match self {
            RowPointers::Dense(ptr) => Box::new(
                ptr.windows(2)
                    .enumerate()
                    .filter(|(_, w)| w[0] < w[1])
                    .map(|(r, w)| (r, w[0]..w[1])),
            ),
            RowPointers::Hyper { ids, ptr } => Box::new(
                ids.iter()
                    .zip(ptr.windows(2))
                    .map(|(&r, w)| (r, w[0]..w[1])),
            ),
        }
    }
}

impl<T: PartialEq> PartialEq for SparseTensor<T> {
    // The same logical tensor, whichever row-pointer form each holds.
    fn eq(&self, other: &Self) -> bool {
        self.dense_shape == other.dense_shape
            && self.cols == other.cols
            && self.values == other.values
            && self.rows.non_empty().eq(other.rows.non_empty())
    }
}

impl<T> Default for SparseTensor<T> {
    /// An empty batch: shape `[0]`, no entries.
    fn default() -> Self {
        SparseTensor {
            dense_shape: vec![0],
            n_cols: 1,
            rows: RowPointers::Dense(vec![0]),
            cols: Vec::new(),
            values: Vec::new(),
        }
    }
}

// Checks `dense_shape` and returns it as sizes: not empty, no negative dimension, no zero one
// after the batch axis, and an element count that fits in i64 (and so in isize on 64-bit
// targets, which ndarray needs for `to_dense`).
fn validate_shape(dense_shape: &[i64]) -> Result<Vec<usize>, SparseError> {
    if dense_shape.is_empty() {
        return Err(SparseError::EmptyShape);
    }
    for (axis, &d) in dense_shape.iter().enumerate() {
        if d < 0 {
            return Err(SparseError::NegativeDimension { axis, value: d });
        }
        if d == 0 && axis > 0 {
            return Err(SparseError::ZeroDimension { axis });
        }
    }
    let overflow = || SparseError::ShapeOverflow {
        dense_shape: dense_shape.to_vec(),
    };
    // Every dim after the batch axis is >= 1, so checking the running product of all dims
    // (with the batch axis last, as a zero batch would hide an overflow of the rest) bounds
    // every partial product too.
    let mut product: i64 = 1;
    for &d in dense_shape[1..]
        .iter()
        .chain(std::iter::once(&dense_shape[0].max(1)))
    {
        product = product.checked_mul(d).ok_or_else(overflow)?;
    }
    if usize::try_from(product).is_err() || isize::try_from(product).is_err() {
        return Err(overflow());
    }
    // Each dim is at most the product, so it fits in usize too.
    Ok(dense_shape.iter().map(|&d| d as usize).collect())
}

// Allocates an empty vector with room for `n` elements, or reports the failure.
fn try_vec<U>(n: usize, what: &'static str) -> Result<Vec<U>, SparseError> {
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| SparseError::Allocation { what, elements: n })?;
    Ok(v)
}

// The row holding entry `entry` of valid row pointers (the last row whose start is <= it).
fn row_of(indptr: &[i64], entry: usize) -> usize {
    indptr
        .partition_point(|&p| p <= entry as i64)
        .saturating_sub(1)
}

// The multi-index of `(row, col)` in a tensor of shape `shape`.
fn unravel(shape: &[usize], row: usize, col: usize) -> Vec<i64> {
    let mut index = vec![0i64; shape.len()];
    index[0] = row as i64;
    let mut rest = col;
    for axis in (1..shape.len()).rev() {
        index[axis] = (rest % shape[axis]) as i64;
        rest /= shape[axis];
    }
    index
}

impl<T: SparseElement> SparseTensor<T> {
    /// Builds a tensor from TensorFlow's COO parts: `indices` `[nnz, rank]` (one row of
    /// indices per entry), `values` `[nnz]`, `dense_shape` `[rank]`.
    ///
    /// # Errors
    ///
    /// [`Error::Sparse`] with the first problem found, in this order: an empty, negative or
    /// overflowing `dense_shape` (a zero dimension is allowed only on the batch axis);
    /// `indices` and `values` of different lengths; rows of `indices` whose width is not the
    /// rank; then, entry by entry, an index out of bounds, an entry out of canonical
    /// row-major order (unless `options.reorder`), a repeated index (unless
    /// `options.sum_duplicates`).
    ///
    /// ```
    /// use stratic::prelude::*;
    ///
    /// // A 2 x 5 matrix with 1.0 at (0, 3) and 2.0 at (1, 0).
    /// let indices = array![[0i64, 3], [1, 0]];
    /// let x = SparseTensor::from_coo(indices.view(), array![1.0f32, 2.0].view(), &[2, 5], SparseOptions::default())?;
    /// assert_eq!(x.nnz(), 2);
    /// // An index out of bounds is a typed error naming the entry.
    /// let bad = array![[0i64, 5]];
    /// assert!(SparseTensor::from_coo(bad.view(), array![1.0f32].view(), &[2, 5], SparseOptions::default()).is_err());
    /// # Ok::<(), stratic::Error>(())
    /// ```
    pub fn from_coo(
        indices: ArrayView2<'_, i64>,
        values: ArrayView1<'_, T>,
        dense_shape: &[i64],
        options: SparseOptions,
    ) -> Result<Self, Error> {
        Ok(Self::coo(indices, values, dense_shape, options)?)
    }

    /// [`from_coo`](Self::from_coo) for parts whose ranks are known only at run time (e.g.
    /// read from a file): also checks that `indices` is a matrix and `values` and
    /// `dense_shape` are vectors.
    ///
    /// ```
    /// use stratic::prelude::*;
    ///
    /// // Parts read from a file, ranks known only at run time.
    /// let indices = array![[0i64, 3], [1, 0]].into_dyn();
    /// let values = array![1.0f32, 2.0].into_dyn();
    /// let shape = array![2i64, 5].into_dyn();
    /// let x = SparseTensor::from_coo_dyn(indices.view(), values.view(), shape.view(), SparseOptions::default())?;
    /// assert_eq!(x.dense_shape(), &[2, 5]);
    /// # Ok::<(), stratic::Error>(())
    /// ```
    pub fn from_coo_dyn(
        indices: ArrayViewD<'_, i64>,
        values: ArrayViewD<'_, T>,
        dense_shape: ArrayViewD<'_, i64>,
        options: SparseOptions,
    ) -> Result<Self, Error> {
        let irank = indices.ndim();
        let indices = indices
            .into_dimensionality::<Ix2>()
            .map_err(|_| SparseError::IndicesRank { rank: irank })?;
        let vrank = values.ndim();
        let values = values
            .into_dimensionality::<Ix1>()
            .map_err(|_| SparseError::ValuesRank { rank: vrank })?;
        let srank = dense_shape.ndim();
        let dense_shape = dense_shape
            .into_dimensionality::<Ix1>()
            .map_err(|_| SparseError::ShapeRank { rank: srank })?;
        let shape: Vec<i64> = dense_shape.iter().copied().collect();
        Self::from_coo(indices, values, &shape, options)
    }

    fn coo(
        indices: ArrayView2<'_, i64>,
        values: ArrayView1<'_, T>,
        dense_shape: &[i64],
        options: SparseOptions,
    ) -> Result<Self, SparseError> {
        let shape = validate_shape(dense_shape)?;
        let (nnz, width) = indices.dim();
        if nnz != values.len() {
            return Err(SparseError::LengthMismatch {
                indices: nnz,
                values: values.len(),
            });
        }
        if width != shape.len() {
            return Err(SparseError::IndexWidth {
                width,
                rank: shape.len(),
            });
        }
        // The (row, column) key of an entry whose indices are in bounds; in bounds, the
        // running position stays below the element count, so it cannot overflow.
        let dims = shape.clone();
        let key = |entry: usize| {
            let index = indices.row(entry);
            let col = index
                .iter()
                .zip(&dims)
                .skip(1)
                .fold(0usize, |col, (&v, &dim)| col * dim + v as usize);
            (index[0] as usize, col)
        };
        // Pass 1: bounds and order, entry by entry, so the problem reported is the earliest
        // entry's. Nothing is stored: canonical input (the common case) needs no copy.
        let mut sorted = true;
        let mut prev: Option<(usize, usize)> = None;
        for (entry, index) in indices.outer_iter().enumerate() {
            for (axis, (&value, &dim)) in index.iter().zip(&shape).enumerate() {
                if value < 0 || value as u64 >= dim as u64 {
                    return Err(SparseError::IndexOutOfBounds {
                        entry,
                        axis,
                        value,
                        bound: dim as i64,
                    });
                }
            }
            let k = key(entry);
            if let Some(p) = prev {
                if sorted && k <= p {
                    let repeat = k == p;
                    if repeat && !options.sum_duplicates {
                        return Err(SparseError::Duplicate {
                            entry,
                            index: index.to_vec(),
                        });
                    }
                    if !repeat {
                        if !options.reorder {
                            return Err(SparseError::OutOfOrder {
                                entry,
                                index: index.to_vec(),
                                previous: indices.row(entry - 1).to_vec(),
                            });
                        }
                        sorted = false;
                    }
                }
            }
            prev = Some(k);
        }
        let in_order = (0..nnz).map(|e| (e, key(e), values[e]));
        if sorted {
            return Self::assemble(shape, in_order, nnz, options);
        }
        // Pass 2, for unordered input only: sort the keys. A stable sort keeps repeats in
        // input order, so the later one is reported.
        let mut keyed: Vec<((usize, usize), usize)> = try_vec(nnz, "sparse entry order")?;
        keyed.extend((0..nnz).map(|e| (key(e), e)));
        keyed.sort_by_key(|&(k, _)| k);
        Self::assemble(
            shape,
            keyed.iter().map(|&(k, e)| (e, k, values[e])),
            nnz,
            options,
        )
    }

    // Builds the CSR arrays from entries `(entry, (row, col), value)` in canonical order
    // (repeats adjacent), summing or rejecting repeats.
    fn assemble(
        shape: Vec<usize>,
        entries: impl Iterator<Item = (usize, (usize, usize), T)>,
        nnz: usize,
        options: SparseOptions,
    ) -> Result<Self, SparseError> {
        let n_rows = shape[0];
        let n_cols = shape[1..].iter().product();
        // The non-empty rows and their pointers, at most one per entry: bounded by the
        // entries given, whatever `n_rows` says.
        let mut ids: Vec<usize> = Vec::new();
        let mut ptr: Vec<usize> = try_vec(1, "row pointers")?;
        let mut cols: Vec<usize> = try_vec(nnz, "column indices")?;
        let mut vals: Vec<T> = try_vec(nnz, "values")?;
        ptr.push(0);
        let mut last: Option<(usize, usize)> = None;
        for (entry, key @ (row, col), value) in entries {
            if last == Some(key) {
                if !options.sum_duplicates {
                    return Err(SparseError::Duplicate {
                        entry,
                        index: unravel(&shape, row, col),
                    });
                }
                if let Some(v) = vals.last_mut() {
                    *v = *v + value;
                }
                continue;
            }
            // A new row closes the previous one.
            if ids.last() != Some(&row) {
                if !ids.is_empty() {
                    ptr.push(cols.len());
                }
                ids.push(row);
            }
            cols.push(col);
            vals.push(value);
            last = Some(key);
        }
        if !ids.is_empty() {
            ptr.push(cols.len());
        }
        Ok(SparseTensor {
            dense_shape: shape,
            n_cols,
            rows: RowPointers::new(n_rows, ids, ptr)?,
            cols,
            values: vals,
        })
    }

    /// Builds a tensor from CSR parts over the first axis: row `r` holds the entries
    /// `indptr[r]..indptr[r + 1]` of `col_indices` and `values`. A column index is the
    /// row-major position over every axis after the first (for a matrix, just the column).
    ///
    /// # Errors
    ///
    /// [`Error::Sparse`]: the `dense_shape` problems of [`from_coo`](Self::from_coo);
    /// `col_indices` and `values` of different lengths; row pointers that are not
    /// `dense_shape[0] + 1` long, do not start at 0, decrease, or do not end at the number of
    /// entries; a column out of bounds (reported at axis 1); columns of a row out of
    /// increasing order (unless `options.reorder`) or repeated (unless
    /// `options.sum_duplicates`).
    ///
    /// ```
    /// use stratic::prelude::*;
    ///
    /// // scipy.sparse.csr_matrix((data, indices, indptr), shape=(2, 5))
    /// let x = SparseTensor::from_csr(&[0, 1, 2], &[3, 0], &[1.0f32, 2.0], &[2, 5], SparseOptions::default())?;
    /// assert_eq!(x.row(0), (&[3][..], &[1.0][..]));
    /// # Ok::<(), stratic::Error>(())
    /// ```
    pub fn from_csr(
        indptr: &[i64],
        col_indices: &[i64],
        values: &[T],
        dense_shape: &[i64],
        options: SparseOptions,
    ) -> Result<Self, Error> {
        Ok(Self::csr(
            indptr,
            col_indices,
            values,
            dense_shape,
            options,
        )?)
    }

    fn csr(
        indptr: &[i64],
        col_indices: &[i64],
        values: &[T],
        dense_shape: &[i64],
        options: SparseOptions,
    ) -> Result<Self, SparseError> {
        let shape = validate_shape(dense_shape)?;
        let nnz = col_indices.len();
        if nnz != values.len() {
            return Err(SparseError::LengthMismatch {
                indices: nnz,
                values: values.len(),
            });
        }
        let n_rows = shape[0];
        let n_cols: usize = shape[1..].iter().product();
        if n_rows.checked_add(1) != Some(indptr.len()) {
            return Err(SparseError::RowPointersLength {
                expected: n_rows.saturating_add(1),
                actual: indptr.len(),
            });
        }
        match indptr.first() {
            Some(&0) => {}
            Some(&value) => return Err(SparseError::RowPointerStart { value }),
            // Unreachable: the length is n_rows + 1 >= 1.
            None => {
                return Err(SparseError::RowPointersLength {
                    expected: 1,
                    actual: 0,
                })
            }
        }
        for (position, pair) in indptr.windows(2).enumerate() {
            if pair[1] < pair[0] {
                return Err(SparseError::RowPointerDecreasing {
                    position: position + 1,
                    value: pair[1],
                    previous: pair[0],
                });
            }
        }
        let end = indptr.last().copied().unwrap_or(0);
        if end != nnz as i64 {
            return Err(SparseError::RowPointerEnd { value: end, nnz });
        }
        // Pointers are now 0 <= p <= nnz and non-decreasing, so they are valid slice bounds.
        let rows = || {
            indptr
                .windows(2)
                .enumerate()
                .flat_map(|(row, pair)| (pair[0] as usize..pair[1] as usize).map(move |e| (row, e)))
        };
        let mut sorted = true;
        for (row, entry) in rows() {
            let value = col_indices[entry];
            if value < 0 || value as u64 >= n_cols as u64 {
                return Err(SparseError::IndexOutOfBounds {
                    entry,
                    axis: 1,
                    value,
                    bound: n_cols as i64,
                });
            }
            if entry > indptr[row] as usize && sorted {
                let prev = col_indices[entry - 1];
                if value == prev && !options.sum_duplicates {
                    return Err(SparseError::Duplicate {
                        entry,
                        index: vec![row as i64, value],
                    });
                }
                if value < prev {
                    if !options.reorder {
                        return Err(SparseError::OutOfOrder {
                            entry,
                            index: vec![row as i64, value],
                            previous: vec![row as i64, prev],
                        });
                    }
                    sorted = false;
                }
            }
        }
        let tensor = if sorted {
            Self::assemble(
                shape,
                rows().map(|(row, e)| (e, (row, col_indices[e] as usize), values[e])),
                nnz,
                options,
            )
        } else {
            // Rows are already in order; this sorts columns within each row, stably so the
            // later of two repeats is reported.
            let mut keyed: Vec<((usize, usize), usize)> = try_vec(nnz, "sparse entry order")?;
            keyed.extend(rows().map(|(row, e)| ((row, col_indices[e] as usize), e)));
            keyed.sort_by_key(|&(k, _)| k);
            Self::assemble(
                shape,
                keyed.iter().map(|&(k, e)| (e, k, values[e])),
                nnz,
                options,
            )
        };
        // CSR columns are flattened; report a repeat as [row, column], as it was given.
        tensor.map_err(|e| match e {
            SparseError::Duplicate { entry, .. } => SparseError::Duplicate {
                entry,
                index: vec![row_of(indptr, entry) as i64, col_indices[entry]],
            },
            other => other,
        })
    }

    /// Keeps the non-zero elements (`!= T::default()`) of a dense array of rank 1 or more; the
    /// first axis becomes the rows.
    ///
    /// # Errors
    ///
    /// [`Error::Sparse`] for a 0-d array ([`SparseError::EmptyShape`]) or a zero dimension
    /// after the first ([`SparseError::ZeroDimension`]).
    ///
    /// ```
    /// use stratic::prelude::*;
    ///
    /// let x = SparseTensor::from_dense(array![[0.0f32, 0.0, 1.5], [2.0, 0.0, 0.0]].view())?;
    /// assert_eq!(x.nnz(), 2); // zeros are left out
    /// # Ok::<(), stratic::Error>(())
    /// ```
    pub fn from_dense<D: Dimension>(x: ArrayView<'_, T, D>) -> Result<Self, Error> {
        let shape: Vec<i64> = x.shape().iter().map(|&d| d as i64).collect();
        let dims = validate_shape(&shape)?;
        let zero = T::default();
        let nnz = x.iter().filter(|v| **v != zero).count();
        let n_cols: usize = dims[1..].iter().product();
        let mut indptr: Vec<usize> = try_vec(dims[0] + 1, "row pointers")?;
        let mut cols: Vec<usize> = try_vec(nnz, "column indices")?;
        let mut values: Vec<T> = try_vec(nnz, "values")?;
        indptr.push(0);
        for row in x.into_dyn().axis_iter(Axis(0)) {
            // `iter` walks the row in logical (row-major) order whatever the layout.
            for (col, &v) in row.iter().enumerate() {
                if v != zero {
                    cols.push(col);
                    values.push(v);
                }
            }
            indptr.push(cols.len());
        }
        Ok(SparseTensor {
            dense_shape: dims,
            n_cols,
            // As many pointers as rows of the dense array given, so bounded by it.
            rows: RowPointers::Dense(indptr),
            cols,
            values,
        })
    }

    /// The dense array (zeros where no entry is stored), of shape `dense_shape`.
    ///
    /// # Errors
    ///
    /// [`SparseError::Allocation`] (in [`Error::Sparse`]) when the dense array does not fit in
    /// memory: a sparse tensor can describe far more elements than a machine holds.
    pub fn to_dense(&self) -> Result<ArrayD<T>, Error> {
        let total = self.n_rows() * self.n_cols;
        let mut data: Vec<T> = try_vec(total, "dense array")?;
        data.resize(total, T::default());
        for (row, range) in self.rows.non_empty() {
            for (&c, &v) in self.cols[range.clone()].iter().zip(&self.values[range]) {
                data[row * self.n_cols + c] = v;
            }
        }
        // The shape holds exactly `total` elements and was checked to fit in isize, so
        // ndarray accepts it; the mapping only keeps this path free of panics.
        ArrayD::from_shape_vec(IxDyn(&self.dense_shape), data).map_err(|_| {
            Error::Sparse(SparseError::ShapeOverflow {
                dense_shape: self.dense_shape.iter().map(|&d| d as i64).collect(),
            })
        })
    }

    /// Densifies into `out` in the `(rows, features)` form dense tensors take inside a model
    /// (every axis but the last folded into rows, as [`as_rows`](crate::as_rows) of
    /// [`to_dense`](Self::to_dense) gives), reusing `out`'s buffer when its shape already
    /// fits: what a `to_dense()` layer does, or a baseline that densifies each batch.
    ///
    /// Unlike `to_dense`, this is meant for batches, whose dense form fits in memory; an
    /// allocation that fails aborts as any `Vec` does.
    pub fn to_dense_rows(&self, out: &mut Array2<T>) {
        let (last, outer) = match self.dense_shape.split_last() {
            Some((&last, outer)) => (last, outer),
            None => (1, &[][..]),
        };
        // As `as_rows`: a rank-1 tensor is one row of all its elements.
        let rows: usize = outer.iter().product();
        if out.dim() != (rows, last) {
            *out = Array2::from_elem((rows, last), T::default());
        } else {
            out.fill(T::default());
        }
        // Fresh or same-shaped arrays built here are standard layout; a caller's strided
        // array takes the indexed path.
        let width = self.n_cols;
        match out.as_slice_mut() {
            Some(data) => {
                for (row, range) in self.rows.non_empty() {
                    let (cols, vals) = (&self.cols[range.clone()], &self.values[range]);
                    for (&c, &v) in cols.iter().zip(vals) {
                        data[row * width + c] = v;
                    }
                }
            }
            None => {
                for (row, range) in self.rows.non_empty() {
                    let (cols, vals) = (&self.cols[range.clone()], &self.values[range]);
                    for (&c, &v) in cols.iter().zip(vals) {
                        let flat = row * width + c;
                        out[[flat / last, flat % last]] = v;
                    }
                }
            }
        }
    }

    /// The COO parts: `indices` `[nnz, rank]` in canonical order and `values` `[nnz]`, what
    /// [`from_coo`](Self::from_coo) takes back.
    pub fn to_coo(&self) -> (Array2<i64>, Array1<T>) {
        let rank = self.dense_shape.len();
        let mut indices = Array2::zeros((self.nnz(), rank));
        for (row, range) in self.rows.non_empty() {
            for entry in range {
                let index = unravel(&self.dense_shape, row, self.cols[entry]);
                for (dst, src) in indices.row_mut(entry).iter_mut().zip(index) {
                    *dst = src;
                }
            }
        }
        (indices, Array1::from(self.values.clone()))
    }
}

impl<T: Copy> SparseTensor<T> {
    /// The shape of the equivalent dense tensor, batch axis first.
    pub fn dense_shape(&self) -> &[usize] {
        &self.dense_shape
    }

    /// The number of rows: the length of the first (batch) axis.
    pub fn n_rows(&self) -> usize {
        self.dense_shape[0]
    }

    /// Elements per row: the product of every dimension after the first (for a matrix, its
    /// number of columns).
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// The number of stored entries.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// The CSR row pointers, `n_rows() + 1` of them.
    ///
    /// Borrowed for every tensor whose rows are not many more than its entries (every
    /// batch); a tensor with far more rows than entries keeps pointers for its non-empty
    /// rows only, and this builds the full table (`n_rows() + 1` words), which aborts as any
    /// `Vec` does if that does not fit in memory. [`row`](Self::row),
    /// [`to_coo`](Self::to_coo) and [`gather_rows`](Self::gather_rows) never allocate by
    /// the declared rows.
    pub fn indptr(&self) -> Cow<'_, [usize]> {
        match &self.rows {
            RowPointers::Dense(ptr) => Cow::Borrowed(ptr),
            RowPointers::Hyper { .. } => {
                let mut full = Vec::with_capacity(self.n_rows() + 1);
                full.push(0);
                for (row, range) in self.rows.non_empty() {
                    full.resize(row + 1, range.start);
                    full.push(range.end);
                }
                full.resize(self.n_rows() + 1, self.nnz());
                Cow::Owned(full)
            }
        }
    }

    /// The row holding entry `entry` (`< nnz()`).
    pub(crate) fn row_of_entry(&self, entry: usize) -> usize {
        match &self.rows {
            RowPointers::Dense(ptr) => ptr.partition_point(|&p| p <= entry).saturating_sub(1),
            RowPointers::Hyper { ids, ptr } => {
                let k = ptr.partition_point(|&p| p <= entry).saturating_sub(1);
                ids.get(k).copied().unwrap_or(0)
            }
        }
    }

    /// The column of each entry (row-major position over the axes after the first),
    /// increasing within each row.
    pub fn col_indices(&self) -> &[usize] {
        &self.cols
    }

    /// The value of each entry.
    pub fn values(&self) -> &[T] {
        &self.values
    }

    /// The columns and values of row `row`.
    ///
    /// **Panics** if `row >= n_rows()`.
    pub fn row(&self, row: usize) -> (&[usize], &[T]) {
        assert!(row < self.n_rows(), "row {row} of {}", self.n_rows());
        let range = self.rows.range(row);
        (&self.cols[range.clone()], &self.values[range])
    }

    /// Copies the rows `rows` (in that order, repeats allowed) into `out`, reusing its
    /// buffers: what `fit` does to build each mini-batch, allocation-free once the buffers
    /// have grown.
    ///
    /// **Panics** if a row is `>= n_rows()`; callers pass permutations of `0..n_rows()`.
    pub fn gather_rows(&self, rows: &[usize], out: &mut SparseTensor<T>) {
        out.dense_shape.clear();
        out.dense_shape.extend_from_slice(&self.dense_shape);
        out.dense_shape[0] = rows.len();
        out.n_cols = self.n_cols;
        // A batch keeps CSR pointers: one per row asked for, so bounded by `rows`.
        let mut indptr = match std::mem::replace(&mut out.rows, RowPointers::Dense(Vec::new())) {
            RowPointers::Dense(buffer) => buffer,
            RowPointers::Hyper { .. } => Vec::new(),
        };
        out.cols.clear();
        out.values.clear();
        indptr.clear();
        indptr.push(0);
        for &r in rows {
            let (cols, values) = self.row(r);
            out.cols.extend_from_slice(cols);
            out.values.extend_from_slice(values);
            indptr.push(out.cols.len());
        }
        out.rows = RowPointers::Dense(indptr);
    }

    /// The rows `rows` as a new tensor (a contiguous mini-batch).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if the range is reversed or ends past `n_rows()`.
    pub fn slice_rows(&self, rows: Range<usize>) -> Result<SparseTensor<T>, Error> {
        if rows.start > rows.end || rows.end > self.n_rows() {
            return Err(Error::InvalidArgument {
                name: "rows",
                message: format!(
                    "must be a range within 0..{}; received {}..{}",
                    self.n_rows(),
                    rows.start,
                    rows.end
                ),
            });
        }
        let mut dense_shape = self.dense_shape.clone();
        dense_shape[0] = rows.len();
        let (mut ids, mut ptr) = (Vec::new(), vec![0]);
        let (mut cols, mut values) = (Vec::new(), Vec::new());
        for (row, range) in self.rows.non_empty() {
            if rows.contains(&row) {
                ids.push(row - rows.start);
                cols.extend_from_slice(&self.cols[range.clone()]);
                values.extend_from_slice(&self.values[range]);
                ptr.push(cols.len());
            }
        }
        Ok(SparseTensor {
            dense_shape,
            n_cols: self.n_cols,
            rows: RowPointers::new(rows.len(), ids, ptr)?,
            cols,
            values,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array3};

    fn coo(
        indices: Array2<i64>,
        values: Vec<f32>,
        shape: &[i64],
        options: SparseOptions,
    ) -> Result<SparseTensor<f32>, SparseError> {
        SparseTensor::from_coo(indices.view(), Array1::from(values).view(), shape, options).map_err(
            |e| match e {
                Error::Sparse(s) => s,
                other => panic!("{other:?}"),
            },
        )
    }

    fn strict() -> SparseOptions {
        SparseOptions::default()
    }

    #[test]
    fn builds_csr_from_coo() {
        let x = coo(
            array![[0, 1], [0, 3], [2, 0]],
            vec![1.0, 2.0, 3.0],
            &[3, 4],
            strict(),
        )
        .unwrap();
        assert_eq!(&x.indptr()[..], &[0, 2, 2, 3]);
        assert_eq!(x.col_indices(), &[1, 3, 0]);
        assert_eq!(x.values(), &[1.0, 2.0, 3.0]);
        assert_eq!(x.n_rows(), 3);
        assert_eq!(x.n_cols(), 4);
        assert_eq!(
            x.to_dense().unwrap(),
            array![
                [0.0f32, 1.0, 0.0, 2.0],
                [0.0, 0.0, 0.0, 0.0],
                [3.0, 0.0, 0.0, 0.0]
            ]
            .into_dyn()
        );
        let (i, v) = x.to_coo();
        assert_eq!(i, array![[0, 1], [0, 3], [2, 0]]);
        assert_eq!(v, array![1.0f32, 2.0, 3.0]);
    }

    #[test]
    fn rank_three_flattens_trailing_axes() {
        let x = coo(
            array![[0, 1, 2], [1, 0, 0]],
            vec![5.0, 6.0],
            &[2, 2, 3],
            strict(),
        )
        .unwrap();
        assert_eq!(x.n_cols(), 6);
        assert_eq!(x.col_indices(), &[5, 0]);
        let mut want = Array3::<f32>::zeros((2, 2, 3));
        want[[0, 1, 2]] = 5.0;
        want[[1, 0, 0]] = 6.0;
        assert_eq!(x.to_dense().unwrap(), want.into_dyn());
        assert_eq!(x.to_coo().0, array![[0, 1, 2], [1, 0, 0]]);
        assert_eq!(
            SparseTensor::from_dense(x.to_dense().unwrap().view()).unwrap(),
            x
        );
    }

    #[test]
    fn shape_errors() {
        let e = |shape: &[i64]| coo(Array2::zeros((0, shape.len())), vec![], shape, strict());
        assert_eq!(e(&[]).unwrap_err(), SparseError::EmptyShape);
        assert_eq!(
            e(&[3, -2]).unwrap_err(),
            SparseError::NegativeDimension { axis: 1, value: -2 }
        );
        assert_eq!(
            e(&[3, 0]).unwrap_err(),
            SparseError::ZeroDimension { axis: 1 }
        );
        assert!(e(&[0, 4]).is_ok(), "an empty batch is fine");
        assert_eq!(
            e(&[1 << 32, 1 << 32]).unwrap_err(),
            SparseError::ShapeOverflow {
                dense_shape: vec![1 << 32, 1 << 32]
            }
        );
        // A zero batch does not hide an overflow of the other axes.
        assert!(matches!(
            e(&[0, 1 << 40, 1 << 40]),
            Err(SparseError::ShapeOverflow { .. })
        ));
    }

    #[test]
    fn entry_errors_name_position_and_value() {
        assert_eq!(
            coo(array![[0, 1]], vec![1.0, 2.0], &[2, 2], strict()).unwrap_err(),
            SparseError::LengthMismatch {
                indices: 1,
                values: 2
            }
        );
        assert_eq!(
            coo(array![[0, 1, 0]], vec![1.0], &[2, 2], strict()).unwrap_err(),
            SparseError::IndexWidth { width: 3, rank: 2 }
        );
        assert_eq!(
            coo(array![[0, 1], [1, 2]], vec![1.0, 2.0], &[2, 2], strict()).unwrap_err(),
            SparseError::IndexOutOfBounds {
                entry: 1,
                axis: 1,
                value: 2,
                bound: 2
            }
        );
        assert_eq!(
            coo(array![[-1, 0]], vec![1.0], &[2, 2], strict()).unwrap_err(),
            SparseError::IndexOutOfBounds {
                entry: 0,
                axis: 0,
                value: -1,
                bound: 2
            }
        );
        let e = coo(array![[1, 0], [0, 1]], vec![1.0, 2.0], &[2, 2], strict()).unwrap_err();
        assert_eq!(
            e,
            SparseError::OutOfOrder {
                entry: 1,
                index: vec![0, 1],
                previous: vec![1, 0]
            }
        );
        assert!(e.to_string().contains("tf.sparse.reorder"), "{e}");
        assert_eq!(
            coo(array![[0, 1], [0, 1]], vec![1.0, 2.0], &[2, 2], strict()).unwrap_err(),
            SparseError::Duplicate {
                entry: 1,
                index: vec![0, 1]
            }
        );
    }

    #[test]
    fn reorder_and_sum_on_request() {
        let idx = array![[1, 0], [0, 1], [1, 0]];
        let vals = vec![1.0, 2.0, 4.0];
        // Reordering alone still finds the repeat once sorted: the later of the two entries.
        assert_eq!(
            coo(idx.clone(), vals.clone(), &[2, 2], strict().reorder(true)).unwrap_err(),
            SparseError::Duplicate {
                entry: 2,
                index: vec![1, 0]
            }
        );
        let x = coo(
            idx,
            vals,
            &[2, 2],
            strict().reorder(true).sum_duplicates(true),
        )
        .unwrap();
        assert_eq!(
            x.to_dense().unwrap(),
            array![[0.0f32, 2.0], [5.0, 0.0]].into_dyn()
        );
        // Adjacent repeats in sorted input are summed without reordering.
        let x = coo(
            array![[0, 1], [0, 1]],
            vec![1.0, 2.0],
            &[1, 2],
            strict().sum_duplicates(true),
        )
        .unwrap();
        assert_eq!(x.values(), &[3.0]);
    }

    #[test]
    fn dyn_parts_check_ranks() {
        let bad = ndarray::ArrayD::<i64>::zeros(IxDyn(&[2, 2, 2]));
        let values = ndarray::ArrayD::<f32>::zeros(IxDyn(&[2]));
        let shape = ndarray::ArrayD::<i64>::from_elem(IxDyn(&[2]), 2);
        assert_eq!(
            SparseTensor::from_coo_dyn(bad.view(), values.view(), shape.view(), strict()),
            Err(Error::Sparse(SparseError::IndicesRank { rank: 3 }))
        );
        let idx = ndarray::ArrayD::<i64>::zeros(IxDyn(&[0, 2]));
        let scalar = ndarray::ArrayD::<f32>::zeros(IxDyn(&[]));
        assert_eq!(
            SparseTensor::from_coo_dyn(idx.view(), scalar.view(), shape.view(), strict()),
            Err(Error::Sparse(SparseError::ValuesRank { rank: 0 }))
        );
        let empty = ndarray::ArrayD::<f32>::zeros(IxDyn(&[0]));
        let shape2 = ndarray::ArrayD::<i64>::from_elem(IxDyn(&[1, 2]), 2);
        assert_eq!(
            SparseTensor::from_coo_dyn(idx.view(), empty.view(), shape2.view(), strict()),
            Err(Error::Sparse(SparseError::ShapeRank { rank: 2 }))
        );
    }

    #[test]
    fn csr_parts_are_checked() {
        let ok = SparseTensor::from_csr(
            &[0, 2, 3],
            &[0, 2, 1],
            &[1.0f32, 2.0, 3.0],
            &[2, 3],
            strict(),
        )
        .unwrap();
        assert_eq!(
            ok.to_dense().unwrap(),
            array![[1.0f32, 0.0, 2.0], [0.0, 3.0, 0.0]].into_dyn()
        );
        let err = |indptr: &[i64], cols: &[i64], options| {
            let vals = vec![1.0f32; cols.len()];
            match SparseTensor::from_csr(indptr, cols, &vals, &[2, 3], options) {
                Err(Error::Sparse(e)) => e,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            err(&[0, 1], &[0], strict()),
            SparseError::RowPointersLength {
                expected: 3,
                actual: 2
            }
        );
        assert_eq!(
            err(&[1, 1, 1], &[0], strict()),
            SparseError::RowPointerStart { value: 1 }
        );
        assert_eq!(
            err(&[0, 2, 1], &[0], strict()),
            SparseError::RowPointerDecreasing {
                position: 2,
                value: 1,
                previous: 2
            }
        );
        assert_eq!(
            err(&[0, 1, 2], &[0], strict()),
            SparseError::RowPointerEnd { value: 2, nnz: 1 }
        );
        assert_eq!(
            err(&[0, 1, 1], &[3], strict()),
            SparseError::IndexOutOfBounds {
                entry: 0,
                axis: 1,
                value: 3,
                bound: 3
            }
        );
        assert_eq!(
            err(&[0, 2, 2], &[2, 1], strict()),
            SparseError::OutOfOrder {
                entry: 1,
                index: vec![0, 1],
                previous: vec![0, 2]
            }
        );
        assert_eq!(
            err(&[0, 2, 2], &[1, 1], strict()),
            SparseError::Duplicate {
                entry: 1,
                index: vec![0, 1]
            }
        );
        // On request: sorted within the row, repeats summed.
        let x = SparseTensor::from_csr(
            &[0, 3, 3],
            &[2, 0, 2],
            &[1.0f32, 2.0, 4.0],
            &[2, 3],
            strict().reorder(true).sum_duplicates(true),
        )
        .unwrap();
        assert_eq!(x.col_indices(), &[0, 2]);
        assert_eq!(x.values(), &[2.0, 5.0]);
    }

    #[test]
    fn dense_round_trip_and_rows() {
        let d = array![[0.0f32, 1.5, 0.0], [0.0, 0.0, 0.0], [2.0, 0.0, -3.0]];
        let x = SparseTensor::from_dense(d.view()).unwrap();
        assert_eq!(x.nnz(), 3);
        assert_eq!(x.to_dense().unwrap(), d.clone().into_dyn());
        let mut out = SparseTensor::default();
        x.gather_rows(&[2, 0, 2], &mut out);
        assert_eq!(
            out.to_dense().unwrap(),
            array![[2.0f32, 0.0, -3.0], [0.0, 1.5, 0.0], [2.0, 0.0, -3.0]].into_dyn()
        );
        let s = x.slice_rows(1..3).unwrap();
        assert_eq!(
            s.to_dense().unwrap(),
            d.slice(ndarray::s![1..3, ..]).into_dyn()
        );
        assert!(matches!(
            x.slice_rows(2..4),
            Err(Error::InvalidArgument { name: "rows", .. })
        ));
        assert!(matches!(
            SparseTensor::from_dense(ndarray::arr0(1.0f32).view()),
            Err(Error::Sparse(SparseError::EmptyShape))
        ));
        // The in-model rows form, reusing the buffer.
        let mut rows = Array2::zeros((3, 3));
        let ptr = rows.as_ptr();
        x.to_dense_rows(&mut rows);
        assert_eq!(rows, d);
        assert_eq!(rows.as_ptr(), ptr);
        let cube = coo(
            array![[0, 1, 2], [1, 0, 0]],
            vec![5.0, 6.0],
            &[2, 2, 3],
            strict(),
        )
        .unwrap();
        cube.to_dense_rows(&mut rows);
        assert_eq!(
            rows,
            array![
                [0.0f32, 0.0, 0.0],
                [0.0, 0.0, 5.0],
                [6.0, 0.0, 0.0],
                [0.0, 0.0, 0.0]
            ]
        );
        // A transposed view is read in logical order.
        let t = SparseTensor::from_dense(d.t()).unwrap();
        assert_eq!(t.to_dense().unwrap(), d.t().to_owned().into_dyn());
    }

    #[test]
    fn huge_dense_is_an_error_not_an_abort() {
        let x = coo(Array2::zeros((0, 2)), vec![], &[1 << 20, 1 << 40], strict()).unwrap();
        assert!(matches!(
            x.to_dense(),
            Err(Error::Sparse(SparseError::Allocation { .. }))
        ));
    }

    // Issue 19: `[2^27, 1]` with three entries must not allocate 2^27 row pointers. The
    // tensor keeps its non-empty rows only, and behaves as the CSR form does: rows, batches,
    // slices, COO, equality.
    #[test]
    fn many_rows_few_entries_stay_small() {
        let rows = 1i64 << 27;
        let x = coo(
            array![[0, 0], [5, 0], [rows - 1, 0]],
            vec![1.0, 2.0, 3.0],
            &[rows, 1],
            strict(),
        )
        .unwrap();
        assert!(matches!(x.rows, RowPointers::Hyper { ref ids, .. } if ids.len() == 3));
        assert_eq!(x.n_rows(), 1 << 27);
        assert_eq!(x.row(5), (&[0][..], &[2.0][..]));
        assert_eq!(x.row(6), (&[][..], &[][..]));
        assert_eq!(x.row((1 << 27) - 1), (&[0][..], &[3.0][..]));
        assert_eq!(x.row_of_entry(1), 5);
        assert_eq!(x.row_of_entry(2), (1 << 27) - 1);
        let mut batch = SparseTensor::default();
        x.gather_rows(&[5, 1, (1 << 27) - 1], &mut batch);
        assert_eq!(batch.indptr().as_ref(), &[0, 1, 1, 2]);
        assert_eq!(batch.values(), &[2.0, 3.0]);
        let (indices, values) = x.to_coo();
        assert_eq!(indices, array![[0, 0], [5, 0], [rows - 1, 0]]);
        assert_eq!(values.to_vec(), vec![1.0, 2.0, 3.0]);
        let slice = x.slice_rows(4..10).unwrap();
        assert_eq!(
            slice.to_dense().unwrap(),
            array![[0.0f32], [2.0], [0.0], [0.0], [0.0], [0.0]].into_dyn()
        );
        // A CSR tensor of the same content compares equal whatever its row form.
        let small = coo(array![[1, 0]], vec![2.0], &[6, 1], strict()).unwrap();
        assert!(matches!(small.rows, RowPointers::Dense(_)));
        assert_eq!(slice, small);
        // The full pointer table is still available on request.
        let y = coo(array![[9000, 0]], vec![1.0], &[10_000, 1], strict()).unwrap();
        assert!(matches!(y.rows, RowPointers::Hyper { .. }));
        let ptr = y.indptr();
        assert_eq!(
            (ptr.len(), ptr[9000], ptr[9001], ptr[10_000]),
            (10_001, 0, 1, 1)
        );
    }
}
