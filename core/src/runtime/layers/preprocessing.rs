//! Keras' preprocessing layers at run time: `Rescaling`.

use ndarray::{Array2, ArrayView2, Zip};

use super::{empty_rows, ensure_rows};
use crate::runtime::{BuildLayer, ForwardContext, Input, Layer, Rng};
use crate::shape::{Config, LayerSpec, TensorSpec};

/// A built `Rescaling` layer: `x * scale + offset`, and its training buffers.
#[derive(Clone, Debug)]
pub struct Rescaling {
    scale: f32,
    offset: f32,
    out: Array2<f32>,
    grad_input: Array2<f32>,
}

impl Rescaling {
    /// A layer computing `x * scale + offset` (finite, checked by the spec).
    pub fn new(scale: f32, offset: f32) -> Self {
        Rescaling {
            scale,
            offset,
            out: Array2::zeros((0, 0)),
            grad_input: Array2::zeros((0, 0)),
        }
    }

    /// The scale and the offset.
    pub fn factors(&self) -> (f32, f32) {
        (self.scale, self.offset)
    }
}

impl BuildLayer for Rescaling {
    fn from_config(_: &'static LayerSpec, config: &Config, _: &[TensorSpec], _: &mut Rng) -> Self {
        Rescaling::new(config.float("scale") as f32, config.float("offset") as f32)
    }
}

impl Layer for Rescaling {
    fn call(&self, x: Input<'_>) -> Array2<f32> {
        let (scale, offset) = (self.scale, self.offset);
        x.rows()
            .unwrap_or_else(empty_rows)
            .mapv(|v| v * scale + offset)
    }

    fn forward(&mut self, x: Input<'_>, _cx: &mut ForwardContext) {
        let x = x.rows().unwrap_or_else(empty_rows);
        let (rows, cols) = x.dim();
        ensure_rows(&mut self.out, rows, cols);
        let (scale, offset) = (self.scale, self.offset);
        Zip::from(&mut self.out)
            .and(&x)
            .for_each(|o, &v| *o = v * scale + offset);
    }

    fn output(&self) -> ArrayView2<'_, f32> {
        self.out.view()
    }

    fn backward(&mut self, _x: Input<'_>, grad_output: ArrayView2<'_, f32>, need: bool) {
        if need {
            let (rows, cols) = grad_output.dim();
            ensure_rows(&mut self.grad_input, rows, cols);
            let scale = self.scale;
            Zip::from(&mut self.grad_input)
                .and(&grad_output)
                .for_each(|g, &d| *g = d * scale);
        }
    }

    fn grad_input(&self) -> ArrayView2<'_, f32> {
        self.grad_input.view()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn scales_and_shifts_and_its_gradient_is_the_scale() {
        let x = array![[0.0f32, 255.0], [51.0, -10.0]];
        let mut r = Rescaling::new(1.0 / 255.0, -0.5);
        let expected = array![[-0.5f32, 0.5], [-0.3, -0.5 - 10.0 / 255.0]];
        let y = r.call(x.view().into());
        for (a, b) in y.iter().zip(&expected) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        r.forward(x.view().into(), &mut ForwardContext::training(0));
        assert_eq!(r.output(), y);
        let g = array![[1.0f32, -2.0], [0.5, 4.0]];
        r.backward(x.view().into(), g.view(), true);
        assert_eq!(r.grad_input(), g.mapv(|d| d / 255.0));
    }
}
