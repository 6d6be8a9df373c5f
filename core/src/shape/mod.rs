//! Shape rules: what each layer accepts and what it produces, written once.
//!
//! This module is pure (no ndarray, no allocation-heavy machinery) so that the `model!` macro
//! can call it at expansion time and the runtime can call it when it checks inputs; the two
//! therefore cannot disagree. Shapes follow Keras: the batch axis first, `None` for an unknown
//! dimension, displayed as `(None, 4)`.

mod info;
mod input;
pub mod layers;
mod ragged;
mod regularizer;
pub mod spec;
mod summary;
mod vocab;

pub use info::{GraphNode, GraphOp, LayerInfo, ModelGraph, StaticSpec};
pub use input::{
    check_input_layer, InputArg, InputArgs, InputRuleViolation, TypeSpecArg, TypeSpecKind,
};
pub use layers::{
    keras_layer_table, layer_spec, layers_taking, merge_output, norm_axis, reference_markdown,
    BatchNormConfig, CellKind, DenseConfig, EmbeddingConfig, KerasLayer, LayerNormConfig,
    MergeConfig, MergeOp, NormAxis, PoolingMode, RecurrentConfig, CUSTOM, KERAS_LAYERS, LAYERS,
    MERGES, STRATIC_ONLY,
};
pub use ragged::{ragged_rank, ragged_type_spec_rank};
pub use regularizer::{
    activity_regularizer, regularizes, weight_regularizer, Regularizer, RegularizerKind,
    REGULARIZERS,
};
pub use spec::{
    weight_counts, Arity, Config, DTypeClass, InputSpec, LayerSpec, MaskFlow, ParamDefault,
    ParamKind, ParamSpec, ParamValue, RuleInput, WeightSpec,
};
pub use summary::{Summary, SummaryRow, SUMMARY_LINE_LENGTH};
pub use vocab::{Activation, Initializer, ACTIVATIONS, INITIALIZERS};

use std::fmt;

/// One dimension of a shape: a known size or `None` (unknown until run time).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dim {
    /// A size known when the model is declared.
    Known(usize),
    /// A size known only at run time (Keras' `None`).
    Unknown,
}

impl Dim {
    /// The size, if known.
    pub fn known(self) -> Option<usize> {
        match self {
            Dim::Known(n) => Some(n),
            Dim::Unknown => None,
        }
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Known(n) => write!(f, "{n}"),
            Dim::Unknown => f.write_str("None"),
        }
    }
}

/// Element type of a tensor, by Keras' names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// `float32`, the Keras default.
    F32,
    /// `float64`.
    F64,
    /// `int32`.
    I32,
    /// `int64`.
    I64,
    /// `uint8`.
    U8,
    /// `bool`.
    Bool,
}

impl DType {
    /// Every dtype with its DSL name (the Rust type name).
    pub const ALL: [(DType, &'static str); 6] = [
        (DType::F32, "f32"),
        (DType::F64, "f64"),
        (DType::I32, "i32"),
        (DType::I64, "i64"),
        (DType::U8, "u8"),
        (DType::Bool, "bool"),
    ];

    /// Parses a DSL dtype name (`f32`, `i32`, ...). Keras' names (`float32`, `int32`, ...) are
    /// accepted as well.
    pub fn from_name(name: &str) -> Option<DType> {
        let keras = match name {
            "float32" => Some(DType::F32),
            "float64" => Some(DType::F64),
            "int32" => Some(DType::I32),
            "int64" => Some(DType::I64),
            "uint8" => Some(DType::U8),
            _ => None,
        };
        keras.or_else(|| Self::ALL.iter().find(|(_, n)| *n == name).map(|(d, _)| *d))
    }

    /// The Rust type name, as written in the DSL.
    pub fn rust_name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(d, _)| *d == self)
            .map(|(_, n)| *n)
            .unwrap_or("f32")
    }

    /// Keras' name (`float32`, `int32`, ...), used in messages.
    pub fn keras_name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::U8 => "uint8",
            DType::Bool => "bool",
        }
    }

    /// Whether this is a floating-point type.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }

    /// Whether this is an integer type.
    pub fn is_integer(self) -> bool {
        matches!(self, DType::I32 | DType::I64 | DType::U8)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keras_name())
    }
}

/// How a tensor is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    /// A dense array.
    Dense,
    /// A sparse tensor (COO/CSR).
    Sparse,
    /// A ragged tensor (flat values + row splits).
    Ragged,
}

/// The static description of a tensor flowing between layers: batch axis, the other axes,
/// dtype and layout. This is what shape inference computes for every edge of the graph.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TensorSpec {
    /// The batch dimension (usually `None`).
    pub batch: Dim,
    /// The dimensions after the batch axis.
    pub dims: Vec<Dim>,
    /// The element type.
    pub dtype: DType,
    /// Dense, sparse or ragged.
    pub layout: Layout,
}

impl TensorSpec {
    /// A dense `float32` spec with an unknown batch size.
    pub fn dense(dims: Vec<Dim>) -> Self {
        TensorSpec {
            batch: Dim::Unknown,
            dims,
            dtype: DType::F32,
            layout: Layout::Dense,
        }
    }

    /// The rank including the batch axis (Keras' `ndim`).
    pub fn ndim(&self) -> usize {
        self.dims.len() + 1
    }

    /// The last dimension (the batch axis if there is no other).
    pub fn last(&self) -> Dim {
        self.dims.last().copied().unwrap_or(self.batch)
    }

    /// The number of features per sample if every non-batch dim is known.
    pub fn features(&self) -> Option<usize> {
        self.dims
            .iter()
            .try_fold(1usize, |acc, d| d.known().and_then(|n| acc.checked_mul(n)))
    }

    /// The shape in Keras' notation, e.g. `(None, 4)`.
    pub fn shape_string(&self) -> String {
        let mut s = String::from("(");
        s.push_str(&self.batch.to_string());
        for d in &self.dims {
            s.push_str(", ");
            s.push_str(&d.to_string());
        }
        if self.dims.is_empty() {
            s.push(',');
        }
        s.push(')');
        s
    }
}

impl fmt::Display for TensorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shape_string())?;
        if self.dtype != DType::F32 {
            write!(f, " {}", self.dtype)?;
        }
        match self.layout {
            Layout::Dense => Ok(()),
            Layout::Sparse => f.write_str(" sparse"),
            Layout::Ragged => f.write_str(" ragged"),
        }
    }
}

/// A layer's rule refused its input. The message is complete and Keras-style: it names the
/// layer, what was expected and what was received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    /// What went wrong, ready to show to the user.
    pub message: String,
}

impl RuleError {
    /// An error with a complete message.
    pub fn new(message: impl Into<String>) -> Self {
        RuleError {
            message: message.into(),
        }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RuleError {}

/// Checks the shape of a value handed to a model at run time against the declared spec.
/// `actual` includes the batch axis. Returns the message describing the mismatch.
pub fn check_runtime_shape(spec: &TensorSpec, actual: &[usize]) -> Result<(), String> {
    let expected = spec.ndim();
    if actual.len() != expected {
        return Err(format!(
            "expected a tensor of rank {expected} with shape {}, received rank {} with shape {:?}",
            spec.shape_string(),
            actual.len(),
            actual
        ));
    }
    let declared = std::iter::once(spec.batch).chain(spec.dims.iter().copied());
    for (axis, (want, got)) in declared.zip(actual).enumerate() {
        if let Dim::Known(n) = want {
            if n != *got {
                return Err(format!(
                    "expected axis {axis} of input shape to have value {n}, but received input with shape {actual:?}; the declared shape is {}",
                    spec.shape_string()
                ));
            }
        }
    }
    Ok(())
}

/// The spelling suggestion used in "did you mean" messages: the candidate closest to `word` by
/// edit distance, if it is close enough to be a plausible typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = edit_distance(word, c);
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    let (d, c) = best?;
    // Allow roughly one typo per three characters, as rustc's suggestions do.
    (d <= (word.chars().count().max(c.chars().count()) / 3).max(1)).then_some(c)
}

// Optimal string alignment distance: a swap of two neighbouring letters counts as one edit,
// the most common typo in a name.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_suggests_typos_only() {
        let names = ["dense", "activation", "input"];
        assert_eq!(closest("dnese", names), Some("dense"));
        assert_eq!(closest("activaton", names), Some("activation"));
        assert_eq!(closest("conv2d", names), None);
    }

    #[test]
    fn shape_string_is_keras_style() {
        let s = TensorSpec::dense(vec![Dim::Known(4)]);
        assert_eq!(s.shape_string(), "(None, 4)");
        let s = TensorSpec::dense(vec![]);
        assert_eq!(s.shape_string(), "(None,)");
    }

    #[test]
    fn runtime_shape_check() {
        let s = TensorSpec::dense(vec![Dim::Known(4)]);
        assert!(check_runtime_shape(&s, &[10, 4]).is_ok());
        assert!(check_runtime_shape(&s, &[10, 5])
            .unwrap_err()
            .contains("axis 1"));
        assert!(check_runtime_shape(&s, &[10])
            .unwrap_err()
            .contains("rank 2"));
    }

    #[test]
    fn dtype_names_round_trip() {
        for (d, n) in DType::ALL {
            assert_eq!(DType::from_name(n), Some(d));
            assert_eq!(d.rust_name(), n);
        }
        assert_eq!(DType::from_name("int32"), Some(DType::I32));
        assert_eq!(DType::from_name("f16"), None);
    }
}
