//! The progress output of `fit`, as Keras' `ProgbarLogger` prints it.
//!
//! On a terminal with `verbose = 1`, a bar redrawn after each batch (drawn by `indicatif`,
//! which handles the terminal's width, cursor and redraw rate):
//! `7/10 ━━━━━━━━━━━━━━──────── 0s 2ms/step - loss: 1.0000`. Otherwise one line per epoch:
//! the finished bar for `verbose = 1`, `10/10 - 0s - 2ms/step - loss: ...` for `verbose = 2`.
//! `verbose = 0` prints nothing. "Epoch i/n" heads each epoch when there is more than one.

use std::fmt::Write as _;
use std::io::Write;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Logs;

/// Where progress goes.
pub(crate) enum Progress<'w> {
    /// `verbose = 0`.
    Silent,
    /// One line per epoch into a writer (not a terminal, or `verbose = 2`).
    Lines { out: &'w mut dyn Write, verbose: u8 },
    /// A live bar on the terminal.
    Bar { bar: Option<ProgressBar> },
}

/// The state of one epoch's output.
pub(crate) struct EpochProgress {
    start: Instant,
    steps: usize,
}

impl Progress<'_> {
    /// Prints the header of `epoch` (0-based) of `epochs` and starts its clock.
    pub(crate) fn begin_epoch(
        &mut self,
        epoch: usize,
        epochs: usize,
        steps: usize,
    ) -> EpochProgress {
        // Keras' ProgbarLogger prints the epoch header only when there is more than one epoch.
        let header = (epochs > 1).then(|| format!("Epoch {}/{}", epoch + 1, epochs));
        match self {
            Progress::Silent => {}
            Progress::Lines { out, .. } => {
                if let Some(h) = header {
                    // Progress output must not abort training (e.g. a closed pipe).
                    let _ = writeln!(out, "{h}");
                }
            }
            Progress::Bar { bar } => {
                if let Some(h) = header {
                    println!("{h}");
                }
                let style = ProgressStyle::with_template("{pos}/{len} {bar:20.bold/dim} {msg}")
                    .map(|s| s.progress_chars("━━"))
                    .unwrap_or_else(|_| ProgressStyle::default_bar());
                let pb =
                    ProgressBar::with_draw_target(Some(steps as u64), ProgressDrawTarget::stdout())
                        .with_style(style);
                *bar = Some(pb);
            }
        }
        EpochProgress {
            start: Instant::now(),
            steps,
        }
    }

    /// After batch `batch` (0-based), with the epoch's running logs.
    pub(crate) fn batch_end(&mut self, epoch: &EpochProgress, batch: usize, logs: &Logs) {
        if let Progress::Bar { bar: Some(pb) } = self {
            let done = batch + 1;
            let elapsed = epoch.start.elapsed().as_secs_f64();
            let per_step = elapsed / done as f64;
            // Keras shows the estimated time left while the epoch runs.
            let eta = per_step * (epoch.steps - done.min(epoch.steps)) as f64;
            pb.set_message(format!(
                "{}s {}{}",
                eta.round() as u64,
                format_per_step(per_step),
                format_logs(logs)
            ));
            pb.set_position(done as u64);
        }
    }

    /// At the end of the epoch, with its logs (validation included).
    pub(crate) fn end_epoch(&mut self, epoch: EpochProgress, logs: &Logs) {
        let seconds = epoch.start.elapsed().as_secs_f64();
        match self {
            Progress::Silent => {}
            Progress::Lines { out, verbose } => {
                let line = epoch_line(epoch.steps, seconds, logs, *verbose);
                let _ = out.write_all(line.as_bytes());
                let _ = out.flush();
            }
            Progress::Bar { bar } => {
                if let Some(pb) = bar.take() {
                    let per_step = seconds / epoch.steps.max(1) as f64;
                    pb.set_position(epoch.steps as u64);
                    pb.finish_with_message(format!(
                        "{}s {}{}",
                        seconds as u64,
                        format_per_step(per_step),
                        format_logs(logs)
                    ));
                }
            }
        }
    }
}

/// Keras' line for a finished epoch: the full bar for `verbose = 1`, the dashed form for 2.
pub(crate) fn epoch_line(steps: usize, seconds: f64, logs: &Logs, verbose: u8) -> String {
    let per_step = if steps == 0 {
        0.0
    } else {
        seconds / steps as f64
    };
    let per_step = format_per_step(per_step);
    let secs = seconds as u64;
    let logs = format_logs(logs);
    let mut s = String::new();
    let _ = if verbose == 1 {
        writeln!(
            s,
            "{steps}/{steps} {} {secs}s {per_step}{logs}",
            "\u{2501}".repeat(20)
        )
    } else {
        writeln!(s, "{steps}/{steps} - {secs}s - {per_step}{logs}")
    };
    s
}

fn format_per_step(per_step: f64) -> String {
    if per_step >= 1.0 || per_step == 0.0 {
        format!("{per_step:.0}s/step")
    } else if per_step >= 1e-3 {
        format!("{:.0}ms/step", per_step * 1e3)
    } else {
        format!("{:.0}us/step", per_step * 1e6)
    }
}

fn format_logs(logs: &Logs) -> String {
    let mut s = String::new();
    for (name, value) in logs.iter() {
        let _ = write!(s, " - {name}: {}", format_metric(value));
    }
    s
}

/// A metric as Keras prints it: 4 decimals, or scientific notation for tiny values.
pub(crate) fn format_metric(v: f32) -> String {
    if v.abs() > 1e-3 || !v.is_finite() {
        return format!("{v:.4}");
    }
    // Python's `{:.4e}` writes a signed exponent of at least two digits.
    let s = format!("{v:.4e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => s,
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
    fn metric_format_is_keras() {
        assert_eq!(format_metric(0.51234), "0.5123");
        assert_eq!(format_metric(1.234e-5), "1.2340e-05");
        assert_eq!(format_metric(0.0), "0.0000e+00");
        assert_eq!(format_metric(f32::NAN), "NaN");
    }

    #[test]
    fn epoch_lines() {
        let bar = "\u{2501}".repeat(20);
        let l = epoch_line(3, 0.003, &logs(&[("loss", 0.51234)]), 1);
        assert_eq!(l, format!("3/3 {bar} 0s 1ms/step - loss: 0.5123\n"));
        let l = epoch_line(
            2,
            2.5,
            &logs(&[("accuracy", 0.75), ("loss", 0.5), ("val_loss", 0.6)]),
            2,
        );
        assert_eq!(
            l,
            "2/2 - 2s - 1s/step - accuracy: 0.7500 - loss: 0.5000 - val_loss: 0.6000\n"
        );
        let l = epoch_line(1, 0.002, &logs(&[("loss", 1.0)]), 2);
        assert_eq!(l, "1/1 - 0s - 2ms/step - loss: 1.0000\n");
    }

    #[test]
    fn lines_carry_the_epoch_header_only_with_several_epochs() {
        let mut buf = Vec::new();
        {
            let mut p = Progress::Lines {
                out: &mut buf,
                verbose: 2,
            };
            for epoch in 0..2 {
                let e = p.begin_epoch(epoch, 2, 1);
                p.batch_end(&e, 0, &logs(&[("loss", 1.0)]));
                p.end_epoch(e, &logs(&[("loss", 1.0)]));
            }
            let e = p.begin_epoch(0, 1, 1);
            p.end_epoch(e, &logs(&[("loss", 1.0)]));
        }
        let text = String::from_utf8(buf).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0], "Epoch 1/2");
        assert!(lines[1].starts_with("1/1 - 0s - "));
        assert_eq!(lines[2], "Epoch 2/2");
        assert!(lines[4].ends_with(" - loss: 1.0000"));
    }
}
