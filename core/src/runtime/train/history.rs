//! What training reports: the logs of an epoch or batch, `History`, `Evaluation`, and the
//! history's plot.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::super::Error;

/// The values of one epoch or batch, by name (`loss`, `accuracy`, `val_loss`, ...), in Keras'
/// order: training values sorted by name, then validation values sorted by name.
///
/// Callbacks read it and may add entries (as `ReduceLROnPlateau` adds `learning_rate`); the
/// fit loop reuses one `Logs` for every batch, so reading it allocates nothing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Logs {
    entries: Vec<(String, f32)>,
}

impl Logs {
    /// The value named `name`.
    pub fn get(&self, name: &str) -> Option<f32> {
        self.entries
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| *v)
    }

    /// Sets `name` to `value`, appending it if new.
    pub fn set(&mut self, name: &str, value: f32) {
        match self.entries.iter_mut().find(|(k, _)| k == name) {
            Some((_, v)) => *v = value,
            None => self.entries.push((name.to_string(), value)),
        }
    }

    /// Every `(name, value)`, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f32)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// The names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// Whether there is no value.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sorts by name, training values before `val_` ones (Keras' order).
    pub(crate) fn sort(&mut self) {
        self.entries
            .sort_by(|(a, _), (b, _)| (a.starts_with("val_"), a).cmp(&(b.starts_with("val_"), b)));
    }

    /// Removes every value, keeping the allocation.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

/// Why a training stopped before its last epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// A callback asked to stop (e.g. `EarlyStopping`), at the end of this epoch (0-based).
    Requested {
        /// The epoch after which training stopped.
        epoch: usize,
    },
    /// The loss became NaN or infinite and `TerminateOnNaN` stopped training (without that
    /// callback, `fit` returns [`Error::NonFiniteLoss`] instead).
    NonFiniteLoss {
        /// The epoch (0-based) it happened in.
        epoch: usize,
        /// The batch (0-based) it happened in.
        batch: usize,
    },
}

/// What `fit` returns: the logs of each epoch (Keras' `History`).
///
/// ```
/// # use stratic::prelude::*;
/// # model! { pub struct Net { input(shape = [4]) -> dense(8, activation = relu) -> dense(1) } }
/// # let x = Array2::<f32>::from_shape_fn((16, 4), |(i, j)| ((i + 2 * j) % 5) as f32 / 5.0);
/// # let y = x.sum_axis(Axis(1)).insert_axis(Axis(1));
/// let mut model = Net::with_seed(0).compile(Adam::new(0.01), Loss::mse()).metrics(&[Metric::Mae]);
/// let history = model.fit(x.view(), y.view(), &FitOptions::default().epochs(3).verbose(0))?;
/// // history.history["loss"], as in Keras
/// assert_eq!(history.history["loss"], history.loss());
/// assert_eq!(history.history["mae"].len(), 3);
/// history.plot(std::env::temp_dir().join("stratic_history_doc.svg"))?; // an SVG chart
/// # Ok::<(), stratic::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// The epochs run (from `initial_epoch`).
    pub epoch: Vec<usize>,
    /// Each value per epoch, by name: `loss`, every metric, `<output>_loss` with several
    /// outputs, and `val_` ones with validation data.
    pub history: BTreeMap<String, Vec<f32>>,
    /// Why training stopped early, if it did.
    pub stopped: Option<StopReason>,
}

impl History {
    /// The training loss of each epoch.
    pub fn loss(&self) -> &[f32] {
        self.get("loss")
    }

    /// The validation loss of each epoch (empty without validation data).
    pub fn val_loss(&self) -> &[f32] {
        self.get("val_loss")
    }

    /// The values of `name` per epoch (empty if never logged).
    pub fn get(&self, name: &str) -> &[f32] {
        self.history.get(name).map_or(&[], Vec::as_slice)
    }

    /// Records the logs of `epoch`. A name first seen late is padded with NaN for the epochs
    /// before, so every series stays aligned with `epoch`.
    pub fn record(&mut self, epoch: usize, logs: &Logs) {
        let before = self.epoch.len();
        self.epoch.push(epoch);
        for (name, value) in logs.iter() {
            let series = self
                .history
                .entry(name.to_string())
                .or_insert_with(|| vec![f32::NAN; before]);
            series.push(value);
        }
    }

    /// Writes an SVG chart of the history to `path`: one panel per quantity (`loss`, then each
    /// metric), its training and validation values per epoch.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be written.
    pub fn plot(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        std::fs::write(path, self.to_svg()).map_err(|e| Error::Io {
            path: path.display().to_string(),
            kind: e.kind(),
            message: e.to_string(),
        })
    }

    /// The chart of [`plot`](Self::plot), as SVG text.
    pub fn to_svg(&self) -> String {
        // Panels: `loss` first, then the other training quantities; each with its `val_` twin.
        let mut bases: Vec<&str> = self
            .history
            .keys()
            .map(|k| k.strip_prefix("val_").unwrap_or(k))
            .collect();
        bases.sort_by_key(|b| (*b != "loss", *b));
        bases.dedup();
        const W: f64 = 420.0;
        const H: f64 = 260.0;
        let cols = bases.len().clamp(1, 2);
        let rows = bases.len().div_ceil(cols).max(1);
        let (width, height) = (W * cols as f64, H * rows as f64);
        let mut s = String::new();
        let _ = writeln!(s, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">"#
        );
        let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
        for (i, base) in bases.iter().enumerate() {
            let (x0, y0) = ((i % cols) as f64 * W, (i / cols) as f64 * H);
            let train = self.history.get(*base);
            let val = self.history.get(&format!("val_{base}"));
            self.panel(&mut s, x0, y0, W, H, base, train, val);
        }
        s.push_str("</svg>\n");
        s
    }

    #[allow(clippy::too_many_arguments)] // A panel's box and its two series.
    fn panel(
        &self,
        s: &mut String,
        x0: f64,
        y0: f64,
        w: f64,
        h: f64,
        title: &str,
        train: Option<&Vec<f32>>,
        val: Option<&Vec<f32>>,
    ) {
        let (left, right, top, bottom) = (x0 + 55.0, x0 + w - 15.0, y0 + 28.0, y0 + h - 40.0);
        let finite = train
            .into_iter()
            .chain(val)
            .flatten()
            .copied()
            .filter(|v| v.is_finite());
        let (mut lo, mut hi) = finite.fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        if lo > hi {
            (lo, hi) = (0.0, 1.0);
        }
        if hi - lo < 1e-12 {
            (lo, hi) = (lo - 0.5, hi + 0.5);
        }
        let (first, last) = (
            self.epoch.first().copied().unwrap_or(0),
            self.epoch.last().copied().unwrap_or(0),
        );
        // Epochs are shown 1-based, as Keras prints them.
        let span = (last - first).max(1) as f64;
        let px = |i: usize| left + (i as f64 / span) * (right - left);
        let py = |v: f32| bottom - ((v - lo) as f64 / (hi - lo) as f64) * (bottom - top);
        let _ = writeln!(
            s,
            r#"<text x="{left}" y="{}" font-size="13" font-weight="bold">{}</text>"#,
            y0 + 18.0,
            escape(title)
        );
        let _ = writeln!(
            s,
            r##"<path d="M{left} {top} V{bottom} H{right}" fill="none" stroke="#444"/>"##
        );
        for (v, y) in [(hi, top), (lo, bottom)] {
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
                left - 4.0,
                y + 4.0,
                tick(v)
            );
        }
        for (e, x) in [(first, left), (last, right)] {
            let _ = writeln!(
                s,
                r#"<text x="{x}" y="{}" text-anchor="middle">{}</text>"#,
                bottom + 14.0,
                e + 1
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">epoch</text>"#,
            (left + right) / 2.0,
            bottom + 28.0
        );
        let series = [("train", train, "#1f77b4"), ("validation", val, "#ff7f0e")];
        // The legend sits on the title's row, right-aligned, clear of the curves.
        let mut legend_x = right - 170.0;
        let legend_y = y0 + 14.0;
        for (label, values, color) in series {
            let Some(values) = values else { continue };
            let mut d = String::new();
            let mut pen_down = false;
            for (i, v) in values.iter().enumerate() {
                if !v.is_finite() {
                    pen_down = false;
                    continue;
                }
                let _ = write!(
                    d,
                    "{}{:.2} {:.2} ",
                    if pen_down { "L" } else { "M" },
                    px(i),
                    py(*v)
                );
                pen_down = true;
            }
            if !d.is_empty() {
                let _ = writeln!(
                    s,
                    r#"<path d="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
                    d.trim_end()
                );
            }
            let _ = writeln!(
                s,
                r#"<line x1="{legend_x}" y1="{legend_y}" x2="{}" y2="{legend_y}" stroke="{color}" stroke-width="2"/><text x="{}" y="{}">{label}</text>"#,
                legend_x + 16.0,
                legend_x + 20.0,
                legend_y + 4.0
            );
            legend_x += 80.0;
        }
    }
}

// A tick label: 4 significant digits.
fn tick(v: f32) -> String {
    if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e5) {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

// Metric names come from layer names, which are Rust identifiers; escape anyway.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// What `evaluate` returns: the loss and every metric (Keras' `evaluate(return_dict=True)`).
///
/// ```
/// # use stratic::prelude::Evaluation;
/// let e = Evaluation { loss: 0.25, metrics: [("accuracy".to_string(), 0.9)].into() };
/// assert_eq!(e.get("loss"), Some(0.25));
/// assert_eq!(e.get("accuracy"), Some(0.9));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evaluation {
    /// The loss (with several outputs, the weighted sum of their losses).
    pub loss: f32,
    /// Every metric by its logged name, and `<output>_loss` with several outputs.
    pub metrics: BTreeMap<String, f32>,
}

impl Evaluation {
    /// The value named `name` (`"loss"` or a metric's name).
    pub fn get(&self, name: &str) -> Option<f32> {
        if name == "loss" {
            Some(self.loss)
        } else {
            self.metrics.get(name).copied()
        }
    }

    pub(crate) fn from_logs(logs: &Logs) -> Self {
        let mut e = Evaluation::default();
        for (name, value) in logs.iter() {
            if name == "loss" {
                e.loss = value;
            } else {
                e.metrics.insert(name.to_string(), value);
            }
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logs(pairs: &[(&str, f32)]) -> Logs {
        let mut l = Logs::default();
        for (k, v) in pairs {
            l.set(k, *v);
        }
        l
    }

    #[test]
    fn history_records_and_pads_late_names() {
        let mut h = History::default();
        h.record(0, &logs(&[("loss", 1.0)]));
        h.record(1, &logs(&[("loss", 0.5), ("learning_rate", 0.1)]));
        assert_eq!(h.loss(), &[1.0, 0.5]);
        let lr = h.get("learning_rate");
        assert!(lr[0].is_nan());
        assert_eq!(lr[1], 0.1);
        assert_eq!(h.epoch, vec![0, 1]);
    }

    #[test]
    fn svg_has_a_panel_per_quantity() {
        let mut h = History::default();
        for (e, l) in [1.0f32, 0.6, 0.4].iter().enumerate() {
            h.record(
                e,
                &logs(&[
                    ("accuracy", 0.5 + e as f32 / 10.0),
                    ("loss", *l),
                    ("val_loss", l + 0.1),
                ]),
            );
        }
        let svg = h.to_svg();
        assert!(svg.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\""
        ));
        assert!(svg.trim_end().ends_with("</svg>"));
        // Two panels (loss first), three lines (loss, val_loss, accuracy).
        let loss_at = svg.find(">loss</text>").unwrap();
        let acc_at = svg.find(">accuracy</text>").unwrap();
        assert!(loss_at < acc_at);
        assert_eq!(svg.matches("stroke-width=\"2\"/>\n").count(), 3);
        assert_eq!(svg.matches(">validation</text>").count(), 1);
    }
}
