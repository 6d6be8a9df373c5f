//! `model.summary()` and a Graphviz picture of the graph (Keras' `plot_model`), from the
//! layer metadata the `model!` macro computes.
//!
//! The table is laid out as Keras 3 prints it (`keras/src/utils/summary_utils.py`, drawn with
//! `rich`): Keras asks for columns at fractions of the line (`[0.45, 0.80, 1.0]` for a
//! sequential model, `[0.3, 0.56, 0.74, 1.0]` with `Connected to`), on a line of
//! `min(88 or 108, terminal columns - 4)`; `rich` then takes the borders and padding out of
//! those widths, shrinking every column by an equal share (`ratio_reduce`, with Python's
//! round-half-to-even), and wraps words in cells that are too narrow. [`Summary`]'s `Display`
//! does the same for an 80-column terminal, the width Python assumes when output is not a
//! terminal; [`Summary::render`] takes another line length.
//!
//! ```
//! use stratic::shape::{Summary, SummaryRow};
//!
//! let summary = Summary {
//!     model_name: "sequential".into(),
//!     sequential: true,
//!     rows: vec![SummaryRow {
//!         name: "dense".into(),
//!         class_name: "Dense".into(),
//!         output_shape: "(None, 8)".into(),
//!         params: 40,
//!         non_trainable: 0,
//!         connected_to: vec![],
//!     }],
//! };
//! let text = summary.to_string();
//! assert!(text.contains("│ dense (Dense)                   │ (None, 8)              │            40 │"));
//! assert!(text.contains(" Total params: 40 (160.00 B)"));
//! ```

use std::fmt;

/// One row of the summary: a layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SummaryRow {
    /// The layer's name (`dense`, `q_tower`, ...).
    pub name: String,
    /// Keras' class name (`Dense`, `InputLayer`, `Concatenate`, ...).
    pub class_name: String,
    /// The output shape, Keras-style: `(None, 8)`.
    pub output_shape: String,
    /// The number of weights.
    pub params: usize,
    /// How many of the weights training leaves alone (moving statistics, frozen layers).
    pub non_trainable: usize,
    /// The layers feeding this one, in call order (every use of a shared layer in turn).
    /// Either a name (`q_tower`, shown as `q_tower[0][0]`) or Keras' full form
    /// `name[node][tensor]` (e.g. `tower[1][0]` for the second use of a shared layer), shown as
    /// given.
    pub connected_to: Vec<String>,
}

/// What `summary()` returns: `Display` prints Keras' table, [`to_dot`](Summary::to_dot) the
/// graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The model's name (Keras prints `Model: "name"`).
    pub model_name: String,
    /// Whether Keras would print it as a sequential model: three columns, no `Connected to`.
    pub sequential: bool,
    /// The layers, in the order Keras lists them (a functional model's inputs first).
    pub rows: Vec<SummaryRow>,
}

/// The line length Keras uses when printing to a non-terminal (or an 80-column terminal):
/// `min(88 or 108, 80 - 4)`.
pub const SUMMARY_LINE_LENGTH: usize = 76;

/// Bytes per parameter: every weight is an `f32`.
const BYTES_PER_PARAM: usize = 4;

impl Summary {
    /// Every weight of the model.
    pub fn total_params(&self) -> usize {
        self.rows.iter().map(|r| r.params).sum()
    }

    /// The weights training updates.
    pub fn trainable_params(&self) -> usize {
        self.rows
            .iter()
            .map(|r| r.params.saturating_sub(r.non_trainable))
            .sum()
    }

    /// The weights training leaves alone.
    pub fn non_trainable_params(&self) -> usize {
        self.rows.iter().map(|r| r.non_trainable).sum()
    }

    /// The summary laid out on lines of `line_length` characters (Keras' `line_length`);
    /// `Display` uses [`SUMMARY_LINE_LENGTH`].
    pub fn render(&self, line_length: usize) -> String {
        let mut out = format!("Model: \"{}\"\n", self.model_name);
        let (header, positions, right): (&[&str], &[f64], &[bool]) = if self.sequential {
            (
                &["Layer (type)", "Output Shape", "Param #"],
                &[0.45, 0.80, 1.0],
                &[false, false, true],
            )
        } else {
            (
                &["Layer (type)", "Output Shape", "Param #", "Connected to"],
                &[0.3, 0.56, 0.74, 1.0],
                &[false, false, true, false],
            )
        };
        let widths = column_widths(positions, line_length);
        let body: Vec<Vec<String>> = self.rows.iter().map(|r| self.cells(r)).collect();
        let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
        draw_table(&mut out, &widths, right, &header, &body);
        for (label, count) in [
            ("Total", self.total_params()),
            ("Trainable", self.trainable_params()),
            ("Non-trainable", self.non_trainable_params()),
        ] {
            out.push_str(&format!(
                " {label} params: {} ({})\n",
                thousands(count),
                readable_size(count.saturating_mul(BYTES_PER_PARAM))
            ));
        }
        out
    }

    fn cells(&self, row: &SummaryRow) -> Vec<String> {
        let mut cells = vec![
            format!("{} ({})", row.name, row.class_name),
            row.output_shape.clone(),
            thousands(row.params),
        ];
        if !self.sequential {
            let links: Vec<String> = row.connected_to.iter().map(|c| connection(c)).collect();
            cells.push(if links.is_empty() {
                "-".to_string()
            } else {
                links.join(", ")
            });
        }
        cells
    }

    /// The graph in Graphviz DOT, the counterpart of Keras' `plot_model(show_shapes=True)`:
    /// one node per layer labelled `name (Class)` and its output shape, one edge per
    /// connection labelled with the shape flowing along it. A sequential summary whose rows
    /// list no connections is drawn as a chain, in row order. Render it with
    /// `dot -Tpng model.dot -o model.png`.
    pub fn to_dot(&self) -> String {
        let mut out = format!("digraph {} {{\n", quote(&self.model_name));
        out.push_str("  graph [rankdir=\"TB\"];\n");
        out.push_str("  node [shape=\"box\", fontname=\"Helvetica\"];\n");
        out.push_str("  edge [fontname=\"Helvetica\", fontsize=\"10\"];\n");
        for r in &self.rows {
            out.push_str(&format!(
                "  {} [label={}];\n",
                quote(&r.name),
                quote_lines(&[&format!("{} ({})", r.name, r.class_name), &r.output_shape])
            ));
        }
        let chain = self.sequential && self.rows.iter().all(|r| r.connected_to.is_empty());
        for (i, r) in self.rows.iter().enumerate() {
            let producers: Vec<&str> = if chain {
                i.checked_sub(1)
                    .and_then(|p| self.rows.get(p))
                    .map(|p| vec![p.name.as_str()])
                    .unwrap_or_default()
            } else {
                r.connected_to.iter().map(|c| producer(c)).collect()
            };
            for p in producers {
                let shape = self
                    .rows
                    .iter()
                    .find(|row| row.name == p)
                    .map(|row| row.output_shape.as_str());
                let label = shape.map_or(String::new(), |s| format!(" [label={}]", quote(s)));
                out.push_str(&format!("  {} -> {}{label};\n", quote(p), quote(&r.name)));
            }
        }
        out.push_str("}\n");
        out
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(SUMMARY_LINE_LENGTH))
    }
}

// `q_tower` -> `q_tower[0][0]`; a connection already in Keras' form stays as given.
fn connection(c: &str) -> String {
    if c.ends_with(']') {
        c.to_string()
    } else {
        format!("{c}[0][0]")
    }
}

// The producing layer of a connection: `tower[1][0]` -> `tower`.
fn producer(c: &str) -> &str {
    let mut name = c;
    // Strip at most the two `[n]` suffixes of Keras' form.
    for _ in 0..2 {
        if let Some(stripped) = name.strip_suffix(']') {
            match stripped.rfind('[') {
                Some(open) if stripped[open + 1..].bytes().all(|b| b.is_ascii_digit()) => {
                    name = &stripped[..open];
                }
                _ => break,
            }
        }
    }
    name
}

// A DOT string: quoted, with `"` and `\` escaped.
fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for ch in s.chars() {
        match ch {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            _ => q.push(ch),
        }
    }
    q.push('"');
    q
}

// A multi-line DOT label: lines joined with DOT's `\n` escape (a centred line break).
fn quote_lines(lines: &[&str]) -> String {
    quote(&lines.join("\n"))
}

// `1234567` -> `1,234,567`, Python's `f"{n:,}"`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

// Keras' `readable_memory_size`: 1024-based units, two decimals.
fn readable_size(bytes: usize) -> String {
    let mut size = bytes as f64;
    let units = ["B", "KB", "MB", "GB", "TB", "PB"];
    for unit in units {
        if size / 1024.0 < 1.0 {
            return format!("{size:.2} {unit}");
        }
        size /= 1024.0;
    }
    format!("{size:.2} PB")
}

// Keras' widths (fractions of the line), then rich's fitting: each column asks for its width
// plus 2 of padding, the borders take `columns + 1`, and the excess is taken from every column
// in equal shares (rich's `ratio_reduce`). Returns the widths including the padding.
fn column_widths(positions: &[f64], line_length: usize) -> Vec<usize> {
    let mut wanted = Vec::with_capacity(positions.len());
    let mut current = 0usize;
    for p in positions {
        // Python's `int(pos * line_length)` truncates.
        let edge = (p * line_length as f64) as usize;
        // Keras refuses columns under 4 characters; here they are kept at 4 instead.
        let width = edge.saturating_sub(current).max(4);
        wanted.push(width + 2);
        current += width;
    }
    let max_width = line_length.saturating_sub(positions.len() + 1);
    let total: usize = wanted.iter().sum();
    if total <= max_width {
        return wanted;
    }
    let mut remaining = (total - max_width) as f64;
    let mut ratio_left = wanted.len() as f64;
    wanted
        .iter()
        .map(|&w| {
            // Python's `round` rounds half to even.
            let share = (remaining / ratio_left).round_ties_even().min(w as f64);
            remaining -= share;
            ratio_left -= 1.0;
            // A cell keeps at least one character between its paddings.
            (w - share as usize).max(3)
        })
        .collect()
}

// rich's word wrap: words (with their trailing spaces) fill a line while they fit; a word
// longer than the line is cut into pieces of the line's width.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = vec![String::new()];
    let mut rest = text;
    while !rest.is_empty() {
        let word_end = rest.find(' ').unwrap_or(rest.len());
        let space_end = rest[word_end..]
            .find(|c| c != ' ')
            .map_or(rest.len(), |i| word_end + i);
        let (word, spaces) = (&rest[..word_end], &rest[word_end..space_end]);
        rest = &rest[space_end..];
        let len = word.chars().count();
        let Some(line) = lines.last_mut() else {
            break;
        };
        let used = line.chars().count();
        if used + len <= width {
            line.push_str(word);
            line.push_str(spaces);
            continue;
        }
        let mut chars: Vec<char> = word.chars().collect();
        if len <= width {
            lines.push(format!("{word}{spaces}"));
            continue;
        }
        // Fold a word wider than the column.
        if !line.is_empty() {
            lines.push(String::new());
        }
        while chars.len() > width {
            let tail = chars.split_off(width);
            if let Some(line) = lines.last_mut() {
                line.extend(chars.iter());
            }
            lines.push(String::new());
            chars = tail;
        }
        if let Some(line) = lines.last_mut() {
            line.extend(chars.iter());
            line.push_str(spaces);
        }
    }
    lines.iter().map(|l| l.trim_end().to_string()).collect()
}

// Draws the table with rich's HEAVY_HEAD box and `show_lines=True`: heavy lines around the
// header, a light rule between rows. `widths` include one space of padding on each side.
fn draw_table(
    out: &mut String,
    widths: &[usize],
    right: &[bool],
    header: &[String],
    body: &[Vec<String>],
) {
    let rule = |out: &mut String, [l, fill, mid, r]: [char; 4]| {
        out.push(l);
        for (i, w) in widths.iter().enumerate() {
            if i > 0 {
                out.push(mid);
            }
            out.extend(std::iter::repeat_n(fill, *w));
        }
        out.push(r);
        out.push('\n');
    };
    let row = |out: &mut String, cells: &[String], bar: char| {
        let wrapped: Vec<Vec<String>> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| wrap(c, w.saturating_sub(2)))
            .collect();
        let height = wrapped.iter().map(Vec::len).max().unwrap_or(1);
        for line in 0..height {
            out.push(bar);
            for (i, (cell, w)) in wrapped.iter().zip(widths).enumerate() {
                if i > 0 {
                    out.push(bar);
                }
                let text = cell.get(line).map_or("", String::as_str);
                let inner = w.saturating_sub(2);
                let text = if right.get(i).copied().unwrap_or(false) {
                    format!("{text:>inner$}")
                } else {
                    format!("{text:<inner$}")
                };
                out.push(' ');
                out.push_str(&text);
                out.push(' ');
            }
            out.push(bar);
            out.push('\n');
        }
    };
    rule(out, ['┏', '━', '┳', '┓']);
    row(out, header, '┃');
    rule(out, ['┡', '━', '╇', '┩']);
    for (i, cells) in body.iter().enumerate() {
        if i > 0 {
            rule(out, ['├', '─', '┼', '┤']);
        }
        row(out, cells, '│');
    }
    rule(out, ['└', '─', '┴', '┘']);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, class: &str, shape: &str, params: usize, from: &[&str]) -> SummaryRow {
        SummaryRow {
            name: name.into(),
            class_name: class.into(),
            output_shape: shape.into(),
            params,
            non_trainable: 0,
            connected_to: from.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn keras_column_widths_at_80_columns() {
        // Cell widths (with padding) of the fixtures printed by Keras 3.15 at 80 columns.
        assert_eq!(column_widths(&[0.45, 0.80, 1.0], 76), vec![33, 24, 15]);
        assert_eq!(
            column_widths(&[0.3, 0.56, 0.74, 1.0], 76),
            vec![21, 19, 12, 19]
        );
        // Keras' own 88 for a sequential model on a wide terminal: asked 41 + 33 + 20, fitted
        // into 88 - 4 borders by taking 3, 4 (round(3.5) is 4, half to even) and 3.
        assert_eq!(column_widths(&[0.45, 0.80, 1.0], 88), vec![38, 29, 17]);
    }

    #[test]
    fn wrap_like_rich() {
        assert_eq!(
            wrap("concatenate (Concatenate)", 19),
            vec!["concatenate", "(Concatenate)"]
        );
        assert_eq!(
            wrap("q_tower[0][0], d_tower[0][0]", 17),
            vec!["q_tower[0][0],", "d_tower[0][0]"]
        );
        assert_eq!(wrap("abcdefghij x", 4), vec!["abcd", "efgh", "ij x"]);
        assert_eq!(wrap("short", 10), vec!["short"]);
        assert_eq!(wrap("", 10), vec![""]);
    }

    #[test]
    fn numbers_and_sizes_as_keras_prints_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(833), "833");
        assert_eq!(thousands(269_322), "269,322");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(readable_size(0), "0.00 B");
        assert_eq!(readable_size(160), "160.00 B");
        assert_eq!(readable_size(3332), "3.25 KB");
        assert_eq!(readable_size(1_077_288), "1.03 MB");
        assert_eq!(readable_size(3 << 30), "3.00 GB");
    }

    #[test]
    fn counts_split_trainable() {
        let mut frozen = row("dense_1", "Dense", "(None, 2)", 10, &["dense"]);
        frozen.non_trainable = frozen.params;
        let s = Summary {
            model_name: "m".into(),
            sequential: false,
            rows: vec![row("dense", "Dense", "(None, 4)", 20, &[]), frozen],
        };
        assert_eq!(
            (
                s.total_params(),
                s.trainable_params(),
                s.non_trainable_params()
            ),
            (30, 20, 10)
        );
        let text = s.to_string();
        assert!(
            text.contains(" Non-trainable params: 10 (40.00 B)"),
            "{text}"
        );
        assert!(text.contains("dense[0][0]"), "{text}");
        // An input with no connection shows `-`.
        assert!(text.contains("│ -  "), "{text}");
    }

    #[test]
    fn producers_and_connections() {
        assert_eq!(producer("tower[1][0]"), "tower");
        assert_eq!(producer("tower"), "tower");
        assert_eq!(producer("odd[x]"), "odd[x]");
        assert_eq!(connection("tower"), "tower[0][0]");
        assert_eq!(connection("tower[1][0]"), "tower[1][0]");
        assert_eq!(quote("a \"b\" \\ c"), r#""a \"b\" \\ c""#);
    }
}
