//! Keras' merge layers (`keras/src/layers/merging/`): `Concatenate`, `Add`, `Subtract`,
//! `Multiply`, `Average`, `Maximum`, `Minimum` and `Dot`, as shape rules.
//!
//! [`merge_output`] applies Keras 3's rules and messages, and refuses, saying so, what the
//! runtime does not do although Keras does:
//! - concatenation along any axis but the last (the runtime folds the other axes into rows);
//! - broadcasting in element-wise merges (the inputs must have equal shapes; `None` matches);
//! - `dot` on inputs of rank other than 2, or over an axis other than the last;
//! - sparse and ragged inputs (Keras merges sparse tensors; here they go through `to_dense()`).

use crate::shape::spec::{
    no_weights, InputSpec, LayerSpec, ParamKind, ParamSpec, ParamValue, RuleInput,
};
use crate::shape::{Arity, Config, DType, Dim, Layout, RuleError, TensorSpec};

const INPUTS: ParamSpec = ParamSpec::required("inputs", ParamKind::Tensors);
const ELEMENTWISE_PARAMS: &[ParamSpec] = &[INPUTS];
const CONCATENATE_PARAMS: &[ParamSpec] = &[
    INPUTS,
    ParamSpec::optional("axis", ParamKind::Int, ParamValue::Int(-1)),
];
const DOT_PARAMS: &[ParamSpec] = &[
    INPUTS,
    ParamSpec::optional("axes", ParamKind::Int, ParamValue::Int(-1)).positional(),
    ParamSpec::optional("normalize", ParamKind::Bool, ParamValue::Bool(false)),
];

const fn merge(
    name: &'static str,
    class_name: &'static str,
    doc: &'static str,
    params: &'static [ParamSpec],
    output: fn(&RuleInput<'_>) -> Result<TensorSpec, RuleError>,
) -> LayerSpec {
    LayerSpec {
        name,
        class_name,
        doc,
        params,
        input: InputSpec::float(2),
        arity: Arity::Many,
        shareable: false,
        output,
        weights: no_weights,
        runs: merge_runs,
        id_bound: None,
        runtime: "Merge",
        mask: crate::shape::spec::MaskFlow::Refuses,
    }
}

// Inputs with a length known only at run time (from `to_dense()`) are not merged yet.
fn merge_runs(rule: &RuleInput<'_>) -> Result<(), String> {
    match rule.inputs.iter().find(|s| s.dims.iter().any(|d| d.known().is_none())) {
        Some(s) => Err(format!(
            "its input {} has a length known only at run time (from `to_dense()`), which it does not take yet; pool the ragged tensor itself instead",
            s.shape_string()
        )),
        None => Ok(()),
    }
}

/// The rule of merge `op` on a call's inputs.
fn rule_of(op: MergeOp, rule: &RuleInput<'_>) -> Result<TensorSpec, RuleError> {
    merge_output(
        rule.name,
        &MergeConfig::from_config(op, rule.config),
        rule.inputs,
    )
}

/// `concatenate([a, b], axis = -1)`.
pub static CONCATENATE: LayerSpec = merge(
    "concatenate",
    "Concatenate",
    "Joins the inputs along `axis` (the last; the other axes must match).",
    CONCATENATE_PARAMS,
    |r| rule_of(MergeOp::Concatenate, r),
);
/// `add([a, b, ...])`.
pub static ADD: LayerSpec = merge(
    "add",
    "Add",
    "The element-wise sum of inputs of one shape.",
    ELEMENTWISE_PARAMS,
    |r| rule_of(MergeOp::Add, r),
);
/// `subtract([a, b])`.
pub static SUBTRACT: LayerSpec = merge(
    "subtract",
    "Subtract",
    "`a - b` for two inputs of one shape.",
    ELEMENTWISE_PARAMS,
    |r| rule_of(MergeOp::Subtract, r),
);
/// `multiply([a, b, ...])`.
pub static MULTIPLY: LayerSpec = merge(
    "multiply",
    "Multiply",
    "The element-wise product of inputs of one shape.",
    ELEMENTWISE_PARAMS,
    |r| rule_of(MergeOp::Multiply, r),
);
/// `average([a, b, ...])`.
pub static AVERAGE: LayerSpec = merge(
    "average",
    "Average",
    "The element-wise mean of inputs of one shape.",
    ELEMENTWISE_PARAMS,
    |r| rule_of(MergeOp::Average, r),
);
/// `maximum([a, b, ...])`.
pub static MAXIMUM: LayerSpec = merge(
    "maximum",
    "Maximum",
    "The element-wise maximum of inputs of one shape.",
    ELEMENTWISE_PARAMS,
    |r| rule_of(MergeOp::Maximum, r),
);
/// `minimum([a, b, ...])`.
pub static MINIMUM: LayerSpec = merge(
    "minimum",
    "Minimum",
    "The element-wise minimum of inputs of one shape.",
    ELEMENTWISE_PARAMS,
    |r| rule_of(MergeOp::Minimum, r),
);
/// `dot([a, b], axes = -1, normalize = false)`.
pub static DOT: LayerSpec = merge(
    "dot",
    "Dot",
    "The per-sample dot product of two inputs over `axes` (the last); with `normalize`, the cosine similarity.",
    DOT_PARAMS,
    |r| rule_of(MergeOp::Dot, r),
);

/// Which merge a layer performs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MergeOp {
    /// `concatenate`: joins the inputs along an axis.
    Concatenate,
    /// `add`: the element-wise sum.
    Add,
    /// `subtract`: `inputs[0] - inputs[1]`.
    Subtract,
    /// `multiply`: the element-wise product.
    Multiply,
    /// `average`: the element-wise mean.
    Average,
    /// `maximum`: the element-wise maximum.
    Maximum,
    /// `minimum`: the element-wise minimum.
    Minimum,
    /// `dot`: the per-sample dot product of two inputs.
    Dot,
}

/// Every merge with its DSL name (Keras' functional name) and its Keras class name.
pub const MERGES: [(MergeOp, &str, &str); 8] = [
    (MergeOp::Concatenate, "concatenate", "Concatenate"),
    (MergeOp::Add, "add", "Add"),
    (MergeOp::Subtract, "subtract", "Subtract"),
    (MergeOp::Multiply, "multiply", "Multiply"),
    (MergeOp::Average, "average", "Average"),
    (MergeOp::Maximum, "maximum", "Maximum"),
    (MergeOp::Minimum, "minimum", "Minimum"),
    (MergeOp::Dot, "dot", "Dot"),
];

impl MergeOp {
    /// Looks a merge up by its DSL name (`concatenate`, `add`, ...).
    pub fn from_name(name: &str) -> Option<MergeOp> {
        MERGES
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(m, _, _)| *m)
    }

    /// The DSL name, which is also Keras' functional name (`keras.layers.add`).
    pub fn name(self) -> &'static str {
        MERGES
            .iter()
            .find(|(m, _, _)| *m == self)
            .map(|(_, n, _)| *n)
            .unwrap_or("concatenate")
    }

    /// Keras' class name (`Add`), as `summary()` shows it.
    pub fn class_name(self) -> &'static str {
        MERGES
            .iter()
            .find(|(m, _, _)| *m == self)
            .map(|(_, _, c)| *c)
            .unwrap_or("Concatenate")
    }
}

/// The configuration of a merge layer (Keras' constructor arguments).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MergeConfig {
    /// The merge.
    pub op: MergeOp,
    /// `concatenate`'s axis (Keras' default `-1`); ignored by the other merges.
    pub axis: i64,
    /// `dot`'s axes (Keras' default for the functional `dot` is `-1`); ignored by the others.
    pub axes: i64,
    /// `dot`: whether each input is L2-normalised along `axes` first, which makes the output
    /// the cosine similarity (Keras' default `false`).
    pub normalize: bool,
}

impl MergeConfig {
    /// Keras' defaults for `op`: `axis = -1`, `axes = -1`, `normalize = false`.
    pub fn new(op: MergeOp) -> Self {
        MergeConfig {
            op,
            axis: -1,
            axes: -1,
            normalize: false,
        }
    }

    /// The typed view of a [`Config`] bound against the spec of `op`.
    pub fn from_config(op: MergeOp, config: &Config) -> Self {
        let defaults = MergeConfig::new(op);
        MergeConfig {
            op,
            axis: match config.get("axis") {
                Some(ParamValue::Int(a)) => *a,
                _ => defaults.axis,
            },
            axes: match config.get("axes") {
                Some(ParamValue::Int(a)) => *a,
                _ => defaults.axes,
            },
            normalize: config.bool("normalize"),
        }
    }
}

/// The output of merge layer `layer` applied to `inputs`, or why it cannot be. Messages show
/// every input shape, as Keras does.
pub fn merge_output(
    layer: &str,
    config: &MergeConfig,
    inputs: &[TensorSpec],
) -> Result<TensorSpec, RuleError> {
    let op = config.op;
    let ctx = Ctx {
        layer,
        class: op.class_name(),
        inputs,
    };
    input_count(&ctx, op)?;
    dense_float_inputs(&ctx)?;
    same_batch_size(&ctx)?;
    let batch = inputs
        .iter()
        .map(|s| s.batch)
        .find(|b| *b != Dim::Unknown)
        .unwrap_or(Dim::Unknown);
    let dims = match op {
        MergeOp::Concatenate => concatenate_dims(&ctx, config.axis)?,
        MergeOp::Dot => dot_dims(&ctx, config.axes)?,
        _ => elementwise_dims(&ctx, op)?,
    };
    let first = inputs[0].dtype;
    // Keras computes merges in the layer's compute dtype (float32 by default); inputs of one
    // float type keep it.
    let dtype = if inputs.iter().all(|s| s.dtype == first) {
        first
    } else {
        DType::F32
    };
    Ok(TensorSpec {
        batch,
        dims,
        dtype,
        layout: Layout::Dense,
    })
}

struct Ctx<'a> {
    layer: &'a str,
    class: &'static str,
    inputs: &'a [TensorSpec],
}

impl Ctx<'_> {
    fn error(&self, message: impl AsRef<str>) -> RuleError {
        RuleError::new(format!(
            "layer '{}' ({}): {}",
            self.layer,
            self.class,
            message.as_ref()
        ))
    }

    /// Every input shape as Keras prints an `input_shape` list: `[(None, 16), (None, 8)]`.
    fn shape_list(&self) -> String {
        let shapes: Vec<String> = self.inputs.iter().map(|s| s.shape_string()).collect();
        format!("[{}]", shapes.join(", "))
    }

    /// Every input shape in prose: `(None, 16), (None, 16) and (None, 8)`.
    fn shape_prose(&self) -> String {
        let shapes: Vec<String> = self.inputs.iter().map(|s| s.shape_string()).collect();
        match shapes.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            Some((last, _)) => last.clone(),
            None => String::new(),
        }
    }
}

// Keras 3: every merge takes at least one input; `Subtract` and `Dot` exactly two.
fn input_count(ctx: &Ctx<'_>, op: MergeOp) -> Result<(), RuleError> {
    let n = ctx.inputs.len();
    match op {
        MergeOp::Subtract if n != 2 => Err(ctx.error(format!(
            "A `Subtract` layer should be called on exactly 2 inputs. Received {n} {}: input_shape={}",
            plural(n),
            ctx.shape_list()
        ))),
        MergeOp::Dot if n != 2 => Err(ctx.error(format!(
            "A `Dot` layer should be called on a list of 2 inputs. Received {n} {}: input_shape={}",
            plural(n),
            ctx.shape_list()
        ))),
        MergeOp::Concatenate if n == 0 => Err(ctx.error(
            "A `Concatenate` layer should be called on a list of at least 1 input. Received: input_shape=[]",
        )),
        _ if n == 0 => Err(ctx.error(
            "A merge layer should be called on a list of at least 1 input. Received 0 inputs. Full input_shape received: []",
        )),
        _ => Ok(()),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        "input"
    } else {
        "inputs"
    }
}

// The runtime merges dense float arrays only: sparse and ragged tensors are densified first,
// integer ids go through an embedding.
fn dense_float_inputs(ctx: &Ctx<'_>) -> Result<(), RuleError> {
    for (i, s) in ctx.inputs.iter().enumerate() {
        let kind = match s.layout {
            Layout::Dense => None,
            Layout::Sparse => Some("sparse"),
            Layout::Ragged => Some("ragged"),
        };
        if let Some(kind) = kind {
            return Err(ctx.error(format!(
                "merges take dense inputs, but input {i} is {kind} {} (inputs: {}): pass it through `to_dense()` first",
                s.shape_string(),
                ctx.shape_list()
            )));
        }
    }
    for (i, s) in ctx.inputs.iter().enumerate() {
        if !s.dtype.is_float() {
            return Err(ctx.error(format!(
                "merges take floating-point inputs, but input {i} is {} {} (inputs: {}): declare the input `dtype = f32`, or map integer ids through `embedding(...)` first",
                s.dtype,
                s.shape_string(),
                ctx.shape_list()
            )));
        }
    }
    Ok(())
}

// Keras: "Cannot merge tensors with different batch sizes".
fn same_batch_size(ctx: &Ctx<'_>) -> Result<(), RuleError> {
    let mut known = ctx.inputs.iter().filter_map(|s| s.batch.known());
    if let Some(first) = known.next() {
        if known.any(|b| b != first) {
            return Err(ctx.error(format!(
                "Cannot merge tensors with different batch sizes. Received tensors with shapes {}",
                ctx.shape_list()
            )));
        }
    }
    Ok(())
}

// Two dims agree when equal or when either is unknown (Keras' `None` matches anything).
fn dims_match(a: Dim, b: Dim) -> bool {
    match (a, b) {
        (Dim::Known(x), Dim::Known(y)) => x == y,
        _ => true,
    }
}

// The more specific of two matching dims.
fn unify(a: Dim, b: Dim) -> Dim {
    if a == Dim::Unknown {
        b
    } else {
        a
    }
}

// Whether Keras' element-wise rule (`_compute_elemwise_op_output_shape`) accepts the non-batch
// shapes: right-aligned, each pair equal, `None`, or 1.
fn keras_broadcastable(inputs: &[TensorSpec]) -> bool {
    let Some(first) = inputs.first() else {
        return true;
    };
    let mut acc: Vec<Dim> = first.dims.clone();
    for s in &inputs[1..] {
        let (long, short) = if acc.len() >= s.dims.len() {
            (acc.clone(), s.dims.clone())
        } else {
            (s.dims.clone(), acc.clone())
        };
        let offset = long.len() - short.len();
        let mut out: Vec<Dim> = long[..offset].to_vec();
        for (a, b) in long[offset..].iter().zip(&short) {
            out.push(match (*a, *b) {
                (Dim::Unknown, _) | (_, Dim::Unknown) => Dim::Unknown,
                (Dim::Known(1), d) | (d, Dim::Known(1)) => d,
                (Dim::Known(x), Dim::Known(y)) if x == y => Dim::Known(x),
                _ => return false,
            });
        }
        acc = out;
    }
    true
}

// Element-wise merges: equal shapes, `None` matching anything. Keras also broadcasts (a dim
// of 1, or a lower rank); the runtime does not, so those are refused with a note saying so.
fn elementwise_dims(ctx: &Ctx<'_>, op: MergeOp) -> Result<Vec<Dim>, RuleError> {
    let first = &ctx.inputs[0].dims;
    let equal = ctx.inputs.iter().all(|s| {
        s.dims.len() == first.len() && s.dims.iter().zip(first).all(|(a, b)| dims_match(*a, *b))
    });
    if equal {
        let mut dims = first.clone();
        for s in &ctx.inputs[1..] {
            for (d, o) in dims.iter_mut().zip(&s.dims) {
                *d = unify(*d, *o);
            }
        }
        return Ok(dims);
    }
    let base = format!(
        "Inputs have incompatible shapes. Received shapes {}",
        ctx.shape_prose()
    );
    if keras_broadcastable(ctx.inputs) {
        return Err(ctx.error(format!(
            "{base}. Keras would broadcast these, but stratic's `{}` needs inputs of equal shapes (no broadcasting): give every input the same shape, e.g. with `dense(...)`",
            op.name()
        )));
    }
    Err(ctx.error(base))
}

// Concatenation: along the last axis only (a column concat in the runtime), every other axis
// matching.
fn concatenate_dims(ctx: &Ctx<'_>, axis: i64) -> Result<Vec<Dim>, RuleError> {
    let mismatch = || {
        ctx.error(format!(
            "A `Concatenate` layer requires inputs with matching shapes except for the concatenation axis. Received: input_shape={}",
            ctx.shape_list()
        ))
    };
    let ndim = ctx.inputs[0].ndim();
    if ctx.inputs.iter().any(|s| s.ndim() != ndim) {
        return Err(mismatch());
    }
    let ndim_i = i64::try_from(ndim).unwrap_or(i64::MAX);
    if axis >= ndim_i || axis < -ndim_i {
        return Err(ctx.error(format!(
            "axis={axis} is out of range for inputs of rank {ndim} (valid: {} to {}). Received: input_shape={}",
            -ndim_i,
            ndim_i - 1,
            ctx.shape_list()
        )));
    }
    if ndim == 1 {
        return Err(ctx.error(format!(
            "concatenating inputs of rank 1 would join them along the batch axis, which stratic does not do; give the inputs a feature axis, e.g. shape = [4]. Received: input_shape={}",
            ctx.shape_list()
        )));
    }
    let resolved = if axis < 0 { axis + ndim_i } else { axis };
    let last = ndim - 1;
    // Non-concatenation axes must match (the batch axis was checked already).
    let all_match = (0..last - 1).all(|a| {
        let d0 = ctx.inputs[0].dims[a];
        ctx.inputs.iter().all(|s| dims_match(s.dims[a], d0))
    });
    if resolved != ndim_i - 1 {
        return Err(ctx.error(format!(
            "stratic concatenates along the last axis only (axis=-1 or axis={last}), received axis={axis} for inputs of rank {ndim}: input_shape={}. Keras accepts this axis, but the runtime joins feature columns only",
            ctx.shape_list()
        )));
    }
    if !all_match {
        return Err(mismatch());
    }
    let mut dims = ctx.inputs[0].dims.clone();
    for s in &ctx.inputs[1..] {
        for (d, o) in dims[..last - 1].iter_mut().zip(&s.dims) {
            *d = unify(*d, *o);
        }
    }
    // Keras: the concatenation axis is the sum, or `None` if any input's is unknown.
    dims[last - 1] = ctx
        .inputs
        .iter()
        .try_fold(0usize, |acc, s| {
            s.dims[last - 1].known().and_then(|n| acc.checked_add(n))
        })
        .map_or(Dim::Unknown, Dim::Known);
    Ok(dims)
}

// `dot` on `(batch, n)` inputs over axis 1: output `(batch, 1)`.
fn dot_dims(ctx: &Ctx<'_>, axes: i64) -> Result<Vec<Dim>, RuleError> {
    let (a, b) = (&ctx.inputs[0], &ctx.inputs[1]);
    if a.ndim() < 2 || b.ndim() < 2 {
        return Err(ctx.error(format!(
            "Cannot do batch_dot on inputs with rank < 2. Received inputs with shapes {} and {}.",
            a.shape_string(),
            b.shape_string()
        )));
    }
    if axes == 0 {
        return Err(ctx.error(
            "Cannot perform batch_dot over axis 0. If your inputs are not batched, add a dummy batch dimension to your inputs",
        ));
    }
    if a.ndim() != 2 || b.ndim() != 2 {
        return Err(ctx.error(format!(
            "stratic's `dot` takes inputs of rank 2, (batch, n), only; received {} and {}. Keras accepts higher ranks, but the runtime does not: flatten or pool the inputs first",
            a.shape_string(),
            b.shape_string()
        )));
    }
    if axes != 1 && axes != -1 {
        let hint = if !(-2..=1).contains(&axes) {
            "is out of range for inputs of rank 2"
        } else {
            "is the batch axis of inputs of rank 2"
        };
        return Err(ctx.error(format!(
            "axes={axes} {hint}; a `dot` of (batch, n) inputs takes axes=1 (or -1). Received inputs with shapes {} and {}",
            a.shape_string(),
            b.shape_string()
        )));
    }
    // Keras' `Dot.build` compares the axis values with `!=`, so `None` matches only `None`.
    let (da, db) = (a.dims[0], b.dims[0]);
    if da != db {
        return Err(ctx.error(format!(
            "Incompatible input shapes: axis values {da} (at axis 1) != {db} (at axis 1). Full input shapes: {}, {}",
            a.shape_string(),
            b.shape_string()
        )));
    }
    Ok(vec![Dim::Known(1)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(dims: &[Option<usize>]) -> TensorSpec {
        TensorSpec::dense(
            dims.iter()
                .map(|d| d.map_or(Dim::Unknown, Dim::Known))
                .collect(),
        )
    }

    fn merge(op: MergeOp, inputs: &[TensorSpec]) -> Result<TensorSpec, RuleError> {
        merge_output(op.name(), &MergeConfig::new(op), inputs)
    }

    fn message(r: Result<TensorSpec, RuleError>) -> String {
        match r {
            Ok(s) => panic!("expected an error, got {s}"),
            Err(e) => e.message,
        }
    }

    #[test]
    fn names_round_trip_and_defaults() {
        for (op, name, class) in MERGES {
            assert_eq!(MergeOp::from_name(name), Some(op));
            assert_eq!(op.name(), name);
            assert_eq!(op.class_name(), class);
        }
        assert_eq!(MergeOp::from_name("Concatenate"), None);
        let c = MergeConfig::new(MergeOp::Dot);
        assert_eq!((c.axis, c.axes, c.normalize), (-1, -1, false));
    }

    #[test]
    fn concatenate_sums_the_last_axis() {
        let out = merge(
            MergeOp::Concatenate,
            &[spec(&[Some(16)]), spec(&[Some(16)]), spec(&[Some(3)])],
        )
        .unwrap();
        assert_eq!(out.shape_string(), "(None, 35)");
        let out = merge(MergeOp::Concatenate, &[spec(&[Some(16)]), spec(&[None])]).unwrap();
        assert_eq!(out.shape_string(), "(None, None)");
        // Middle axes match with `None` as a wildcard; the known size wins.
        let out = merge(
            MergeOp::Concatenate,
            &[spec(&[None, Some(4)]), spec(&[Some(5), Some(2)])],
        )
        .unwrap();
        assert_eq!(out.shape_string(), "(None, 5, 6)");
        // The last axis given by its index.
        let mut c = MergeConfig::new(MergeOp::Concatenate);
        c.axis = 1;
        let out = merge_output("c", &c, &[spec(&[Some(2)]), spec(&[Some(3)])]).unwrap();
        assert_eq!(out.shape_string(), "(None, 5)");
        // One input is allowed, as in Keras 3.
        let out = merge(MergeOp::Concatenate, &[spec(&[Some(2)])]).unwrap();
        assert_eq!(out.shape_string(), "(None, 2)");
    }

    #[test]
    fn concatenate_mismatch_shows_every_shape() {
        let m = message(merge(
            MergeOp::Concatenate,
            &[spec(&[Some(3), Some(4)]), spec(&[Some(5), Some(4)])],
        ));
        assert_eq!(
            m,
            "layer 'concatenate' (Concatenate): A `Concatenate` layer requires inputs with matching shapes except for the concatenation axis. Received: input_shape=[(None, 3, 4), (None, 5, 4)]"
        );
        let m = message(merge(
            MergeOp::Concatenate,
            &[
                spec(&[Some(4)]),
                spec(&[Some(2), Some(4)]),
                spec(&[Some(4)]),
            ],
        ));
        assert!(
            m.contains("input_shape=[(None, 4), (None, 2, 4), (None, 4)]"),
            "{m}"
        );
    }

    #[test]
    fn concatenate_other_axes_are_refused_with_a_reason() {
        let mut c = MergeConfig::new(MergeOp::Concatenate);
        c.axis = 1;
        let m = message(merge_output(
            "cat",
            &c,
            &[spec(&[Some(3), Some(4)]), spec(&[Some(5), Some(4)])],
        ));
        assert!(m.starts_with("layer 'cat' (Concatenate): stratic concatenates along the last axis only (axis=-1 or axis=2), received axis=1"), "{m}");
        assert!(m.contains("Keras accepts this axis"), "{m}");
        c.axis = 3;
        let m = message(merge_output(
            "cat",
            &c,
            &[spec(&[Some(4)]), spec(&[Some(4)])],
        ));
        assert!(
            m.contains("axis=3 is out of range for inputs of rank 2"),
            "{m}"
        );
        c.axis = -3;
        assert!(merge_output("cat", &c, &[spec(&[Some(4)])]).is_err());
        let m = message(merge(MergeOp::Concatenate, &[spec(&[]), spec(&[])]));
        assert!(m.contains("along the batch axis"), "{m}");
        let m = message(merge(MergeOp::Concatenate, &[]));
        assert!(
            m.contains("at least 1 input. Received: input_shape=[]"),
            "{m}"
        );
    }

    #[test]
    fn elementwise_merges_need_equal_shapes() {
        for op in [
            MergeOp::Add,
            MergeOp::Multiply,
            MergeOp::Average,
            MergeOp::Maximum,
            MergeOp::Minimum,
        ] {
            let out = merge(op, &[spec(&[Some(8)]), spec(&[None]), spec(&[Some(8)])]).unwrap();
            assert_eq!(out.shape_string(), "(None, 8)", "{op:?}");
            let out = merge(op, &[spec(&[Some(8)])]).unwrap();
            assert_eq!(out.shape_string(), "(None, 8)");
            let m = message(merge(op, &[spec(&[Some(16)]), spec(&[Some(8)])]));
            assert_eq!(
                m,
                format!(
                    "layer '{}' ({}): Inputs have incompatible shapes. Received shapes (None, 16) and (None, 8)",
                    op.name(),
                    op.class_name()
                )
            );
            let m = message(merge(op, &[]));
            assert!(m.contains("at least 1 input. Received 0 inputs"), "{m}");
        }
        let m = message(merge(
            MergeOp::Add,
            &[spec(&[Some(8)]), spec(&[Some(8)]), spec(&[Some(4)])],
        ));
        assert!(
            m.ends_with("Received shapes (None, 8), (None, 8) and (None, 4)"),
            "{m}"
        );
    }

    #[test]
    fn broadcasting_is_refused_and_said_to_be_valid_keras() {
        let m = message(merge(MergeOp::Add, &[spec(&[Some(1)]), spec(&[Some(8)])]));
        assert!(
            m.contains("Received shapes (None, 1) and (None, 8). Keras would broadcast these, but stratic's `add` needs inputs of equal shapes (no broadcasting)"),
            "{m}"
        );
        let m = message(merge(
            MergeOp::Multiply,
            &[spec(&[Some(3), Some(8)]), spec(&[Some(8)])],
        ));
        assert!(m.contains("Keras would broadcast"), "{m}");
        let m = message(merge(MergeOp::Add, &[spec(&[Some(2)]), spec(&[Some(3)])]));
        assert!(!m.contains("broadcast"), "{m}");
    }

    #[test]
    fn subtract_and_dot_take_exactly_two() {
        let two = [spec(&[Some(4)]), spec(&[Some(4)])];
        assert_eq!(
            merge(MergeOp::Subtract, &two).unwrap().shape_string(),
            "(None, 4)"
        );
        let three = [spec(&[Some(4)]), spec(&[Some(4)]), spec(&[Some(4)])];
        assert_eq!(
            message(merge(MergeOp::Subtract, &three)),
            "layer 'subtract' (Subtract): A `Subtract` layer should be called on exactly 2 inputs. Received 3 inputs: input_shape=[(None, 4), (None, 4), (None, 4)]"
        );
        assert_eq!(
            message(merge(MergeOp::Dot, &three[..1])),
            "layer 'dot' (Dot): A `Dot` layer should be called on a list of 2 inputs. Received 1 input: input_shape=[(None, 4)]"
        );
    }

    #[test]
    fn dot_rules() {
        let two = [spec(&[Some(4)]), spec(&[Some(4)])];
        let out = merge(MergeOp::Dot, &two).unwrap();
        assert_eq!(out.shape_string(), "(None, 1)");
        let mut c = MergeConfig::new(MergeOp::Dot);
        c.axes = 1;
        c.normalize = true;
        assert!(merge_output("d", &c, &two).is_ok());
        let m = message(merge(MergeOp::Dot, &[spec(&[Some(8)]), spec(&[Some(4)])]));
        assert!(
            m.ends_with("Incompatible input shapes: axis values 8 (at axis 1) != 4 (at axis 1). Full input shapes: (None, 8), (None, 4)"),
            "{m}"
        );
        // Keras compares with `!=`: an unknown axis matches only an unknown axis.
        assert!(merge(MergeOp::Dot, &[spec(&[None]), spec(&[Some(4)])]).is_err());
        assert!(merge(MergeOp::Dot, &[spec(&[None]), spec(&[None])]).is_ok());
        let m = message(merge(
            MergeOp::Dot,
            &[spec(&[Some(3), Some(4)]), spec(&[Some(3), Some(4)])],
        ));
        assert!(m.contains("takes inputs of rank 2, (batch, n), only; received (None, 3, 4) and (None, 3, 4). Keras accepts higher ranks"), "{m}");
        let m = message(merge(MergeOp::Dot, &[spec(&[]), spec(&[Some(4)])]));
        assert!(m.contains("Cannot do batch_dot on inputs with rank < 2. Received inputs with shapes (None,) and (None, 4)."), "{m}");
        c.axes = 0;
        assert!(message(merge_output("d", &c, &two)).contains("over axis 0"));
        c.axes = 2;
        assert!(message(merge_output("d", &c, &two)).contains("axes=2 is out of range"));
        c.axes = -2;
        assert!(message(merge_output("d", &c, &two)).contains("axes=-2 is the batch axis"));
    }

    #[test]
    fn sparse_ragged_and_integer_inputs_are_refused() {
        let mut sparse = spec(&[Some(4)]);
        sparse.layout = Layout::Sparse;
        let e = merge(MergeOp::Add, &[spec(&[Some(4)]), sparse]).unwrap_err();
        assert!(
            e.message
                .contains("input 1 is sparse (None, 4) (inputs: [(None, 4), (None, 4)]): pass it through `to_dense()` first"),
            "{e}"
        );
        let mut ragged = spec(&[None]);
        ragged.layout = Layout::Ragged;
        let e = merge(MergeOp::Concatenate, &[ragged, spec(&[Some(4)])]).unwrap_err();
        assert!(e.message.contains("input 0 is ragged"), "{e}");
        let mut ints = spec(&[Some(4)]);
        ints.dtype = DType::I32;
        let e = merge(MergeOp::Multiply, &[spec(&[Some(4)]), ints]).unwrap_err();
        assert!(e.message.contains("input 1 is int32 (None, 4)"), "{e}");
    }

    #[test]
    fn batch_sizes_and_dtypes() {
        let mut a = spec(&[Some(4)]);
        a.batch = Dim::Known(8);
        let b = spec(&[Some(4)]);
        let out = merge(MergeOp::Add, &[b.clone(), a.clone()]).unwrap();
        assert_eq!(out.shape_string(), "(8, 4)");
        let mut c = spec(&[Some(4)]);
        c.batch = Dim::Known(16);
        let m = message(merge(MergeOp::Add, &[a, b, c]));
        assert!(m.contains("Cannot merge tensors with different batch sizes. Received tensors with shapes [(8, 4), (None, 4), (16, 4)]"), "{m}");
        let mut d = spec(&[Some(4)]);
        d.dtype = DType::F64;
        assert_eq!(
            merge(MergeOp::Add, &[d.clone(), d.clone()]).unwrap().dtype,
            DType::F64
        );
        assert_eq!(
            merge(MergeOp::Add, &[d, spec(&[Some(4)])]).unwrap().dtype,
            DType::F32
        );
    }
}
