//! Keras' `Reshape` at run time. Rows are row-major with every axis but the last folded in,
//! so reshaping keeps the values in place and regroups them into rows of the target's last
//! axis (and back, for the gradient).

use crate::onnx::LayerExport;
use crate::runtime::Error;
use ndarray::{Array2, ArrayView2};

use super::{empty_rows, ensure_rows};
use crate::runtime::{BuildLayer, ForwardContext, Input, Layer, Rng};
use crate::shape::layers::reshape_target;
use crate::shape::{Config, LayerSpec, RuleInput, TensorSpec};

/// A built `Reshape` layer: the widths of its input and output rows and its buffers.
#[derive(Clone, Debug)]
pub struct Reshape {
    /// The input's last axis.
    input_last: usize,
    /// The target's last axis.
    output_last: usize,
    out: Array2<f32>,
    grad_input: Array2<f32>,
}

// Copies the values of `x` into `out` as rows of `cols`.
fn regroup(x: ArrayView2<'_, f32>, cols: usize, out: &mut Array2<f32>) {
    ensure_rows(out, x.len() / cols.max(1), cols);
    let x = x.as_standard_layout();
    if let (Some(src), Some(dst)) = (x.as_slice(), out.as_slice_mut()) {
        dst.copy_from_slice(&src[..dst.len()]);
    }
}

impl BuildLayer for Reshape {
    fn from_config(
        spec: &'static LayerSpec,
        config: &Config,
        inputs: &[TensorSpec],
        _: &mut Rng,
    ) -> Self {
        let rule = RuleInput {
            name: spec.name,
            config,
            inputs,
        };
        // Only configurations the rule accepted are built; others give empty rows.
        let target = reshape_target(&rule).unwrap_or_default();
        Reshape {
            input_last: inputs.first().and_then(|s| s.last().known()).unwrap_or(1),
            output_last: target.last().copied().unwrap_or(1),
            out: Array2::zeros((0, 0)),
            grad_input: Array2::zeros((0, 0)),
        }
    }
}

impl Layer for Reshape {
    /// `Reshape` to `[batch, target...]` (0 copies the batch size).
    fn export_onnx(&self, cx: &mut LayerExport<'_>) -> Result<(), Error> {
        let info = cx.info();
        let inputs: Vec<TensorSpec> = cx.input_spec(0).cloned().into_iter().collect();
        let rule = RuleInput {
            name: info.name,
            config: &info.config,
            inputs: &inputs,
        };
        let target = reshape_target(&rule).map_err(|e| cx.unsupported(e.message))?;
        let mut shape = vec![0i64];
        for t in target {
            shape.push(i64::try_from(t).map_err(|_| cx.unsupported("target too large"))?);
        }
        let (x, out) = (cx.input(0).to_string(), cx.output().to_string());
        let shape = cx.ints("shape", &shape);
        cx.node("Reshape", &[&x, &shape], &[&out], vec![]);
        Ok(())
    }

    fn call(&self, x: Input<'_>) -> Array2<f32> {
        let mut out = Array2::zeros((0, 0));
        regroup(
            x.rows().unwrap_or_else(empty_rows),
            self.output_last,
            &mut out,
        );
        out
    }

    fn forward(&mut self, x: Input<'_>, _cx: &mut ForwardContext) {
        regroup(
            x.rows().unwrap_or_else(empty_rows),
            self.output_last,
            &mut self.out,
        );
    }

    fn output(&self) -> ArrayView2<'_, f32> {
        self.out.view()
    }

    fn backward(&mut self, _x: Input<'_>, grad_output: ArrayView2<'_, f32>, need: bool) {
        if need {
            regroup(grad_output, self.input_last, &mut self.grad_input);
        }
    }

    fn grad_input(&self) -> ArrayView2<'_, f32> {
        self.grad_input.view()
    }
}
