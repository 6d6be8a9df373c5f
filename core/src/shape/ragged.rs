//! The ragged rank of a ragged tensor spec, by Keras' rule.
//!
//! # The ragged rank
//!
//! A ragged tensor of shape `(batch, d1, ..., dn)` stores its values flat, with one row
//! partition (`row_splits`) per ragged axis. Its *ragged rank* is the number of partitions.
//! Keras' rule for `Input(shape = ..., ragged = True)` (the placeholder it builds): the ragged
//! rank is **the index of the last `None` in the batch shape** (batch axis = 0). So
//! `shape = [None]` gives `(None, None)`, ragged rank 1; `shape = [None, 4]` gives
//! `(None, None, 4)`, ragged rank 1 (every token carries 4 values); `shape = [None, None]` gives
//! ragged rank 2. Axes after the ragged rank are the uniform inner axes of the flat values.
//!
//! A `TensorSpec` with [`Layout::Ragged`] therefore carries its ragged rank implicitly, through
//! [`ragged_rank`]. `type_spec = RaggedTensorSpec(shape = [...], dtype = ..., ragged_rank = r)`
//! is checked by [`ragged_type_spec_rank`]: without `ragged_rank` it describes exactly the input
//! `ragged = true` with the same shape would (the rule above). TensorFlow's own default,
//! `rank - 1`, coincides whenever the last axis is `None`; when the last axis is known,
//! TensorFlow would make it a partition of uniform length, which holds the same data as the
//! dense inner axis the Keras rule gives, so the two are equivalent inputs. An explicit
//! `ragged_rank` may exceed the Keras rule only over known axes (uniform partitions, stored as
//! inner axes), and must cover every `None`: an unknown inner axis would leave the flat values
//! without a fixed shape.

use super::{Dim, TensorSpec};

/// The ragged rank of `spec` by Keras' rule: the index of its last `None` dimension, counting
/// the batch axis as 0. Zero for a spec with no unknown dimension after the batch axis (which
/// is not a valid ragged spec).
pub fn ragged_rank(spec: &TensorSpec) -> usize {
    spec.dims
        .iter()
        .rposition(|d| *d == Dim::Unknown)
        .map_or(0, |i| i + 1)
}

/// Checks the `ragged_rank` of a `RaggedTensorSpec` against its shape (batch axis first, as
/// `type_spec` shapes are) and returns the ragged rank of the equivalent input, i.e. what
/// [`ragged_rank`] gives for the spec it describes (see the module docs).
///
/// **Errors**: `ragged_rank` outside `1..rank` (TensorFlow: "must be less than rank"; 0 would be
/// a dense tensor, use `TensorSpec`), a shape without a `None` axis after the batch axis, or
/// a `None` axis after `ragged_rank`.
pub fn ragged_type_spec_rank(
    shape: &[Option<i64>],
    ragged_rank: Option<i64>,
) -> Result<usize, String> {
    let rank = shape.len();
    let last_none = shape
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(_, d)| d.is_none())
        .map(|(i, _)| i)
        .next_back();
    let Some(keras_rank) = last_none else {
        return Err(format!(
            "a `RaggedTensorSpec` needs a `None` dimension after the batch axis to be ragged; received shape {}",
            shape_list(shape)
        ));
    };
    let Some(r) = ragged_rank else {
        return Ok(keras_rank);
    };
    if r < 1 || r as usize >= rank.max(1) {
        return Err(format!(
            "`ragged_rank` must be at least 1 and less than the rank of the shape ({rank}); received ragged_rank={r} for shape {}{}",
            shape_list(shape),
            if r == 0 {
                ": a ragged rank of 0 is a dense tensor, use `TensorSpec(...)`"
            } else {
                ""
            }
        ));
    }
    if (r as usize) < keras_rank {
        return Err(format!(
            "dimension {keras_rank} of the `RaggedTensorSpec` shape {} is `None` but lies after ragged_rank={r}: the axes after the ragged ones are the uniform axes of the flat values and must be known; raise `ragged_rank` to {keras_rank} or give the dimension's size",
            shape_list(shape)
        ));
    }
    Ok(keras_rank)
}

fn shape_list(shape: &[Option<i64>]) -> String {
    let dims: Vec<String> = shape
        .iter()
        .map(|d| d.map_or("None".to_string(), |n| n.to_string()))
        .collect();
    format!("[{}]", dims.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::{DType, Layout};

    fn ragged(dims: &[Option<usize>], dtype: DType) -> TensorSpec {
        TensorSpec {
            batch: Dim::Unknown,
            dims: dims
                .iter()
                .map(|d| d.map_or(Dim::Unknown, Dim::Known))
                .collect(),
            dtype,
            layout: Layout::Ragged,
        }
    }

    #[test]
    fn ragged_rank_is_the_last_none() {
        assert_eq!(ragged_rank(&ragged(&[None], DType::I32)), 1);
        assert_eq!(ragged_rank(&ragged(&[None, Some(4)], DType::F32)), 1);
        assert_eq!(ragged_rank(&ragged(&[None, None], DType::I32)), 2);
        assert_eq!(
            ragged_rank(&ragged(&[Some(3), None, Some(2)], DType::I32)),
            2
        );
        assert_eq!(ragged_rank(&ragged(&[Some(3)], DType::I32)), 0);
    }

    #[test]
    fn type_spec_ragged_rank() {
        // Defaults to the Keras rule, so it matches `ragged = true` with the same shape.
        assert_eq!(ragged_type_spec_rank(&[None, None], None), Ok(1));
        assert_eq!(ragged_type_spec_rank(&[None, None, Some(4)], None), Ok(1));
        // A known axis may be declared a (uniform) partition: same data.
        assert_eq!(
            ragged_type_spec_rank(&[None, None, Some(4)], Some(2)),
            Ok(1)
        );
        let e = ragged_type_spec_rank(&[None, None], Some(2)).unwrap_err();
        assert!(e.contains("less than the rank"), "{e}");
        let e = ragged_type_spec_rank(&[None, None], Some(0)).unwrap_err();
        assert!(e.contains("TensorSpec"), "{e}");
        let e = ragged_type_spec_rank(&[None, None, None], Some(1)).unwrap_err();
        assert!(e.contains("raise `ragged_rank` to 2"), "{e}");
        let e = ragged_type_spec_rank(&[None, Some(3)], None).unwrap_err();
        assert!(e.contains("needs a `None`"), "{e}");
    }
}
