//! Keras' preprocessing layers at run time: `Rescaling` and `CategoryEncoding`.

use crate::onnx::LayerExport;
use crate::runtime::Error;
use ndarray::{Array2, ArrayView2, Zip};

use super::{empty_rows, ensure_rows};
use crate::runtime::{BuildLayer, ForwardContext, Input, Layer, RaggedView, Rng};
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
    /// `Mul` by the scale, then `Add` of the offset, in `float32` as the runtime computes.
    fn export_onnx(&self, cx: &mut LayerExport<'_>) -> Result<(), Error> {
        let (x, out) = (cx.input(0).to_string(), cx.output().to_string());
        let (scale, offset) = (
            cx.scalar("scale", self.scale),
            cx.scalar("offset", self.offset),
        );
        let scaled = cx.tmp("scaled");
        cx.node("Mul", &[&x, &scale], &[&scaled], vec![]);
        cx.node("Add", &[&scaled, &offset], &[&out], vec![]);
        Ok(())
    }

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

/// What a [`CategoryEncoding`] layer writes for its ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CategoryMode {
    /// One vector per id, 1 at the id.
    OneHot,
    /// One vector per sample, 1 at each id it holds.
    MultiHot,
    /// One vector per sample, the number of times it holds each id.
    Count,
}

/// A built `CategoryEncoding` layer: the vector size, the mode, and its training buffer.
#[derive(Clone, Debug)]
pub struct CategoryEncoding {
    num_tokens: usize,
    mode: CategoryMode,
    out: Array2<f32>,
}

impl CategoryEncoding {
    /// A layer encoding ids in `[0, num_tokens)` (a model checks them first).
    pub fn new(num_tokens: usize, mode: CategoryMode) -> Self {
        CategoryEncoding {
            num_tokens,
            mode,
            out: Array2::zeros((0, num_tokens)),
        }
    }

    /// The mode.
    pub fn mode(&self) -> CategoryMode {
        self.mode
    }

    /// Writes the encoding of `ids` into `out`, resized. Ids outside `[0, num_tokens)`
    /// (which the model refuses before any layer runs) are skipped rather than trusted.
    fn encode(&self, ids: RaggedView<'_, i32>, out: &mut Array2<f32>) {
        let values = ids.values();
        let tokens = self.num_tokens;
        let slot = |id: i32| usize::try_from(id).ok().filter(|&i| i < tokens);
        match self.mode {
            CategoryMode::OneHot => {
                ensure_rows(out, values.nrows(), tokens);
                out.fill(0.0);
                for (mut row, id) in out.rows_mut().into_iter().zip(values.iter()) {
                    if let Some(v) = slot(*id).and_then(|i| row.get_mut(i)) {
                        *v = 1.0;
                    }
                }
            }
            CategoryMode::MultiHot | CategoryMode::Count => {
                ensure_rows(out, ids.n_rows(), tokens);
                out.fill(0.0);
                let count = self.mode == CategoryMode::Count;
                for (mut row, (a, b)) in out.rows_mut().into_iter().zip(ids.row_ranges()) {
                    for id in values.slice(ndarray::s![a..b, ..]).iter() {
                        if let Some(v) = slot(*id).and_then(|i| row.get_mut(i)) {
                            *v = if count { *v + 1.0 } else { 1.0 };
                        }
                    }
                }
            }
        }
    }
}

impl BuildLayer for CategoryEncoding {
    fn from_config(_: &'static LayerSpec, config: &Config, _: &[TensorSpec], _: &mut Rng) -> Self {
        let mode = match config.str("output_mode") {
            "one_hot" => CategoryMode::OneHot,
            "count" => CategoryMode::Count,
            _ => CategoryMode::MultiHot,
        };
        CategoryEncoding::new(config.usize("num_tokens"), mode)
    }
}

impl Layer for CategoryEncoding {
    fn call(&self, x: Input<'_>) -> Array2<f32> {
        let mut out = Array2::zeros((0, self.num_tokens));
        if let Input::RaggedIds(ids) = x {
            self.encode(ids, &mut out);
        }
        out
    }

    fn forward(&mut self, x: Input<'_>, _cx: &mut ForwardContext) {
        let mut out = std::mem::take(&mut self.out);
        match x {
            Input::RaggedIds(ids) => self.encode(ids, &mut out),
            // The spec admits integer ids only.
            _ => ensure_rows(&mut out, 0, self.num_tokens),
        }
        self.out = out;
    }

    fn output(&self) -> ArrayView2<'_, f32> {
        self.out.view()
    }

    /// Ids have no gradient.
    fn backward(&mut self, _x: Input<'_>, _grad_output: ArrayView2<'_, f32>, _need: bool) {}

    /// Ids have no gradient: always empty.
    fn grad_input(&self) -> ArrayView2<'_, f32> {
        empty_rows()
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

    #[test]
    fn category_encoding_writes_one_hot_multi_hot_and_count() {
        use crate::runtime::RaggedTensor;
        let ids = RaggedTensor::from_rows(&[vec![1, 3, 1], vec![], vec![0]]).unwrap();
        let encode = |mode| {
            let mut c = CategoryEncoding::new(4, mode);
            let y = c.call(Input::RaggedIds(ids.view()));
            c.forward(
                Input::RaggedIds(ids.view()),
                &mut ForwardContext::training(0),
            );
            assert_eq!(c.output(), y, "{mode:?}");
            y
        };
        assert_eq!(
            encode(CategoryMode::OneHot),
            array![
                [0.0f32, 1.0, 0.0, 0.0],
                [0.0, 0.0, 0.0, 1.0],
                [0.0, 1.0, 0.0, 0.0],
                [1.0, 0.0, 0.0, 0.0]
            ]
        );
        assert_eq!(
            encode(CategoryMode::MultiHot),
            array![
                [0.0f32, 1.0, 0.0, 1.0],
                [0.0, 0.0, 0.0, 0.0],
                [1.0, 0.0, 0.0, 0.0]
            ]
        );
        assert_eq!(
            encode(CategoryMode::Count),
            array![
                [0.0f32, 2.0, 0.0, 1.0],
                [0.0, 0.0, 0.0, 0.0],
                [1.0, 0.0, 0.0, 0.0]
            ]
        );
        // Ids the model would refuse are skipped, never an out-of-bounds write.
        let bad = RaggedTensor::from_rows(&[vec![-1, 9, 2]]).unwrap();
        let y = CategoryEncoding::new(4, CategoryMode::Count).call(Input::RaggedIds(bad.view()));
        assert_eq!(y, array![[0.0f32, 0.0, 1.0, 0.0]]);
    }
}
