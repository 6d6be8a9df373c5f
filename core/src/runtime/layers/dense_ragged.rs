//! `Dense` on a ragged tensor whose last axis is uniform: the layer maps each value's last
//! axis, so it runs on the flat values as rows and keeps the row partitions
//! (`(batch, None, d) -> (batch, None, units)`, never padded).
//!
//! These are thin wrappers over the [`Layer`] methods on `x.values()`; the output's
//! partitions are the input's: `x.with_values(Layer::output(&dense))`.

use ndarray::{Array2, ArrayView2};

use super::Dense;
use crate::runtime::{Layer, RaggedView};

impl Dense {
    /// Inference on a ragged input: the output's flat rows `(rows of x.values(), units)`.
    pub fn call_ragged(&self, x: RaggedView<'_, f32>) -> Array2<f32> {
        Layer::call(self, x.values())
    }

    /// Training forward on a ragged input; the output is [`Layer::output`], as flat rows with
    /// the partitions of `x`.
    pub fn forward_train_ragged(&mut self, x: RaggedView<'_, f32>) {
        Layer::forward_train(self, x.values());
    }

    /// Backward on a ragged input; `grad_output` holds the flat rows of the output's
    /// gradient. The input gradient ([`Layer::grad_input`]) is again flat rows of `x`.
    pub fn backward_ragged(
        &mut self,
        x: RaggedView<'_, f32>,
        grad_output: ArrayView2<'_, f32>,
        need_grad_input: bool,
    ) {
        Layer::backward(self, x.values(), grad_output, need_grad_input);
    }
}

#[cfg(test)]
mod tests {
    use crate::shape::DenseConfig;
    use crate::{Dense, Layer, RaggedTensor, Rng};

    #[test]
    fn applies_to_each_value_and_keeps_partitions() {
        let x = RaggedTensor::from_parts(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2], &[[0, 1, 3]])
            .unwrap();
        let mut d = Dense::build(DenseConfig::new(3), 2, &mut Rng::new(0));
        let out = d.call_ragged(x.view());
        assert_eq!(out, Layer::call(&d, x.view().values()));
        d.forward_train_ragged(x.view());
        let y = x.view().with_values(Layer::output(&d));
        assert_eq!(y.nested_row_splits(), x.nested_row_splits());
        assert_eq!(y.values().dim(), (3, 3));
        d.backward_ragged(x.view(), ndarray::Array2::ones((3, 3)).view(), true);
        assert_eq!(Layer::grad_input(&d).dim(), (3, 2));
    }
}
