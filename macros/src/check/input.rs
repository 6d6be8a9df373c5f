//! `input(...)`: binding its arguments and mapping them onto core's InputLayer rules, whose
//! violations come back spanned at the argument to blame.

use proc_macro2::Span;
use stratic_core::shape::{
    check_input_layer, DType, InputArg, InputArgs, TensorSpec, TypeSpecArg, TypeSpecKind,
};

use super::args::{bind, dims_of, param, Bound, Kind, Param};
use crate::ast::{Call, Value};
use crate::ctxt::Ctxt;

pub const INPUT_PARAMS: &[Param] = &[
    param("shape", Kind::Dims, false, true),
    param("batch_size", Kind::Int, false, false),
    param("batch_shape", Kind::Dims, false, false),
    param("dtype", Kind::DType, false, false),
    param("input_tensor", Kind::Path, false, false),
    param("sparse", Kind::Bool, false, false),
    param("ragged", Kind::Bool, false, false),
    param("type_spec", Kind::TypeSpec, false, false),
    param("optional", Kind::Bool, false, false),
    // `input_shape` and `batch_input_shape` (aliases) and `name` come from `args::COMMON`.
];

/// What the checker knows of the model's input once its rules hold.
pub struct CheckedInput {
    /// The input layer's name (`input_layer`, or `name = ...`).
    pub name: String,
    pub spec: TensorSpec,
    /// `input_tensor = PATH`, with the span to blame if its type disagrees.
    pub input_tensor: Option<syn::Path>,
    pub optional: bool,
    pub span: Span,
}

/// The shape given on the first layer (Keras' `Dense(8, input_shape=(4,))` shortcut).
pub struct FirstLayerShape {
    pub arg: InputArg,
    pub dims: Vec<Option<i64>>,
    pub span: Span,
    pub value: Value,
}

/// An `input(...)` call with its arguments bound, before its rules are checked (binding comes
/// first so that errors are reported in source order).
pub struct BoundInput<'a> {
    call: &'a Call,
    bound: Bound<'a>,
    args: InputArgs,
    /// Some argument did not bind (unknown, duplicated, ill-typed, or a `type_spec` with its
    /// own errors): its error is already reported, and it may well have been the shape.
    incomplete: bool,
}

/// Binds the arguments of an explicit `input(...)`.
pub fn bind_input<'a>(cx: &Ctxt, call: &'a Call) -> BoundInput<'a> {
    let bound = bind(cx, call, "input", INPUT_PARAMS);
    let args = input_args(cx, &bound);
    let type_spec_failed = bound.value("type_spec").is_some() && args.type_spec.is_none();
    BoundInput {
        incomplete: bound.args.len() < call.args.len() || type_spec_failed,
        call,
        bound,
        args,
    }
}

impl BoundInput<'_> {
    /// `name = "..."`, with the span of the string.
    pub fn name(&self) -> Option<(String, Span)> {
        Some((self.bound.str("name")?, self.bound.value("name")?.span()))
    }
}

/// Checks an explicit `input(...)`, merging the first layer's `input_shape` if the input has
/// no shape of its own.
pub fn check_input(
    cx: &Ctxt,
    input: &BoundInput<'_>,
    first_layer: Option<&FirstLayerShape>,
) -> Option<CheckedInput> {
    let BoundInput {
        call,
        bound,
        incomplete,
        ..
    } = input;
    let mut args = input.args.clone();
    let has_own_shape =
        !args.shape.is_empty() || args.batch_shape.is_some() || args.type_spec.is_some();
    if let Some(first) = first_layer {
        if has_own_shape {
            cx.error(
                first.span,
                format!(
                    "the input's shape is already given by `input(...)`: remove `{}` from this layer",
                    first.arg.name()
                ),
            );
        } else {
            args.first_layer_has_input_shape = true;
        }
    }
    let name = bound
        .str("name")
        .unwrap_or_else(|| "input_layer".to_string());
    let result = check_input_layer(&args);
    let mut spec = match result {
        Ok(spec) => spec,
        Err(violations) => {
            for v in violations {
                // "No shape" after an argument that did not bind would only repeat that error.
                let no_shape = v.arg == InputArg::Call
                    || (v.arg == InputArg::InputTensor && args.type_spec.is_none());
                if *incomplete && no_shape {
                    continue;
                }
                let span = blame_span(bound, v.arg, v.dim_index).unwrap_or(call.name.span());
                cx.error(span, v.message);
            }
            return None;
        }
    };
    if let (Some(first), false) = (first_layer, has_own_shape) {
        let shortcut = InputArgs {
            shape: if first.arg == InputArg::BatchInputShape {
                vec![]
            } else {
                vec![(InputArg::InputShape, first.dims.clone())]
            },
            batch_shape: (first.arg == InputArg::BatchInputShape)
                .then(|| (InputArg::BatchInputShape, first.dims.clone())),
            dtype: args.dtype,
            sparse: args.sparse,
            ragged: args.ragged,
            batch_size: args.batch_size,
            ..InputArgs::default()
        };
        spec = report(cx, &shortcut, first, call.name.span())?;
    }
    // A dtype that did not bind leaves the input's dtype unknown: checking the layers against
    // the default float32 would add a misleading second error.
    let dtype_failed = call
        .args
        .iter()
        .any(|a| a.key.as_ref().is_some_and(|k| k == "dtype"))
        && bound.get("dtype").is_none();
    if dtype_failed {
        return None;
    }
    let input_tensor = match bound.value("input_tensor") {
        Some(Value::Ident(id)) => Some(syn::Path::from(id.clone())),
        Some(Value::Path(p)) => Some(p.clone()),
        _ => None,
    };
    Some(CheckedInput {
        name,
        spec,
        input_tensor,
        optional: bound.bool("optional").unwrap_or(false),
        span: call.name.span(),
    })
}

/// The implicit input of a model whose first layer carries `input_shape`.
pub fn implicit_input(cx: &Ctxt, first: &FirstLayerShape) -> Option<CheckedInput> {
    let args = InputArgs {
        shape: if first.arg == InputArg::BatchInputShape {
            vec![]
        } else {
            vec![(InputArg::InputShape, first.dims.clone())]
        },
        batch_shape: (first.arg == InputArg::BatchInputShape)
            .then(|| (InputArg::BatchInputShape, first.dims.clone())),
        ..InputArgs::default()
    };
    let spec = report(cx, &args, first, first.span)?;
    Some(CheckedInput {
        name: "input_layer".to_string(),
        spec,
        input_tensor: None,
        optional: false,
        span: first.span,
    })
}

fn report(
    cx: &Ctxt,
    args: &InputArgs,
    first: &FirstLayerShape,
    fallback: Span,
) -> Option<TensorSpec> {
    match check_input_layer(args) {
        Ok(spec) => Some(spec),
        Err(violations) => {
            for v in violations {
                let span = match (&first.value, v.dim_index) {
                    (Value::List { items, .. }, Some(i)) => {
                        items.get(i).map_or(first.span, Value::span)
                    }
                    _ if v.arg == InputArg::Call => fallback,
                    _ => first.span,
                };
                cx.error(span, v.message);
            }
            None
        }
    }
}

fn input_args(cx: &Ctxt, bound: &Bound<'_>) -> InputArgs {
    let mut args = InputArgs::default();
    for (param, arg) in [
        ("shape", InputArg::Shape),
        ("input_shape", InputArg::InputShape),
    ] {
        if let Some(d) = bound.dims(param) {
            args.shape.push((arg, d));
        }
    }
    for (param, arg) in [
        ("batch_shape", InputArg::BatchShape),
        ("batch_input_shape", InputArg::BatchInputShape),
    ] {
        if let Some(d) = bound.dims(param) {
            if let Some((first, _)) = &args.batch_shape {
                let span = bound.span_of(param).unwrap_or_else(Span::call_site);
                cx.error(
                    span,
                    format!(
                        "`{}` and `{param}` are the same argument: give only one",
                        first.name()
                    ),
                );
            } else {
                args.batch_shape = Some((arg, d));
            }
        }
    }
    args.batch_size = bound.int("batch_size");
    args.dtype = bound.dtype("dtype");
    args.input_tensor = bound.get("input_tensor").is_some();
    args.sparse = bound.bool("sparse");
    args.ragged = bound.bool("ragged");
    args.name = bound.str("name");
    args.optional = bound.bool("optional");
    if let Some(Value::Call(spec)) = bound.value("type_spec") {
        args.type_spec = type_spec(cx, spec);
    }
    args
}

static SPEC_PARAMS: [Param; 3] = [
    param("shape", Kind::Dims, true, true),
    param("dtype", Kind::DType, false, true),
    param("ragged_rank", Kind::Int, false, false),
];

fn type_spec(cx: &Ctxt, call: &Call) -> Option<TypeSpecArg> {
    let name = call.name.to_string();
    let Some((kind, _)) = TypeSpecKind::ALL.iter().find(|(_, n)| *n == name) else {
        let names = TypeSpecKind::ALL.map(|(_, n)| n);
        let hint = stratic_core::shape::closest(&name, names)
            .map_or(String::new(), |c| format!("did you mean `{c}`? "));
        cx.error(
            call.name.span(),
            format!("unknown type spec `{name}`; {hint}expected `TensorSpec(...)`, `SparseTensorSpec(...)` or `RaggedTensorSpec(...)`"),
        );
        return None;
    };
    let params: &'static [Param] = if *kind == TypeSpecKind::Ragged {
        &SPEC_PARAMS
    } else {
        &SPEC_PARAMS[..2]
    };
    let bound = bind(cx, call, &name, params);
    let shape = bound.value("shape").and_then(dims_of)?;
    Some(TypeSpecArg {
        kind: *kind,
        shape,
        dtype: bound.dtype("dtype").or(Some(DType::F32)),
    })
}

/// The span of the argument a rule blames; for a bad dimension, the dimension itself.
fn blame_span(bound: &Bound<'_>, arg: InputArg, dim_index: Option<usize>) -> Option<Span> {
    let b = bound.get(arg.name())?;
    if let (Some(i), Value::List { items, .. }) = (dim_index, b.value) {
        return items.get(i).map(Value::span);
    }
    if let (Some(i), Value::Call(spec)) = (dim_index, b.value) {
        let shape = spec
            .args
            .iter()
            .find(|a| a.key.as_ref().is_none_or(|k| k == "shape"))?;
        if let Value::List { items, .. } = &shape.value {
            return items.get(i).map(Value::span);
        }
    }
    Some(b.span)
}
