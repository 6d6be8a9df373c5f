//! Keras' `LSTM`, `GRU` and `SimpleRNN` at run time: one type, the cell chosen by the spec.
//!
//! Every row of the batch is a sequence: a dense `(batch, time, features)` tensor gives
//! `batch` sequences of `time` steps, a ragged one each row at its own length (no padding is
//! built). The sequences are sorted by length, longest first (as torch's packed sequences),
//! so the rows still running at step `t` are a prefix of the batch. The input of every step
//! is gathered into that *packed* order and projected by one product for all steps,
//! `x · kernel + bias`; each step then adds `h · recurrent_kernel` for its running rows (one
//! product per step) and applies the gates. Backward through time walks the steps in reverse,
//! one product per step for the state's gradient, then three products over all steps for the
//! kernel, the recurrent kernel and the input.

use ndarray::{Array1, Array2, ArrayView2, Axis};

use super::{empty_rows, ensure_rows};
use crate::onnx::{Attr, LayerExport};
use crate::runtime::kernels::activations::scalar_derivative;
use crate::runtime::kernels::fast_math;
use crate::runtime::kernels::gemm::sgemm;
use crate::runtime::{
    init, ActivityRegularizer, BuildLayer, Error, ForwardContext, Input, Layer, ParamMut, ParamRef,
    Rng,
};
use crate::shape::layers::cell_of;
use crate::shape::{Activation, CellKind, Config, LayerSpec, RecurrentConfig, TensorSpec};

/// The order the sequences run in, and where each packed row comes from and goes to.
#[derive(Clone, Debug, Default)]
struct Schedule {
    /// Sorted position -> the sequence's index in the batch.
    order: Vec<usize>,
    /// Sorted position -> the sequence's length (non-increasing).
    lens: Vec<usize>,
    /// Step -> how many sequences are still running (a prefix of the sorted ones).
    active: Vec<usize>,
    /// Step -> its first packed row; one more entry, the number of packed rows.
    offsets: Vec<usize>,
    /// Packed row -> the input row it reads (reversed within its sequence by `go_backwards`).
    gather: Vec<usize>,
    /// Packed row -> the output row of its state, for `return_sequences` (the steps in the
    /// order they ran, as Keras returns them).
    place: Vec<usize>,
    /// Packed row -> its sequence's sorted position.
    slot: Vec<usize>,
    /// A masked input with `return_sequences`: `(output row, packed row)` for every masked
    /// step after a step that ran, whose output is that step's state (Keras'
    /// `zero_output_for_mask = false`); empty otherwise.
    carry: Vec<(usize, usize)>,
    /// The number of sequences.
    batch: usize,
}

impl Schedule {
    /// Plans sequences given as `(first input row, length)`; with `masked`, as `(first
    /// entry, count)` of `masked.rows`, the input rows of the steps that count.
    fn plan(&mut self, seqs: &[(usize, usize)], go_backwards: bool, masked: Option<&Masked>) {
        let n = seqs.len();
        self.batch = n;
        self.order.clear();
        self.order.extend(0..n);
        // Stable: equal lengths keep the batch order.
        self.order
            .sort_by_key(|&i| std::cmp::Reverse(seqs.get(i).map_or(0, |s| s.1)));
        self.lens.clear();
        self.lens
            .extend(self.order.iter().map(|&i| seqs.get(i).map_or(0, |s| s.1)));
        let steps = self.lens.first().copied().unwrap_or(0);
        self.active.clear();
        self.offsets.clear();
        self.gather.clear();
        self.place.clear();
        self.slot.clear();
        let mut k = n;
        let mut off = 0;
        for t in 0..steps {
            while k > 0 && self.lens[k - 1] <= t {
                k -= 1;
            }
            self.active.push(k);
            self.offsets.push(off);
            off += k;
            for j in 0..k {
                let (start, len) = seqs[self.order[j]];
                let pos = if go_backwards { len - 1 - t } else { t };
                match masked {
                    Some(m) => {
                        // The step's output goes to its place in the (reversed, with
                        // `go_backwards`) padded sequence, as Keras returns it.
                        let row = m.rows[start + pos];
                        let (b, at) = (row / m.steps, row % m.steps);
                        let at = if go_backwards { m.steps - 1 - at } else { at };
                        self.gather.push(row);
                        self.place.push(b * m.steps + at);
                    }
                    None => {
                        self.gather.push(start + pos);
                        self.place.push(start + t);
                    }
                }
                self.slot.push(j);
            }
        }
        self.offsets.push(off);
        self.carry.clear();
        if let Some(m) = masked.filter(|m| m.carry) {
            // Output row -> the packed row that wrote it; a masked step repeats the last.
            let mut wrote = vec![usize::MAX; seqs.len() * m.steps];
            for (p, &row) in self.place.iter().enumerate() {
                if let Some(w) = wrote.get_mut(row) {
                    *w = p;
                }
            }
            for (b, row) in wrote.chunks(m.steps.max(1)).enumerate() {
                let mut last = None;
                for (at, &p) in row.iter().enumerate() {
                    match (p, last) {
                        (usize::MAX, Some(p)) => self.carry.push((b * m.steps + at, p)),
                        (usize::MAX, None) => {}
                        (p, _) => last = Some(p),
                    }
                }
            }
        }
    }

    fn steps(&self) -> usize {
        self.active.len()
    }

    fn packed(&self) -> usize {
        self.offsets.last().copied().unwrap_or(0)
    }
}

/// The steps of a masked dense input that count, for [`Schedule::plan`].
struct Masked {
    /// The input rows of the unmasked steps, sequence after sequence, in time order.
    rows: Vec<usize>,
    /// The padded number of steps.
    steps: usize,
    /// Whether masked steps of the output repeat the last state (`return_sequences` without
    /// `zero_output_for_mask`).
    carry: bool,
}

/// One weight: its name, shape, values and gradient.
type Param<'a> = (&'static str, &'a [usize], &'a mut [f32], &'a [f32]);

/// What a forward pass keeps for backward, in packed rows.
#[derive(Clone, Debug, Default)]
struct Trace {
    sched: Schedule,
    /// The gathered inputs `(packed, features)`.
    xp: Array2<f32>,
    /// `x · kernel + bias`; for LSTM and SimpleRNN the recurrent part is added in place, so
    /// this becomes the pre-activation of the gates.
    zx: Array2<f32>,
    /// GRU: `h · recurrent_kernel + recurrent_bias`, `(packed, 3 units)`; without
    /// `reset_after` its candidate block is `(r * h) · recurrent_kernel`.
    rec: Array2<f32>,
    /// GRU without `reset_after`: the reset state `r * h` each step multiplied,
    /// `(packed, units)` (zero at the first step).
    rh: Array2<f32>,
    /// GRU: the gates' pre-activations `(z, r, h)`.
    pre: Array2<f32>,
    /// The gates after their activations (LSTM: i, f, c, o; GRU: z, r, h).
    act: Array2<f32>,
    /// LSTM: the carry after each step, and its activation.
    c: Array2<f32>,
    tc: Array2<f32>,
    /// The state after each step.
    h: Array2<f32>,
    /// Training with dropout: the input mask per sequence `(batch, features)` and the
    /// recurrent one `(batch, units)`, each fixed over the steps (Keras' masks), values 0 or
    /// `1 / (1 - rate)`; empty without dropout.
    in_mask: Vec<f32>,
    rec_mask: Vec<f32>,
    /// With recurrent dropout: the masked state each step started from, in packed rows.
    hm: Array2<f32>,
    /// The number of input rows the trace was made from.
    input_rows: usize,
}

/// A dropout mask of `len` values: 0 with probability `rate`, else `1 / (1 - rate)`.
fn draw_mask(mask: &mut Vec<f32>, len: usize, rate: f32, rng: &mut Rng) {
    mask.clear();
    if rate > 0.0 {
        let keep = 1.0 / (1.0 - rate);
        mask.extend((0..len).map(|_| if rng.next_f32() < rate { 0.0 } else { keep }));
    }
}

thread_local! {
    /// The buffers of the last inference on this thread, reused by the next.
    static CALL_TRACE: std::cell::RefCell<Trace> = std::cell::RefCell::new(Trace::default());
}

/// A built recurrent layer: its kernels, bias and training buffers.
#[derive(Clone, Debug)]
pub struct Recurrent {
    cfg: RecurrentConfig,
    /// Keras' `dropout` and `recurrent_dropout` (training only), and the layer's own stream
    /// (`seed`); without one, masks come from the model's.
    dropout: f32,
    recurrent_dropout: f32,
    rng: Option<Rng>,
    /// Keras' `zero_output_for_mask`: with a mask and `return_sequences`, masked steps output
    /// zeros rather than the last state (`Bidirectional` sets it).
    zero_output_for_mask: bool,
    /// Keras' `activity_regularizer`, on the layer's output (the sequence or the last state).
    activity: ActivityRegularizer,
    names: [&'static str; 3],
    features: usize,
    /// The steps of a dense input (its rows are `batch · steps`); unused on ragged input.
    steps: usize,
    kernel: Array2<f32>,
    recurrent: Array2<f32>,
    /// The bias, flat (`[2, 3 units]` row-major for a GRU with `reset_after`).
    bias: Array1<f32>,
    kernel_shape: [usize; 2],
    recurrent_shape: [usize; 2],
    bias_shape: Vec<usize>,
    grad_kernel: Array2<f32>,
    grad_recurrent: Array2<f32>,
    grad_bias: Array1<f32>,
    trace: Trace,
    out: Array2<f32>,
    /// Backward buffers: the state's (and carry's) gradient in sorted order, the gradients of
    /// the pre-activations, the recurrent inputs, the gathered input's gradient.
    dh: Array2<f32>,
    dc: Array2<f32>,
    dzx: Array2<f32>,
    drec: Array2<f32>,
    hprev: Array2<f32>,
    dtmp: Array2<f32>,
    /// GRU without `reset_after`: the gradient of `r * h`, in sorted order.
    drh: Array2<f32>,
    /// A masked input with `return_sequences`: the gradients of the outputs each state
    /// was repeated into, in packed rows.
    gcarry: Array2<f32>,
    dxp: Array2<f32>,
    grad_input: Array2<f32>,
}

impl BuildLayer for Recurrent {
    fn from_config(
        spec: &'static LayerSpec,
        config: &Config,
        inputs: &[TensorSpec],
        rng: &mut Rng,
    ) -> Self {
        let cell = CellKind::from_layer_name(spec.name).unwrap_or_else(|| cell_of(config));
        let cfg = RecurrentConfig::from_config(cell, config);
        let input = inputs.first();
        let features = input.and_then(|i| i.last().known()).unwrap_or(0);
        let steps = input
            .and_then(|i| i.dims.first().and_then(|d| d.known()))
            .unwrap_or(0);
        let mut layer = Recurrent::new(cfg, features, steps, rng);
        let seed = match config.get("seed") {
            Some(crate::shape::ParamValue::Int(s)) => Some(*s as u64),
            _ => None,
        };
        layer.set_dropout(
            config.float("dropout") as f32,
            config.float("recurrent_dropout") as f32,
            seed,
        );
        layer.activity = ActivityRegularizer::from_config(config);
        layer
    }
}

impl Recurrent {
    /// A layer of configuration `cfg` over `features` inputs per step (`steps` steps for a
    /// dense input), its weights drawn from `rng` with the configured initializers.
    pub fn new(cfg: RecurrentConfig, features: usize, steps: usize, rng: &mut Rng) -> Self {
        let u = cfg.units;
        let width = cfg.cell.gates().saturating_mul(u);
        let mut kernel = Array2::zeros((features, width));
        init::fill(
            cfg.kernel_initializer,
            &[features, width],
            kernel.iter_mut(),
            rng,
        );
        let mut recurrent = Array2::zeros((u, width));
        init::fill(
            cfg.recurrent_initializer,
            &[u, width],
            recurrent.iter_mut(),
            rng,
        );
        let bias_shape = if cfg.use_bias {
            cfg.bias_shape()
        } else {
            vec![0]
        };
        let bias_len = bias_shape.iter().product::<usize>();
        let mut bias = Array1::zeros(bias_len);
        if cfg.unit_forget_bias && bias_len == width {
            // Keras: the initializer on the i block, ones on f, the initializer on (c, o).
            let (i_part, rest) = bias.as_slice_mut().unwrap_or_default().split_at_mut(u);
            init::fill(cfg.bias_initializer, &[u], i_part.iter_mut(), rng);
            let (f_part, co_part) = rest.split_at_mut(u);
            f_part.fill(1.0);
            init::fill(cfg.bias_initializer, &[2 * u], co_part.iter_mut(), rng);
        } else {
            init::fill(cfg.bias_initializer, &bias_shape, bias.iter_mut(), rng);
        }
        let names = match cfg.cell {
            CellKind::Lstm => [
                "lstm_cell/kernel",
                "lstm_cell/recurrent_kernel",
                "lstm_cell/bias",
            ],
            CellKind::Gru => [
                "gru_cell/kernel",
                "gru_cell/recurrent_kernel",
                "gru_cell/bias",
            ],
            CellKind::Simple => [
                "simple_rnn_cell/kernel",
                "simple_rnn_cell/recurrent_kernel",
                "simple_rnn_cell/bias",
            ],
        };
        Recurrent {
            cfg,
            dropout: 0.0,
            recurrent_dropout: 0.0,
            rng: None,
            zero_output_for_mask: false,
            activity: ActivityRegularizer::default(),
            names,
            features,
            steps,
            kernel,
            recurrent,
            bias,
            kernel_shape: [features, width],
            recurrent_shape: [u, width],
            bias_shape,
            grad_kernel: Array2::zeros((features, width)),
            grad_recurrent: Array2::zeros((u, width)),
            grad_bias: Array1::zeros(bias_len),
            trace: Trace::default(),
            out: Array2::zeros((0, u)),
            dh: Array2::zeros((0, u)),
            dc: Array2::zeros((0, u)),
            dzx: Array2::zeros((0, width)),
            drec: Array2::zeros((0, width)),
            hprev: Array2::zeros((0, u)),
            dtmp: Array2::zeros((0, u)),
            drh: Array2::zeros((0, u)),
            gcarry: Array2::zeros((0, u)),
            dxp: Array2::zeros((0, features)),
            grad_input: Array2::zeros((0, features)),
        }
    }

    /// Sets Keras' `dropout` (of the inputs) and `recurrent_dropout` (of the state in the
    /// recurrent product), both in `[0, 1)` (the spec's rule) and active in training only,
    /// with the layer's own stream when `seed` is given.
    pub fn set_dropout(&mut self, dropout: f32, recurrent_dropout: f32, seed: Option<u64>) {
        let valid = |r: f32| if (0.0..1.0).contains(&r) { r } else { 0.0 };
        self.dropout = valid(dropout);
        self.recurrent_dropout = valid(recurrent_dropout);
        self.rng = seed.map(Rng::new);
    }

    /// Keras' `zero_output_for_mask` (false by default): with a masked input and
    /// `return_sequences`, whether a masked step outputs zeros instead of the last state.
    /// `Bidirectional` sets it to `return_sequences`, as Keras forces it.
    pub fn set_zero_output_for_mask(&mut self, zero: bool) {
        self.zero_output_for_mask = zero;
    }

    /// The configuration.
    pub fn config(&self) -> &RecurrentConfig {
        &self.cfg
    }

    /// The names of the kernel, the recurrent kernel and the bias (`lstm_cell/kernel`, ...).
    pub(crate) fn names(&self) -> [&'static str; 3] {
        self.names
    }

    fn width(&self) -> usize {
        self.kernel.ncols()
    }

    /// The input's rows and its sequences as `(first row, length)`; no sequence for an
    /// input this layer was not built for (the macro never wires one). A masked input's
    /// sequences are its unmasked steps (Keras skips the others, carrying the state over).
    fn sequences<'a>(
        &self,
        x: &Input<'a>,
    ) -> (ArrayView2<'a, f32>, Vec<(usize, usize)>, Option<Masked>) {
        let rows = x.rows().unwrap_or_else(empty_rows);
        if rows.ncols() != self.features {
            return (rows, Vec::new(), None);
        }
        match x {
            Input::Ragged(r) => (
                rows,
                r.row_ranges().map(|(a, b)| (a, b - a)).collect(),
                None,
            ),
            Input::Masked(_, mask) if mask.len() == rows.nrows() => {
                let n = rows.nrows().checked_div(self.steps).unwrap_or(0);
                let mut m = Masked {
                    rows: Vec::with_capacity(mask.len()),
                    steps: self.steps,
                    carry: self.cfg.return_sequences && !self.zero_output_for_mask,
                };
                let mut seqs = Vec::with_capacity(n);
                for b in 0..n {
                    let first = m.rows.len();
                    let span = b * self.steps..(b + 1) * self.steps;
                    m.rows.extend(span.filter(|&r| mask[r]));
                    seqs.push((first, m.rows.len() - first));
                }
                (rows, seqs, Some(m))
            }
            // A mask of another size than the rows: no sequence (the macro never wires one).
            Input::Masked(..) => (rows, Vec::new(), None),
            _ => {
                let n = rows.nrows().checked_div(self.steps).unwrap_or(0);
                (
                    rows,
                    (0..n).map(|b| (b * self.steps, self.steps)).collect(),
                    None,
                )
            }
        }
    }

    /// The output rows of an input of `rows` rows.
    fn out_rows(&self, rows: usize, sched: &Schedule) -> usize {
        if self.cfg.return_sequences {
            rows
        } else {
            sched.batch
        }
    }

    /// The forward pass over `x`, into `tr`; the output into `out`.
    fn run(&self, x: &Input<'_>, tr: &mut Trace, out: &mut Array2<f32>, rng: Option<&mut Rng>) {
        let (rows, seqs, masked) = self.sequences(x);
        tr.sched.plan(&seqs, self.cfg.go_backwards, masked.as_ref());
        tr.input_rows = rows.nrows();
        let (u, width) = (self.cfg.units, self.width());
        let batch = tr.sched.batch;
        match rng {
            Some(rng) => {
                draw_mask(&mut tr.in_mask, batch * self.features, self.dropout, rng);
                draw_mask(&mut tr.rec_mask, batch * u, self.recurrent_dropout, rng);
            }
            None => {
                tr.in_mask.clear();
                tr.rec_mask.clear();
            }
        }
        let n = tr.sched.packed();
        ensure_rows(&mut tr.xp, n, self.features);
        let f = self.features;
        match (rows.as_slice(), tr.xp.as_slice_mut()) {
            (Some(src), Some(dst)) if f > 0 => {
                for (d, &r) in dst.chunks_exact_mut(f).zip(&tr.sched.gather) {
                    d.copy_from_slice(&src[r * f..(r + 1) * f]);
                }
            }
            _ => {
                for (mut d, &r) in tr.xp.rows_mut().into_iter().zip(&tr.sched.gather) {
                    d.assign(&rows.row(r));
                }
            }
        }
        if !tr.in_mask.is_empty() {
            let f = self.features;
            for (mut row, &j) in tr.xp.rows_mut().into_iter().zip(&tr.sched.slot) {
                let seq = tr.sched.order[j];
                let m = &tr.in_mask[seq * f..(seq + 1) * f];
                row.iter_mut().zip(m).for_each(|(x, m)| *x *= m);
            }
        }
        if !tr.rec_mask.is_empty() {
            ensure_rows(&mut tr.hm, n, u);
            // The first step starts from zero; later steps write their rows.
            let first = tr.sched.active.first().copied().unwrap_or(0);
            tr.hm.slice_mut(ndarray::s![..first, ..]).fill(0.0);
        }
        ensure_rows(&mut tr.zx, n, width);
        let (input_bias, recurrent_bias) = self.biases();
        // The bias first, then the product added to it: one pass over `zx` fewer.
        let beta = match (input_bias, tr.zx.as_slice_mut()) {
            (Some(b), Some(z)) if width > 0 => {
                z.chunks_exact_mut(width)
                    .for_each(|row| row.copy_from_slice(b));
                1.0
            }
            _ => 0.0,
        };
        sgemm(1.0, tr.xp.view(), self.kernel.view(), beta, &mut tr.zx);
        ensure_rows(&mut tr.h, n, u);
        match self.cfg.cell {
            CellKind::Lstm => {
                ensure_rows(&mut tr.act, n, width);
                ensure_rows(&mut tr.c, n, u);
                ensure_rows(&mut tr.tc, n, u);
            }
            CellKind::Gru => {
                ensure_rows(&mut tr.act, n, width);
                ensure_rows(&mut tr.pre, n, width);
                ensure_rows(&mut tr.rec, n, width);
                if !self.cfg.reset_after {
                    ensure_rows(&mut tr.rh, n, u);
                }
            }
            CellKind::Simple => {}
        }
        for t in 0..tr.sched.steps() {
            let (k, off) = (tr.sched.active[t], tr.sched.offsets[t]);
            let prev = t.checked_sub(1).map(|p| tr.sched.offsets[p]);
            self.step(tr, k, off, prev, recurrent_bias);
        }
        let out_rows = self.out_rows(rows.nrows(), &tr.sched);
        ensure_rows(out, out_rows, u);
        out.fill(0.0);
        if self.cfg.return_sequences {
            for (h, &dst) in tr.h.rows().into_iter().zip(&tr.sched.place) {
                out.row_mut(dst).assign(&h);
            }
            for &(dst, p) in &tr.sched.carry {
                out.row_mut(dst).assign(&tr.h.row(p));
            }
        } else {
            for (j, (&seq, &len)) in tr.sched.order.iter().zip(&tr.sched.lens).enumerate() {
                if let Some(t) = len.checked_sub(1) {
                    out.row_mut(seq).assign(&tr.h.row(tr.sched.offsets[t] + j));
                }
            }
        }
    }

    /// The input bias (added to `x · kernel`) and, for a GRU with `reset_after`, the
    /// recurrent bias (added to `h · recurrent_kernel`).
    fn biases(&self) -> (Option<&[f32]>, Option<&[f32]>) {
        let width = self.width();
        match self.bias.as_slice() {
            Some(b) if self.cfg.use_bias && b.len() >= width => {
                let (i, r) = b.split_at(width);
                (
                    Some(i),
                    (self.cfg.reset_after && r.len() == width).then_some(r),
                )
            }
            _ => (None, None),
        }
    }

    /// One step: `k` running sequences, packed rows from `off`, the previous step's rows
    /// from `prev` (none at the first step, whose state is zero). The buffers are standard
    /// layout (`ensure_rows` builds them so), which the slices below rely on.
    fn step(
        &self,
        tr: &mut Trace,
        k: usize,
        off: usize,
        prev: Option<usize>,
        recurrent_bias: Option<&[f32]>,
    ) {
        let (u, width) = (self.cfg.units, self.width());
        let (a, ra) = (self.cfg.activation, self.cfg.recurrent_activation);
        let rows = off..off + k;
        // The recurrent product of the running rows, into the pre-activations (LSTM,
        // SimpleRNN) or into its own buffer (GRU, whose reset gate multiplies it).
        {
            let mut h_prev = prev.map(|p| tr.h.slice(ndarray::s![p..p + k, ..]));
            if let (Some(hp), false) = (h_prev, tr.rec_mask.is_empty()) {
                let mut hm = tr.hm.slice_mut(ndarray::s![rows.clone(), ..]);
                for (j, (mut dst, src)) in hm.rows_mut().into_iter().zip(hp.rows()).enumerate() {
                    let seq = tr.sched.order[j];
                    let m = &tr.rec_mask[seq * u..(seq + 1) * u];
                    for ((d, &h), &m) in dst.iter_mut().zip(src).zip(m) {
                        *d = h * m;
                    }
                }
                h_prev = Some(tr.hm.slice(ndarray::s![rows.clone(), ..]));
            }
            match self.cfg.cell {
                CellKind::Simple | CellKind::Lstm => {
                    if let Some(hp) = h_prev {
                        let mut z = tr.zx.slice_mut(ndarray::s![rows.clone(), ..]);
                        sgemm(1.0, hp, self.recurrent.view(), 1.0, &mut z);
                    }
                }
                CellKind::Gru => {
                    // Without `reset_after` the candidate's block multiplies `r * h`, known
                    // only after the gates: `gru_step` makes that product.
                    let cols = if self.cfg.reset_after { width } else { 2 * u };
                    let mut r = tr.rec.slice_mut(ndarray::s![rows.clone(), ..cols]);
                    let kernel = self.recurrent.slice(ndarray::s![.., ..cols]);
                    match h_prev {
                        Some(hp) => sgemm(1.0, hp, kernel, 0.0, &mut r),
                        None => r.fill(0.0),
                    }
                    if let Some(b) = recurrent_bias {
                        for mut row in r.rows_mut() {
                            row.iter_mut().zip(b).for_each(|(r, b)| *r += b);
                        }
                    }
                }
            }
        }
        if self.cfg.cell == CellKind::Gru {
            // Its own buffers, and (without `reset_after`) a second product within the step.
            self.gru_step(tr, k, off, prev);
            return;
        }
        let (Some(h), Some(zx)) = (tr.h.as_slice_mut(), tr.zx.as_slice_mut()) else {
            return;
        };
        let h_now = &mut h[off * u..(off + k) * u];
        let z = &mut zx[off * width..(off + k) * width];
        match self.cfg.cell {
            CellKind::Simple => fast_math::apply(a, z, h_now),
            CellKind::Lstm => {
                let (Some(act), Some(c), Some(tc)) = (
                    tr.act.as_slice_mut(),
                    tr.c.as_slice_mut(),
                    tr.tc.as_slice_mut(),
                ) else {
                    return;
                };
                let act = &mut act[off * width..(off + k) * width];
                let (c_before, c_rest) = c.split_at_mut(off * u);
                let c_now = &mut c_rest[..k * u];
                let c_prev = prev.map(|p| &c_before[p * u..(p + k) * u]);
                let tc = &mut tc[off * u..(off + k) * u];
                // The recurrent activation over the whole block, then the candidate's
                // columns again with theirs: long loops vectorise better than four short ones.
                fast_math::apply(ra, z, act);
                if a != ra {
                    for j in 0..k {
                        let g = j * width + 2 * u..j * width + 3 * u;
                        fast_math::apply(a, &z[g.clone()], &mut act[g]);
                    }
                }
                for j in 0..k {
                    let ar = &act[j * width..(j + 1) * width];
                    let (i, rest) = ar.split_at(u);
                    let (f, rest) = rest.split_at(u);
                    let g = &rest[..u];
                    let cn = &mut c_now[j * u..(j + 1) * u];
                    match c_prev {
                        Some(cp) => {
                            let cp = &cp[j * u..(j + 1) * u];
                            for q in 0..u {
                                cn[q] = f[q] * cp[q] + i[q] * g[q];
                            }
                        }
                        None => {
                            for q in 0..u {
                                cn[q] = i[q] * g[q];
                            }
                        }
                    }
                }
                fast_math::apply(a, c_now, tc);
                for j in 0..k {
                    let o = &act[j * width + 3 * u..(j + 1) * width];
                    let t = &tc[j * u..(j + 1) * u];
                    let hn = &mut h_now[j * u..(j + 1) * u];
                    for q in 0..u {
                        hn[q] = o[q] * t[q];
                    }
                }
            }
            CellKind::Gru => {}
        }
    }

    /// A GRU step after the recurrent product of the gates (see `step`): the gates, for
    /// Keras' v1 GRU (`reset_after = false`) the product `(r * h) · recurrent_kernel` of the
    /// candidate's block, the candidate and the new state.
    fn gru_step(&self, tr: &mut Trace, k: usize, off: usize, prev: Option<usize>) {
        let (u, width) = (self.cfg.units, self.width());
        let (a, ra) = (self.cfg.activation, self.cfg.recurrent_activation);
        let rows = off * width..(off + k) * width;
        {
            let (Some(zx), Some(rec), Some(pre), Some(act)) = (
                tr.zx.as_slice(),
                tr.rec.as_slice(),
                tr.pre.as_slice_mut(),
                tr.act.as_slice_mut(),
            ) else {
                return;
            };
            let (z, rec) = (&zx[rows.clone()], &rec[rows.clone()]);
            let (pre, act) = (&mut pre[rows.clone()], &mut act[rows.clone()]);
            for j in 0..k {
                let row = j * width..j * width + 2 * u;
                let pr = &mut pre[row.clone()];
                for ((p, &x), &r) in pr.iter_mut().zip(&z[row.clone()]).zip(&rec[row.clone()]) {
                    *p = x + r;
                }
                fast_math::apply(ra, pr, &mut act[row]);
            }
        }
        if !self.cfg.reset_after {
            let state = ndarray::s![off..off + k, ..];
            match prev {
                Some(p) => {
                    // The state the gates' product read: masked under recurrent dropout.
                    let hp = if tr.rec_mask.is_empty() {
                        tr.h.slice(ndarray::s![p..p + k, ..])
                    } else {
                        tr.hm.slice(state)
                    };
                    let mut rh = tr.rh.slice_mut(state);
                    for (j, (mut dst, h)) in rh.rows_mut().into_iter().zip(hp.rows()).enumerate() {
                        let r = tr.act.slice(ndarray::s![off + j, u..2 * u]);
                        for ((d, &h), &r) in dst.iter_mut().zip(h).zip(r) {
                            *d = r * h;
                        }
                    }
                    let mut out = tr.rec.slice_mut(ndarray::s![off..off + k, 2 * u..]);
                    let kernel = self.recurrent.slice(ndarray::s![.., 2 * u..]);
                    sgemm(1.0, tr.rh.slice(state), kernel, 0.0, &mut out);
                }
                None => {
                    tr.rh.slice_mut(state).fill(0.0);
                    tr.rec
                        .slice_mut(ndarray::s![off..off + k, 2 * u..])
                        .fill(0.0);
                }
            }
        }
        let (Some(h), Some(zx), Some(rec), Some(pre), Some(act)) = (
            tr.h.as_slice_mut(),
            tr.zx.as_slice(),
            tr.rec.as_slice(),
            tr.pre.as_slice_mut(),
            tr.act.as_slice_mut(),
        ) else {
            return;
        };
        let (h_before, h_rest) = h.split_at_mut(off * u);
        let h_now = &mut h_rest[..k * u];
        let h_prev = prev.map(|p| &h_before[p * u..(p + k) * u]);
        let (z, rec) = (&zx[rows.clone()], &rec[rows.clone()]);
        let (pre, act) = (&mut pre[rows.clone()], &mut act[rows]);
        for j in 0..k {
            let row = j * width..(j + 1) * width;
            let (zr, rr) = (&z[row.clone()], &rec[row.clone()]);
            let (pr, ar) = (&mut pre[row.clone()], &mut act[row]);
            if self.cfg.reset_after {
                for q in 0..u {
                    pr[2 * u + q] = zr[2 * u + q] + ar[u + q] * rr[2 * u + q];
                }
            } else {
                for q in 0..u {
                    pr[2 * u + q] = zr[2 * u + q] + rr[2 * u + q];
                }
            }
            fast_math::apply(a, &pr[2 * u..], &mut ar[2 * u..]);
            let hn = &mut h_now[j * u..(j + 1) * u];
            let (zg, hh) = (&ar[..u], &ar[2 * u..]);
            match h_prev {
                Some(hp) => {
                    let hp = &hp[j * u..(j + 1) * u];
                    for q in 0..u {
                        hn[q] = zg[q] * hp[q] + (1.0 - zg[q]) * hh[q];
                    }
                }
                None => {
                    for q in 0..u {
                        hn[q] = (1.0 - zg[q]) * hh[q];
                    }
                }
            }
        }
    }

    /// Backward through time from `grad_output` (rows as the output), after `forward`.
    fn backprop(&mut self, rows: usize, grad_output: ArrayView2<'_, f32>, need: bool) {
        let (u, width) = (self.cfg.units, self.width());
        let tr = &self.trace;
        let sched = &tr.sched;
        let n = sched.packed();
        let expected_rows = self.out_rows(rows, sched);
        if grad_output.dim() != (expected_rows, u) || rows != tr.input_rows {
            // Not the input or the output gradient of the last forward: no gradient at all
            // (the model never does this; the packed rows would not fit).
            self.grad_kernel.fill(0.0);
            self.grad_recurrent.fill(0.0);
            self.grad_bias.fill(0.0);
            ensure_rows(&mut self.grad_input, rows, self.features);
            self.grad_input.fill(0.0);
            return;
        }
        let (a, ra) = (self.cfg.activation, self.cfg.recurrent_activation);
        ensure_rows(&mut self.dh, sched.batch, u);
        self.dh.fill(0.0);
        ensure_rows(&mut self.dc, sched.batch, u);
        self.dc.fill(0.0);
        ensure_rows(&mut self.dzx, n, width);
        let gru = self.cfg.cell == CellKind::Gru;
        let reset_after = self.cfg.reset_after;
        let masked = !tr.rec_mask.is_empty();
        if gru {
            ensure_rows(&mut self.drec, n, width);
        }
        // The columns of the recurrent kernel that multiply the state itself (without
        // `reset_after`, GRU's candidate block multiplies `r * h`).
        let cols = if gru && !reset_after { 2 * u } else { width };
        if cols < width {
            ensure_rows(&mut self.drh, sched.batch, u);
        }
        if !sched.carry.is_empty() {
            // A state repeated at masked steps gets their gradients too.
            ensure_rows(&mut self.gcarry, n, u);
            self.gcarry.fill(0.0);
            for &(dst, p) in &sched.carry {
                let mut d = self.gcarry.row_mut(p);
                d += &grad_output.row(dst);
            }
        }
        for t in (0..sched.steps()).rev() {
            let (k, off) = (sched.active[t], sched.offsets[t]);
            let prev = t.checked_sub(1).map(|p| sched.offsets[p]);
            if self.cfg.return_sequences {
                for j in 0..k {
                    let g = grad_output.row(sched.place[off + j]);
                    let mut d = self.dh.row_mut(j);
                    d += &g;
                    if !sched.carry.is_empty() {
                        d += &self.gcarry.row(off + j);
                    }
                }
            } else {
                let ending = sched.active.get(t + 1).copied().unwrap_or(0);
                for j in ending..k {
                    self.dh.row_mut(j).assign(&grad_output.row(sched.order[j]));
                }
            }
            let (Some(dz_all), Some(dh_all)) = (self.dzx.as_slice_mut(), self.dh.as_slice_mut())
            else {
                return;
            };
            let dz = &mut dz_all[off * width..(off + k) * width];
            let dh = &mut dh_all[..k * u];
            match self.cfg.cell {
                CellKind::Simple => {
                    let (z, h) = (rows_of(&tr.zx, off, k, width), rows_of(&tr.h, off, k, u));
                    for ((d, &g), (&z, &h)) in dz.iter_mut().zip(&*dh).zip(z.iter().zip(h)) {
                        *d = g * scalar_derivative(a, z, h);
                    }
                }
                CellKind::Lstm => {
                    let (z, act) = (
                        rows_of(&tr.zx, off, k, width),
                        rows_of(&tr.act, off, k, width),
                    );
                    let (c, tc) = (rows_of(&tr.c, off, k, u), rows_of(&tr.tc, off, k, u));
                    let c_prev = prev.map(|p| rows_of(&tr.c, p, k, u));
                    let Some(dc_all) = self.dc.as_slice_mut() else {
                        return;
                    };
                    for j in 0..k {
                        let row = j * width..(j + 1) * width;
                        let x = j * u..(j + 1) * u;
                        lstm_row_backward(
                            (a, ra),
                            LstmRow {
                                z: &z[row.clone()],
                                act: &act[row.clone()],
                                c: &c[x.clone()],
                                tc: &tc[x.clone()],
                                c_prev: c_prev.map(|c| &c[x.clone()]),
                            },
                            &dh[x.clone()],
                            &mut dc_all[x],
                            &mut dz[row],
                        );
                    }
                }
                CellKind::Gru => {
                    let (pre, act, rec) = (
                        rows_of(&tr.pre, off, k, width),
                        rows_of(&tr.act, off, k, width),
                        rows_of(&tr.rec, off, k, width),
                    );
                    let h_prev = prev.map(|p| rows_of(&tr.h, p, k, u));
                    let Some(dr_all) = self.drec.as_slice_mut() else {
                        return;
                    };
                    let dr = &mut dr_all[off * width..(off + k) * width];
                    for j in 0..k {
                        let row = j * width..(j + 1) * width;
                        let (pr, ar, rr) =
                            (&pre[row.clone()], &act[row.clone()], &rec[row.clone()]);
                        let (dzr, drr) = (&mut dz[row.clone()], &mut dr[row]);
                        for q in 0..u {
                            let (z, rg, hh) = (ar[q], ar[u + q], ar[2 * u + q]);
                            let x = j * u + q;
                            let before = h_prev.map_or(0.0, |h| h[x]);
                            let dhv = dh[x];
                            let dhp = dhv * (1.0 - z) * scalar_derivative(a, pr[2 * u + q], hh);
                            let dzp = dhv * (before - hh) * scalar_derivative(ra, pr[q], z);
                            // Without `reset_after` the reset gate's gradient needs the
                            // product below; the candidate's block multiplied `r * h`.
                            let (drp, drh) = if reset_after {
                                let d = dhp * rr[2 * u + q] * scalar_derivative(ra, pr[u + q], rg);
                                (d, dhp * rg)
                            } else {
                                (0.0, dhp)
                            };
                            dzr[q] = dzp;
                            dzr[u + q] = drp;
                            dzr[2 * u + q] = dhp;
                            drr[q] = dzp;
                            drr[u + q] = drp;
                            drr[2 * u + q] = drh;
                            // The state's direct path through `z · h_prev`.
                            dh[x] = dhv * z;
                        }
                    }
                }
            }
            if cols < width {
                // GRU v1: `d(r * h) = d(candidate) · U_hᵀ`, then the reset gate's gradient
                // and the state's path through `r * h`.
                let mut drh = self.drh.slice_mut(ndarray::s![..k, ..]);
                let dcand = self.drec.slice(ndarray::s![off..off + k, 2 * u..]);
                let kernel = self.recurrent.slice(ndarray::s![.., 2 * u..]);
                sgemm(1.0, dcand, kernel.t(), 0.0, &mut drh);
                for j in 0..k {
                    let seq = sched.order[j];
                    for q in 0..u {
                        let (h, m) = match (prev, masked) {
                            (None, _) => (0.0, 1.0),
                            (Some(_), true) => (tr.hm[[off + j, q]], tr.rec_mask[seq * u + q]),
                            (Some(p), false) => (tr.h[[p + j, q]], 1.0),
                        };
                        let (pr, rg) = (tr.pre[[off + j, u + q]], tr.act[[off + j, u + q]]);
                        let d = self.drh[[j, q]];
                        let drp = d * h * scalar_derivative(ra, pr, rg);
                        self.dzx[[off + j, u + q]] = drp;
                        self.drec[[off + j, u + q]] = drp;
                        if prev.is_some() {
                            self.dh[[j, q]] += d * rg * m;
                        }
                    }
                }
            }
            if t > 0 {
                let rows_t = ndarray::s![off..off + k, ..cols];
                let d_rec = if gru {
                    self.drec.slice(rows_t)
                } else {
                    self.dzx.slice(rows_t)
                };
                let beta = if gru { 1.0 } else { 0.0 };
                if tr.rec_mask.is_empty() {
                    let mut dh = self.dh.slice_mut(ndarray::s![..k, ..]);
                    let kernel = self.recurrent.slice(ndarray::s![.., ..cols]);
                    sgemm(1.0, d_rec, kernel.t(), beta, &mut dh);
                } else {
                    // Through the masked state: the product's gradient times the mask.
                    ensure_rows(&mut self.dtmp, sched.batch, u);
                    let mut tmp = self.dtmp.slice_mut(ndarray::s![..k, ..]);
                    let kernel = self.recurrent.slice(ndarray::s![.., ..cols]);
                    sgemm(1.0, d_rec, kernel.t(), 0.0, &mut tmp);
                    for j in 0..k {
                        let seq = sched.order[j];
                        let m = &tr.rec_mask[seq * u..(seq + 1) * u];
                        let mut d = self.dh.row_mut(j);
                        for ((d, &g), &m) in d.iter_mut().zip(self.dtmp.row(j)).zip(m) {
                            *d = beta * *d + g * m;
                        }
                    }
                }
            }
        }
        // The state each step started from, in packed rows (zero at the first step); with
        // recurrent dropout, the masked one the forward pass kept.
        ensure_rows(&mut self.hprev, n, u);
        for t in (0..sched.steps()).filter(|_| !masked) {
            let (k, off) = (sched.active[t], sched.offsets[t]);
            let mut dst = self.hprev.slice_mut(ndarray::s![off..off + k, ..]);
            match t.checked_sub(1).map(|p| sched.offsets[p]) {
                Some(p) => dst.assign(&tr.h.slice(ndarray::s![p..p + k, ..])),
                None => dst.fill(0.0),
            }
        }
        let d_rec = if gru { &self.drec } else { &self.dzx };
        sgemm(1.0, tr.xp.t(), self.dzx.view(), 0.0, &mut self.grad_kernel);
        let hprev = if masked { &tr.hm } else { &self.hprev };
        let mut g = self.grad_recurrent.slice_mut(ndarray::s![.., ..cols]);
        sgemm(
            1.0,
            hprev.t(),
            d_rec.slice(ndarray::s![.., ..cols]),
            0.0,
            &mut g,
        );
        if cols < width {
            let mut g = self.grad_recurrent.slice_mut(ndarray::s![.., cols..]);
            sgemm(
                1.0,
                tr.rh.t(),
                d_rec.slice(ndarray::s![.., cols..]),
                0.0,
                &mut g,
            );
        }
        if self.cfg.use_bias {
            let sums = |m: &Array2<f32>| m.sum_axis(Axis(0));
            let gi = sums(&self.dzx);
            if let Some(g) = self.grad_bias.as_slice_mut() {
                let (first, rest) = g.split_at_mut(width.min(g.len()));
                first.copy_from_slice(gi.as_slice().unwrap_or_default());
                if self.cfg.reset_after {
                    let gr = sums(&self.drec);
                    if rest.len() == gr.len() {
                        rest.copy_from_slice(gr.as_slice().unwrap_or_default());
                    }
                }
            }
        }
        if !need {
            return;
        }
        ensure_rows(&mut self.dxp, n, self.features);
        sgemm(1.0, self.dzx.view(), self.kernel.t(), 0.0, &mut self.dxp);
        if !tr.in_mask.is_empty() {
            let f = self.features;
            for (mut row, &j) in self.dxp.rows_mut().into_iter().zip(&sched.slot) {
                let seq = sched.order[j];
                let m = &tr.in_mask[seq * f..(seq + 1) * f];
                row.iter_mut().zip(m).for_each(|(x, m)| *x *= m);
            }
        }
        ensure_rows(&mut self.grad_input, rows, self.features);
        self.grad_input.fill(0.0);
        for (d, &src) in self.dxp.rows().into_iter().zip(&sched.gather) {
            self.grad_input.row_mut(src).assign(&d);
        }
    }

    /// The kernel, recurrent kernel and bias with their gradients, as `ParamMut` needs them.
    fn params(&mut self) -> [Param<'_>; 3] {
        [
            (
                self.names[0],
                &self.kernel_shape[..],
                self.kernel.as_slice_mut().unwrap_or_default(),
                self.grad_kernel.as_slice().unwrap_or_default(),
            ),
            (
                self.names[1],
                &self.recurrent_shape[..],
                self.recurrent.as_slice_mut().unwrap_or_default(),
                self.grad_recurrent.as_slice().unwrap_or_default(),
            ),
            (
                self.names[2],
                &self.bias_shape[..],
                self.bias.as_slice_mut().unwrap_or_default(),
                self.grad_bias.as_slice().unwrap_or_default(),
            ),
        ]
    }
}

/// What LSTM's backward reads of one row at one step.
struct LstmRow<'a> {
    /// The gates' pre-activations and activations, `(i, f, c, o)` blocks of `units`.
    z: &'a [f32],
    act: &'a [f32],
    /// The carry after the step, its activation, and the carry before it (none: zero).
    c: &'a [f32],
    tc: &'a [f32],
    c_prev: Option<&'a [f32]>,
}

/// One row of LSTM's backward at one step: from the state's gradient `dh` and the carry's
/// `dc` (replaced by the carry's gradient before the step), the gates' pre-activation
/// gradients into `dz`. Keras' default activations (tanh, sigmoid) take a vectorised path.
fn lstm_row_backward(
    (a, ra): (Activation, Activation),
    row: LstmRow<'_>,
    dh: &[f32],
    dc: &mut [f32],
    dz: &mut [f32],
) {
    let u = dh.len();
    if a == Activation::Tanh && ra == Activation::Sigmoid && row.act.len() == 4 * u {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            unsafe { lstm_row_backward_default_avx512(row, dh, dc, dz) };
            return;
        }
        lstm_row_backward_default(row, dh, dc, dz);
        return;
    }
    for q in 0..u {
        let ar = row.act;
        let zr = row.z;
        let (i, f, g, o) = (ar[q], ar[u + q], ar[2 * u + q], ar[3 * u + q]);
        let cp = row.c_prev.map_or(0.0, |c| c[q]);
        let dcv = dc[q] + dh[q] * o * scalar_derivative(a, row.c[q], row.tc[q]);
        dc[q] = dcv * f;
        dz[q] = dcv * g * scalar_derivative(ra, zr[q], i);
        dz[u + q] = dcv * cp * scalar_derivative(ra, zr[u + q], f);
        dz[2 * u + q] = dcv * i * scalar_derivative(a, zr[2 * u + q], g);
        dz[3 * u + q] = dh[q] * row.tc[q] * scalar_derivative(ra, zr[3 * u + q], o);
    }
}

/// [`lstm_row_backward`] for tanh and sigmoid, whose derivatives come from the outputs:
/// `1 - t^2` and `s (1 - s)`. Written over equal-length slices so that it vectorises.
#[inline(always)]
fn lstm_row_backward_default(row: LstmRow<'_>, dh: &[f32], dc: &mut [f32], dz: &mut [f32]) {
    let u = dh.len();
    let (i, rest) = row.act.split_at(u);
    let (f, rest) = rest.split_at(u);
    let (g, o) = rest.split_at(u);
    let (dzi, rest) = dz.split_at_mut(u);
    let (dzf, rest) = rest.split_at_mut(u);
    let (dzg, dzo) = rest.split_at_mut(u);
    let (o, tc, dc) = (&o[..u], &row.tc[..u], &mut dc[..u]);
    let (dzo, dzg) = (&mut dzo[..u], &mut dzg[..u]);
    // At the first step the carry before is zero: any slice times 0 (carries are finite).
    let (cp, keep) = match row.c_prev {
        Some(c) => (&c[..u], 1.0),
        None => (&row.c[..u], 0.0),
    };
    for q in 0..u {
        let t = tc[q];
        let dcv = dc[q] + dh[q] * o[q] * (1.0 - t * t);
        let cp = keep * cp[q];
        dc[q] = dcv * f[q];
        dzi[q] = dcv * g[q] * i[q] * (1.0 - i[q]);
        dzf[q] = dcv * cp * f[q] * (1.0 - f[q]);
        dzg[q] = dcv * i[q] * (1.0 - g[q] * g[q]);
        dzo[q] = dh[q] * t * o[q] * (1.0 - o[q]);
    }
}

/// [`lstm_row_backward_default`] compiled for AVX-512.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn lstm_row_backward_default_avx512(
    row: LstmRow<'_>,
    dh: &[f32],
    dc: &mut [f32],
    dz: &mut [f32],
) {
    lstm_row_backward_default(row, dh, dc, dz);
}

/// Rows `first..first + k` of a standard-layout `(_, width)` buffer, as one slice.
fn rows_of(m: &Array2<f32>, first: usize, k: usize, width: usize) -> &[f32] {
    m.as_slice()
        .and_then(|v| v.get(first * width..(first + k) * width))
        .unwrap_or(&[])
}

/// The name ONNX's recurrent ops give `a` in their `activations` attribute, for the
/// activations whose ONNX form has no parameter to set (ONNX's defaults are Keras' formulas).
fn onnx_rnn_activation(a: Activation) -> Option<&'static str> {
    match a {
        Activation::Sigmoid => Some("Sigmoid"),
        Activation::Tanh => Some("Tanh"),
        Activation::Relu => Some("Relu"),
        _ => None,
    }
}

/// The column order of ONNX's gates in Keras' kernel, bias by bias block: LSTM's
/// `i, o, f, c` from Keras' `i, f, c, o`; GRU (`z, r, h`) and SimpleRNN as they are.
fn onnx_gate_blocks(cell: CellKind) -> &'static [usize] {
    match cell {
        CellKind::Lstm => &[0, 3, 1, 2],
        CellKind::Gru => &[0, 1, 2],
        CellKind::Simple => &[0],
    }
}

impl Recurrent {
    /// Writes this layer's inference from `x`, a dense `(batch, time, features)` tensor,
    /// into `out` as ONNX's `LSTM`, `GRU` (`linear_before_reset = 1`, Keras' `reset_after`)
    /// or `RNN`, its weights the initializers `names` (Keras' `lstm_cell/kernel`, ...,
    /// under the layer) with the gates reordered and transposed by nodes. `go_backwards`
    /// reverses the steps before a forward op, so the sequence output comes in the order
    /// the steps ran, as Keras returns it.
    ///
    /// # Errors
    /// [`Error::OnnxExport`] for an activation ONNX's recurrent ops do not take as Keras
    /// computes it, or a GRU without `reset_after`.
    pub(crate) fn export_onnx_as(
        &self,
        cx: &mut LayerExport<'_>,
        names: [&str; 3],
        x: &str,
        out: &str,
    ) -> Result<(), Error> {
        let cfg = &self.cfg;
        let u = i64::try_from(cfg.units).map_err(|_| cx.unsupported("too many units"))?;
        let (op, activations) = match cfg.cell {
            CellKind::Lstm => (
                "LSTM",
                vec![cfg.recurrent_activation, cfg.activation, cfg.activation],
            ),
            CellKind::Gru => ("GRU", vec![cfg.recurrent_activation, cfg.activation]),
            CellKind::Simple => ("RNN", vec![cfg.activation]),
        };
        if cfg.cell == CellKind::Gru && !cfg.reset_after {
            return Err(cx.unsupported("`reset_after = false` does not run yet"));
        }
        let activations = activations
            .into_iter()
            .map(|a| {
                onnx_rnn_activation(a).ok_or_else(|| {
                    cx.unsupported(format!(
                        "the export writes ONNX's {op} op with the activations sigmoid, tanh \
                         and relu only, not `{}`",
                        a.name()
                    ))
                })
            })
            .collect::<Result<Vec<&str>, Error>>()?;
        // Column indices of the gates in ONNX's order.
        let order: Vec<i64> = onnx_gate_blocks(cfg.cell)
            .iter()
            .flat_map(|&g| (g as i64 * u)..(g as i64 + 1) * u)
            .collect();
        let order = cx.ints("gate_order", &order);
        let zero_axis = cx.ints("axis0", &[0]);
        // Keras' (in, gates · units) kernel as ONNX's (1, gates · units, in).
        let onnx_weight = |cx: &mut LayerExport<'_>, name: &str, what: &str| {
            let w = cx.weight(name)?;
            let (g, t, o) = (
                cx.tmp(&format!("{what}_gates")),
                cx.tmp(&format!("{what}_t")),
                cx.tmp(what),
            );
            cx.node("Gather", &[&w, &order], &[&g], vec![Attr::int("axis", 1)]);
            cx.node("Transpose", &[&g], &[&t], vec![Attr::ints("perm", &[1, 0])]);
            cx.node("Unsqueeze", &[&t, &zero_axis], &[&o], vec![]);
            Ok::<String, Error>(o)
        };
        let w = onnx_weight(cx, names[0], "W")?;
        let r = onnx_weight(cx, names[1], "R")?;
        let mut inputs = vec![String::new(), w, r];
        if cfg.use_bias {
            let bias = cx.weight(names[2])?;
            let width = i64::try_from(order_len(cfg)).map_err(|_| cx.unsupported("too wide"))?;
            let b = cx.tmp("B");
            if cfg.cell == CellKind::Gru {
                // Keras' [2, 3 units]: the input bias, then the recurrent one, as ONNX's Wb, Rb.
                let shape = cx.ints("B_shape", &[1, 2 * width]);
                cx.node("Reshape", &[&bias, &shape], &[&b], vec![]);
            } else {
                // One bias: ONNX's Wb, and zeros for its Rb.
                let zeros = cx.floats("zeros", &[width], &vec![0.0; order_len(cfg)]);
                let (g, both) = (cx.tmp("B_gates"), cx.tmp("B_flat"));
                cx.node(
                    "Gather",
                    &[&bias, &order],
                    &[&g],
                    vec![Attr::int("axis", 0)],
                );
                cx.node(
                    "Concat",
                    &[&g, &zeros],
                    &[&both],
                    vec![Attr::int("axis", 0)],
                );
                cx.node("Unsqueeze", &[&both, &zero_axis], &[&b], vec![]);
            }
            inputs.push(b);
        }
        // The initial state(s) as zeros of (1, batch, units), given rather than left to the
        // default: tract sizes a default state by the batch, which is symbolic here.
        let (shape, batch, first) = (cx.tmp("x_shape"), cx.tmp("batch"), cx.ints("first", &[0]));
        cx.node("Shape", &[x], &[&shape], vec![]);
        cx.node(
            "Gather",
            &[&shape, &first],
            &[&batch],
            vec![Attr::int("axis", 0)],
        );
        let (one, units) = (cx.ints("one", &[1]), cx.ints("units", &[u]));
        let (state_shape, h0) = (cx.tmp("state_shape"), cx.tmp("initial_h"));
        cx.node(
            "Concat",
            &[&one, &batch, &units],
            &[&state_shape],
            vec![Attr::int("axis", 0)],
        );
        // Zeros by expanding a float32 scalar: `ConstantOfShape` without its `value` attribute
        // is float32 by the standard, but tract 0.22 reads it as f64 and refuses the LSTM.
        let zero = cx.scalar("zero", 0.0);
        cx.node("Expand", &[&zero, &state_shape], &[&h0], vec![]);
        inputs.resize(5, String::new());
        inputs.push(h0.clone());
        if cfg.cell == CellKind::Lstm {
            inputs.push(h0);
        }
        // (batch, time, features) to ONNX's (time, batch, features).
        let xt = cx.tmp("time_major");
        cx.node(
            "Transpose",
            &[x],
            &[&xt],
            vec![Attr::ints("perm", &[1, 0, 2])],
        );
        inputs[0] = if cfg.go_backwards {
            reverse_steps(cx, &xt, 0)?
        } else {
            xt
        };
        let mut attrs = vec![
            Attr::int("hidden_size", u),
            Attr::strings("activations", &activations),
        ];
        if cfg.cell == CellKind::Gru {
            attrs.push(Attr::int("linear_before_reset", 1));
        }
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        if cfg.return_sequences {
            // Y: (time, 1, batch, units).
            let (y, ys) = (cx.tmp("Y"), cx.tmp("Y_squeezed"));
            cx.node(op, &inputs, &[&y], attrs);
            let one = cx.ints("axis1", &[1]);
            cx.node("Squeeze", &[&y, &one], &[&ys], vec![]);
            cx.node(
                "Transpose",
                &[&ys],
                &[out],
                vec![Attr::ints("perm", &[1, 0, 2])],
            );
        } else {
            // Y_h: (1, batch, units).
            let yh = cx.tmp("Y_h");
            cx.node(op, &inputs, &["", &yh], attrs);
            cx.node("Squeeze", &[&yh, &zero_axis], &[out], vec![]);
        }
        Ok(())
    }
}

/// The width of the gates: `gates · units`.
fn order_len(cfg: &RecurrentConfig) -> usize {
    cfg.cell.gates().saturating_mul(cfg.units)
}

/// `x` reversed along its time axis `axis`, for `go_backwards` and for re-reversing a
/// backward sequence: a `Gather` of the steps backwards (a dense sequence's steps are
/// known, the shape rule asks for them).
///
/// # Errors
/// [`Error::OnnxExport`] if input 0's steps are unknown.
pub(crate) fn reverse_steps(cx: &mut LayerExport<'_>, x: &str, axis: i64) -> Result<String, Error> {
    let steps = cx
        .input_spec(0)
        .and_then(|s| s.dims.first())
        .and_then(|d| d.known())
        .ok_or_else(|| cx.unsupported("the number of steps is not known"))?;
    let backwards: Vec<i64> = (0..steps)
        .rev()
        .map(|i| i64::try_from(i).map_err(|_| cx.unsupported("too many steps")))
        .collect::<Result<_, _>>()?;
    let (indices, out) = (cx.ints("reversed_steps", &backwards), cx.tmp("reversed"));
    cx.node(
        "Gather",
        &[x, &indices],
        &[&out],
        vec![Attr::int("axis", axis)],
    );
    Ok(out)
}

impl Layer for Recurrent {
    /// ONNX's `LSTM`, `GRU` or `RNN` over the dense input, time-major, the gates reordered
    /// into ONNX's order; a ragged input is refused before this, as ONNX has no ragged
    /// tensors.
    fn export_onnx(&self, cx: &mut LayerExport<'_>) -> Result<(), Error> {
        let (x, out) = (cx.input(0).to_string(), cx.output().to_string());
        self.export_onnx_as(cx, self.names, &x, &out)
    }

    fn call(&self, x: Input<'_>) -> Array2<f32> {
        // Inference is `&self`; its per-step buffers are kept per thread instead, so that
        // predicting batch after batch does not allocate (and page-fault) them every time.
        let mut tr = CALL_TRACE.with(|c| c.take());
        let mut out = Array2::zeros((0, self.cfg.units));
        self.run(&x, &mut tr, &mut out, None);
        CALL_TRACE.with(|c| c.replace(tr));
        out
    }

    fn forward(&mut self, x: Input<'_>, cx: &mut ForwardContext) {
        let mut tr = std::mem::take(&mut self.trace);
        let mut out = std::mem::take(&mut self.out);
        let mut own = self.rng.take();
        let dropping = cx.training && (self.dropout > 0.0 || self.recurrent_dropout > 0.0);
        let rng = dropping.then(|| own.as_mut().unwrap_or(&mut cx.rng));
        self.run(&x, &mut tr, &mut out, rng);
        self.rng = own;
        self.trace = tr;
        self.out = out;
        self.activity.forward(self.out.view(), cx);
    }

    fn output(&self) -> ArrayView2<'_, f32> {
        self.out.view()
    }

    fn backward(&mut self, x: Input<'_>, grad_output: ArrayView2<'_, f32>, need: bool) {
        let rows = x.rows().map_or(0, |r| r.nrows());
        // Taken out for the call, so its buffer and the layer's can be borrowed together.
        let mut activity = std::mem::take(&mut self.activity);
        let grad_output = activity.backward(self.out.view(), grad_output.reborrow());
        self.backprop(rows, grad_output, need);
        self.activity = activity;
    }

    fn grad_input(&self) -> ArrayView2<'_, f32> {
        self.grad_input.view()
    }

    fn visit_params(&mut self, layer: &str, f: &mut dyn FnMut(ParamMut<'_>)) {
        let use_bias = self.cfg.use_bias;
        for (i, (variable, shape, value, grad)) in self.params().into_iter().enumerate() {
            if i < 2 || use_bias {
                f(ParamMut {
                    layer,
                    variable,
                    shape,
                    value,
                    grad,
                });
            }
        }
    }

    fn visit_weights(&self, layer: &str, f: &mut dyn FnMut(ParamRef<'_>)) {
        let weights = [
            (&self.kernel_shape[..], self.kernel.as_slice()),
            (&self.recurrent_shape[..], self.recurrent.as_slice()),
            (&self.bias_shape[..], self.bias.as_slice()),
        ];
        for (i, (shape, value)) in weights.into_iter().enumerate() {
            if let (Some(value), true) = (value, i < 2 || self.cfg.use_bias) {
                f(ParamRef {
                    layer,
                    variable: self.names[i],
                    shape,
                    value,
                    trainable: true,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::RaggedTensor;
    use crate::shape::{layer_spec, Activation, ParamValue};

    fn layer(
        cell: &str,
        units: i64,
        extra: Vec<(&'static str, ParamValue)>,
        f: usize,
    ) -> Recurrent {
        let spec = layer_spec(cell).unwrap();
        let mut given = vec![("units", ParamValue::Int(units))];
        given.extend(extra);
        let config = spec.configure(given);
        let cfg = RecurrentConfig::from_config(CellKind::from_layer_name(cell).unwrap(), &config);
        let mut l = Recurrent::new(cfg, f, 4, &mut Rng::new(5));
        // Nonzero biases, so that their paths are exercised.
        l.bias
            .iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = 0.1 * (i % 5) as f32 - 0.2);
        l
    }

    fn values(n: usize, f: usize, seed: u64) -> Array2<f32> {
        let mut rng = Rng::new(seed);
        Array2::from_shape_fn((n, f), |_| rng.uniform(-1.0, 1.0))
    }

    #[test]
    fn go_backwards_reads_each_row_from_its_end() {
        let x = values(8, 3, 1); // 2 samples of 4 steps
        let mut reversed = x.clone();
        for b in 0..2 {
            for t in 0..4 {
                reversed.row_mut(b * 4 + t).assign(&x.row(b * 4 + 3 - t));
            }
        }
        for cell in ["lstm", "gru", "simple_rnn"] {
            let back = layer(cell, 2, vec![("go_backwards", ParamValue::Bool(true))], 3);
            let mut fwd = layer(cell, 2, vec![], 3);
            fwd.kernel = back.kernel.clone();
            fwd.recurrent = back.recurrent.clone();
            fwd.bias = back.bias.clone();
            let a = back.call(Input::Dense(x.view()));
            let b = fwd.call(Input::Dense(reversed.view()));
            assert_eq!(a.dim(), (2, 2));
            assert!((&a - &b).iter().all(|d| d.abs() < 1e-6), "{cell}");
            assert!(a.iter().any(|v| v.abs() > 1e-3), "{cell}: not all zero");
        }
    }

    /// sum(output * probe) for the layer as it is.
    fn objective(l: &Recurrent, x: Input<'_>, probe: &Array2<f32>) -> f64 {
        let y = l.call(x);
        y.iter()
            .zip(probe)
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum()
    }

    /// Checks backward against central differences on the input and every weight.
    fn check_gradients(mut l: Recurrent, x: &RaggedTensor<f32>, f: usize) {
        let view = x.view();
        let xv = view.values().to_owned();
        let out = l.call(Input::Ragged(view));
        let probe = values(out.nrows(), out.ncols(), 9);
        l.forward(Input::Ragged(view), &mut ForwardContext::default());
        assert_eq!(l.output(), out, "forward and call agree");
        l.backward(Input::Ragged(view), probe.view(), true);
        let eps = 1e-2f32;
        let tol = |g: f64| 2e-3 + 2e-3 * g.abs();
        let gi = l.grad_input().to_owned();
        for idx in 0..xv.len() {
            let (r, c) = (idx / f, idx % f);
            let mut plus = xv.clone();
            plus[[r, c]] += eps;
            let mut minus = xv.clone();
            minus[[r, c]] -= eps;
            let p = objective(&l, Input::Ragged(view.with_values(plus.view())), &probe);
            let m = objective(&l, Input::Ragged(view.with_values(minus.view())), &probe);
            let fd = (p - m) / (2.0 * eps as f64);
            let g = gi[[r, c]] as f64;
            assert!((fd - g).abs() < tol(fd), "grad_x[{r}, {c}]: {g} vs {fd}");
        }
        let mut grads = Vec::new();
        l.visit_params("l", &mut |p| grads.push((p.variable, p.grad.to_vec())));
        for (w, (name, grad)) in grads.iter().enumerate() {
            for (i, &g) in grad.iter().enumerate() {
                let bump = |l: &mut Recurrent, d: f32| {
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
                assert!((fd - g).abs() < tol(fd), "{name}[{i}]: {g} vs {fd}");
            }
        }
    }

    fn ragged(lengths: &[usize], f: usize) -> RaggedTensor<f32> {
        let n: usize = lengths.iter().sum();
        let v = values(n, f, 3);
        RaggedTensor::from_parts(
            v.into_raw_vec_and_offset().0,
            &[f],
            &[{
                let mut s = vec![0];
                for l in lengths {
                    s.push(s.last().unwrap() + l);
                }
                s
            }],
        )
        .unwrap()
    }

    #[test]
    fn gradients_match_finite_differences_on_ragged_rows() {
        // Rows of different lengths, one empty, so steps run with fewer and fewer rows.
        let x = ragged(&[3, 0, 5, 1, 3], 2);
        for cell in ["lstm", "gru", "simple_rnn"] {
            for (seq, back) in [(false, false), (true, false), (false, true), (true, true)] {
                let l = layer(
                    cell,
                    3,
                    vec![
                        ("return_sequences", ParamValue::Bool(seq)),
                        ("go_backwards", ParamValue::Bool(back)),
                    ],
                    2,
                );
                check_gradients(l, &x, 2);
            }
        }
        // Other activations take the generic derivative, from the pre-activation.
        for cell in ["lstm", "simple_rnn"] {
            let l = layer(
                cell,
                2,
                vec![
                    ("activation", ParamValue::Activation(Activation::Swish)),
                    (
                        "recurrent_activation",
                        ParamValue::Activation(Activation::Tanh),
                    ),
                ],
                2,
            );
            check_gradients(l, &x, 2);
        }
        let l = layer(
            "gru",
            2,
            vec![
                ("activation", ParamValue::Activation(Activation::Swish)),
                ("use_bias", ParamValue::Bool(false)),
            ],
            2,
        );
        check_gradients(l, &x, 2);
    }

    #[test]
    fn gru_without_reset_after_has_gradients_matching_finite_differences() {
        let x = ragged(&[3, 0, 5, 1, 3], 2);
        for (seq, back) in [(false, false), (true, false), (false, true), (true, true)] {
            let l = layer(
                "gru",
                3,
                vec![
                    ("reset_after", ParamValue::Bool(false)),
                    ("return_sequences", ParamValue::Bool(seq)),
                    ("go_backwards", ParamValue::Bool(back)),
                ],
                2,
            );
            assert_eq!(l.bias.len(), 9, "one bias of 3 units");
            check_gradients(l, &x, 2);
        }
        let l = layer(
            "gru",
            2,
            vec![
                ("reset_after", ParamValue::Bool(false)),
                ("activation", ParamValue::Activation(Activation::Swish)),
                (
                    "recurrent_activation",
                    ParamValue::Activation(Activation::Tanh),
                ),
            ],
            2,
        );
        check_gradients(l, &x, 2);
    }

    /// Keras' v1 GRU (`reset_after = false`) over one sequence, in f64, from its formulas:
    /// `z = σ(x Wz + h Uz + bz)`, `r = σ(x Wr + h Ur + br)`, `ĥ = tanh(x Wh + (r h) Uh + bh)`,
    /// `h = z h + (1 - z) ĥ`; every state, in the order the steps ran.
    fn gru_v1_reference(l: &Recurrent, steps: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let u = l.cfg.units;
        let w = |m: &Array2<f32>, i: usize, j: usize| m[[i, j]] as f64;
        let sigmoid = |v: f64| 1.0 / (1.0 + (-v).exp());
        let mut h = vec![0.0f64; u];
        let mut states = Vec::new();
        for x in steps {
            let proj = |gate: usize, q: usize| {
                let c = gate * u + q;
                let b = l.bias.get(c).map_or(0.0, |&b| b as f64);
                b + x
                    .iter()
                    .enumerate()
                    .map(|(i, v)| v * w(&l.kernel, i, c))
                    .sum::<f64>()
            };
            let rec = |state: &[f64], gate: usize, q: usize| {
                let c = gate * u + q;
                (0..u)
                    .map(|i| state[i] * w(&l.recurrent, i, c))
                    .sum::<f64>()
            };
            let z: Vec<f64> = (0..u)
                .map(|q| sigmoid(proj(0, q) + rec(&h, 0, q)))
                .collect();
            let r: Vec<f64> = (0..u)
                .map(|q| sigmoid(proj(1, q) + rec(&h, 1, q)))
                .collect();
            let rh: Vec<f64> = (0..u).map(|q| r[q] * h[q]).collect();
            let cand: Vec<f64> = (0..u)
                .map(|q| (proj(2, q) + rec(&rh, 2, q)).tanh())
                .collect();
            h = (0..u)
                .map(|q| z[q] * h[q] + (1.0 - z[q]) * cand[q])
                .collect();
            states.push(h.clone());
        }
        states
    }

    #[test]
    fn gru_without_reset_after_matches_keras_v1_formulas_in_f64() {
        let lengths = [3, 0, 5, 1];
        let x = ragged(&lengths, 2);
        let view = x.view();
        let values = view.values();
        for back in [false, true] {
            let l = layer(
                "gru",
                3,
                vec![
                    ("reset_after", ParamValue::Bool(false)),
                    ("return_sequences", ParamValue::Bool(true)),
                    ("go_backwards", ParamValue::Bool(back)),
                ],
                2,
            );
            let last = {
                let mut l = l.clone();
                l.cfg.return_sequences = false;
                l.call(Input::Ragged(view))
            };
            let y = l.call(Input::Ragged(view));
            let mut start = 0;
            let mut worst = 0.0f64;
            for (b, &len) in lengths.iter().enumerate() {
                let mut steps: Vec<Vec<f64>> = (start..start + len)
                    .map(|r| values.row(r).iter().map(|&v| v as f64).collect())
                    .collect();
                if back {
                    steps.reverse();
                }
                let want = gru_v1_reference(&l, &steps);
                for (t, state) in want.iter().enumerate() {
                    for (q, &v) in state.iter().enumerate() {
                        worst = worst.max((y[[start + t, q]] as f64 - v).abs());
                    }
                }
                let end = want.last().cloned().unwrap_or_else(|| vec![0.0; 3]);
                for (q, &v) in end.iter().enumerate() {
                    worst = worst.max((last[[b, q]] as f64 - v).abs());
                }
                start += len;
            }
            assert!(worst < 1e-5, "go_backwards {back}: max error {worst}");
            // Not the reset-after cell: the same weights give other states there.
            let mut after = l.clone();
            after.cfg.reset_after = true;
            after.bias = Array1::from_iter(l.bias.iter().copied().chain(l.bias.iter().copied()));
            let other = after.call(Input::Ragged(view));
            assert!((&other - &y).iter().any(|d| d.abs() > 1e-3));
        }
    }

    /// A dense `(3, 5, 2)` batch and a mask with holes: steps skipped in the middle, a row
    /// all masked, a row masked at its start.
    fn masked_case() -> (Array2<f32>, Vec<bool>) {
        let mask = [
            [true, true, false, true, false],
            [false; 5],
            [false, true, true, false, true],
        ];
        (values(15, 2, 11), mask.iter().flatten().copied().collect())
    }

    /// The unmasked steps of each row of `masked_case`, as ragged rows.
    fn compacted(x: &Array2<f32>, mask: &[bool]) -> RaggedTensor<f32> {
        let mut splits = vec![0];
        let mut v = Vec::new();
        for b in 0..3 {
            for t in 0..5 {
                if mask[b * 5 + t] {
                    v.extend(x.row(b * 5 + t).iter().copied());
                }
            }
            splits.push(v.len() / 2);
        }
        RaggedTensor::from_parts(v, &[2], &[splits]).unwrap()
    }

    #[test]
    fn masked_steps_are_skipped_as_keras_does() {
        let (x, mask) = masked_case();
        let ragged = compacted(&x, &mask);
        let lens: Vec<usize> = (0..3)
            .map(|b| mask[b * 5..(b + 1) * 5].iter().filter(|&&m| m).count())
            .collect();
        for cell in ["lstm", "gru", "simple_rnn"] {
            for back in [false, true] {
                for zero in [false, true] {
                    let mut l = layer(
                        cell,
                        3,
                        vec![
                            ("return_sequences", ParamValue::Bool(true)),
                            ("go_backwards", ParamValue::Bool(back)),
                        ],
                        2,
                    );
                    l.set_zero_output_for_mask(zero);
                    l.steps = 5;
                    let y = l.call(Input::Masked(x.view(), &mask));
                    let r = l.call(Input::Ragged(ragged.view()));
                    let mut last_seq = l.clone();
                    last_seq.cfg.return_sequences = false;
                    let last = last_seq.call(Input::Masked(x.view(), &mask));
                    let last_ragged = last_seq.call(Input::Ragged(ragged.view()));
                    // The last state: the ragged run over the unmasked steps (zero for none).
                    let d = (&last - &last_ragged)
                        .iter()
                        .fold(0.0f32, |m, d| m.max(d.abs()));
                    assert!(d < 1e-6, "{cell} back {back}: last states differ by {d}");
                    // The sequence, in the order the steps ran: a masked step repeats the
                    // last state that ran (zeros before any), or is zero.
                    let mut first = 0;
                    for b in 0..3 {
                        let mut k = 0;
                        let mut state: Option<usize> = None;
                        for p in 0..5 {
                            let t = if back { 4 - p } else { p };
                            if mask[b * 5 + t] {
                                state = Some(first + k);
                                k += 1;
                            }
                            let want = match (mask[b * 5 + t], state, zero) {
                                (true, Some(s), _) | (false, Some(s), false) => r.row(s).to_owned(),
                                _ => Array1::zeros(3),
                            };
                            let got = y.row(b * 5 + p);
                            let d = (&got - &want).iter().fold(0.0f32, |m, d| m.max(d.abs()));
                            assert!(d < 1e-6, "{cell} back {back} zero {zero}: row {b} step {p}");
                        }
                        first += lens[b];
                    }
                    assert!(y.iter().any(|v| v.abs() > 1e-3), "{cell}: not all zero");
                }
            }
        }
    }

    #[test]
    fn gradients_through_masked_steps_match_finite_differences() {
        let (x, mask) = masked_case();
        for cell in ["lstm", "gru", "simple_rnn"] {
            for (seq, back, zero) in [
                (false, false, false),
                (true, false, false),
                (true, true, false),
                (true, false, true),
                (false, true, false),
            ] {
                let mut l = layer(
                    cell,
                    3,
                    vec![
                        ("return_sequences", ParamValue::Bool(seq)),
                        ("go_backwards", ParamValue::Bool(back)),
                    ],
                    2,
                );
                l.set_zero_output_for_mask(zero);
                l.steps = 5;
                let input = Input::Masked(x.view(), &mask);
                let out = l.call(input);
                let probe = values(out.nrows(), out.ncols(), 9);
                l.forward(input, &mut ForwardContext::default());
                assert_eq!(l.output(), out, "forward and call agree");
                l.backward(input, probe.view(), true);
                let eps = 1e-2f32;
                let tol = |g: f64| 2e-3 + 2e-3 * g.abs();
                let gi = l.grad_input().to_owned();
                for r in 0..x.nrows() {
                    for c in 0..2 {
                        let (mut plus, mut minus) = (x.clone(), x.clone());
                        plus[[r, c]] += eps;
                        minus[[r, c]] -= eps;
                        let p = objective(&l, Input::Masked(plus.view(), &mask), &probe);
                        let m = objective(&l, Input::Masked(minus.view(), &mask), &probe);
                        let fd = (p - m) / (2.0 * eps as f64);
                        let g = gi[[r, c]] as f64;
                        assert!(
                            (fd - g).abs() < tol(fd),
                            "{cell} grad_x[{r}, {c}]: {g} vs {fd}"
                        );
                        if !mask[r] {
                            assert_eq!(g, 0.0, "a masked step has no gradient");
                        }
                    }
                }
                let mut grads = Vec::new();
                l.visit_params("l", &mut |p| grads.push((p.variable, p.grad.to_vec())));
                for (w, (name, grad)) in grads.iter().enumerate() {
                    for (i, &g) in grad.iter().enumerate() {
                        let bump = |l: &mut Recurrent, d: f32| {
                            let mut k = 0;
                            l.visit_params("l", &mut |p| {
                                if k == w {
                                    p.value[i] += d;
                                }
                                k += 1;
                            });
                        };
                        bump(&mut l, eps);
                        let p = objective(&l, input, &probe);
                        bump(&mut l, -2.0 * eps);
                        let m = objective(&l, input, &probe);
                        bump(&mut l, eps);
                        let fd = (p - m) / (2.0 * eps as f64);
                        assert!(
                            (fd - g as f64).abs() < tol(fd),
                            "{cell} {name}[{i}]: {g} vs {fd}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn dropout_masks_are_fixed_over_the_steps_and_backward_follows_them() {
        let x = ragged(&[3, 0, 5, 2], 2);
        let view = x.view();
        let splits = x.row_splits();
        for (cell, reset_after) in [
            ("lstm", true),
            ("gru", true),
            ("gru", false),
            ("simple_rnn", true),
        ] {
            let mut extra = vec![("return_sequences", ParamValue::Bool(true))];
            if !reset_after {
                extra.push(("reset_after", ParamValue::Bool(false)));
            }
            let mut l = layer(cell, 3, extra, 2);
            l.set_dropout(0.3, 0.4, None);
            let inference = l.call(Input::Ragged(view));
            // The same model stream gives the same masks: the objective is a function of the
            // weights and the input, which finite differences can follow.
            fn objective(
                l: &mut Recurrent,
                splits: &[usize],
                xv: ArrayView2<'_, f32>,
                probe: &Array2<f32>,
            ) -> f64 {
                let x = RaggedTensor::from_parts(xv.iter().copied().collect(), &[2], &[splits])
                    .unwrap();
                l.forward(Input::Ragged(x.view()), &mut ForwardContext::training(7));
                l.output()
                    .iter()
                    .zip(probe)
                    .map(|(a, b)| (*a as f64) * (*b as f64))
                    .sum::<f64>()
            }
            l.forward(Input::Ragged(view), &mut ForwardContext::training(7));
            let trained = l.output().to_owned();
            assert!(
                (&trained - &inference).iter().any(|d| d.abs() > 1e-3),
                "{cell}: dropout active"
            );
            let probe = values(trained.nrows(), trained.ncols(), 2);
            l.backward(Input::Ragged(view), probe.view(), true);
            let gi = l.grad_input().to_owned();
            let mut grads = Vec::new();
            l.visit_params("l", &mut |p| grads.push(p.grad.to_vec()));
            let xv = view.values().to_owned();
            let eps = 1e-2f32;
            let tol = |g: f64| 2e-3 + 2e-3 * g.abs();
            for idx in 0..xv.len() {
                let (r, c) = (idx / 2, idx % 2);
                let (mut plus, mut minus) = (xv.clone(), xv.clone());
                plus[[r, c]] += eps;
                minus[[r, c]] -= eps;
                let fd = (objective(&mut l, splits, plus.view(), &probe)
                    - objective(&mut l, splits, minus.view(), &probe))
                    / (2.0 * eps as f64);
                let g = gi[[r, c]] as f64;
                assert!(
                    (fd - g).abs() < tol(fd),
                    "{cell} grad_x[{r}, {c}]: {g} vs {fd}"
                );
            }
            // The recurrent kernel's gradient goes through the masked state.
            let w = 1;
            for (i, &g) in grads[w].iter().enumerate() {
                let bump = |l: &mut Recurrent, d: f32| {
                    let mut k = 0;
                    l.visit_params("l", &mut |p| {
                        if k == w {
                            p.value[i] += d;
                        }
                        k += 1;
                    });
                };
                bump(&mut l, eps);
                let p = objective(&mut l, splits, xv.view(), &probe);
                bump(&mut l, -2.0 * eps);
                let m = objective(&mut l, splits, xv.view(), &probe);
                bump(&mut l, eps);
                let fd = (p - m) / (2.0 * eps as f64);
                assert!(
                    (fd - g as f64).abs() < tol(fd),
                    "{cell} recurrent[{i}]: {g} vs {fd}"
                );
            }
            // Outside training the masks are off: forward is inference.
            let mut cx = ForwardContext {
                training: false,
                ..ForwardContext::training(7)
            };
            l.forward(Input::Ragged(view), &mut cx);
            // (A fresh `call`: the finite differences left the weights a rounding away.)
            assert_eq!(l.output(), l.call(Input::Ragged(view)));
        }
    }

    #[test]
    fn an_empty_row_gives_a_zero_state_and_a_foreign_width_no_work() {
        let x = ragged(&[0, 2], 2);
        let l = layer("lstm", 3, vec![], 2);
        let y = l.call(Input::Ragged(x.view()));
        assert_eq!(y.dim(), (2, 3));
        assert!(y.row(0).iter().all(|&v| v == 0.0));
        assert!(y.row(1).iter().any(|&v| v != 0.0));
        // Rows of another width than the kernel's: zeros, not a panic.
        let wrong = values(8, 5, 1);
        let y = l.call(Input::Dense(wrong.view()));
        assert!(y.iter().all(|&v| v == 0.0));
        // Backward with another input than the last forward's: no gradient, not a panic.
        let mut l = layer(
            "gru",
            3,
            vec![("return_sequences", ParamValue::Bool(true))],
            2,
        );
        let long = ragged(&[4, 6], 2);
        l.forward(Input::Ragged(long.view()), &mut ForwardContext::default());
        let g = Array2::from_elem((2, 3), 1.0);
        l.backward(Input::Ragged(x.view()), g.view(), true);
        assert_eq!(l.grad_input().dim(), (2, 2));
        assert!(l.grad_input().iter().all(|&v| v == 0.0));
    }

    #[test]
    fn unit_forget_bias_starts_the_forget_gate_at_one() {
        let spec = layer_spec("lstm").unwrap();
        let config = spec.configure(vec![("units", ParamValue::Int(3))]);
        let cfg = RecurrentConfig::from_config(CellKind::Lstm, &config);
        let l = Recurrent::new(cfg, 2, 4, &mut Rng::new(1));
        let b = l.bias.to_vec();
        assert_eq!(b, [0., 0., 0., 1., 1., 1., 0., 0., 0., 0., 0., 0.]);
        let mut off = cfg;
        off.unit_forget_bias = false;
        let l = Recurrent::new(off, 2, 4, &mut Rng::new(1));
        assert!(l.bias.iter().all(|&v| v == 0.0));
    }
}
