//! Keras' noise layers at run time: `GaussianNoise`, `GaussianDropout`, `SpatialDropout1D`
//! and `SpatialDropout2D`. Like [`Dropout`](super::Dropout), each draws fresh noise every
//! training step from the model's random stream (or the layer's own, when it has a `seed`)
//! and is the identity in inference.

use ndarray::{Array2, ArrayView2, Axis, Zip};

use super::{empty_rows, ensure_rows};
use crate::runtime::{BuildLayer, ForwardContext, Input, Layer, Rng};
use crate::shape::{Config, LayerSpec, ParamValue, TensorSpec};

/// What a [`Noise`] layer does to its input in training.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NoiseKind {
    /// `GaussianNoise`: adds normal noise of mean 0 and this standard deviation.
    Additive {
        /// The noise's standard deviation.
        stddev: f32,
    },
    /// `GaussianDropout`: multiplies by normal noise of mean 1 and this standard deviation
    /// (`sqrt(rate / (1 - rate))`).
    Multiplicative {
        /// The noise's standard deviation.
        stddev: f32,
    },
    /// `SpatialDropout1D/2D`: drops whole channels. One draw per (sample, channel), shared by
    /// the `spatial` rows of a sample (its steps, or its rows times columns).
    Channels {
        /// The probability of dropping a channel.
        rate: f32,
        /// The rows one sample spans: the product of the axes between batch and channels.
        spatial: usize,
    },
}

impl NoiseKind {
    /// Whether training changes anything: a zero standard deviation or rate is the identity.
    fn is_active(self) -> bool {
        match self {
            NoiseKind::Additive { stddev } | NoiseKind::Multiplicative { stddev } => stddev > 0.0,
            NoiseKind::Channels { rate, .. } => rate > 0.0,
        }
    }
}

/// A built noise layer: what it does, its own stream when seeded, and its training buffers.
#[derive(Clone, Debug)]
pub struct Noise {
    kind: NoiseKind,
    /// The layer's own stream (Keras' `seed`); without one it draws from the model's.
    rng: Option<Rng>,
    /// Whether the last `forward` drew noise; if not, it was the identity.
    active: bool,
    /// The last step's factors: one per value for multiplicative noise, one per (sample,
    /// channel) for channel dropout (0 or `1 / (1 - rate)`); unused for additive noise.
    mask: Array2<f32>,
    out: Array2<f32>,
    grad_input: Array2<f32>,
}

impl Noise {
    /// A layer of `kind` (its amount checked by the spec), seeded with `seed` if given.
    pub fn new(kind: NoiseKind, seed: Option<u64>) -> Self {
        Noise {
            kind,
            rng: seed.map(Rng::new),
            active: false,
            mask: Array2::zeros((0, 0)),
            out: Array2::zeros((0, 0)),
            grad_input: Array2::zeros((0, 0)),
        }
    }

    /// What the layer does in training.
    pub fn kind(&self) -> NoiseKind {
        self.kind
    }
}

impl BuildLayer for Noise {
    fn from_config(
        spec: &'static LayerSpec,
        config: &Config,
        inputs: &[TensorSpec],
        _: &mut Rng,
    ) -> Self {
        let seed = match config.get("seed") {
            Some(ParamValue::Int(s)) => Some(*s as u64),
            _ => None,
        };
        let rate = config.float("rate");
        let kind = match spec.name {
            "gaussian_dropout" => NoiseKind::Multiplicative {
                stddev: (rate / (1.0 - rate)).sqrt() as f32,
            },
            "spatial_dropout_1d" | "spatial_dropout_2d" => {
                // The spec's `runs` requires the middle axes known; their product is checked.
                let spatial = inputs
                    .first()
                    .and_then(|s| s.dims.split_last())
                    .and_then(|(_, middle)| {
                        middle
                            .iter()
                            .try_fold(1usize, |acc, d| acc.checked_mul(d.known()?))
                    })
                    .unwrap_or(1)
                    .max(1);
                NoiseKind::Channels {
                    rate: rate as f32,
                    spatial,
                }
            }
            // `gaussian_noise`, the one other spec naming this runtime.
            _ => NoiseKind::Additive {
                stddev: config.float("stddev") as f32,
            },
        };
        Noise::new(kind, seed)
    }
}

impl Layer for Noise {
    fn call(&self, x: Input<'_>) -> Array2<f32> {
        x.rows().unwrap_or_else(empty_rows).to_owned()
    }

    fn forward(&mut self, x: Input<'_>, cx: &mut ForwardContext) {
        let x = x.rows().unwrap_or_else(empty_rows);
        let (rows, cols) = x.dim();
        ensure_rows(&mut self.out, rows, cols);
        self.active = cx.training && self.kind.is_active();
        if !self.active {
            self.out.assign(&x);
            return;
        }
        let rng = self.rng.as_mut().unwrap_or(&mut cx.rng);
        match self.kind {
            NoiseKind::Additive { stddev } => Zip::from(&mut self.out)
                .and(&x)
                .for_each(|o, &x| *o = x + rng.normal(0.0, stddev)),
            NoiseKind::Multiplicative { stddev } => {
                ensure_rows(&mut self.mask, rows, cols);
                for m in self.mask.iter_mut() {
                    *m = rng.normal(1.0, stddev);
                }
                Zip::from(&mut self.out)
                    .and(&x)
                    .and(&self.mask)
                    .for_each(|o, &x, &m| *o = x * m);
            }
            NoiseKind::Channels { rate, spatial } => {
                ensure_rows(&mut self.mask, rows.div_ceil(spatial), cols);
                let scale = 1.0 / (1.0 - rate);
                for m in self.mask.iter_mut() {
                    *m = if rng.next_f32() < rate { 0.0 } else { scale };
                }
                scale_channels(&mut self.out, x, &self.mask, spatial);
            }
        }
    }

    fn output(&self) -> ArrayView2<'_, f32> {
        self.out.view()
    }

    fn backward(&mut self, _x: Input<'_>, grad_output: ArrayView2<'_, f32>, need: bool) {
        if !need {
            return;
        }
        let (rows, cols) = grad_output.dim();
        ensure_rows(&mut self.grad_input, rows, cols);
        match self.kind {
            NoiseKind::Multiplicative { .. } if self.active => Zip::from(&mut self.grad_input)
                .and(&grad_output)
                .and(&self.mask)
                .for_each(|g, &d, &m| *g = d * m),
            NoiseKind::Channels { spatial, .. } if self.active => {
                scale_channels(&mut self.grad_input, grad_output, &self.mask, spatial)
            }
            // Additive noise, or no noise drawn: the gradient passes unchanged.
            _ => self.grad_input.assign(&grad_output),
        }
    }

    fn grad_input(&self) -> ArrayView2<'_, f32> {
        self.grad_input.view()
    }
}

/// `out = x` scaled channel-wise, row block `i` (sample `i`'s `spatial` rows) by `mask` row `i`.
fn scale_channels(
    out: &mut Array2<f32>,
    x: ArrayView2<'_, f32>,
    mask: &Array2<f32>,
    spatial: usize,
) {
    for ((mut out, x), m) in out
        .axis_chunks_iter_mut(Axis(0), spatial)
        .zip(x.axis_chunks_iter(Axis(0), spatial))
        .zip(mask.rows())
    {
        for (mut out, x) in out.rows_mut().into_iter().zip(x.rows()) {
            Zip::from(&mut out)
                .and(&x)
                .and(&m)
                .for_each(|o, &x, &m| *o = x * m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ones(rows: usize, cols: usize) -> Array2<f32> {
        Array2::from_elem((rows, cols), 1.0)
    }

    fn mean_and_std(values: impl Iterator<Item = f32>) -> (f64, f64) {
        let v: Vec<f64> = values.map(f64::from).collect();
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        (mean, var.sqrt())
    }

    fn inference() -> ForwardContext {
        ForwardContext {
            training: false,
            ..ForwardContext::training(0)
        }
    }

    #[test]
    fn gaussian_noise_adds_noise_of_the_stddev() {
        let x = Array2::from_shape_fn((200, 50), |(r, c)| (r + c) as f32 / 100.0);
        let mut n = Noise::new(NoiseKind::Additive { stddev: 0.3 }, None);
        n.forward(x.view().into(), &mut ForwardContext::training(7));
        // 10 000 draws: the standard errors are about 0.003 (mean) and 0.002 (stddev).
        let (mean, std) = mean_and_std(n.output().iter().zip(&x).map(|(o, x)| o - x));
        assert!(mean.abs() < 0.015, "mean {mean}");
        assert!((std - 0.3).abs() < 0.01, "std {std}");
        let g = Array2::from_shape_fn(x.dim(), |(r, c)| (r * c) as f32);
        n.backward(x.view().into(), g.view(), true);
        assert_eq!(n.grad_input(), g);
    }

    #[test]
    fn gaussian_dropout_multiplies_by_noise_around_1() {
        let x = ones(200, 50);
        let rate = 0.2f64;
        let kind = NoiseKind::Multiplicative {
            stddev: (rate / (1.0 - rate)).sqrt() as f32,
        };
        let mut n = Noise::new(kind, None);
        n.forward(x.view().into(), &mut ForwardContext::training(3));
        let (mean, std) = mean_and_std(n.output().iter().copied());
        assert!((mean - 1.0).abs() < 0.02, "mean {mean}");
        assert!((std - 0.5).abs() < 0.01, "std {std}");
        // The gradient is scaled by the same factors as the values.
        let g = Array2::from_elem(x.dim(), 2.0f32);
        n.backward(x.view().into(), g.view(), true);
        assert_eq!(n.grad_input(), n.output().mapv(|v| 2.0 * v));
    }

    #[test]
    fn spatial_dropout_drops_whole_channels() {
        // 400 samples of 3 steps by 25 channels, as rows (sample · step, channel).
        let (samples, steps, channels) = (400, 3, 25);
        let x = ones(samples * steps, channels);
        let mut n = Noise::new(
            NoiseKind::Channels {
                rate: 0.4,
                spatial: steps,
            },
            None,
        );
        n.forward(x.view().into(), &mut ForwardContext::training(5));
        let out = n.output();
        let mut kept = 0usize;
        for s in 0..samples {
            for c in 0..channels {
                let first = out[[s * steps, c]];
                assert!(first == 0.0 || (first - 1.0 / 0.6).abs() < 1e-6, "{first}");
                for t in 1..steps {
                    assert_eq!(out[[s * steps + t, c]], first, "sample {s} channel {c}");
                }
                kept += usize::from(first != 0.0);
            }
        }
        // 10 000 draws: the standard error of the kept fraction is about 0.005.
        let kept = kept as f64 / (samples * channels) as f64;
        assert!((kept - 0.6).abs() < 0.02, "kept {kept}");
        n.backward(x.view().into(), x.view(), true);
        assert_eq!(n.grad_input(), n.output());
    }

    fn kinds() -> [NoiseKind; 3] {
        [
            NoiseKind::Additive { stddev: 0.5 },
            NoiseKind::Multiplicative { stddev: 0.5 },
            NoiseKind::Channels {
                rate: 0.5,
                spatial: 2,
            },
        ]
    }

    #[test]
    fn noise_differs_between_steps_and_repeats_with_the_seed() {
        let x = ones(40, 10);
        for kind in kinds() {
            let run = |seed: u64, own: Option<u64>| {
                let mut n = Noise::new(kind, own);
                let mut cx = ForwardContext::training(seed);
                n.forward(x.view().into(), &mut cx);
                let first = n.output().to_owned();
                n.forward(x.view().into(), &mut cx);
                (first, n.output().to_owned())
            };
            let (a1, a2) = run(1, None);
            assert_ne!(a1, a2, "{kind:?}");
            assert_eq!(run(1, None), (a1.clone(), a2), "{kind:?}");
            assert_ne!(run(2, None).0, a1, "{kind:?}");
            // The layer's own seed wins over the model's stream.
            assert_eq!(run(1, Some(9)), run(2, Some(9)), "{kind:?}");
        }
    }

    #[test]
    fn inference_and_zero_amounts_are_the_identity() {
        let x = Array2::from_shape_fn((4, 6), |(r, c)| (r * 6 + c) as f32 - 5.0);
        let g = Array2::from_shape_fn((4, 6), |(r, c)| (r + c) as f32);
        let zero = [
            NoiseKind::Additive { stddev: 0.0 },
            NoiseKind::Multiplicative { stddev: 0.0 },
            NoiseKind::Channels {
                rate: 0.0,
                spatial: 2,
            },
        ];
        for kind in kinds() {
            let mut n = Noise::new(kind, Some(1));
            assert_eq!(n.call(x.view().into()), x, "{kind:?}");
            n.forward(x.view().into(), &mut inference());
            assert_eq!(n.output(), x, "{kind:?}");
            n.backward(x.view().into(), g.view(), true);
            assert_eq!(n.grad_input(), g, "{kind:?}");
        }
        for kind in zero {
            let mut n = Noise::new(kind, None);
            n.forward(x.view().into(), &mut ForwardContext::training(1));
            assert_eq!(n.output(), x, "{kind:?}");
        }
    }
}
