//! The rules of Keras' `InputLayer`, checked in one place.
//!
//! Keras checks these when the layer is constructed, at run time; the `model!` macro calls
//! [`check_input_layer`] at expansion time, so the same rules become compile errors. Each
//! violation names the argument to blame, so the macro can put the caret on it.

use super::{DType, Dim, Layout, TensorSpec};

/// An argument of `input(...)`, to say which one a violation is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InputArg {
    /// `shape`
    Shape,
    /// `input_shape` (alias of `shape`)
    InputShape,
    /// `batch_size`
    BatchSize,
    /// `batch_shape`
    BatchShape,
    /// `batch_input_shape` (alias of `batch_shape`)
    BatchInputShape,
    /// `dtype`
    Dtype,
    /// `input_tensor`
    InputTensor,
    /// `sparse`
    Sparse,
    /// `ragged`
    Ragged,
    /// `type_spec`
    TypeSpec,
    /// `name`
    Name,
    /// `optional`
    Optional,
    /// The `input(...)` call as a whole (for a missing argument).
    Call,
}

impl InputArg {
    /// Every argument `input(...)` takes, with its DSL name.
    pub const ALL: [(InputArg, &'static str); 12] = [
        (InputArg::Shape, "shape"),
        (InputArg::InputShape, "input_shape"),
        (InputArg::BatchSize, "batch_size"),
        (InputArg::BatchShape, "batch_shape"),
        (InputArg::BatchInputShape, "batch_input_shape"),
        (InputArg::Dtype, "dtype"),
        (InputArg::InputTensor, "input_tensor"),
        (InputArg::Sparse, "sparse"),
        (InputArg::Ragged, "ragged"),
        (InputArg::TypeSpec, "type_spec"),
        (InputArg::Name, "name"),
        (InputArg::Optional, "optional"),
    ];

    /// The argument's DSL name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(a, _)| *a == self)
            .map(|(_, n)| *n)
            .unwrap_or("input")
    }

    /// Looks an argument up by its DSL name.
    pub fn from_name(name: &str) -> Option<InputArg> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(a, _)| *a)
    }
}

/// The three kinds of `type_spec`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TypeSpecKind {
    /// `TensorSpec(shape = [...], dtype = ...)`
    Tensor,
    /// `SparseTensorSpec(shape = [...], dtype = ...)`
    Sparse,
    /// `RaggedTensorSpec(shape = [...], dtype = ..., ragged_rank = ...)`
    Ragged,
}

impl TypeSpecKind {
    /// Every kind with its DSL name.
    pub const ALL: [(TypeSpecKind, &'static str); 3] = [
        (TypeSpecKind::Tensor, "TensorSpec"),
        (TypeSpecKind::Sparse, "SparseTensorSpec"),
        (TypeSpecKind::Ragged, "RaggedTensorSpec"),
    ];
}

/// A `type_spec` value: its kind, its shape (batch axis included, as in TensorFlow) and dtype.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeSpecArg {
    /// Which spec.
    pub kind: TypeSpecKind,
    /// The full shape, batch axis first; `None` entries are unknown dims.
    pub shape: Vec<Option<i64>>,
    /// The element type (`f32` when not given).
    pub dtype: Option<DType>,
}

/// The arguments given to one `input(...)`, as the macro parsed them (values, not tokens).
///
/// Dims are `Option<i64>` so that zero and negative values reach the rules and get a message
/// rather than being lost in parsing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputArgs {
    /// `shape` or `input_shape`, with the name used.
    pub shape: Vec<(InputArg, Vec<Option<i64>>)>,
    /// `batch_size`.
    pub batch_size: Option<i64>,
    /// `batch_shape` or `batch_input_shape`, with the name used.
    pub batch_shape: Option<(InputArg, Vec<Option<i64>>)>,
    /// `dtype`.
    pub dtype: Option<DType>,
    /// Whether `input_tensor` was given (its type is checked by the compiler, not here).
    pub input_tensor: bool,
    /// `sparse`, when given (an explicit `false` counts as given).
    pub sparse: Option<bool>,
    /// `ragged`, when given.
    pub ragged: Option<bool>,
    /// `type_spec`.
    pub type_spec: Option<TypeSpecArg>,
    /// `name`.
    pub name: Option<String>,
    /// `optional`.
    pub optional: Option<bool>,
    /// Whether the first layer after the input carries `input_shape` (Keras' shortcut), which
    /// makes a shapeless `input()` acceptable.
    pub first_layer_has_input_shape: bool,
}

/// One broken rule: the argument to blame and a message that says what would be right.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputRuleViolation {
    /// The argument at fault.
    pub arg: InputArg,
    /// For a bad dimension, its index in the list.
    pub dim_index: Option<usize>,
    /// The message.
    pub message: String,
}

fn violation(arg: InputArg, message: impl Into<String>) -> InputRuleViolation {
    InputRuleViolation {
        arg,
        dim_index: None,
        message: message.into(),
    }
}

/// Checks every InputLayer rule and, if all hold, returns the spec of the tensor the input
/// produces. Every broken rule is reported, not just the first.
pub fn check_input_layer(args: &InputArgs) -> Result<TensorSpec, Vec<InputRuleViolation>> {
    let mut errors = Vec::new();
    sparse_and_ragged_exclusive(args, &mut errors);
    type_spec_stands_alone(args, &mut errors);
    shape_given_once(args, &mut errors);
    batch_size_not_with_batch_shape(args, &mut errors);
    some_shape_given(args, &mut errors);
    for (arg, dims) in args.shape.iter().chain(args.batch_shape.as_ref()) {
        dims_positive(*arg, dims, &mut errors);
    }
    if let Some(spec) = &args.type_spec {
        dims_positive(InputArg::TypeSpec, &spec.shape, &mut errors);
        if spec.shape.is_empty() {
            errors.push(violation(
                InputArg::TypeSpec,
                "a `type_spec` shape includes the batch axis, so it needs at least one dimension, e.g. shape = [None, 4]",
            ));
        }
    }
    batch_size_positive(args, &mut errors);
    ragged_needs_unknown_dim(args, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(spec_of(args))
}

// Keras: "`sparse` and `ragged` can't be configured to `True` at the same time".
fn sparse_and_ragged_exclusive(args: &InputArgs, errors: &mut Vec<InputRuleViolation>) {
    if args.sparse == Some(true) && args.ragged == Some(true) {
        errors.push(violation(
            InputArg::Ragged,
            "an input cannot be both sparse and ragged: keep `sparse = true` or `ragged = true`, not both",
        ));
    }
}

// Keras: "When provided, all other args except name must be `None`". An explicit
// `sparse = false` is not None, so it counts, as in Keras.
fn type_spec_stands_alone(args: &InputArgs, errors: &mut Vec<InputRuleViolation>) {
    if args.type_spec.is_none() {
        return;
    }
    let mut others: Vec<InputArg> = args.shape.iter().map(|(a, _)| *a).collect();
    others.extend(args.batch_size.map(|_| InputArg::BatchSize));
    others.extend(args.batch_shape.as_ref().map(|(a, _)| *a));
    others.extend(args.dtype.map(|_| InputArg::Dtype));
    others.extend(args.input_tensor.then_some(InputArg::InputTensor));
    others.extend(args.sparse.map(|_| InputArg::Sparse));
    others.extend(args.ragged.map(|_| InputArg::Ragged));
    others.extend(args.optional.map(|_| InputArg::Optional));
    for arg in others {
        errors.push(violation(
            arg,
            format!(
                "`type_spec` describes the whole input, so every other argument but `name` must be left out: remove `{}`",
                arg.name()
            ),
        ));
    }
}

fn shape_given_once(args: &InputArgs, errors: &mut Vec<InputRuleViolation>) {
    if args.type_spec.is_some() {
        return;
    }
    if let [(first, _), rest @ ..] = args.shape.as_slice() {
        for (arg, _) in rest {
            errors.push(violation(
                *arg,
                format!(
                    "`{}` and `{}` are the same argument (`input_shape` is an alias of `shape`): give only one",
                    first.name(),
                    arg.name()
                ),
            ));
        }
        if let Some((bs, _)) = &args.batch_shape {
            errors.push(violation(
                *bs,
                format!(
                    "you cannot pass both `{}` and `{}`: `{}` already includes the batch axis, so drop one of them",
                    first.name(),
                    bs.name(),
                    bs.name()
                ),
            ));
        }
    }
}

fn batch_size_not_with_batch_shape(args: &InputArgs, errors: &mut Vec<InputRuleViolation>) {
    if args.type_spec.is_some() {
        return;
    }
    if let (Some(_), Some((bs, _))) = (args.batch_size, &args.batch_shape) {
        errors.push(violation(
            InputArg::BatchSize,
            format!(
                "you cannot pass both `batch_size` and `{}`: the first entry of `{}` is the batch size",
                bs.name(),
                bs.name()
            ),
        ));
    }
}

fn some_shape_given(args: &InputArgs, errors: &mut Vec<InputRuleViolation>) {
    let has_shape = !args.shape.is_empty()
        || args.batch_shape.is_some()
        || args.type_spec.is_some()
        || args.first_layer_has_input_shape;
    if has_shape {
        return;
    }
    if args.input_tensor {
        // The macro cannot read a Rust item's type, so it needs the shape spelled out; the
        // compiler then checks that the array's type agrees with it.
        errors.push(violation(
            InputArg::InputTensor,
            "`input_tensor` needs `shape = [...]` beside it (the shape without the batch axis): the macro cannot see the array's type, and the compiler checks that the two agree",
        ));
    } else {
        errors.push(violation(
            InputArg::Call,
            "`input` needs a shape: give `shape = [...]`, `batch_shape = [...]`, `input_tensor = CONST` or `type_spec = ...`, or `input_shape = [...]` on the first layer",
        ));
    }
}

fn dims_positive(arg: InputArg, dims: &[Option<i64>], errors: &mut Vec<InputRuleViolation>) {
    for (i, d) in dims.iter().enumerate() {
        if let Some(n) = d {
            if *n <= 0 {
                errors.push(InputRuleViolation {
                    arg,
                    dim_index: Some(i),
                    message: format!(
                        "dimension {i} of {} is {n}: every dimension must be a positive integer, or `None` if unknown",
                        if arg == InputArg::TypeSpec {
                            "the `type_spec` shape (batch axis first)".to_string()
                        } else {
                            format!("`{}`", arg.name())
                        }
                    ),
                });
            }
        }
    }
}

fn batch_size_positive(args: &InputArgs, errors: &mut Vec<InputRuleViolation>) {
    if let Some(n) = args.batch_size {
        if n <= 0 {
            errors.push(violation(
                InputArg::BatchSize,
                format!("`batch_size` must be a positive integer (or left out for any batch size); received batch_size={n}"),
            ));
        }
    }
}

fn ragged_needs_unknown_dim(args: &InputArgs, errors: &mut Vec<InputRuleViolation>) {
    if args.ragged != Some(true) || args.type_spec.is_some() {
        return;
    }
    let (arg, non_batch): (InputArg, Vec<Option<i64>>) =
        match (&args.shape.first(), &args.batch_shape) {
            (Some((arg, dims)), _) => (*arg, dims.clone()),
            (None, Some((arg, dims))) => (*arg, dims.iter().skip(1).copied().collect()),
            (None, None) => return,
        };
    if !non_batch.iter().any(Option::is_none) {
        let example = match arg {
            InputArg::BatchShape | InputArg::BatchInputShape => {
                format!("{} = [None, None]", arg.name())
            }
            _ => format!("{} = [None]", arg.name()),
        };
        let after_batch = if matches!(arg, InputArg::BatchShape | InputArg::BatchInputShape) {
            " after the batch axis"
        } else {
            ""
        };
        errors.push(violation(
            InputArg::Ragged,
            format!(
                "`ragged = true` needs a `None` dimension{after_batch} in `{}` to be the ragged one, e.g. {example}",
                arg.name()
            ),
        ));
    }
}

fn to_dims(dims: &[Option<i64>]) -> Vec<Dim> {
    dims.iter()
        .map(|d| match d {
            Some(n) if *n > 0 => Dim::Known(*n as usize),
            _ => Dim::Unknown,
        })
        .collect()
}

fn spec_of(args: &InputArgs) -> TensorSpec {
    if let Some(ts) = &args.type_spec {
        let full = to_dims(&ts.shape);
        let (batch, dims) = match full.split_first() {
            Some((b, rest)) => (*b, rest.to_vec()),
            None => (Dim::Unknown, Vec::new()),
        };
        return TensorSpec {
            batch,
            dims,
            dtype: ts.dtype.unwrap_or(DType::F32),
            layout: match ts.kind {
                TypeSpecKind::Tensor => Layout::Dense,
                TypeSpecKind::Sparse => Layout::Sparse,
                TypeSpecKind::Ragged => Layout::Ragged,
            },
        };
    }
    let (batch, dims) = match (&args.shape.first(), &args.batch_shape) {
        (Some((_, dims)), _) => (
            args.batch_size
                .map_or(Dim::Unknown, |n| Dim::Known(n.max(1) as usize)),
            to_dims(dims),
        ),
        (None, Some((_, full))) => {
            let full = to_dims(full);
            match full.split_first() {
                Some((b, rest)) => (*b, rest.to_vec()),
                None => (Dim::Unknown, Vec::new()),
            }
        }
        (None, None) => (Dim::Unknown, Vec::new()),
    };
    let layout = if args.sparse == Some(true) {
        Layout::Sparse
    } else if args.ragged == Some(true) {
        Layout::Ragged
    } else {
        Layout::Dense
    };
    TensorSpec {
        batch,
        dims,
        dtype: args.dtype.unwrap_or(DType::F32),
        layout,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(dims: &[Option<i64>]) -> Vec<(InputArg, Vec<Option<i64>>)> {
        vec![(InputArg::Shape, dims.to_vec())]
    }

    fn blamed(args: &InputArgs) -> Vec<InputArg> {
        check_input_layer(args)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.arg)
            .collect()
    }

    #[test]
    fn plain_shape_gives_dense_f32() {
        let args = InputArgs {
            shape: shape(&[Some(4)]),
            ..Default::default()
        };
        let spec = check_input_layer(&args).expect("valid");
        assert_eq!(spec.shape_string(), "(None, 4)");
        assert_eq!(spec.dtype, DType::F32);
        assert_eq!(spec.layout, Layout::Dense);
    }

    #[test]
    fn sparse_and_ragged_together_blame_ragged() {
        let args = InputArgs {
            shape: shape(&[None]),
            sparse: Some(true),
            ragged: Some(true),
            ..Default::default()
        };
        assert_eq!(blamed(&args), vec![InputArg::Ragged]);
    }

    #[test]
    fn type_spec_blames_every_other_argument_even_false() {
        let args = InputArgs {
            shape: shape(&[Some(4)]),
            sparse: Some(false),
            name: Some("x".into()),
            type_spec: Some(TypeSpecArg {
                kind: TypeSpecKind::Tensor,
                shape: vec![None, Some(4)],
                dtype: None,
            }),
            ..Default::default()
        };
        assert_eq!(blamed(&args), vec![InputArg::Shape, InputArg::Sparse]);
    }

    #[test]
    fn batch_shape_conflicts() {
        let args = InputArgs {
            shape: shape(&[Some(4)]),
            batch_size: Some(2),
            batch_shape: Some((InputArg::BatchShape, vec![Some(2), Some(4)])),
            ..Default::default()
        };
        assert_eq!(
            blamed(&args),
            vec![InputArg::BatchShape, InputArg::BatchSize]
        );
    }

    #[test]
    fn bad_dims_and_batch_size() {
        let args = InputArgs {
            shape: shape(&[Some(0), Some(-3)]),
            batch_size: Some(0),
            ..Default::default()
        };
        let errs = check_input_layer(&args).unwrap_err();
        let idx: Vec<_> = errs.iter().map(|e| (e.arg, e.dim_index)).collect();
        assert_eq!(
            idx,
            vec![
                (InputArg::Shape, Some(0)),
                (InputArg::Shape, Some(1)),
                (InputArg::BatchSize, None)
            ]
        );
    }

    #[test]
    fn ragged_needs_none_and_shape_is_required() {
        let args = InputArgs {
            shape: shape(&[Some(3)]),
            ragged: Some(true),
            ..Default::default()
        };
        assert_eq!(blamed(&args), vec![InputArg::Ragged]);
        assert_eq!(blamed(&InputArgs::default()), vec![InputArg::Call]);
        let shortcut = InputArgs {
            first_layer_has_input_shape: true,
            ..Default::default()
        };
        assert!(check_input_layer(&shortcut).is_ok());
    }

    #[test]
    fn ragged_message_names_the_shape_argument_used() {
        let args = InputArgs {
            batch_shape: Some((InputArg::BatchShape, vec![None, Some(3)])),
            ragged: Some(true),
            ..Default::default()
        };
        let errs = check_input_layer(&args).unwrap_err();
        assert_eq!(errs[0].arg, InputArg::Ragged);
        assert!(
            errs[0]
                .message
                .contains("after the batch axis in `batch_shape`"),
            "{}",
            errs[0].message
        );
        let args = InputArgs {
            type_spec: Some(TypeSpecArg {
                kind: TypeSpecKind::Tensor,
                shape: vec![None, Some(0)],
                dtype: None,
            }),
            ..Default::default()
        };
        let errs = check_input_layer(&args).unwrap_err();
        assert_eq!(
            (errs[0].arg, errs[0].dim_index),
            (InputArg::TypeSpec, Some(1))
        );
        assert!(errs[0]
            .message
            .contains("`type_spec` shape (batch axis first)"));
    }

    #[test]
    fn batch_shape_and_type_spec_give_batch_axis() {
        let args = InputArgs {
            batch_shape: Some((InputArg::BatchInputShape, vec![Some(8), Some(3)])),
            ..Default::default()
        };
        assert_eq!(check_input_layer(&args).unwrap().shape_string(), "(8, 3)");
        let args = InputArgs {
            type_spec: Some(TypeSpecArg {
                kind: TypeSpecKind::Ragged,
                shape: vec![None, None],
                dtype: Some(DType::I32),
            }),
            ..Default::default()
        };
        let spec = check_input_layer(&args).unwrap();
        assert_eq!(spec.layout, Layout::Ragged);
        assert_eq!(spec.dtype, DType::I32);
        assert_eq!(spec.shape_string(), "(None, None)");
    }
}
