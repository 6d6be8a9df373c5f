//! Property tests of ragged tensors: pooling over ragged rows equals pooling the padded tensor
//! under a mask, and malformed parts give errors, never a panic.

use ndarray::{Array2, Axis};
use proptest::prelude::*;
use stratic_core::shape::PoolingMode;
use stratic_core::{Error, GlobalPooling, RaggedTensor, ToDense};

/// Rows of `features`-wide vectors, some possibly empty.
fn rows() -> impl Strategy<Value = (usize, Vec<Vec<f32>>)> {
    (1usize..5).prop_flat_map(|features| {
        let vector = prop::collection::vec(-100.0f32..100.0, features);
        let row = prop::collection::vec(vector, 0..6).prop_map(|vs| vs.concat());
        (Just(features), prop::collection::vec(row, 1..8))
    })
}

fn build(features: usize, rows: &[Vec<f32>]) -> RaggedTensor<f32> {
    let lengths: Vec<usize> = rows.iter().map(|r| r.len() / features).collect();
    let mut splits = vec![0usize];
    for l in &lengths {
        splits.push(splits.last().copied().unwrap_or(0) + l);
    }
    let values: Vec<f32> = rows.iter().flatten().copied().collect();
    RaggedTensor::from_parts(values, &[features], &[splits]).expect("well-formed")
}

/// Keras' masked pooling on the padded `(batch, steps, features)` tensor; an all-masked row
/// pools to 0 (the ragged layer's documented choice).
fn masked_pool(mode: PoolingMode, x: &RaggedTensor<f32>) -> Array2<f32> {
    let dense = x.to_dense(f32::NAN).expect("small");
    let lengths: Vec<usize> = x.row_lengths().collect();
    let (n, steps, f) = (dense.shape()[0], dense.shape()[1], dense.shape()[2]);
    let mut out = Array2::zeros((n, f));
    for i in 0..n {
        let mask: Vec<f32> = (0..steps)
            .map(|t| if t < lengths[i] { 1.0 } else { 0.0 })
            .collect();
        let count: f32 = mask.iter().sum();
        for j in 0..f {
            let col = dense.index_axis(Axis(0), i);
            let vals = (0..steps).map(|t| (mask[t], col[[t, j]]));
            out[[i, j]] = match mode {
                PoolingMode::Sum => vals.filter(|(m, _)| *m > 0.0).map(|(m, v)| m * v).sum(),
                PoolingMode::Average if count > 0.0 => {
                    vals.filter(|(m, _)| *m > 0.0)
                        .map(|(m, v)| m * v)
                        .sum::<f32>()
                        / count
                }
                PoolingMode::Max if count > 0.0 => vals
                    .filter(|(m, _)| *m > 0.0)
                    .map(|(_, v)| v)
                    .fold(f32::NEG_INFINITY, f32::max),
                _ => 0.0,
            };
        }
    }
    out
}

proptest! {
    #[test]
    fn pooling_ragged_rows_equals_masked_pooling_of_the_padded_tensor((features, rows) in rows()) {
        let x = build(features, &rows);
        for (mode, _) in PoolingMode::ALL {
            let got = GlobalPooling::new(mode).call_ragged(x.view());
            let want = masked_pool(mode, &x);
            prop_assert_eq!(got.dim(), want.dim());
            for (g, w) in got.iter().zip(want.iter()) {
                prop_assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{:?}: {} vs {}", mode, g, w);
            }
        }
    }

    #[test]
    fn to_dense_layer_matches_the_tensor_conversion((features, rows) in rows(), pad in -5.0f32..5.0) {
        let x = build(features, &rows);
        let (got, shape) = ToDense::new(pad).call_ragged(x.view());
        let want = x.to_dense(pad).expect("small");
        prop_assert_eq!(shape.as_slice(), want.shape());
        prop_assert_eq!(got.iter().copied().collect::<Vec<_>>(), want.iter().copied().collect::<Vec<_>>());
    }

    #[test]
    fn gather_of_every_row_rebuilds_the_tensor(
        splits in prop::collection::vec(prop::collection::vec(0usize..6, 1..6), 1..4),
        order_seed in any::<u64>(),
    ) {
        // Build a well-formed nested tensor from lengths, then gather a permutation and back.
        let mut nested = Vec::new();
        let mut rows = splits[0].len();
        for (k, lens) in splits.iter().enumerate() {
            let lens: Vec<usize> = (0..rows).map(|i| lens[i % lens.len()]).collect();
            let mut s = vec![0usize];
            for l in &lens {
                s.push(s.last().copied().unwrap_or(0) + l);
            }
            rows = *s.last().unwrap_or(&0);
            nested.push(s);
            if k == splits.len() - 1 {
                break;
            }
        }
        let values: Vec<u32> = (0..rows as u32).collect();
        match RaggedTensor::from_nested_row_splits(values, &nested) {
            Ok(x) => {
                let n = x.n_rows();
                let mut order: Vec<usize> = (0..n).collect();
                let mut rng = stratic_core::Rng::new(order_seed);
                rng.shuffle(&mut order);
                let mut shuffled = RaggedTensor::default();
                x.gather_rows(&order, &mut shuffled);
                let mut inverse = vec![0; n];
                for (i, &o) in order.iter().enumerate() {
                    inverse[o] = i;
                }
                let mut back = RaggedTensor::default();
                shuffled.gather_rows(&inverse, &mut back);
                prop_assert_eq!(back, x);
            }
            // Inner partitions without rows are refused (a split vector of one entry).
            Err(Error::Ragged(_)) => {}
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }

    #[test]
    fn arbitrary_row_splits_give_a_tensor_or_an_error(
        n_values in 0usize..12,
        nested in prop::collection::vec(prop::collection::vec(-3i64..14, 0..8), 0..4),
        inner in prop::collection::vec(0usize..3, 0..3),
    ) {
        let size: usize = inner.iter().product();
        let values = vec![1u8; n_values * size];
        match RaggedTensor::from_parts(values, &inner, &nested) {
            Ok(x) => {
                // A valid tensor supports everything without panicking.
                let d = x.to_dense(0).expect("small");
                prop_assert_eq!(d.shape()[0], x.n_rows());
                let all: Vec<usize> = (0..x.n_rows()).collect();
                let mut copy = RaggedTensor::default();
                x.gather_rows(&all, &mut copy);
                prop_assert_eq!(&copy, &x);
                let total: usize = x.view().row_ranges().map(|(a, b)| b - a).sum();
                prop_assert_eq!(total, x.view().values().nrows());
            }
            Err(Error::Ragged(_)) => {}
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }

    #[test]
    fn arbitrary_lengths_and_row_ids_give_a_tensor_or_an_error(
        lengths in prop::collection::vec(prop_oneof![Just(i64::MAX), Just(-1i64), 0i64..5], 0..6),
        ids in prop::collection::vec(-2i64..8, 0..8),
        nrows in prop_oneof![Just(i64::MAX), Just(-5i64), 0i64..10],
        n_values in 0usize..12,
    ) {
        let values = vec![0.5f32; n_values];
        for r in [
            RaggedTensor::from_row_lengths(values.clone(), &lengths),
            RaggedTensor::from_value_rowids(values.clone(), &ids, nrows),
            RaggedTensor::from_row_splits(values, &lengths),
        ] {
            match r {
                Ok(x) => {
                    prop_assert_eq!(x.n_values(), n_values);
                    prop_assert!(x.to_dense(0.0).is_ok());
                }
                Err(Error::Ragged(_)) => {}
                Err(e) => prop_assert!(false, "unexpected error {e}"),
            }
        }
    }
}
