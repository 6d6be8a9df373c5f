//! Targets given to `fit`, `evaluate` and `train_on_batch`: checked against each output and
//! its loss, and converted to `f32` rows.

use ndarray::{Array2, ArrayD, ArrayView, Dimension, IxDyn};

use super::super::{Error, Loss};
use crate::shape::{Dim, TensorSpec};

/// A numeric element type targets may be given in; converted to `f32` for the loss.
pub trait TargetElement: Copy {
    /// The value as `f32` (rounded for wide types, as Keras casts targets to float32).
    fn to_f32(self) -> f32;
}

macro_rules! target_element {
    ($($t:ty),*) => {$(
        impl TargetElement for $t {
            fn to_f32(self) -> f32 {
                self as f32
            }
        }
    )*};
}
target_element!(f32, f64, i8, i16, i32, i64, u8, u16, u32, u64, usize);

impl TargetElement for bool {
    fn to_f32(self) -> f32 {
        if self {
            1.0
        } else {
            0.0
        }
    }
}

/// Targets for `fit`, `evaluate` and `train_on_batch`: an array for a model with one output,
/// a tuple of arrays (one per output, in order) for several.
///
/// Each array has its output's shape with the number of samples as batch axis (for sparse
/// categorical cross-entropy: class ids, the output shape without its last axis, optionally
/// with a trailing 1), in any numeric type.
pub trait Targets {
    /// How many outputs these targets are for.
    const COUNT: usize;
    /// Checks target `index` against its output and loss and converts it to `f32` in the
    /// shape `[n, middle..., k]`.
    fn prepare(
        &self,
        index: usize,
        n: usize,
        spec: &TensorSpec,
        loss: Loss,
    ) -> Result<ArrayD<f32>, Error>;
    /// Copies target `index` into `rows` if it has exactly its output's shape (the common
    /// case); returns false to take the general path of [`prepare`](Targets::prepare).
    fn load_exact(
        &self,
        index: usize,
        n: usize,
        spec: &TensorSpec,
        loss: Loss,
        rows: &mut Array2<f32>,
    ) -> bool;
}

impl<T: TargetElement, D: Dimension> Targets for ArrayView<'_, T, D> {
    const COUNT: usize = 1;

    fn prepare(
        &self,
        _: usize,
        n: usize,
        spec: &TensorSpec,
        loss: Loss,
    ) -> Result<ArrayD<f32>, Error> {
        prepare_targets(self.view(), n, spec, loss)
    }

    fn load_exact(
        &self,
        _: usize,
        n: usize,
        spec: &TensorSpec,
        loss: Loss,
        rows: &mut Array2<f32>,
    ) -> bool {
        load_exact_targets(self, n, spec, loss, rows)
    }
}

macro_rules! tuple_targets {
    ($count:expr; $($name:ident $idx:tt),+) => {
        impl<'a, $($name: Targets),+> Targets for ($($name,)+) {
            const COUNT: usize = $count;

            fn prepare(&self, index: usize, n: usize, spec: &TensorSpec, loss: Loss) -> Result<ArrayD<f32>, Error> {
                match index {
                    $($idx => self.$idx.prepare(0, n, spec, loss),)+
                    _ => Err(target_count_error(Self::COUNT, index + 1)),
                }
            }

            fn load_exact(&self, index: usize, n: usize, spec: &TensorSpec, loss: Loss, rows: &mut Array2<f32>) -> bool {
                match index {
                    $($idx => self.$idx.load_exact(0, n, spec, loss, rows),)+
                    _ => false,
                }
            }
        }
    };
}
tuple_targets!(2; A 0, B 1);
tuple_targets!(3; A 0, B 1, C 2);
tuple_targets!(4; A 0, B 1, C 2, D 3);
tuple_targets!(5; A 0, B 1, C 2, D 3, E 4);
tuple_targets!(6; A 0, B 1, C 2, D 3, E 4, F 5);
tuple_targets!(7; A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_targets!(8; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
tuple_targets!(9; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
tuple_targets!(10; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
tuple_targets!(11; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
tuple_targets!(12; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);
tuple_targets!(13; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12);
tuple_targets!(14; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13);
tuple_targets!(15; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13, O 14);
tuple_targets!(16; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13, O 14, P 15);

pub(crate) fn target_count_error(given: usize, outputs: usize) -> Error {
    Error::TargetShape {
        expected: format!("{outputs} target arrays"),
        actual: vec![given],
        message: format!(
            "the model has {outputs} output(s), so it needs {outputs} target array(s) (a tuple, in output order); received {given}"
        ),
    }
}

// Copies `y` into `rows` if it has exactly the output's shape (every loss but the sparse one);
// returns false to take the general path.
pub(crate) fn load_exact_targets<T: TargetElement, D: Dimension>(
    y: &ArrayView<'_, T, D>,
    n: usize,
    spec: &TensorSpec,
    loss: Loss,
    rows: &mut Array2<f32>,
) -> bool {
    let Some(dim) = exact_rows_dim(y.shape(), n, spec, loss) else {
        return false;
    };
    if rows.dim() != dim {
        *rows = Array2::zeros(dim);
    }
    match (y.as_slice(), rows.as_slice_mut()) {
        // Row-major: a loop over slices, several times faster than ndarray's iterators (W1).
        (Some(src), Some(dst)) => {
            for (d, s) in dst.iter_mut().zip(src) {
                *d = s.to_f32();
            }
        }
        // Logical (row-major) order, whatever the memory layout of `y`.
        _ => {
            for (dst, src) in rows.iter_mut().zip(y.iter()) {
                *dst = src.to_f32();
            }
        }
    }
    true
}

// The `(rows, features)` of targets of `shape` if it is exactly the output's (every loss but
// the sparse one). Apart from the generic copy above, so that it is compiled once, here.
fn exact_rows_dim(
    shape: &[usize],
    n: usize,
    spec: &TensorSpec,
    loss: Loss,
) -> Option<(usize, usize)> {
    let exact = !loss.is_sparse()
        && shape.len() == spec.dims.len() + 1
        && shape[0] == n
        && spec
            .dims
            .iter()
            .zip(&shape[1..])
            .all(|(d, s)| d.known() == Some(*s));
    if !exact {
        return None;
    }
    let cols = spec.dims.last().and_then(|d| d.known()).unwrap_or(1);
    let total: usize = shape.iter().product();
    Some((total / cols.max(1), cols))
}

fn shape_string(dims: &[String]) -> String {
    if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    }
}

/// Checks targets against the model's output spec and the loss, and converts them to `f32` in
/// the shape `[n, middle..., k]` (`k` = 1 for class ids), ready to gather and fold into rows.
pub(crate) fn prepare_targets<T: TargetElement, D: Dimension>(
    y: ArrayView<'_, T, D>,
    n: usize,
    spec: &TensorSpec,
    loss: Loss,
) -> Result<ArrayD<f32>, Error> {
    let values: Vec<f32> = y.iter().map(|v| v.to_f32()).collect();
    shape_targets(y.shape(), values, n, spec, loss)
}

// The checks of `prepare_targets`, on the shape `ys` of the targets and their `values` in
// logical order; not generic, so compiled once, here.
fn shape_targets(
    ys: &[usize],
    values: Vec<f32>,
    n: usize,
    spec: &TensorSpec,
    loss: Loss,
) -> Result<ArrayD<f32>, Error> {
    // The per-sample dims the targets must have.
    let mut want: Vec<Dim> = spec.dims.clone();
    if loss.is_sparse() {
        want.pop();
    }
    let mut expected: Vec<String> = vec![n.to_string()];
    expected.extend(want.iter().map(Dim::to_string));
    let mismatch = |extra: &str| {
        Error::TargetShape {
        expected: shape_string(&expected),
        actual: ys.to_vec(),
        message: format!(
            "the model's output has shape {}, so {} expects targets of shape {}{extra}; received {:?}",
            spec.shape_string(),
            loss.name(),
            shape_string(&expected),
            ys
        ),
    }
    };
    let sparse_hint = if loss.is_sparse() {
        " (class ids, optionally with a trailing axis of 1)"
    } else {
        ""
    };
    let Some(&samples) = ys.first() else {
        return Err(mismatch(sparse_hint));
    };
    if samples != n {
        return Err(Error::SampleCount {
            inputs: n,
            targets: samples,
        });
    }
    let matches = |dims: &[usize]| {
        dims.len() == want.len()
            && want
                .iter()
                .zip(dims)
                .all(|(w, d)| w.known().is_none_or(|k| k == *d))
    };
    let rest = &ys[1..];
    let mut normalized: Vec<usize> = ys.to_vec();
    if loss.is_sparse() {
        // Class ids: `[n, middle...]`, or with a trailing 1.
        if matches(rest) {
            normalized.push(1);
        } else if !(rest.last() == Some(&1) && matches(&rest[..rest.len() - 1])) {
            return Err(mismatch(sparse_hint));
        }
    } else if !matches(rest) {
        // Keras expands `(n,)` targets against a `(n, 1)` output (squeeze_or_expand_to_same_rank).
        let expandable = want.last() == Some(&Dim::Known(1)) && {
            let mut r = rest.to_vec();
            r.push(1);
            matches(&r)
        };
        if !expandable {
            return Err(mismatch(""));
        }
        normalized.push(1);
    }
    ArrayD::from_shape_vec(IxDyn(&normalized), values).map_err(|e| mismatch(&format!(" ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array1, Array2, Array3};

    fn spec(dims: &[Option<usize>]) -> TensorSpec {
        TensorSpec::dense(
            dims.iter()
                .map(|d| d.map_or(Dim::Unknown, Dim::Known))
                .collect(),
        )
    }

    #[test]
    fn targets_are_normalised_to_rows_with_a_last_axis() {
        // (n,) against a (None, 1) output is expanded, as Keras does.
        let y = Array1::<i32>::from(vec![1, 2, 3]);
        let t = prepare_targets(y.view(), 3, &spec(&[Some(1)]), Loss::mse()).unwrap();
        assert_eq!(t.shape(), &[3, 1]);
        assert_eq!(t.iter().copied().collect::<Vec<_>>(), vec![1.0, 2.0, 3.0]);
        // Sparse ids over a sequence output (None, 5, 8): (n, 5) or (n, 5, 1).
        let sp = Loss::sparse_categorical_crossentropy();
        let y = Array2::<u8>::zeros((2, 5));
        let t = prepare_targets(y.view(), 2, &spec(&[Some(5), Some(8)]), sp).unwrap();
        assert_eq!(t.shape(), &[2, 5, 1]);
        let y = Array3::<u8>::zeros((2, 5, 1));
        let t = prepare_targets(y.view(), 2, &spec(&[Some(5), Some(8)]), sp).unwrap();
        assert_eq!(t.shape(), &[2, 5, 1]);
        let y = Array3::<u8>::zeros((2, 4, 1));
        let e = prepare_targets(y.view(), 2, &spec(&[Some(5), Some(8)]), sp).unwrap_err();
        match e {
            Error::TargetShape { expected, .. } => assert_eq!(expected, "(2, 5)"),
            other => panic!("{other:?}"),
        }
        // Unknown output dims accept any size.
        let y = Array3::<f32>::zeros((2, 7, 3));
        let t = prepare_targets(y.view(), 2, &spec(&[None, Some(3)]), Loss::mae()).unwrap();
        assert_eq!(t.shape(), &[2, 7, 3]);
        // A 0-d target has no batch axis.
        let y = ndarray::arr0(1.0f32);
        assert!(matches!(
            prepare_targets(y.view(), 1, &spec(&[Some(1)]), Loss::mse()),
            Err(Error::TargetShape { .. })
        ));
    }
}
