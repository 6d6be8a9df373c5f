//! Keras' zero padding, cropping and nearest up-sampling at run time, one type: every output
//! position copies one input position's channels or is zero (the spec's
//! [`SpatialMap`](crate::shape::layers::SpatialMap)); backward adds each output's gradient to
//! the position it copied, so repeated positions (up-sampling) sum their gradients.

use ndarray::{Array2, ArrayView2};

use super::{empty_rows, ensure_shape};
use crate::onnx::{Attr, LayerExport};
use crate::runtime::{BuildLayer, Error, ForwardContext, Input, Layer, Rng};
use crate::shape::layers::spatial_map;
use crate::shape::{Config, LayerSpec, RuleInput, TensorSpec};

/// A built spatial layer: for each output position of a sample, the input position it
/// copies (row-major over the spatial axes), and its training buffers.
#[derive(Clone, Debug)]
pub struct Spatial {
    /// Per output position, the input position, or `None` for a zero.
    sources: Vec<Option<usize>>,
    /// Input positions per sample.
    input_positions: usize,
    channels: usize,
    out: Array2<f32>,
    grad_input: Array2<f32>,
}

impl Spatial {
    /// A layer copying, for each output position, the input position in `sources` (`None`:
    /// zero) out of `input_positions` per sample, each a row of `channels`.
    pub fn new(sources: Vec<Option<usize>>, input_positions: usize, channels: usize) -> Self {
        Spatial {
            sources,
            input_positions,
            channels,
            out: Array2::zeros((0, channels)),
            grad_input: Array2::zeros((0, channels)),
        }
    }

    fn run(&self, x: ArrayView2<'_, f32>, out: &mut Array2<f32>) {
        let c = self.channels;
        let n = x.nrows() / self.input_positions.max(1);
        ensure_shape(out, n * self.sources.len(), c);
        let x = x.as_standard_layout();
        let (Some(src), Some(dst)) = (x.as_slice(), out.as_slice_mut()) else {
            return;
        };
        let (in_len, out_len) = (self.input_positions * c, self.sources.len() * c);
        for (sample, dst) in src
            .chunks_exact(in_len.max(1))
            .zip(dst.chunks_exact_mut(out_len.max(1)))
        {
            for (row, source) in dst.chunks_exact_mut(c.max(1)).zip(&self.sources) {
                match source.and_then(|p| sample.get(p * c..(p + 1) * c)) {
                    Some(from) => row.copy_from_slice(from),
                    None => row.fill(0.0),
                }
            }
        }
    }
}

impl BuildLayer for Spatial {
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
        // The macro builds only what the rule accepted; anything else is an empty layer.
        let map = spatial_map(&rule, spec.class_name).unwrap_or_default();
        let channels = inputs.first().and_then(|s| s.last().known()).unwrap_or(0);
        // Row-major over the axes: the flat input position of each output position.
        let mut sources: Vec<Option<usize>> = vec![Some(0)];
        for (axis, from) in map.axes.iter().enumerate() {
            let size = map.input.get(axis).copied().unwrap_or(0);
            sources = sources
                .iter()
                .flat_map(|outer| {
                    from.iter()
                        .map(move |inner| outer.zip(*inner).map(|(o, i)| o * size + i))
                })
                .collect();
        }
        Spatial::new(sources, map.input.iter().product(), channels)
    }
}

impl Layer for Spatial {
    /// One axis at a time, what the layer's map says: a `Gather` of the input index every
    /// output index copies, after a `Pad` of one zero at the axis' end for the output
    /// indices that are zeros. Padding, cropping and nearest up-sampling are all this, and
    /// the copy is exact.
    fn export_onnx(&self, cx: &mut LayerExport<'_>) -> Result<(), Error> {
        let info = cx.info();
        let inputs: Vec<TensorSpec> = cx.input_spec(0).cloned().into_iter().collect();
        let rule = RuleInput {
            name: info.name,
            config: &info.config,
            inputs: &inputs,
        };
        let map =
            spatial_map(&rule, info.spec.class_name).map_err(|e| cx.unsupported(e.message))?;
        let rank = inputs.first().map_or(0, TensorSpec::ndim);
        let mut x = cx.input(0).to_string();
        let last = map.axes.len();
        for (k, from) in map.axes.iter().enumerate() {
            let size = map.input.get(k).copied().unwrap_or(0);
            let identity =
                from.len() == size && from.iter().enumerate().all(|(i, f)| *f == Some(i));
            let out = if k + 1 == last {
                cx.output().to_string()
            } else {
                cx.tmp("axis")
            };
            if identity {
                cx.node("Identity", &[&x], &[&out], vec![]);
                x = out;
                continue;
            }
            let onnx_axis = k + 1;
            if from.iter().any(Option::is_none) {
                // One zero after the axis' last index, read by every zero of the output.
                let mut pads = vec![0i64; 2 * rank];
                if let Some(p) = pads.get_mut(rank + onnx_axis) {
                    *p = 1;
                }
                let (pads, padded) = (cx.ints("pads", &pads), cx.tmp("padded"));
                cx.node("Pad", &[&x, &pads], &[&padded], vec![]);
                x = padded;
            }
            let indices = from
                .iter()
                .map(|f| i64::try_from(f.unwrap_or(size)).ok())
                .collect::<Option<Vec<i64>>>()
                .ok_or_else(|| cx.unsupported("a size past int64"))?;
            let indices = cx.ints("indices", &indices);
            cx.node(
                "Gather",
                &[&x, &indices],
                &[&out],
                vec![Attr::int("axis", onnx_axis as i64)],
            );
            x = out;
        }
        if last == 0 {
            let out = cx.output().to_string();
            cx.node("Identity", &[&x], &[&out], vec![]);
        }
        Ok(())
    }

    fn call(&self, x: Input<'_>) -> Array2<f32> {
        let mut out = Array2::zeros((0, 0));
        self.run(x.rows().unwrap_or_else(empty_rows), &mut out);
        out
    }

    fn forward(&mut self, x: Input<'_>, _cx: &mut ForwardContext) {
        let mut out = std::mem::take(&mut self.out);
        self.run(x.rows().unwrap_or_else(empty_rows), &mut out);
        self.out = out;
    }

    fn output(&self) -> ArrayView2<'_, f32> {
        self.out.view()
    }

    fn backward(&mut self, x: Input<'_>, grad_output: ArrayView2<'_, f32>, need: bool) {
        if !need {
            return;
        }
        let c = self.channels;
        ensure_shape(&mut self.grad_input, x.n_rows(), c);
        self.grad_input.fill(0.0);
        let g = grad_output.as_standard_layout();
        let (Some(g), Some(dx)) = (g.as_slice(), self.grad_input.as_slice_mut()) else {
            return;
        };
        let (in_len, out_len) = (self.input_positions * c, self.sources.len() * c);
        for (sample, g) in dx
            .chunks_exact_mut(in_len.max(1))
            .zip(g.chunks_exact(out_len.max(1)))
        {
            for (row, source) in g.chunks_exact(c.max(1)).zip(&self.sources) {
                if let Some(to) = source.and_then(|p| sample.get_mut(p * c..(p + 1) * c)) {
                    to.iter_mut().zip(row).for_each(|(t, r)| *t += r);
                }
            }
        }
    }

    fn grad_input(&self) -> ArrayView2<'_, f32> {
        self.grad_input.view()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_zeros_and_sums_the_gradient_of_repeated_positions() {
        // One sample of 3 positions, 2 channels; the output reads 1, zero, 1, 2.
        let mut s = Spatial::new(vec![Some(1), None, Some(1), Some(2)], 3, 2);
        let x = Array2::from_shape_fn((3, 2), |(p, c)| (10 * p + c) as f32);
        let y = s.call(x.view().into());
        assert_eq!(
            y.into_raw_vec_and_offset().0,
            vec![10.0, 11.0, 0.0, 0.0, 10.0, 11.0, 20.0, 21.0]
        );
        s.forward(x.view().into(), &mut ForwardContext::default());
        let g = Array2::from_elem((4, 2), 1.0);
        s.backward(x.view().into(), g.view(), true);
        assert_eq!(
            s.grad_input().to_owned().into_raw_vec_and_offset().0,
            vec![0.0, 0.0, 2.0, 2.0, 1.0, 1.0]
        );
    }
}
