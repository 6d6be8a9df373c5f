//! Keras' `Bidirectional` at run time: two [`Recurrent`] copies of the layer written inside,
//! the backward one with `go_backwards` flipped (so it reads each row from its own end, ragged
//! rows each at their length), its sequence output re-reversed along time so that step `t` of
//! both copies lines up, then merged (`concat`, `sum`, `mul`, `ave`).

use ndarray::{Array2, ArrayView2};

use super::recurrent::reverse_steps;
use super::{ensure_rows, Recurrent};
use crate::onnx::{Attr, LayerExport};
use crate::runtime::{BuildLayer, Error, ForwardContext, Input, Layer, ParamMut, ParamRef, Rng};
use crate::shape::layers::{bidirectional_inner, directed_name, MergeMode};
use crate::shape::{Config, LayerSpec, ParamValue, TensorSpec};

/// A built bidirectional layer: the two directions and the merge's buffers.
#[derive(Clone, Debug)]
pub struct Bidirectional {
    forward: Recurrent,
    backward: Recurrent,
    mode: MergeMode,
    units: usize,
    /// The steps of a dense input (its rows are `batch · steps`); unused on ragged input.
    steps: usize,
    /// The backward copy's output in time order (re-reversed), from the last forward pass.
    back_out: Array2<f32>,
    out: Array2<f32>,
    grad_forward: Array2<f32>,
    grad_backward: Array2<f32>,
    /// The backward copy's output gradient in time order, before its re-reversal.
    grad_backward_time: Array2<f32>,
    grad_input: Array2<f32>,
}

impl BuildLayer for Bidirectional {
    fn from_config(
        _spec: &'static LayerSpec,
        config: &Config,
        inputs: &[TensorSpec],
        rng: &mut Rng,
    ) -> Self {
        // The rule admitted a recurrent layer inside; without one (a config not from the
        // macro) both copies are a zero-unit GRU, which computes nothing.
        let (spec, mut inner) = bidirectional_inner(config).unwrap_or_else(|| {
            (
                &crate::shape::layers::GRU,
                crate::shape::layers::GRU.configure(vec![("units", ParamValue::Int(0))]),
            )
        });
        let go_backwards = inner.bool("go_backwards");
        let mut forward = Recurrent::from_config(spec, &inner, inputs, rng);
        inner.set("go_backwards", ParamValue::Bool(!go_backwards));
        let mut backward = Recurrent::from_config(spec, &inner, inputs, rng);
        // Keras' `Bidirectional` forces masked steps of returned sequences to zero.
        let zero = inner.bool("return_sequences");
        forward.set_zero_output_for_mask(zero);
        backward.set_zero_output_for_mask(zero);
        let steps = inputs
            .first()
            .and_then(|i| i.dims.first().and_then(|d| d.known()))
            .unwrap_or(0);
        let units = forward.config().units;
        Bidirectional {
            forward,
            backward,
            mode: MergeMode::from_name(config.str("merge_mode")),
            units,
            steps,
            back_out: Array2::zeros((0, units)),
            out: Array2::zeros((0, 0)),
            grad_forward: Array2::zeros((0, units)),
            grad_backward: Array2::zeros((0, units)),
            grad_backward_time: Array2::zeros((0, units)),
            grad_input: Array2::zeros((0, 0)),
        }
    }
}

impl Bidirectional {
    /// The two directions: forward, backward (Keras' `forward_layer`, `backward_layer`).
    pub fn directions(&self) -> (&Recurrent, &Recurrent) {
        (&self.forward, &self.backward)
    }

    fn sequences(&self) -> bool {
        self.forward.config().return_sequences
    }

    /// The output width: twice the units for `concat`.
    fn width(&self) -> usize {
        match self.mode {
            MergeMode::Concat => self.units.saturating_mul(2),
            _ => self.units,
        }
    }

    /// The input's sequences as `(first row, length)`.
    fn spans(&self, x: &Input<'_>) -> Vec<(usize, usize)> {
        match x {
            Input::Ragged(r) => r.row_ranges().map(|(a, b)| (a, b - a)).collect(),
            _ => {
                let n = x.n_rows().checked_div(self.steps).unwrap_or(0);
                (0..n).map(|b| (b * self.steps, self.steps)).collect()
            }
        }
    }

    /// `dst` = `src` with every sequence's rows reversed (its own inverse); a plain copy for
    /// one state per row.
    fn reverse_into(&self, x: &Input<'_>, src: ArrayView2<'_, f32>, dst: &mut Array2<f32>) {
        ensure_rows(dst, src.nrows(), src.ncols());
        if !self.sequences() {
            dst.assign(&src);
            return;
        }
        for (start, len) in self.spans(x) {
            for t in 0..len {
                let (to, from) = (start + t, start + len - 1 - t);
                if to < src.nrows() && from < src.nrows() {
                    dst.row_mut(to).assign(&src.row(from));
                }
            }
        }
    }

    /// The merge of `f` and `b` (both in time order) into `out`.
    fn merge(&self, f: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>, out: &mut Array2<f32>) {
        let rows = f.nrows().min(b.nrows());
        ensure_rows(out, rows, self.width());
        let (f, b) = (
            f.slice(ndarray::s![..rows, ..]),
            b.slice(ndarray::s![..rows, ..]),
        );
        match self.mode {
            MergeMode::Concat => {
                let u = self.units;
                out.slice_mut(ndarray::s![.., ..u]).assign(&f);
                out.slice_mut(ndarray::s![.., u..]).assign(&b);
            }
            MergeMode::Sum => ndarray::Zip::from(out)
                .and(f)
                .and(b)
                .for_each(|o, &f, &b| *o = f + b),
            MergeMode::Mul => ndarray::Zip::from(out)
                .and(f)
                .and(b)
                .for_each(|o, &f, &b| *o = f * b),
            MergeMode::Ave => ndarray::Zip::from(out)
                .and(f)
                .and(b)
                .for_each(|o, &f, &b| *o = 0.5 * (f + b)),
        }
    }
}

/// `f(ParamMut)` with the variable renamed to its direction's Keras path.
fn renamed_mut<'f>(
    forward: bool,
    f: &'f mut dyn FnMut(ParamMut<'_>),
) -> impl FnMut(ParamMut<'_>) + 'f {
    move |p: ParamMut<'_>| {
        f(ParamMut {
            variable: directed_name(forward, p.variable),
            ..p
        })
    }
}

impl Layer for Bidirectional {
    /// Each direction as its own recurrent op (the backward one reading the steps reversed),
    /// the backward sequence re-reversed along time, then the merge: `Concat` on the last
    /// axis, `Add`, `Mul`, or the half of the sum for `ave`.
    fn export_onnx(&self, cx: &mut LayerExport<'_>) -> Result<(), Error> {
        let (x, out) = (cx.input(0).to_string(), cx.output().to_string());
        let mut ys = Vec::new();
        for (forward, dir) in [(true, &self.forward), (false, &self.backward)] {
            let names = dir.names().map(|n| directed_name(forward, n));
            let y = cx.tmp(if forward { "forward" } else { "backward" });
            dir.export_onnx_as(cx, names, &x, &y)?;
            ys.push(if !forward && self.sequences() {
                reverse_steps(cx, &y, 1)?
            } else {
                y
            });
        }
        let (f, b) = (&ys[0], &ys[1]);
        match self.mode {
            MergeMode::Concat => cx.node("Concat", &[f, b], &[&out], vec![Attr::int("axis", -1)]),
            MergeMode::Sum => cx.node("Add", &[f, b], &[&out], vec![]),
            MergeMode::Mul => cx.node("Mul", &[f, b], &[&out], vec![]),
            MergeMode::Ave => {
                let (sum, half) = (cx.tmp("sum"), cx.scalar("half", 0.5));
                cx.node("Add", &[f, b], &[&sum], vec![]);
                cx.node("Mul", &[&half, &sum], &[&out], vec![]);
            }
        }
        Ok(())
    }

    fn call(&self, x: Input<'_>) -> Array2<f32> {
        let f = self.forward.call(x);
        let b = self.backward.call(x);
        let mut back = Array2::zeros((0, 0));
        self.reverse_into(&x, b.view(), &mut back);
        let mut out = Array2::zeros((0, 0));
        self.merge(f.view(), back.view(), &mut out);
        out
    }

    fn forward(&mut self, x: Input<'_>, cx: &mut ForwardContext) {
        self.forward.forward(x, cx);
        self.backward.forward(x, cx);
        let mut back = std::mem::take(&mut self.back_out);
        self.reverse_into(&x, self.backward.output(), &mut back);
        let mut out = std::mem::take(&mut self.out);
        self.merge(self.forward.output(), back.view(), &mut out);
        self.back_out = back;
        self.out = out;
    }

    fn output(&self) -> ArrayView2<'_, f32> {
        self.out.view()
    }

    fn backward(&mut self, x: Input<'_>, grad_output: ArrayView2<'_, f32>, need: bool) {
        let rows = grad_output.nrows().min(self.out.nrows());
        let u = self.units;
        let mut gf = std::mem::take(&mut self.grad_forward);
        let mut gb_time = std::mem::take(&mut self.grad_backward_time);
        ensure_rows(&mut gf, rows, u);
        ensure_rows(&mut gb_time, rows, u);
        if grad_output.ncols() == self.width() {
            let g = grad_output.slice(ndarray::s![..rows, ..]);
            let f = self.forward.output();
            let b = self.back_out.view();
            match self.mode {
                MergeMode::Concat => {
                    gf.assign(&g.slice(ndarray::s![.., ..u]));
                    gb_time.assign(&g.slice(ndarray::s![.., u..]));
                }
                MergeMode::Sum => {
                    gf.assign(&g);
                    gb_time.assign(&g);
                }
                MergeMode::Ave => {
                    gf.assign(&g);
                    gf.mapv_inplace(|v| 0.5 * v);
                    gb_time.assign(&gf);
                }
                MergeMode::Mul if f.nrows() >= rows && b.nrows() >= rows => {
                    let (f, b) = (
                        f.slice(ndarray::s![..rows, ..]),
                        b.slice(ndarray::s![..rows, ..]),
                    );
                    ndarray::Zip::from(&mut gf)
                        .and(g)
                        .and(b)
                        .for_each(|o, &g, &b| *o = g * b);
                    ndarray::Zip::from(&mut gb_time)
                        .and(g)
                        .and(f)
                        .for_each(|o, &g, &f| *o = g * f);
                }
                // No forward pass of these rows to differentiate: no gradient.
                MergeMode::Mul => {
                    gf.fill(0.0);
                    gb_time.fill(0.0);
                }
            }
        } else {
            gf.fill(0.0);
            gb_time.fill(0.0);
        }
        let mut gb = std::mem::take(&mut self.grad_backward);
        self.reverse_into(&x, gb_time.view(), &mut gb);
        self.forward.backward(x, gf.view(), need);
        self.backward.backward(x, gb.view(), need);
        if need {
            let (a, b) = (self.forward.grad_input(), self.backward.grad_input());
            ensure_rows(&mut self.grad_input, a.nrows(), a.ncols());
            if a.dim() == b.dim() {
                ndarray::Zip::from(&mut self.grad_input)
                    .and(a)
                    .and(b)
                    .for_each(|o, &a, &b| *o = a + b);
            } else {
                self.grad_input.fill(0.0);
            }
        }
        self.grad_forward = gf;
        self.grad_backward = gb;
        self.grad_backward_time = gb_time;
    }

    fn grad_input(&self) -> ArrayView2<'_, f32> {
        self.grad_input.view()
    }

    fn visit_params(&mut self, layer: &str, f: &mut dyn FnMut(ParamMut<'_>)) {
        self.forward.visit_params(layer, &mut renamed_mut(true, f));
        self.backward
            .visit_params(layer, &mut renamed_mut(false, f));
    }

    fn visit_weights(&self, layer: &str, f: &mut dyn FnMut(ParamRef<'_>)) {
        for (forward, dir) in [(true, &self.forward), (false, &self.backward)] {
            dir.visit_weights(layer, &mut |p: ParamRef<'_>| {
                f(ParamRef {
                    variable: directed_name(forward, p.variable),
                    ..p
                })
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::RaggedTensor;
    use crate::shape::layers::BIDIRECTIONAL;
    use crate::shape::{layer_spec, Dim};
    use ndarray::Axis;

    fn values(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
        let mut rng = Rng::new(seed);
        Array2::from_shape_fn((rows, cols), |_| rng.uniform(-1.0, 1.0))
    }

    fn ragged(lengths: &[usize], f: usize) -> RaggedTensor<f32> {
        let n: usize = lengths.iter().sum();
        let mut splits = vec![0];
        for l in lengths {
            splits.push(splits.last().unwrap() + l);
        }
        RaggedTensor::from_parts(values(n, f, 3).into_raw_vec_and_offset().0, &[f], &[splits])
            .unwrap()
    }

    fn inner(cell: &str, units: i64, sequences: bool, backwards: bool) -> Config {
        layer_spec(cell).unwrap().configure(vec![
            ("units", ParamValue::Int(units)),
            ("return_sequences", ParamValue::Bool(sequences)),
            ("go_backwards", ParamValue::Bool(backwards)),
        ])
    }

    fn input_spec(f: usize) -> Vec<TensorSpec> {
        let mut s = TensorSpec::dense(vec![Dim::Unknown, Dim::Known(f)]);
        s.layout = crate::shape::Layout::Ragged;
        vec![s]
    }

    fn bidi(cell: &str, sequences: bool, mode: &'static str, f: usize, seed: u64) -> Bidirectional {
        let config = BIDIRECTIONAL.configure(vec![
            (
                "layer",
                ParamValue::Layer(
                    layer_spec(cell).unwrap().name.into(),
                    inner(cell, 3, sequences, false).values().to_vec().into(),
                ),
            ),
            ("merge_mode", ParamValue::Str(mode.into())),
        ]);
        Bidirectional::from_config(&BIDIRECTIONAL, &config, &input_spec(f), &mut Rng::new(seed))
    }

    #[test]
    fn equals_the_two_inner_layers_run_by_hand_and_merged() {
        let lengths = [3, 1, 0, 4];
        let x = ragged(&lengths, 2);
        for cell in ["gru", "lstm", "simple_rnn"] {
            for sequences in [true, false] {
                for mode in ["concat", "sum", "mul", "ave"] {
                    let l = bidi(cell, sequences, mode, 2, 7);
                    // The same stream draws the forward copy's weights, then the backward's.
                    let spec = layer_spec(cell).unwrap();
                    let mut rng = Rng::new(7);
                    let fwd = Recurrent::from_config(
                        spec,
                        &inner(cell, 3, sequences, false),
                        &input_spec(2),
                        &mut rng,
                    );
                    let bwd = Recurrent::from_config(
                        spec,
                        &inner(cell, 3, sequences, true),
                        &input_spec(2),
                        &mut rng,
                    );
                    let xv = Input::Ragged(x.view());
                    let (f, mut b) = (fwd.call(xv), bwd.call(xv));
                    if sequences {
                        // Each row's steps back in time order, at its own length.
                        let b0 = b.clone();
                        let mut start = 0;
                        for &len in &lengths {
                            for t in 0..len {
                                b.row_mut(start + t).assign(&b0.row(start + len - 1 - t));
                            }
                            start += len;
                        }
                    }
                    let want = match mode {
                        "concat" => ndarray::concatenate![Axis(1), f, b],
                        "sum" => &f + &b,
                        "mul" => &f * &b,
                        _ => (&f + &b) * 0.5,
                    };
                    let got = l.call(xv);
                    assert_eq!(got, want, "{cell} sequences={sequences} {mode}");
                    assert_ne!(f, b, "the two directions differ");
                }
            }
        }
    }

    #[test]
    fn a_right_padded_mask_equals_the_ragged_rows_and_zeroes_the_padding() {
        // Keras: the backward copy reverses the padded row, skips the padding, and
        // `Bidirectional` forces masked steps of returned sequences to zero.
        let lengths = [3, 1, 0, 5];
        let x = ragged(&lengths, 2);
        let mut padded = Array2::zeros((20, 2));
        let mut mask = vec![false; 20];
        let mut start = 0;
        for (b, &len) in lengths.iter().enumerate() {
            for t in 0..len {
                padded
                    .row_mut(b * 5 + t)
                    .assign(&x.view().values().row(start + t));
                mask[b * 5 + t] = true;
            }
            start += len;
        }
        let dense = vec![TensorSpec::dense(vec![Dim::Known(5), Dim::Known(2)])];
        for cell in ["gru", "lstm", "simple_rnn"] {
            for sequences in [true, false] {
                let on_ragged = bidi(cell, sequences, "concat", 2, 7);
                let config = BIDIRECTIONAL.configure(vec![
                    (
                        "layer",
                        ParamValue::Layer(
                            layer_spec(cell).unwrap().name.into(),
                            inner(cell, 3, sequences, false).values().to_vec().into(),
                        ),
                    ),
                    ("merge_mode", ParamValue::Str("concat".into())),
                ]);
                let on_mask =
                    Bidirectional::from_config(&BIDIRECTIONAL, &config, &dense, &mut Rng::new(7));
                let want = on_ragged.call(Input::Ragged(x.view()));
                let got = on_mask.call(Input::Masked(padded.view(), &mask));
                if !sequences {
                    assert!((&got - &want).iter().all(|d| d.abs() < 1e-6), "{cell}");
                    continue;
                }
                let mut start = 0;
                for (b, &len) in lengths.iter().enumerate() {
                    for t in 0..5 {
                        let row = got.row(b * 5 + t);
                        if t < len {
                            let d = (&row - &want.row(start + t)).map(|d| d.abs());
                            assert!(d.iter().all(|&d| d < 1e-6), "{cell} row {b} step {t}");
                        } else {
                            assert!(row.iter().all(|&v| v == 0.0), "{cell} padding {b} {t}");
                        }
                    }
                    start += len;
                }
            }
        }
    }

    fn objective(l: &Bidirectional, x: Input<'_>, probe: &Array2<f32>) -> f64 {
        let y = l.call(x);
        y.iter()
            .zip(probe)
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum()
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = ragged(&[3, 0, 4, 1], 2);
        let view = x.view();
        let xv = view.values().to_owned();
        for (cell, sequences, mode) in [
            ("gru", true, "concat"),
            ("lstm", false, "mul"),
            ("simple_rnn", true, "ave"),
            ("gru", false, "sum"),
        ] {
            let mut l = bidi(cell, sequences, mode, 2, 5);
            let out = l.call(Input::Ragged(view));
            let probe = values(out.nrows(), out.ncols(), 9);
            l.forward(Input::Ragged(view), &mut ForwardContext::default());
            assert_eq!(l.output(), out, "forward and call agree");
            l.backward(Input::Ragged(view), probe.view(), true);
            let eps = 1e-2f32;
            let tol = |g: f64| 2e-3 + 2e-3 * g.abs();
            let gi = l.grad_input().to_owned();
            assert_eq!(gi.dim(), xv.dim());
            for r in 0..xv.nrows() {
                for c in 0..xv.ncols() {
                    let mut plus = xv.clone();
                    plus[[r, c]] += eps;
                    let mut minus = xv.clone();
                    minus[[r, c]] -= eps;
                    let p = objective(&l, Input::Ragged(view.with_values(plus.view())), &probe);
                    let m = objective(&l, Input::Ragged(view.with_values(minus.view())), &probe);
                    let fd = (p - m) / (2.0 * eps as f64);
                    let g = gi[[r, c]] as f64;
                    assert!(
                        (fd - g).abs() < tol(fd),
                        "{cell} {mode} x[{r}, {c}]: {g} vs {fd}"
                    );
                }
            }
            let mut grads = Vec::new();
            l.visit_params("l", &mut |p| grads.push((p.variable, p.grad.to_vec())));
            assert_eq!(grads.len(), 6);
            assert!(grads[0].0.starts_with("forward_") && grads[3].0.starts_with("backward_"));
            for (w, (name, grad)) in grads.iter().enumerate() {
                for (i, &g) in grad.iter().enumerate() {
                    let bump = |l: &mut Bidirectional, d: f32| {
                        let mut k = 0;
                        l.visit_params("l", &mut |p| {
                            if k == w {
                                p.value[i] += d;
                            }
                            k += 1;
                        });
                    };
                    bump(&mut l, eps);
                    let p = objective(&l, Input::Ragged(view), &probe);
                    bump(&mut l, -2.0 * eps);
                    let m = objective(&l, Input::Ragged(view), &probe);
                    bump(&mut l, eps);
                    let fd = (p - m) / (2.0 * eps as f64);
                    let g = g as f64;
                    assert!(
                        (fd - g).abs() < tol(fd),
                        "{cell} {mode} {name}[{i}]: {g} vs {fd}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_foreign_gradient_is_no_gradient_rather_than_a_panic() {
        let x = ragged(&[3, 2], 2);
        for mode in ["concat", "mul"] {
            let mut l = bidi("gru", true, mode, 2, 1);
            l.forward(Input::Ragged(x.view()), &mut ForwardContext::default());
            let rows = l.output().nrows();
            // The wrong width, then fewer rows than the forward pass had.
            for g in [Array2::ones((rows, 5)), Array2::ones((rows - 2, l.width()))] {
                l.backward(Input::Ragged(x.view()), g.view(), true);
                assert!(l.grad_input().iter().all(|v| v.is_finite()));
            }
            let mut grads = Vec::new();
            l.visit_params("l", &mut |p| grads.push(p.grad.to_vec()));
            assert_eq!(grads.len(), 6);
        }
    }

    #[test]
    fn weights_are_listed_forward_then_backward_under_keras_paths() {
        let l = bidi("gru", true, "concat", 2, 1);
        let mut names = Vec::new();
        l.visit_weights("bidirectional", &mut |p| {
            names.push((p.variable, p.shape.to_vec()))
        });
        assert_eq!(
            names,
            vec![
                ("forward_gru/gru_cell/kernel", vec![2, 9]),
                ("forward_gru/gru_cell/recurrent_kernel", vec![3, 9]),
                ("forward_gru/gru_cell/bias", vec![2, 9]),
                ("backward_gru/gru_cell/kernel", vec![2, 9]),
                ("backward_gru/gru_cell/recurrent_kernel", vec![3, 9]),
                ("backward_gru/gru_cell/bias", vec![2, 9]),
            ]
        );
    }
}
