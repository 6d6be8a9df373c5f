//! Property tests of `SparseTensor`: random valid COO tensors round-trip through `to_dense`
//! and give Dense the same output and kernel gradient as the dense path; random malformed
//! parts give an error, never a panic.

use ndarray::{Array1, Array2, ArrayD, Axis, IxDyn};
use proptest::prelude::*;
use stratic_core::shape::{Activation, DenseConfig, Initializer};
use stratic_core::{Dense, Error, Layer, Rng, SparseError, SparseOptions, SparseTensor};

/// A canonical COO tensor: its shape, the indices of its entries in row-major order, and
/// their values.
#[derive(Clone, Debug)]
struct Coo {
    shape: Vec<i64>,
    indices: Vec<Vec<i64>>,
    values: Vec<f32>,
}

impl Coo {
    fn indices_array(&self, order: &[usize]) -> Array2<i64> {
        let rank = self.shape.len();
        let flat: Vec<i64> = order
            .iter()
            .flat_map(|&e| self.indices[e].iter().copied())
            .collect();
        Array2::from_shape_vec((order.len(), rank), flat).expect("[nnz, rank]")
    }

    fn values_array(&self, order: &[usize]) -> Array1<f32> {
        order.iter().map(|&e| self.values[e]).collect()
    }

    fn build(&self, order: &[usize], options: SparseOptions) -> Result<SparseTensor<f32>, Error> {
        SparseTensor::from_coo(
            self.indices_array(order).view(),
            self.values_array(order).view(),
            &self.shape,
            options,
        )
    }

    fn dense(&self) -> ArrayD<f32> {
        let dims: Vec<usize> = self.shape.iter().map(|&d| d as usize).collect();
        let mut d = ArrayD::zeros(IxDyn(&dims));
        for (index, v) in self.indices.iter().zip(&self.values) {
            let index: Vec<usize> = index.iter().map(|&i| i as usize).collect();
            d[IxDyn(&index)] = *v;
        }
        d
    }
}

// Every multi-index of `dims` in row-major order.
fn positions(dims: &[usize]) -> Vec<Vec<i64>> {
    let mut out = vec![vec![]];
    for &d in dims {
        out = out
            .into_iter()
            .flat_map(|p| {
                (0..d as i64).map(move |i| {
                    let mut q = p.clone();
                    q.push(i);
                    q
                })
            })
            .collect();
    }
    out
}

fn coo_with_rank(rank: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Coo> {
    (0usize..6, rank)
        .prop_flat_map(|(rows, rank)| (Just(rows), prop::collection::vec(1usize..5, rank - 1)))
        .prop_flat_map(|(rows, rest)| {
            let mut dims = vec![rows];
            dims.extend(rest);
            let total: usize = dims.iter().product();
            (
                Just(dims),
                prop::collection::vec(prop::option::weighted(0.3, -4.0f32..4.0), total),
            )
        })
        .prop_map(|(dims, cells)| {
            let mut indices = Vec::new();
            let mut values = Vec::new();
            for (index, cell) in positions(&dims).into_iter().zip(cells) {
                if let Some(v) = cell {
                    indices.push(index);
                    values.push(v);
                }
            }
            Coo {
                shape: dims.iter().map(|&d| d as i64).collect(),
                indices,
                values,
            }
        })
}

// A permutation of 0..n from a seed.
fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    Rng::new(seed).shuffle(&mut order);
    order
}

fn close(what: &str, a: &[f32], b: &[f32]) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.len(), b.len());
    for (p, q) in a.iter().zip(b) {
        prop_assert!(
            (p - q).abs() <= 1e-5 * (1.0 + q.abs()),
            "{}: {:?} vs {:?}",
            what,
            a,
            b
        );
    }
    Ok(())
}

proptest! {
    #[test]
    fn valid_coo_round_trips(coo in coo_with_rank(1..=3), seed in any::<u64>()) {
        let n = coo.values.len();
        let canonical: Vec<usize> = (0..n).collect();
        let x = coo.build(&canonical, SparseOptions::default()).unwrap();
        prop_assert_eq!(x.nnz(), n);
        prop_assert_eq!(x.to_dense().unwrap(), coo.dense());
        let (indices, values) = x.to_coo();
        prop_assert_eq!(indices, coo.indices_array(&canonical));
        prop_assert_eq!(values, coo.values_array(&canonical));
        // Shuffled entries: rebuilt identically on request, refused otherwise.
        let order = shuffled(n, seed);
        let reordered = coo.build(&order, SparseOptions::default().reorder(true)).unwrap();
        prop_assert_eq!(&reordered, &x);
        if order != canonical {
            let refused = coo.build(&order, SparseOptions::default());
            prop_assert!(matches!(refused, Err(Error::Sparse(SparseError::OutOfOrder { .. }))), "{:?}", refused);
        }
        // From the dense array: the same entries, less any stored zeros.
        let dense = coo.dense();
        let back = SparseTensor::from_dense(dense.view()).unwrap();
        prop_assert_eq!(back.to_dense().unwrap(), dense.clone());
        // The in-model (rows, features) form is the dense array's.
        let mut rows = Array2::zeros((0, 0));
        x.to_dense_rows(&mut rows);
        prop_assert_eq!(rows, stratic_core::as_rows(dense.view()).into_owned());
        // Batching: gathered rows are the dense rows.
        let rows = shuffled(x.n_rows(), seed ^ 1);
        let mut batch = SparseTensor::default();
        x.gather_rows(&rows, &mut batch);
        prop_assert_eq!(batch.to_dense().unwrap(), dense.select(Axis(0), &rows));
        let half = x.n_rows() / 2;
        let slice = x.slice_rows(half..x.n_rows()).unwrap();
        prop_assert_eq!(slice.to_dense().unwrap(), dense.slice_axis(Axis(0), (half..x.n_rows()).into()).to_owned());
    }

    #[test]
    fn repeats_are_refused_or_summed(coo in coo_with_rank(2..=3), pick in any::<prop::sample::Index>()) {
        prop_assume!(!coo.values.is_empty());
        let e = pick.index(coo.values.len());
        // Entry e appears twice, adjacently: canonical order but for the repeat.
        let mut order: Vec<usize> = (0..coo.values.len()).collect();
        order.insert(e + 1, e);
        let refused = coo.build(&order, SparseOptions::default());
        prop_assert_eq!(
            refused,
            Err(Error::Sparse(SparseError::Duplicate { entry: e + 1, index: coo.indices[e].clone() }))
        );
        let summed = coo.build(&order, SparseOptions::default().sum_duplicates(true)).unwrap();
        let mut want = coo.dense();
        let index: Vec<usize> = coo.indices[e].iter().map(|&i| i as usize).collect();
        want[IxDyn(&index)] *= 2.0;
        prop_assert_eq!(summed.to_dense().unwrap(), want);
    }

    #[test]
    fn dense_on_sparse_matches_dense_path(
        coo in coo_with_rank(2..=2),
        // Below, at and past the 32 units the sparse products sum per pass in registers.
        units in prop::sample::select(vec![1usize, 2, 3, 32, 35, 64]),
        act in prop::sample::select(vec![Activation::Linear, Activation::Relu, Activation::Sigmoid, Activation::Softmax]),
        seed in any::<u64>(),
    ) {
        let n = coo.values.len();
        let x = coo.build(&(0..n).collect::<Vec<_>>(), SparseOptions::default()).unwrap();
        let xd: Array2<f32> = coo.dense().into_dimensionality().unwrap();
        let mut config = DenseConfig::new(units);
        config.activation = act;
        config.bias_initializer = Initializer::RandomNormal;
        let mut dense = Dense::build(config, x.n_cols(), &mut Rng::new(seed));
        let mut sparse = dense.clone();
        close("call", sparse.call_sparse(&x).as_slice().unwrap(), dense.call_rows(xd.view()).as_slice().unwrap())?;
        dense.forward_rows(xd.view());
        sparse.forward_train_sparse(&x);
        close("forward_train", sparse.output().as_slice().unwrap(), dense.output().as_slice().unwrap())?;
        let mut rng = Rng::new(seed ^ 7);
        let g = Array2::from_shape_fn((x.n_rows(), units), |_| rng.uniform(-1.0, 1.0));
        dense.backward_rows(xd.view(), g.view(), false);
        sparse.backward_sparse(&x, g.view());
        close("kernel gradient", sparse.grad_kernel().as_slice().unwrap(), dense.grad_kernel().as_slice().unwrap())?;
        close("bias gradient", sparse.grad_bias().as_slice().unwrap(), dense.grad_bias().as_slice().unwrap())?;
    }

    #[test]
    fn one_bad_index_is_named(coo in coo_with_rank(2..=3), pick in any::<prop::sample::Index>(), axis_pick in any::<prop::sample::Index>(), bad in prop::sample::select(vec![-1i64, i64::MIN, 0, i64::MAX])) {
        prop_assume!(!coo.values.is_empty());
        let e = pick.index(coo.values.len());
        let axis = axis_pick.index(coo.shape.len());
        let mut broken = coo.clone();
        // 0 stands for "exactly the bound", the first index out of range.
        let value = if bad == 0 { coo.shape[axis] } else { bad };
        broken.indices[e][axis] = value;
        let n = coo.values.len();
        let got = broken.build(&(0..n).collect::<Vec<_>>(), SparseOptions::default());
        prop_assert_eq!(
            got,
            Err(Error::Sparse(SparseError::IndexOutOfBounds { entry: e, axis, value, bound: coo.shape[axis] }))
        );
    }

    #[test]
    fn malformed_coo_is_an_error_not_a_panic(
        shape in prop::collection::vec(interesting_i64(), 0..4),
        width in 0usize..5,
        nnz in 0usize..6,
        extra_values in 0usize..2,
        cells in prop::collection::vec(interesting_i64(), 0..24),
        reorder in any::<bool>(),
        sum in any::<bool>(),
    ) {
        let flat: Vec<i64> = (0..nnz * width).map(|i| cells.get(i).copied().unwrap_or(0)).collect();
        let indices = Array2::from_shape_vec((nnz, width), flat).unwrap();
        let values = Array1::from_elem(nnz + extra_values, 1.0f32);
        let options = SparseOptions::default().reorder(reorder).sum_duplicates(sum);
        match SparseTensor::from_coo(indices.view(), values.view(), &shape, options) {
            Ok(x) => check_invariants(&x)?,
            Err(Error::Sparse(_)) => {}
            Err(other) => prop_assert!(false, "unexpected error kind {:?}", other),
        }
    }

    #[test]
    fn malformed_csr_is_an_error_not_a_panic(
        shape in prop::collection::vec(interesting_i64(), 0..4),
        indptr in prop::collection::vec(interesting_i64(), 0..6),
        cols in prop::collection::vec(interesting_i64(), 0..6),
        extra_values in 0usize..2,
        reorder in any::<bool>(),
        sum in any::<bool>(),
    ) {
        let values = vec![1.0f32; cols.len() + extra_values];
        let options = SparseOptions::default().reorder(reorder).sum_duplicates(sum);
        match SparseTensor::from_csr(&indptr, &cols, &values, &shape, options) {
            Ok(x) => check_invariants(&x)?,
            Err(Error::Sparse(_)) => {}
            Err(other) => prop_assert!(false, "unexpected error kind {:?}", other),
        }
    }
}

// Integers that hit the edges: small values near the bounds, and the extremes.
fn interesting_i64() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => -2i64..6,
        1 => prop::sample::select(vec![i64::MIN, i64::MAX, i64::MAX / 2, 1 << 32, 1 << 62, -(1 << 40)]),
    ]
}

// What every accepted tensor must satisfy.
fn check_invariants(x: &SparseTensor<f32>) -> Result<(), TestCaseError> {
    // Whatever the declared rows (a tensor may declare 2^40 rows for a few entries, and its
    // memory scales with the entries): the entries, in canonical order and in bounds.
    let (indices, values) = x.to_coo();
    prop_assert_eq!(values.len(), x.nnz());
    let keys: Vec<(usize, usize)> = (0..x.nnz())
        .map(|e| {
            let row = indices[[e, 0]] as usize;
            (row, x.col_indices()[e])
        })
        .collect();
    prop_assert!(keys.windows(2).all(|w| w[0] < w[1]));
    prop_assert!(keys.iter().all(|&(r, c)| r < x.n_rows() && c < x.n_cols()));
    // The full row-pointer table and every row, where the rows are few enough to walk.
    if x.n_rows() <= 1 << 16 {
        let ptr = x.indptr();
        prop_assert_eq!(ptr.len(), x.n_rows() + 1);
        prop_assert_eq!(ptr[0], 0);
        prop_assert_eq!(*ptr.last().unwrap(), x.nnz());
        for r in 0..x.n_rows() {
            let (cols, _) = x.row(r);
            prop_assert!(cols.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(cols.iter().all(|&c| c < x.n_cols()));
        }
    }
    // Small enough to densify: the round trip through COO gives the tensor back.
    if x.n_rows().saturating_mul(x.n_cols()) <= 4096 {
        let (indices, values) = x.to_coo();
        let shape: Vec<i64> = x.dense_shape().iter().map(|&d| d as i64).collect();
        let again = SparseTensor::from_coo(
            indices.view(),
            values.view(),
            &shape,
            SparseOptions::default(),
        );
        prop_assert_eq!(again.as_ref(), Ok(x));
        prop_assert_eq!(x.to_dense().unwrap().len(), x.n_rows() * x.n_cols());
    }
    Ok(())
}
