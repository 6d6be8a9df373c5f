//! `RaggedTensor`: variable-length rows stored as flat values plus row partitions.
//!
//! A ragged tensor of shape `(batch, None, ...)` keeps every value in one flat buffer and, per
//! ragged axis, a `row_splits` vector: row `i` of that axis spans `row_splits[i]..row_splits[i
//! + 1]` of the level below (the next partition's rows, or the flat values for the innermost
//! one). Several partitions give nested ragged ranks (`[[[1], []], [[2, 3]]]`). Axes after the
//! ragged ones are uniform: each flat value then is a small dense block of `inner_shape`.
//!
//! Every constructor validates its input and returns a typed [`RaggedError`] (inside
//! [`Error::Ragged`]) naming the partition, the position and the value at fault. Each rule is a
//! pattern that once made a TensorFlow kernel read or write out of bounds: empty or
//! single-entry `row_splits`, a first split other than 0, decreasing splits, a last split that
//! is not the number of values, nested partitions that disagree, negative or overflowing
//! lengths, and row ids out of range or unsorted. The checks run in release builds too.
//!
//! ```
//! # use stratic::prelude::RaggedTensor;
//! let rt = RaggedTensor::from_row_splits(vec![3, 1, 4, 1, 5], &[0, 2, 2, 5])?;
//! assert_eq!(rt.n_rows(), 3);
//! assert_eq!(rt.to_dense(0)?, ndarray::arr2(&[[3, 1, 0], [0, 0, 0], [4, 1, 5]]).into_dyn());
//! assert!(RaggedTensor::from_row_splits(vec![1, 2], &[0, 3]).is_err());
//! # Ok::<(), stratic::Error>(())
//! ```

use std::fmt;

use ndarray::{ArrayD, ArrayView2, IxDyn};

use crate::runtime::Error;
use crate::shape::{ragged_rank, Dim, Layout, TensorSpec};

/// An integer type row splits, lengths and row ids may be given in. Negative values and values
/// that do not fit in `usize` are reported, never wrapped.
pub trait RowIndex: Copy {
    /// The value as an index, if it is one.
    fn to_index(self) -> Option<usize>;
    /// The value, for error messages.
    fn to_i128(self) -> i128;
}

macro_rules! row_index {
    ($($t:ty),*) => {$(
        impl RowIndex for $t {
            fn to_index(self) -> Option<usize> {
                usize::try_from(self).ok()
            }
            fn to_i128(self) -> i128 {
                self as i128
            }
        }
    )*};
}
row_index!(usize, u64, u32, u16, u8, i64, i32, i16, i8, isize);

/// Why a ragged tensor could not be built. `partition` counts from the outermost (0, the batch
/// rows); `position` is an index into the argument named.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RaggedError {
    /// No row partition at all: a ragged tensor has at least one ragged axis.
    NoPartitions,
    /// A `row_splits` vector is empty: it needs the start of the first row.
    EmptyRowSplits {
        /// The partition.
        partition: usize,
    },
    /// A `row_splits` vector has a single entry, so it describes no row.
    TooFewRowSplits {
        /// The partition.
        partition: usize,
        /// Its only split.
        value: usize,
    },
    /// A negative value, or one too large for `usize`, where an index or length was expected.
    InvalidIndex {
        /// The argument (`row_splits`, `row_lengths`, `value_rowids`, `nrows`).
        argument: &'static str,
        /// The partition (for `row_splits`), else 0.
        partition: usize,
        /// The position in the argument.
        position: usize,
        /// The value received.
        value: i128,
    },
    /// `row_splits[0]` is not 0.
    FirstSplitNotZero {
        /// The partition.
        partition: usize,
        /// The first split received.
        value: usize,
    },
    /// `row_splits[position] < row_splits[position - 1]`: a row of negative length.
    DecreasingRowSplits {
        /// The partition.
        partition: usize,
        /// The position of the smaller split.
        position: usize,
        /// The split at `position`.
        value: usize,
        /// The split before it.
        previous: usize,
    },
    /// The innermost partition's last split is not the number of flat values.
    LastSplitNotValues {
        /// The partition.
        partition: usize,
        /// Its last split.
        last_split: usize,
        /// The number of flat values.
        n_values: usize,
    },
    /// A partition's last split is not the number of rows of the partition inside it.
    NestedPartitionMismatch {
        /// The outer partition.
        partition: usize,
        /// Its last split.
        last_split: usize,
        /// The rows of partition `partition + 1`.
        inner_rows: usize,
    },
    /// The row lengths add up to more than `usize` can hold.
    LengthOverflow {
        /// The position of the length that overflowed the running total.
        position: usize,
        /// That length.
        value: usize,
        /// The total before it.
        total: usize,
    },
    /// A row id is not below `nrows`.
    RowIdOutOfRange {
        /// The position in `value_rowids`.
        position: usize,
        /// The row id.
        value: usize,
        /// The number of rows.
        nrows: usize,
    },
    /// `value_rowids` is not sorted: values must be grouped by row, in row order.
    DecreasingRowIds {
        /// The position of the smaller id.
        position: usize,
        /// The id at `position`.
        value: usize,
        /// The id before it.
        previous: usize,
    },
    /// `value_rowids` does not have one entry per value.
    RowIdsLength {
        /// Entries in `value_rowids`.
        len: usize,
        /// Flat values.
        n_values: usize,
    },
    /// The flat buffer does not hold a whole number of values of the inner shape.
    ValuesShape {
        /// Elements in the buffer.
        n_elements: usize,
        /// The shape of one value.
        inner_shape: Vec<usize>,
    },
    /// An inner axis has size 0. Such values hold nothing, so a few bytes could claim any
    /// number of them; declared shapes need positive dimensions anyway.
    EmptyInnerAxis {
        /// The axis of the inner shape.
        axis: usize,
        /// The inner shape received.
        inner_shape: Vec<usize>,
    },
    /// `from_value_rowids` was asked for many more rows than it has values: its row splits
    /// would be sized by `nrows` (or the largest row id) rather than by the data given.
    /// Build such a tensor from its row splits, which then are the data.
    TooManyRows {
        /// The rows asked for (`nrows`).
        nrows: usize,
        /// The values given.
        n_values: usize,
        /// The most rows accepted for that many values.
        limit: usize,
    },
    /// A size does not fit in memory (or overflows `usize`), e.g. a padded tensor or `nrows`.
    TooLarge {
        /// What was to be allocated.
        what: &'static str,
        /// The sizes involved.
        dims: Vec<usize>,
    },
}

impl fmt::Display for RaggedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use RaggedError::*;
        match self {
            NoPartitions => f.write_str("a ragged tensor needs at least one row partition"),
            EmptyRowSplits { partition } => write!(
                f,
                "row_splits of partition {partition} is empty; it must start with 0 and hold one more entry than there are rows"
            ),
            TooFewRowSplits { partition, value } => write!(
                f,
                "row_splits of partition {partition} has a single entry ({value}), so it describes no row; it needs at least two entries"
            ),
            InvalidIndex { argument, partition, position, value } => write!(
                f,
                "{argument}[{position}] (partition {partition}) is {value}; it must be a non-negative integer that fits in usize"
            ),
            FirstSplitNotZero { partition, value } => write!(
                f,
                "row_splits of partition {partition} must start with 0, received {value}"
            ),
            DecreasingRowSplits { partition, position, value, previous } => write!(
                f,
                "row_splits of partition {partition} must be non-decreasing, but row_splits[{position}] = {value} < row_splits[{}] = {previous}",
                position - 1
            ),
            LastSplitNotValues { partition, last_split, n_values } => write!(
                f,
                "the last entry of row_splits (partition {partition}) must be the number of values, {n_values}; received {last_split}"
            ),
            NestedPartitionMismatch { partition, last_split, inner_rows } => write!(
                f,
                "the last entry of row_splits of partition {partition} must be the number of rows of partition {}, {inner_rows}; received {last_split}",
                partition + 1
            ),
            LengthOverflow { position, value, total } => write!(
                f,
                "row_lengths[{position}] = {value} overflows the total length {total}"
            ),
            RowIdOutOfRange { position, value, nrows } => write!(
                f,
                "value_rowids[{position}] = {value} is not below nrows = {nrows}"
            ),
            DecreasingRowIds { position, value, previous } => write!(
                f,
                "value_rowids must be sorted, but value_rowids[{position}] = {value} < value_rowids[{}] = {previous}",
                position - 1
            ),
            RowIdsLength { len, n_values } => write!(
                f,
                "value_rowids must have one entry per value: {len} entries for {n_values} values"
            ),
            ValuesShape { n_elements, inner_shape } => write!(
                f,
                "{n_elements} elements are not a whole number of values of shape {inner_shape:?}"
            ),
            EmptyInnerAxis { axis, inner_shape } => write!(
                f,
                "axis {axis} of the values' inner shape {inner_shape:?} is 0; every inner axis must be positive"
            ),
            TooManyRows { nrows, n_values, limit } => write!(
                f,
                "nrows = {nrows} for {n_values} values is more than the {limit} rows from_value_rowids accepts for them; pass the row splits instead (from_row_splits)"
            ),
            TooLarge { what, dims } => write!(f, "{what} of sizes {dims:?} is too large"),
        }
    }
}

impl std::error::Error for RaggedError {}

impl From<RaggedError> for Error {
    fn from(e: RaggedError) -> Self {
        Error::Ragged(e)
    }
}

/// A ragged tensor: flat values plus one row partition per ragged axis, outermost first.
///
/// Invariants (checked by every constructor): at least one partition; each partition's
/// `row_splits` starts at 0, never decreases, and ends at the number of rows of the partition
/// inside it (the number of flat values for the innermost); the buffer holds a whole number of
/// values of `inner_shape`.
#[derive(Clone, Debug, PartialEq)]
pub struct RaggedTensor<T> {
    values: Vec<T>,
    inner_shape: Vec<usize>,
    inner_size: usize,
    splits: Vec<Vec<usize>>,
}

impl<T> Default for RaggedTensor<T> {
    /// The empty tensor (no rows, ragged rank 1, scalar values), a buffer for
    /// [`gather_rows`](Self::gather_rows).
    fn default() -> Self {
        RaggedTensor {
            values: Vec::new(),
            inner_shape: Vec::new(),
            inner_size: 1,
            splits: vec![vec![0]],
        }
    }
}

// Converts user splits to `usize`, reporting the first invalid one. Reserving with
// `try_reserve` turns an impossible allocation into an error instead of an abort.
fn to_indices<S: RowIndex>(
    argument: &'static str,
    partition: usize,
    input: &[S],
) -> Result<Vec<usize>, RaggedError> {
    let mut out = Vec::new();
    reserve(&mut out, input.len(), argument)?;
    for (position, v) in input.iter().enumerate() {
        match v.to_index() {
            Some(i) => out.push(i),
            None => {
                return Err(RaggedError::InvalidIndex {
                    argument,
                    partition,
                    position,
                    value: v.to_i128(),
                })
            }
        }
    }
    Ok(out)
}

// The most rows `RaggedTensor::from_value_rowids` builds for `n_values` values: 4 per
// value plus 65 536, so its row splits stay within a few words per value (plus 512 KiB)
// whatever `nrows` a caller passes.
pub(crate) fn max_rows_for_values(n_values: usize) -> usize {
    n_values.saturating_mul(4).saturating_add(1 << 16)
}

fn reserve<U>(v: &mut Vec<U>, n: usize, what: &'static str) -> Result<(), RaggedError> {
    v.try_reserve_exact(n).map_err(|_| RaggedError::TooLarge {
        what,
        dims: vec![n],
    })
}

// One partition's own rules: at least two entries, starts at 0, non-decreasing.
fn check_splits(partition: usize, splits: &[usize]) -> Result<(), RaggedError> {
    match splits {
        [] => return Err(RaggedError::EmptyRowSplits { partition }),
        [only] => {
            return Err(RaggedError::TooFewRowSplits {
                partition,
                value: *only,
            })
        }
        [first, ..] if *first != 0 => {
            return Err(RaggedError::FirstSplitNotZero {
                partition,
                value: *first,
            })
        }
        _ => {}
    }
    for (i, w) in splits.windows(2).enumerate() {
        if w[1] < w[0] {
            return Err(RaggedError::DecreasingRowSplits {
                partition,
                position: i + 1,
                value: w[1],
                previous: w[0],
            });
        }
    }
    Ok(())
}

fn product(dims: &[usize], what: &'static str) -> Result<usize, RaggedError> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| RaggedError::TooLarge {
            what,
            dims: dims.to_vec(),
        })
}

impl<T> RaggedTensor<T> {
    /// A ragged tensor of rank 2 (`(rows, None)`): row `i` holds
    /// `values[row_splits[i]..row_splits[i + 1]]` (TensorFlow's `from_row_splits`).
    ///
    /// ```
    /// use stratic::prelude::*;
    ///
    /// // Rows [4, 7] and [1, 9, 9, 2].
    /// let ids = RaggedTensor::from_row_splits(vec![4, 7, 1, 9, 9, 2], &[0, 2, 6])?;
    /// assert_eq!(ids.row(1), Some(&[1, 9, 9, 2][..]));
    /// // Splits must start at 0, never decrease, and end at the number of values.
    /// assert!(RaggedTensor::from_row_splits(vec![1, 2], &[0, 3]).is_err());
    /// # Ok::<(), stratic::Error>(())
    /// ```
    pub fn from_row_splits<S: RowIndex>(values: Vec<T>, row_splits: &[S]) -> Result<Self, Error> {
        Self::from_parts(values, &[], &[row_splits])
    }

    /// A ragged tensor with several ragged axes, outermost partition first
    /// (`from_nested_row_splits`).
    ///
    /// ```
    /// use stratic::prelude::*;
    ///
    /// // [[[1, 2], [3]], [[4]]]: 2 outer rows over 3 inner rows over 4 values.
    /// let t = RaggedTensor::from_nested_row_splits(vec![1, 2, 3, 4], &[vec![0, 2, 3], vec![0, 2, 3, 4]])?;
    /// assert_eq!(t.ragged_rank(), 2);
    /// # Ok::<(), stratic::Error>(())
    /// ```
    pub fn from_nested_row_splits<S: RowIndex, P: AsRef<[S]>>(
        values: Vec<T>,
        nested_row_splits: &[P],
    ) -> Result<Self, Error> {
        Self::from_parts(values, &[], nested_row_splits)
    }

    /// The general constructor: flat values, each a block of `inner_shape` (the uniform axes
    /// after the ragged ones, `[]` for scalars), and the nested row partitions.
    ///
    /// ```
    /// use stratic::prelude::*;
    ///
    /// // Two rows of 2-vectors: [[1, 2], [3, 4]] and [[5, 6]].
    /// let t = RaggedTensor::from_parts(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2], &[[0, 2, 3]])?;
    /// assert_eq!(t.inner_shape(), &[2]);
    /// assert_eq!(t.n_rows(), 2);
    /// # Ok::<(), stratic::Error>(())
    /// ```
    pub fn from_parts<S: RowIndex, P: AsRef<[S]>>(
        values: Vec<T>,
        inner_shape: &[usize],
        nested_row_splits: &[P],
    ) -> Result<Self, Error> {
        if nested_row_splits.is_empty() {
            return Err(RaggedError::NoPartitions.into());
        }
        let mut splits = Vec::new();
        reserve(&mut splits, nested_row_splits.len(), "partitions")?;
        for (k, s) in nested_row_splits.iter().enumerate() {
            let s = to_indices("row_splits", k, s.as_ref())?;
            check_splits(k, &s)?;
            splits.push(s);
        }
        Self::from_checked_splits(values, inner_shape, splits)
    }

    // Checks what ties partitions to each other and to the values; each partition has passed
    // `check_splits` already.
    fn from_checked_splits(
        values: Vec<T>,
        inner_shape: &[usize],
        splits: Vec<Vec<usize>>,
    ) -> Result<Self, Error> {
        if let Some(axis) = inner_shape.iter().position(|&d| d == 0) {
            return Err(RaggedError::EmptyInnerAxis {
                axis,
                inner_shape: inner_shape.to_vec(),
            }
            .into());
        }
        let inner_size = product(inner_shape, "a value's inner shape")?;
        if !values.len().is_multiple_of(inner_size) {
            return Err(RaggedError::ValuesShape {
                n_elements: values.len(),
                inner_shape: inner_shape.to_vec(),
            }
            .into());
        }
        let n_values = values.len() / inner_size;
        for (k, pair) in splits.windows(2).enumerate() {
            let last = pair[0].last().copied().unwrap_or(0);
            let inner_rows = pair[1].len() - 1;
            if last != inner_rows {
                return Err(RaggedError::NestedPartitionMismatch {
                    partition: k,
                    last_split: last,
                    inner_rows,
                }
                .into());
            }
        }
        let k = splits.len() - 1;
        let last = splits[k].last().copied().unwrap_or(0);
        if last != n_values {
            return Err(RaggedError::LastSplitNotValues {
                partition: k,
                last_split: last,
                n_values,
            }
            .into());
        }
        Ok(RaggedTensor {
            values,
            inner_shape: inner_shape.to_vec(),
            inner_size,
            splits,
        })
    }

    /// A ragged tensor of rank 2 from the length of each row (`from_row_lengths`).
    ///
    /// ```
    /// use stratic::prelude::*;
    ///
    /// let t = RaggedTensor::from_row_lengths(vec![4, 7, 1, 9, 9, 2], &[2, 0, 4])?;
    /// assert_eq!(t.row_lengths().collect::<Vec<_>>(), [2, 0, 4]);
    /// # Ok::<(), stratic::Error>(())
    /// ```
    pub fn from_row_lengths<S: RowIndex>(values: Vec<T>, row_lengths: &[S]) -> Result<Self, Error> {
        let mut splits = Vec::new();
        reserve(
            &mut splits,
            row_lengths.len().saturating_add(1),
            "row_splits",
        )?;
        splits.push(0usize);
        let mut total = 0usize;
        for (position, l) in row_lengths.iter().enumerate() {
            let value = l.to_index().ok_or(RaggedError::InvalidIndex {
                argument: "row_lengths",
                partition: 0,
                position,
                value: l.to_i128(),
            })?;
            total = total
                .checked_add(value)
                .ok_or(RaggedError::LengthOverflow {
                    position,
                    value,
                    total,
                })?;
            splits.push(total);
        }
        check_splits(0, &splits)?;
        Self::from_checked_splits(values, &[], vec![splits])
    }

    /// A ragged tensor of rank 2 from the row of each value (`from_value_rowids`): `value_rowids`
    /// is sorted, one entry per value, each below `nrows` (rows without values are empty).
    ///
    /// The row splits it builds are sized by `nrows`, so `nrows` is bounded by the data
    /// given: at most 4 rows per value plus 65 536, else [`RaggedError::TooManyRows`]. A tensor with more empty rows than that
    /// comes from [`from_row_splits`](Self::from_row_splits), whose splits are the data.
    ///
    /// ```
    /// use stratic::prelude::*;
    ///
    /// // Values 4 and 7 in row 0, nothing in row 1, 1 in row 2.
    /// let t = RaggedTensor::from_value_rowids(vec![4, 7, 1], &[0, 0, 2], 3)?;
    /// assert_eq!(t.row(1), Some(&[][..]));
    /// # Ok::<(), stratic::Error>(())
    /// ```
    pub fn from_value_rowids<S: RowIndex>(
        values: Vec<T>,
        value_rowids: &[S],
        nrows: S,
    ) -> Result<Self, Error> {
        let n = nrows.to_index().ok_or(RaggedError::InvalidIndex {
            argument: "nrows",
            partition: 0,
            position: 0,
            value: nrows.to_i128(),
        })?;
        if value_rowids.len() != values.len() {
            return Err(RaggedError::RowIdsLength {
                len: value_rowids.len(),
                n_values: values.len(),
            }
            .into());
        }
        let limit = max_rows_for_values(values.len());
        if n > limit {
            return Err(RaggedError::TooManyRows {
                nrows: n,
                n_values: values.len(),
                limit,
            }
            .into());
        }
        let len = n.checked_add(1).ok_or(RaggedError::TooLarge {
            what: "row_splits",
            dims: vec![n],
        })?;
        // Row ids are checked before the splits are allocated, so a huge `nrows` with bad
        // ids costs nothing.
        let mut previous = 0usize;
        for (position, id) in value_rowids.iter().enumerate() {
            let value = id.to_index().ok_or(RaggedError::InvalidIndex {
                argument: "value_rowids",
                partition: 0,
                position,
                value: id.to_i128(),
            })?;
            if value >= n {
                return Err(RaggedError::RowIdOutOfRange {
                    position,
                    value,
                    nrows: n,
                }
                .into());
            }
            if value < previous {
                return Err(RaggedError::DecreasingRowIds {
                    position,
                    value,
                    previous,
                }
                .into());
            }
            previous = value;
        }
        let mut splits = Vec::new();
        reserve(&mut splits, len, "row_splits")?;
        splits.resize(len, 0);
        for id in value_rowids {
            if let Some(s) = id.to_index().and_then(|i| splits.get_mut(i + 1)) {
                *s += 1;
            }
        }
        for i in 1..len {
            splits[i] += splits[i - 1];
        }
        check_splits(0, &splits)?;
        Self::from_checked_splits(values, &[], vec![splits])
    }

    /// The flat values, row-major: value `i` is `flat_values()[i * s..(i + 1) * s]` with `s`
    /// the element count of [`inner_shape`](Self::inner_shape).
    pub fn flat_values(&self) -> &[T] {
        &self.values
    }

    /// The flat values, mutably (the partitions cannot change through this).
    pub fn flat_values_mut(&mut self) -> &mut [T] {
        &mut self.values
    }

    /// The shape of one flat value (the uniform axes after the ragged ones).
    pub fn inner_shape(&self) -> &[usize] {
        &self.inner_shape
    }

    /// The row partitions, outermost first.
    pub fn nested_row_splits(&self) -> &[Vec<usize>] {
        &self.splits
    }

    /// The outermost partition: row `i` spans `row_splits()[i]..row_splits()[i + 1]`.
    pub fn row_splits(&self) -> &[usize] {
        self.splits.first().map_or(&[], Vec::as_slice)
    }

    /// The number of ragged axes (partitions).
    pub fn ragged_rank(&self) -> usize {
        self.splits.len()
    }

    /// The number of rows (the batch size).
    pub fn n_rows(&self) -> usize {
        self.row_splits().len().saturating_sub(1)
    }

    /// The number of flat values.
    pub fn n_values(&self) -> usize {
        self.splits
            .last()
            .and_then(|s| s.last())
            .copied()
            .unwrap_or(0)
    }

    /// The length of each row of the outermost partition.
    pub fn row_lengths(&self) -> impl Iterator<Item = usize> + '_ {
        self.row_splits().windows(2).map(|w| w[1] - w[0])
    }

    /// Row `i` of a tensor of ragged rank 1, as its flat elements.
    pub fn row(&self, i: usize) -> Option<&[T]> {
        if self.splits.len() != 1 {
            return None;
        }
        let s = self.row_splits();
        let (a, b) = (*s.get(i)?, *s.get(i + 1)?);
        self.values.get(a * self.inner_size..b * self.inner_size)
    }

    /// The tensor as flat rows: a 2-D view of the values with the last inner axis as columns
    /// (1 column for scalar values), plus the partitions. Layers take this view.
    pub fn view(&self) -> RaggedView<'_, T> {
        // Inner axes are positive (checked on construction), so `cols` divides the buffer.
        let cols = self.inner_shape.last().copied().unwrap_or(1).max(1);
        let rows = self.values.len() / cols;
        let values = match ArrayView2::from_shape((rows, cols), &self.values) {
            Ok(v) => v,
            Err(_) => empty_view(),
        };
        RaggedView {
            splits: &self.splits,
            values,
        }
    }

    /// The position of flat value `index` as a multi-index: its row in each partition,
    /// relative to its parent, then its index in the innermost row (`[row, token]` for rank 2).
    pub fn position_of(&self, index: usize) -> Vec<usize> {
        position_in(&self.splits, index)
    }
}

fn empty_view<'a, T>() -> ArrayView2<'a, T> {
    // A (0, 0) view of an empty slice always has a valid shape.
    match ArrayView2::from_shape((0, 0), &[]) {
        Ok(v) => v,
        Err(_) => unreachable!("a (0, 0) view of an empty slice"),
    }
}

fn position_in(splits: &[Vec<usize>], index: usize) -> Vec<usize> {
    let mut pos = vec![0; splits.len() + 1];
    let mut i = index;
    for (k, s) in splits.iter().enumerate().rev() {
        // The row containing element i: the last split <= i, skipping empty rows.
        let row = s.partition_point(|&v| v <= i).saturating_sub(1);
        pos[k + 1] = i - s.get(row).copied().unwrap_or(0);
        i = row;
    }
    pos[0] = i;
    pos
}

impl<T: Clone> RaggedTensor<T> {
    /// A ragged tensor of rank 2 from its rows (`tf.ragged.constant([[...], [...]])`); it needs
    /// at least one row.
    ///
    /// ```
    /// use stratic::prelude::*;
    ///
    /// let t = RaggedTensor::from_rows(&[vec![3, 1, 4], vec![1], vec![5, 9]])?;
    /// assert_eq!(t.n_values(), 6);
    /// assert_eq!(t.to_dense(0)?.shape(), &[3, 3]); // padded to the longest row
    /// # Ok::<(), stratic::Error>(())
    /// ```
    pub fn from_rows<R: AsRef<[T]>>(rows: &[R]) -> Result<Self, Error> {
        let total: usize = rows.iter().map(|r| r.as_ref().len()).sum();
        let mut values = Vec::new();
        reserve(&mut values, total, "values")?;
        let mut splits = Vec::with_capacity(rows.len() + 1);
        splits.push(0usize);
        for r in rows {
            values.extend_from_slice(r.as_ref());
            splits.push(values.len());
        }
        check_splits(0, &splits)?;
        Self::from_checked_splits(values, &[], vec![splits])
    }

    /// A ragged tensor of rank 3 with two ragged axes from nested rows, e.g.
    /// `[[[1, 2], [3]], [[4]]]`; it needs at least one row, and at least one inner row overall.
    ///
    /// ```
    /// use stratic::prelude::*;
    ///
    /// let t = RaggedTensor::from_nested_rows(&[vec![vec![1, 2], vec![3]], vec![vec![4]]])?;
    /// assert_eq!((t.n_rows(), t.ragged_rank()), (2, 2));
    /// # Ok::<(), stratic::Error>(())
    /// ```
    pub fn from_nested_rows(rows: &[Vec<Vec<T>>]) -> Result<Self, Error> {
        let mut outer = vec![0usize];
        let mut inner = vec![0usize];
        let mut values = Vec::new();
        for r in rows {
            for sub in r {
                values.extend_from_slice(sub);
                inner.push(values.len());
            }
            outer.push(inner.len() - 1);
        }
        check_splits(0, &outer)?;
        check_splits(1, &inner)?;
        Self::from_checked_splits(values, &[], vec![outer, inner])
    }

    /// Pads every ragged axis to its longest row with `pad`: shape
    /// `[n_rows, longest row of each ragged axis..., inner_shape...]` (TensorFlow's
    /// `to_tensor(default_value)`).
    ///
    /// **Errors**: [`RaggedError::TooLarge`] if the padded size overflows or cannot be allocated.
    pub fn to_dense(&self, pad: T) -> Result<ArrayD<T>, Error> {
        let mut shape = vec![self.n_rows()];
        for s in &self.splits {
            shape.push(s.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0));
        }
        shape.extend_from_slice(&self.inner_shape);
        let total = product(&shape, "the padded tensor")?;
        let mut data = Vec::new();
        reserve(&mut data, total, "the padded tensor")?;
        data.resize(total, pad);
        // Row-major strides of the ragged axes, in elements.
        let mut strides = vec![0usize; shape.len()];
        let mut acc = 1usize;
        for (k, d) in shape.iter().enumerate().rev() {
            strides[k] = acc;
            acc = acc.saturating_mul(*d);
        }
        // offsets[j]: the dense offset of row j of the current level.
        let mut offsets: Vec<usize> = (0..self.n_rows()).map(|i| i * strides[0]).collect();
        for (k, s) in self.splits.iter().enumerate() {
            let mut next = vec![0usize; s.last().copied().unwrap_or(0)];
            for (j, w) in s.windows(2).enumerate() {
                for (c, slot) in next[w[0]..w[1]].iter_mut().enumerate() {
                    *slot = offsets[j] + c * strides[k + 1];
                }
            }
            offsets = next;
        }
        let n = self.inner_size;
        for (i, off) in offsets.iter().enumerate() {
            data[*off..*off + n].clone_from_slice(&self.values[i * n..(i + 1) * n]);
        }
        ArrayD::from_shape_vec(IxDyn(&shape), data).map_err(|_| {
            Error::Ragged(RaggedError::TooLarge {
                what: "the padded tensor",
                dims: shape.clone(),
            })
        })
    }

    /// Copies the rows `rows` (indices into the outermost partition) into `out`, reusing its
    /// buffers: what `fit` does to build a batch.
    ///
    /// # Panics
    ///
    /// If a row index is not below [`n_rows`](Self::n_rows); callers pass permutations of
    /// `0..n_rows` they built.
    pub fn gather_rows(&self, rows: &[usize], out: &mut RaggedTensor<T>) {
        let r = self.splits.len();
        out.splits.resize_with(r, Vec::new);
        for s in &mut out.splits {
            s.clear();
            s.push(0);
        }
        out.values.clear();
        out.inner_shape.clone_from(&self.inner_shape);
        out.inner_size = self.inner_size;
        for &i in rows {
            let (mut a, mut b) = (i, i + 1);
            for (k, s) in self.splits.iter().enumerate() {
                let dst = &mut out.splits[k];
                let base = dst.last().copied().unwrap_or(0);
                for j in a..b {
                    dst.push(base + (s[j + 1] - s[a]));
                }
                (a, b) = (s[a], s[b]);
            }
            let n = self.inner_size;
            out.values.extend_from_slice(&self.values[a * n..b * n]);
        }
    }
}

/// A borrowed ragged tensor as layers see it: the row partitions and the flat values as 2-D
/// rows `(values x inner axes but the last, last inner axis)`.
///
/// A layer that maps each value on its own (embedding, dense, activations) produces new flat
/// rows with the same partitions; [`with_values`](Self::with_values) pairs them, without
/// copying the partitions.
#[derive(Debug)]
pub struct RaggedView<'a, T> {
    splits: &'a [Vec<usize>],
    values: ArrayView2<'a, T>,
}

impl<T> Clone for RaggedView<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for RaggedView<'_, T> {}

impl<'a, T> RaggedView<'a, T> {
    /// The flat values as rows.
    pub fn values(&self) -> ArrayView2<'a, T> {
        self.values
    }

    /// The row partitions, outermost first.
    pub fn nested_row_splits(&self) -> &'a [Vec<usize>] {
        self.splits
    }

    /// The outermost partition.
    pub fn row_splits(&self) -> &'a [usize] {
        self.splits.first().map_or(&[], Vec::as_slice)
    }

    /// The number of rows (the batch size).
    pub fn n_rows(&self) -> usize {
        self.row_splits().len().saturating_sub(1)
    }

    /// The number of ragged axes.
    pub fn ragged_rank(&self) -> usize {
        self.splits.len()
    }

    /// The number of flat values (innermost partition's last split).
    pub fn n_values(&self) -> usize {
        self.splits
            .last()
            .and_then(|s| s.last())
            .copied()
            .unwrap_or(0)
    }

    /// The same partitions with other flat rows: the output of a layer applied to each value.
    /// `values` must have a whole number of rows per flat value (as a layer's output does).
    pub fn with_values<'b, U>(&self, values: ArrayView2<'b, U>) -> RaggedView<'b, U>
    where
        'a: 'b,
    {
        RaggedView {
            splits: self.splits,
            values,
        }
    }

    /// For each row of the outermost partition, the range of flat rows (of
    /// [`values`](Self::values)) it covers, through every nested partition. Ranges are clamped
    /// to the rows present, so a view whose rows do not match its partitions yields shorter
    /// ranges, never an out-of-bounds index.
    pub fn row_ranges(&self) -> impl Iterator<Item = (usize, usize)> + 'a {
        let n_values = self.n_values();
        let nrows = self.values.nrows();
        let per_value = nrows.checked_div(n_values).unwrap_or(0);
        let splits = self.splits;
        (0..self.n_rows()).map(move |i| {
            let (mut a, mut b) = (i, i + 1);
            for s in splits {
                a = s.get(a).copied().unwrap_or(0);
                b = s.get(b).copied().unwrap_or(a);
            }
            let a = (a * per_value).min(nrows);
            let b = (b * per_value).clamp(a, nrows);
            (a, b)
        })
    }
}

/// Checks a ragged input against its declared spec (layout, ragged rank by Keras' rule, known
/// batch size, the uniform inner axes, and known sizes of axes inside the ragged ones, which
/// every row must then have) and returns the number of samples.
pub fn check_ragged_input<T>(
    input: &str,
    spec: &TensorSpec,
    x: &RaggedTensor<T>,
) -> Result<usize, Error> {
    let expected = spec.shape_string();
    let actual = || {
        let mut a = vec![x.n_rows()];
        for s in x.nested_row_splits() {
            a.push(s.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0));
        }
        a.extend_from_slice(x.inner_shape());
        a
    };
    let fail = |message: String| Error::InputShape {
        input: input.to_string(),
        expected: expected.clone(),
        actual: actual(),
        message,
    };
    if spec.layout != Layout::Ragged {
        return Err(fail(format!(
            "the input is declared {} {spec}, not ragged: pass an array",
            spec.layout_name()
        )));
    }
    let r = ragged_rank(spec);
    if x.ragged_rank() != r {
        return Err(fail(format!(
            "expected a ragged tensor of ragged rank {r} (shape {expected}), received ragged rank {}",
            x.ragged_rank()
        )));
    }
    let inner = &spec.dims[r..];
    let inner_ok = inner.len() == x.inner_shape().len()
        && inner
            .iter()
            .zip(x.inner_shape())
            .all(|(d, s)| d.known().is_none_or(|k| k == *s));
    if !inner_ok {
        return Err(fail(format!(
            "expected every value to have the uniform shape {:?} (the axes after the ragged ones of {expected}), received values of shape {:?}",
            inner.iter().map(Dim::to_string).collect::<Vec<_>>(),
            x.inner_shape()
        )));
    }
    if let Dim::Known(b) = spec.batch {
        if b != x.n_rows() {
            return Err(fail(format!(
                "expected axis 0 of input shape to have value {b}, received {} rows",
                x.n_rows()
            )));
        }
    }
    // A known size among the ragged axes: every row of the partition must have it.
    for (k, d) in spec.dims[..r].iter().enumerate() {
        if let Dim::Known(len) = d {
            let splits = &x.nested_row_splits()[k];
            if let Some(row) = splits.windows(2).position(|w| w[1] - w[0] != *len) {
                return Err(fail(format!(
                    "expected axis {} to have value {len} in every row, but row {row} of partition {k} has {}",
                    k + 1,
                    splits[row + 1] - splits[row]
                )));
            }
        }
    }
    Ok(x.n_rows())
}

impl TensorSpec {
    fn layout_name(&self) -> &'static str {
        match self.layout {
            Layout::Dense => "dense",
            Layout::Sparse => "sparse",
            Layout::Ragged => "ragged",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::DType;
    use ndarray::arr2;

    fn err<T: fmt::Debug>(r: Result<T, Error>) -> RaggedError {
        match r {
            Err(Error::Ragged(e)) => e,
            other => panic!("expected a ragged error, got {other:?}"),
        }
    }

    #[test]
    fn every_constructor_agrees() {
        let a = RaggedTensor::from_row_splits(vec![1, 2, 3, 4], &[0, 2, 2, 4]).unwrap();
        let b = RaggedTensor::from_row_lengths(vec![1, 2, 3, 4], &[2i64, 0, 2]).unwrap();
        let c = RaggedTensor::from_value_rowids(vec![1, 2, 3, 4], &[0i32, 0, 2, 2], 3).unwrap();
        let d = RaggedTensor::from_rows(&[vec![1, 2], vec![], vec![3, 4]]).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a, d);
        assert_eq!(a.n_rows(), 3);
        assert_eq!(a.row(2), Some(&[3, 4][..]));
        assert_eq!(a.row_lengths().collect::<Vec<_>>(), vec![2, 0, 2]);
        assert_eq!(
            a.to_dense(0).unwrap(),
            arr2(&[[1, 2], [0, 0], [3, 4]]).into_dyn()
        );
        // Trailing empty rows come from nrows.
        let e = RaggedTensor::from_value_rowids(vec![7], &[0u8], 3).unwrap();
        assert_eq!(e.row_splits(), &[0, 1, 1, 1]);
    }

    #[test]
    fn malformed_splits_name_partition_position_and_value() {
        let v = || vec![1.0f32, 2.0, 3.0];
        assert_eq!(
            err(RaggedTensor::from_row_splits(v(), &[] as &[usize])),
            RaggedError::EmptyRowSplits { partition: 0 }
        );
        assert_eq!(
            err(RaggedTensor::from_row_splits(v(), &[3])),
            RaggedError::TooFewRowSplits {
                partition: 0,
                value: 3
            }
        );
        assert_eq!(
            err(RaggedTensor::from_row_splits(v(), &[1, 3])),
            RaggedError::FirstSplitNotZero {
                partition: 0,
                value: 1
            }
        );
        assert_eq!(
            err(RaggedTensor::from_row_splits(v(), &[0, 2, 1, 3])),
            RaggedError::DecreasingRowSplits {
                partition: 0,
                position: 2,
                value: 1,
                previous: 2
            }
        );
        assert_eq!(
            err(RaggedTensor::from_row_splits(v(), &[0, 2, 4])),
            RaggedError::LastSplitNotValues {
                partition: 0,
                last_split: 4,
                n_values: 3
            }
        );
        assert_eq!(
            err(RaggedTensor::from_row_splits(v(), &[0i64, -1, 3])),
            RaggedError::InvalidIndex {
                argument: "row_splits",
                partition: 0,
                position: 1,
                value: -1
            }
        );
        // Nested: the outer partition has 2 inner rows but the inner one has 3.
        assert_eq!(
            err(RaggedTensor::from_nested_row_splits(
                v(),
                &[vec![0, 1, 2], vec![0, 1, 2, 3]]
            )),
            RaggedError::NestedPartitionMismatch {
                partition: 0,
                last_split: 2,
                inner_rows: 3
            }
        );
        assert_eq!(
            err(RaggedTensor::from_nested_row_splits(
                v(),
                &[] as &[Vec<usize>]
            )),
            RaggedError::NoPartitions
        );
        // Zero-sized values: a tiny input could claim billions of them.
        assert_eq!(
            err(RaggedTensor::from_parts(
                Vec::<u8>::new(),
                &[0],
                &[[0u32, u32::MAX]]
            )),
            RaggedError::EmptyInnerAxis {
                axis: 0,
                inner_shape: vec![0]
            }
        );
        let e = err(RaggedTensor::from_parts(v(), &[2], &[[0, 1]]));
        assert!(matches!(e, RaggedError::ValuesShape { n_elements: 3, .. }));
    }

    #[test]
    fn lengths_and_row_ids_are_checked() {
        assert_eq!(
            err(RaggedTensor::from_row_lengths(vec![0u8], &[usize::MAX, 2])),
            RaggedError::LengthOverflow {
                position: 1,
                value: 2,
                total: usize::MAX
            }
        );
        assert!(matches!(
            err(RaggedTensor::from_row_lengths(vec![0u8], &[-1i32])),
            RaggedError::InvalidIndex {
                argument: "row_lengths",
                value: -1,
                ..
            }
        ));
        assert_eq!(
            err(RaggedTensor::from_value_rowids(vec![1, 2], &[0, 5], 3)),
            RaggedError::RowIdOutOfRange {
                position: 1,
                value: 5,
                nrows: 3
            }
        );
        assert_eq!(
            err(RaggedTensor::from_value_rowids(vec![1, 2], &[1, 0], 3)),
            RaggedError::DecreasingRowIds {
                position: 1,
                value: 0,
                previous: 1
            }
        );
        assert_eq!(
            err(RaggedTensor::from_value_rowids(vec![1, 2], &[0], 3)),
            RaggedError::RowIdsLength {
                len: 1,
                n_values: 2
            }
        );
        assert!(matches!(
            err(RaggedTensor::from_value_rowids(
                Vec::<u8>::new(),
                &[],
                usize::MAX
            )),
            // Refused by the bound on rows per value, before any size is computed.
            RaggedError::TooManyRows { .. }
        ));
        assert!(matches!(
            err(RaggedTensor::from_value_rowids(
                Vec::<u8>::new(),
                &[],
                -4i64
            )),
            RaggedError::InvalidIndex {
                argument: "nrows",
                value: -4,
                ..
            }
        ));
    }

    #[test]
    fn nested_tensors_pad_and_gather() {
        // [[[1, 2], [3]], [[4]], [[], [5, 6, 7]]]
        let rt = RaggedTensor::from_nested_rows(&[
            vec![vec![1, 2], vec![3]],
            vec![vec![4]],
            vec![vec![], vec![5, 6, 7]],
        ])
        .unwrap();
        assert_eq!(rt.ragged_rank(), 2);
        assert_eq!(
            rt.nested_row_splits(),
            &[vec![0, 2, 3, 5], vec![0, 2, 3, 4, 4, 7]]
        );
        let d = rt.to_dense(0).unwrap();
        assert_eq!(d.shape(), &[3, 2, 3]);
        assert_eq!(
            d.iter().copied().collect::<Vec<_>>(),
            vec![1, 2, 0, 3, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 5, 6, 7]
        );
        assert_eq!(rt.position_of(5), vec![2, 1, 1]);
        assert_eq!(rt.position_of(3), vec![1, 0, 0]);
        let mut out = RaggedTensor::default();
        rt.gather_rows(&[2, 0], &mut out);
        let want = RaggedTensor::from_nested_rows(&[
            vec![vec![], vec![5, 6, 7]],
            vec![vec![1, 2], vec![3]],
        ])
        .unwrap();
        assert_eq!(out, want);
        let ranges: Vec<_> = rt.view().row_ranges().collect();
        assert_eq!(ranges, vec![(0, 3), (3, 4), (4, 7)]);
    }

    #[test]
    fn gather_reuses_buffers_and_keeps_inner_shape() {
        let rt =
            RaggedTensor::from_parts((0..12).map(|v| v as f32).collect(), &[2], &[[0, 1, 4, 6]])
                .unwrap();
        let mut out = RaggedTensor::default();
        rt.gather_rows(&[1, 1, 0], &mut out);
        assert_eq!(out.row_splits(), &[0, 3, 6, 7]);
        assert_eq!(out.inner_shape(), &[2]);
        assert_eq!(out.flat_values()[..2], [2.0, 3.0]);
        let ptr = out.flat_values().as_ptr();
        rt.gather_rows(&[2, 0], &mut out);
        assert_eq!(out.flat_values(), &[8.0, 9.0, 10.0, 11.0, 0.0, 1.0]);
        assert_eq!(out.flat_values().as_ptr(), ptr);
        assert_eq!(out.view().values().dim(), (3, 2));
    }

    #[test]
    fn to_dense_refuses_huge_shapes() {
        // 2^22 rows, one of 2^22 inner rows, one of 2^22 values: ~70 MB of parts, but the
        // padded tensor would have 2^66 elements.
        let n = 1usize << 22;
        let mut outer = vec![n; n + 1];
        outer[0] = 0;
        let mut inner = vec![n; n + 1];
        inner[0] = 0;
        let rt = RaggedTensor::from_nested_row_splits(vec![0u8; n], &[outer, inner]).unwrap();
        assert!(matches!(
            err(rt.to_dense(0)),
            RaggedError::TooLarge {
                what: "the padded tensor",
                ..
            }
        ));
        let e = err(RaggedTensor::from_parts(
            Vec::<u8>::new(),
            &[usize::MAX, 2],
            &[[0, 0]],
        ));
        assert!(matches!(e, RaggedError::TooLarge { .. }));
    }

    #[test]
    fn input_check_follows_the_spec() {
        let spec = TensorSpec {
            batch: Dim::Unknown,
            dims: vec![Dim::Unknown],
            dtype: DType::I32,
            layout: Layout::Ragged,
        };
        let x = RaggedTensor::from_rows(&[vec![1, 2], vec![3]]).unwrap();
        assert_eq!(check_ragged_input("tokens", &spec, &x), Ok(2));
        let nested = RaggedTensor::from_nested_rows(&[vec![vec![1]]]).unwrap();
        match check_ragged_input("tokens", &spec, &nested) {
            Err(Error::InputShape { input, message, .. }) => {
                assert_eq!(input, "tokens");
                assert!(message.contains("ragged rank 1"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let mut with_inner = spec.clone();
        with_inner.dims.push(Dim::Known(3));
        let v = RaggedTensor::from_parts(vec![0; 4], &[2], &[[0, 2]]).unwrap();
        assert!(check_ragged_input("x", &with_inner, &v).is_err());
        // (None, 2, None): axis 1 is a partition of uniform length 2.
        let uniform = TensorSpec {
            dims: vec![Dim::Known(2), Dim::Unknown],
            ..spec.clone()
        };
        let ok = RaggedTensor::from_nested_rows(&[vec![vec![1], vec![]]]).unwrap();
        assert_eq!(check_ragged_input("x", &uniform, &ok), Ok(1));
        let bad = RaggedTensor::from_nested_rows(&[vec![vec![1]]]).unwrap();
        assert!(check_ragged_input("x", &uniform, &bad).is_err());
        let dense = TensorSpec::dense(vec![Dim::Known(2)]);
        assert!(check_ragged_input("x", &dense, &x).is_err());
    }

    // Issue 19: `nrows = 2^27` with one value allocated 1 GiB of row splits. It is refused
    // now, before any allocation, as are row ids that imply as many rows; the limit itself
    // is accepted.
    #[test]
    fn value_rowids_rows_are_bounded_by_the_values() {
        let big = 1usize << 27;
        let limit = max_rows_for_values(1);
        assert!(matches!(
            RaggedTensor::from_value_rowids(vec![1.0f32], &[0usize], big),
            Err(Error::Ragged(RaggedError::TooManyRows { nrows, n_values: 1, limit: l }))
                if nrows == big && l == limit
        ));
        assert!(matches!(
            RaggedTensor::from_value_rowids(vec![1.0f32, 2.0], &[0usize, big - 1], big),
            Err(Error::Ragged(RaggedError::TooManyRows { .. }))
        ));
        let at_limit = RaggedTensor::from_value_rowids(vec![1.0f32], &[0usize], limit).unwrap();
        assert_eq!(at_limit.n_rows(), limit);
        assert!(RaggedTensor::from_value_rowids(vec![1.0f32], &[0usize], limit + 1).is_err());
    }
}
