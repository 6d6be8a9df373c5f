//! Keras' `Dropout` at run time: a fresh mask every training step, drawn from the model's
//! random stream (or the layer's own, when it has a `seed`); the identity in inference.

use crate::onnx::LayerExport;
use crate::runtime::Error;
use ndarray::{Array2, ArrayView2, Zip};

use super::{empty_rows, ensure_rows};
use crate::runtime::{BuildLayer, ForwardContext, Input, Layer, Rng};
use crate::shape::{Config, LayerSpec, ParamValue, TensorSpec};

/// A built `Dropout` layer: its rate, its own stream when seeded, and its training buffers.
#[derive(Clone, Debug)]
pub struct Dropout {
    rate: f32,
    /// The layer's own stream (Keras' `seed`); without one it draws from the model's.
    rng: Option<Rng>,
    /// The last step's mask, already scaled: 0 or `1 / (1 - rate)`.
    mask: Array2<f32>,
    out: Array2<f32>,
    grad_input: Array2<f32>,
}

impl Dropout {
    /// A layer dropping values with probability `rate` (in `[0, 1)`, checked by the spec).
    pub fn new(rate: f32, seed: Option<u64>) -> Self {
        Dropout {
            rate,
            rng: seed.map(Rng::new),
            mask: Array2::zeros((0, 0)),
            out: Array2::zeros((0, 0)),
            grad_input: Array2::zeros((0, 0)),
        }
    }

    /// The rate.
    pub fn rate(&self) -> f32 {
        self.rate
    }
}

impl BuildLayer for Dropout {
    fn from_config(_: &'static LayerSpec, config: &Config, _: &[TensorSpec], _: &mut Rng) -> Self {
        let seed = match config.get("seed") {
            Some(ParamValue::Int(s)) => Some(*s as u64),
            _ => None,
        };
        Dropout::new(config.float("rate") as f32, seed)
    }
}

impl Layer for Dropout {
    /// Inference is the identity (Keras' `training=False`).
    fn export_onnx(&self, cx: &mut LayerExport<'_>) -> Result<(), Error> {
        let (x, out) = (cx.input(0).to_string(), cx.output().to_string());
        cx.node("Identity", &[&x], &[&out], vec![]);
        Ok(())
    }

    fn call(&self, x: Input<'_>) -> Array2<f32> {
        x.rows().unwrap_or_else(empty_rows).to_owned()
    }

    fn forward(&mut self, x: Input<'_>, cx: &mut ForwardContext) {
        let x = x.rows().unwrap_or_else(empty_rows);
        let (rows, cols) = x.dim();
        ensure_rows(&mut self.out, rows, cols);
        ensure_rows(&mut self.mask, rows, cols);
        if !cx.training || self.rate == 0.0 {
            self.mask.fill(1.0);
        } else {
            let rng = self.rng.as_mut().unwrap_or(&mut cx.rng);
            let (rate, scale) = (self.rate, 1.0 / (1.0 - self.rate));
            // The stream's state in a local, so that it stays in registers through the loop;
            // the draws are the same.
            let mut local = rng.clone();
            for m in self.mask.iter_mut() {
                // Branch-free: which values are kept is random, so a branch mispredicts.
                *m = scale * f32::from(u8::from(local.next_f32() >= rate));
            }
            *rng = local;
        }
        Zip::from(&mut self.out)
            .and(&x)
            .and(&self.mask)
            .for_each(|o, &x, &m| *o = x * m);
    }

    fn output(&self) -> ArrayView2<'_, f32> {
        self.out.view()
    }

    fn backward(&mut self, _x: Input<'_>, grad_output: ArrayView2<'_, f32>, need: bool) {
        if need {
            let (rows, cols) = grad_output.dim();
            ensure_rows(&mut self.grad_input, rows, cols);
            Zip::from(&mut self.grad_input)
                .and(&grad_output)
                .and(&self.mask)
                .for_each(|g, &d, &m| *g = d * m);
        }
    }

    fn grad_input(&self) -> ArrayView2<'_, f32> {
        self.grad_input.view()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ones() -> Array2<f32> {
        Array2::from_elem((200, 50), 1.0)
    }

    #[test]
    fn kept_fraction_matches_the_rate_and_kept_values_are_scaled() {
        let x = ones();
        let mut d = Dropout::new(0.3, None);
        let mut cx = ForwardContext::training(7);
        d.forward(x.view().into(), &mut cx);
        let out = d.output();
        let kept = out.iter().filter(|&&v| v != 0.0).count() as f64 / out.len() as f64;
        // 10 000 draws: the standard error of the kept fraction is about 0.005.
        assert!((kept - 0.7).abs() < 0.02, "kept {kept}");
        for &v in out.iter().filter(|&&v| v != 0.0) {
            assert!((v - 1.0 / 0.7).abs() < 1e-6, "{v}");
        }
        d.backward(x.view().into(), x.view(), true);
        assert_eq!(d.grad_input(), d.output());
    }

    #[test]
    fn masks_differ_between_steps_and_repeat_with_the_seed() {
        let x = ones();
        let run = |seed: u64| {
            let mut d = Dropout::new(0.5, None);
            let mut cx = ForwardContext::training(seed);
            d.forward(x.view().into(), &mut cx);
            let first = d.output().to_owned();
            d.forward(x.view().into(), &mut cx);
            (first, d.output().to_owned())
        };
        let (a1, a2) = run(1);
        assert_ne!(a1, a2);
        assert_eq!(run(1), (a1.clone(), a2));
        assert_ne!(run(2).0, a1);
        // The layer's own seed wins over the model's stream.
        let mut d = Dropout::new(0.5, Some(3));
        d.forward(x.view().into(), &mut ForwardContext::training(1));
        let own = d.output().to_owned();
        let mut d = Dropout::new(0.5, Some(3));
        d.forward(x.view().into(), &mut ForwardContext::training(2));
        assert_eq!(d.output(), own);
    }

    #[test]
    fn inference_is_the_identity() {
        let x = Array2::from_shape_fn((3, 4), |(r, c)| (r * 4 + c) as f32);
        let mut d = Dropout::new(0.9, Some(1));
        assert_eq!(d.call(x.view().into()), x);
        let mut cx = ForwardContext {
            training: false,
            ..ForwardContext::training(0)
        };
        d.forward(x.view().into(), &mut cx);
        assert_eq!(d.output(), x);
    }
}
