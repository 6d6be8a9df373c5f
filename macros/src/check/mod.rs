//! Checking: gives the parsed tree its meaning. Binds arguments, applies core's shape rules
//! layer by layer, and reports every problem to the sink, spanned at the token to blame.
//! Its output, [`CheckedModel`], is all that expansion needs.

mod args;
mod graph;
mod input;

use std::collections::HashMap;

use proc_macro2::Span;
use stratic_core::shape::{
    closest, layer_spec, weight_counts, Activation, Arity, Config, DType, InputArg, LayerSpec,
    Layout, MaskFlow, RuleInput, TensorSpec, WeightSpec, LAYERS,
};
use syn::{Attribute, Ident, Visibility};

use crate::ast::{Body, Call, ModelItem, Term, Value};
use crate::ctxt::Ctxt;
use args::{bind, Bound};
pub use input::CheckedInput;
use input::{bind_input, check_input, implicit_input, FirstLayerShape};

/// A model whose every rule holds: its inputs, its layers (the struct's fields, in creation
/// order) and the graph of their applications, in an order where every node comes after its
/// inputs.
pub struct CheckedModel {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub ident: Ident,
    pub inputs: Vec<CheckedInput>,
    pub layers: Vec<CheckedLayer>,
    pub nodes: Vec<Node>,
    /// The output nodes, in order.
    pub outputs: Vec<usize>,
    /// Declared as one chain (Keras' `Sequential`), which `summary()` shows as Keras does.
    pub sequential: bool,
    /// The sub-models used as layers, whose layers are inlined in `layers` and `nodes`.
    pub subs: Vec<CheckedSub>,
    /// How the models using this one as a layer name it: its name, or for a model described
    /// from another invocation the path written there (`nets::Encoder`).
    pub key: String,
    /// The type as that path, for the code that builds it.
    pub ty: syn::Path,
}

/// A user's layer declared with `custom_layer!`, as the models using it name it.
#[derive(Clone)]
pub struct CustomDecl {
    pub key: String,
    pub path: syn::Path,
    /// The shape rule: the last axis becomes `units` (0: the input's shape).
    pub units: i64,
}

/// What a model may use besides the layers of the DSL: models checked before it, and users'
/// layers.
#[derive(Clone, Copy)]
pub struct Known<'a> {
    pub models: &'a [CheckedModel],
    pub layers: &'a [CustomDecl],
}

/// A path as written, without spaces: `nets::Encoder`.
pub fn path_string(path: &syn::Path) -> String {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let lead = if path.leading_colon.is_some() {
        "::"
    } else {
        ""
    };
    format!("{lead}{}", segments.join("::"))
}

/// A model of the same invocation used as a layer (`-> Encoder`): a field of its own type
/// in the outer struct, whose layers the outer graph drives directly (they are in the outer
/// model's `layers`, with `owner` naming the field).
#[derive(Clone)]
pub struct CheckedSub {
    /// Its field in the outer struct, and its name in weight paths and the summary.
    pub field: String,
    /// The sub-model's type, as the user wrote it (spanned there).
    pub ty: syn::Path,
    /// The type's name, the class `summary()` shows.
    pub class: String,
    /// Its input and output specs.
    pub input: TensorSpec,
    pub output: TensorSpec,
    /// The outer model's indices of its layers.
    pub layers: std::ops::Range<usize>,
    /// How many times it is applied (more than once: shared, its layers' gradients summed).
    pub applications: usize,
}

/// Which application of which sub-model made a node, and whether the node is its output.
#[derive(Clone, Copy)]
pub struct SubTag {
    pub sub: usize,
    pub application: usize,
    /// The node this application of the sub-model is applied to.
    pub input: usize,
    pub output: bool,
}

/// One tensor of the graph.
#[derive(Clone)]
pub struct Node {
    pub kind: NodeKind,
    pub spec: TensorSpec,
    /// Set for the nodes a sub-model's layers make.
    pub sub: Option<SubTag>,
    /// The node whose layer made the mask this tensor carries (Keras' mask over time
    /// steps: a `masking` application), if it carries one. Known statically, so a model
    /// without a mask pays nothing.
    pub mask: Option<usize>,
}

/// How a tensor is computed.
#[derive(Clone)]
pub enum NodeKind {
    /// Input `i` of the model.
    Input(usize),
    /// Use `use_index` of layer `layer`, applied to node `input`.
    Apply {
        layer: usize,
        use_index: usize,
        input: usize,
    },
    /// The merge layer `layer` applied to nodes `inputs`.
    Merge { layer: usize, inputs: Vec<usize> },
}

/// One layer, with its field name, spec, configuration and the specs around its first use.
#[derive(Clone)]
pub struct CheckedLayer {
    /// The layer's name: `dense`, `dense_1`, or `name = ...`; also its field in the struct
    /// (in its sub-model's struct, for a layer of a sub-model).
    pub name: String,
    /// The fields of the sub-models the layer is in, outermost first (empty for the model's
    /// own layers): `self.encoder.dense` has `["encoder"]`.
    pub owner: Vec<String>,
    /// What the layer is.
    pub spec: &'static LayerSpec,
    /// Its configuration, defaults filled in.
    pub config: Config,
    /// The specs of the inputs of its first use.
    pub inputs: Vec<TensorSpec>,
    /// The spec of its first input.
    pub input: TensorSpec,
    pub output: TensorSpec,
    /// Its weights, from the spec.
    pub weights: Vec<WeightSpec>,
    pub span: Span,
    /// How many times it is applied (more than once: a shared layer).
    pub uses: usize,
    /// `trainable = false`: its weights are frozen (the optimizer skips them).
    pub trainable: bool,
    /// A user's layer (`custom_layer!`): its type, which builds it and holds its weights.
    pub custom: Option<syn::Path>,
}

impl CheckedLayer {
    /// The name weights are filed under: Keras' nested path, `encoder/dense`, for a layer
    /// of a sub-model.
    pub fn full_name(&self) -> String {
        let mut path = self.owner.clone();
        path.push(self.name.clone());
        path.join("/")
    }

    /// The layer's field as seen from the model: `dense`, or `encoder.dense`.
    pub fn access(&self) -> proc_macro2::TokenStream {
        let segments = self
            .owner
            .iter()
            .chain(std::iter::once(&self.name))
            .map(|s| quote::format_ident!("{}", s));
        quote::quote!(#(#segments).*)
    }

    /// Keras' class name, as `summary()` shows it.
    pub fn class_name(&self) -> &'static str {
        self.spec.class_name
    }

    /// The numbers of trainable and non-trainable weights.
    pub fn param_counts(&self) -> (usize, usize) {
        // The rule refused counts that overflow.
        weight_counts(&self.weights).unwrap_or((0, 0))
    }
}

/// The one-input layer the DSL calls `name` (merges are written with a list, not in a chain).
pub(super) fn chain_layer(name: &Ident) -> Option<&'static LayerSpec> {
    layer_spec(&name.to_string()).filter(|s| s.arity == Arity::One)
}

/// The merge layer the DSL calls `name`.
pub(super) fn merge_layer(name: &Ident) -> Option<&'static LayerSpec> {
    layer_spec(&name.to_string()).filter(|s| s.arity == Arity::Many)
}

/// Checks one model. Returns `None` if any rule failed (the errors are in `cx`).
///
/// `known` are the models of the invocation checked before it, which it may use as layers.
pub fn check_model(cx: &Ctxt, item: &ModelItem, known: Known<'_>) -> Option<CheckedModel> {
    let graph = !item.body.lets.is_empty() || item.body.outputs.is_some();
    let mut model = if graph {
        graph::check_graph(cx, item, known)?
    } else if names_in(item).iter().any(|n| {
        known.models.iter().any(|m| m.key == *n) || known.layers.iter().any(|l| l.key == *n)
    }) {
        // A chain through a sub-model: the graph checker inlines it; the model is still
        // sequential, as Keras' `Sequential([encoder, Dense(3)])` is.
        let mut model = graph::check_graph(cx, item, known)?;
        model.sequential = true;
        model
    } else {
        check_sequential(cx, item)?
    };
    if !check_masks(cx, &mut model) {
        return None;
    }
    weights_fit_in_memory(cx, &model).then_some(model)
}

/// Every bare name and path the model's chains mention (bound names, and models used as
/// layers), as written.
pub fn names_in(item: &ModelItem) -> Vec<String> {
    refs_in(item).iter().map(path_string).collect()
}

/// As [`names_in`], as paths spanned at the user's tokens.
pub fn refs_in(item: &ModelItem) -> Vec<syn::Path> {
    fn chain(c: &crate::ast::Chain, out: &mut Vec<syn::Path>) {
        for t in &c.terms {
            match t {
                Term::Name(id) => out.push(id.clone().into()),
                Term::Path(p) => out.push(p.clone()),
                Term::Call(call) => {
                    for a in &call.args {
                        value(&a.value, out);
                    }
                }
                Term::Invalid => {}
            }
        }
    }
    fn value(v: &Value, out: &mut Vec<syn::Path>) {
        match v {
            Value::Chain(c) => chain(c, out),
            Value::List { items, .. } => items.iter().for_each(|i| value(i, out)),
            Value::Call(call) => call.args.iter().for_each(|a| value(&a.value, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    let body = &item.body;
    for l in &body.lets {
        chain(&l.chain, &mut out);
    }
    if let Some(t) = &body.tail {
        chain(t, &mut out);
    }
    if let Some((outs, _)) = &body.outputs {
        outs.iter().for_each(|c| chain(c, &mut out));
    }
    out
}

/// Whether `name` is Keras' class name of a layer we have (`Dense`, `InputLayer`): a
/// misspelt layer, not a model.
pub fn is_keras_class(name: &str) -> bool {
    let snake = keras_class_to_snake(name);
    snake == "input_layer"
        || snake == "input"
        || layer_spec(&snake).is_some()
        || LAYERS.iter().any(|s| s.class_name == name)
}

/// Which tensors carry a mask (Keras' mask over time steps), node by node in graph order,
/// by core's rule for each layer ([`LayerSpec::output_mask`]): a layer that cannot take its
/// masked input is an error at the layer.
fn check_masks(cx: &Ctxt, model: &mut CheckedModel) -> bool {
    let mut ok = true;
    let mut reported = Vec::new();
    for n in 0..model.nodes.len() {
        let (layer, masked) = match &model.nodes[n].kind {
            NodeKind::Input(_) => continue,
            NodeKind::Apply { layer, input, .. } => (*layer, model.nodes[*input].mask),
            NodeKind::Merge { layer, inputs } => {
                (*layer, inputs.iter().find_map(|&i| model.nodes[i].mask))
            }
        };
        let l = &model.layers[layer];
        match l.spec.output_mask(&l.name, &l.config, masked.is_some()) {
            // A shared layer keeps the buffers of one use at a time: the mask of one use
            // would be read for another's.
            Ok(true) if matches!(l.spec.mask, MaskFlow::Makes(_)) && l.uses > 1 => {
                if reported.contains(&layer) {
                    continue;
                }
                reported.push(layer);
                cx.error(
                    l.span,
                    format!(
                        "layer '{}' ({}) makes a mask and is shared by {} inputs, which is not supported yet: declare one such layer per input",
                        l.name, l.spec.class_name, l.uses
                    ),
                );
                ok = false;
            }
            Ok(true) if matches!(l.spec.mask, MaskFlow::Makes(_)) => {
                model.nodes[n].mask = Some(n);
            }
            Ok(true) => model.nodes[n].mask = masked,
            Ok(false) => {}
            Err(message) => {
                cx.error(l.span, message);
                ok = false;
            }
        }
    }
    ok
}

/// Every weight is an `f32` in one allocation per array: the model's weights, counted with
/// overflow checks, must fit in the `isize::MAX` bytes an allocation can have. Larger models
/// are a compile error at the layer that crosses the limit, not a panic in `new()`.
fn weights_fit_in_memory(cx: &Ctxt, model: &CheckedModel) -> bool {
    const BYTES_PER_WEIGHT: usize = 4;
    let limit = isize::MAX as usize / BYTES_PER_WEIGHT;
    let mut total = 0usize;
    for l in &model.layers {
        let (trainable, frozen) = l.param_counts();
        match total
            .checked_add(trainable)
            .and_then(|t| t.checked_add(frozen))
            .filter(|t| *t <= limit)
        {
            Some(t) => total = t,
            None => {
                cx.error(
                    l.span,
                    format!(
                        "layer '{}' ({}) takes the model past {limit} weights ({} bytes as f32), more than one allocation can hold on this machine: it alone has {} weights; use smaller sizes",
                        l.name,
                        l.class_name(),
                        isize::MAX,
                        trainable.saturating_add(frozen)
                    ),
                );
                return false;
            }
        }
    }
    true
}

/// A model declared as one chain (Keras' `Sequential`).
fn check_sequential(cx: &Ctxt, item: &ModelItem) -> Option<CheckedModel> {
    let terms = sequential_terms(cx, &item.body)?;
    let mut namer = Namer::default();
    // Bind every layer first, so argument errors of all layers are reported (in source order)
    // even when an earlier layer breaks shape inference.
    let (head, rest): (Option<&Call>, &[Term]) = match terms.first() {
        Some(Term::Call(c)) if c.name == "input" => (Some(c), &terms[1..]),
        _ => (None, terms),
    };
    let head = head.map(|c| bind_input(cx, c));
    // The input is a layer too (Keras' `InputLayer`): its name is taken.
    if let Some((name, span)) = head.as_ref().and_then(|h| h.name()) {
        namer.take(&name, span);
    }
    let mut calls = Vec::new();
    for term in rest {
        match term {
            Term::Call(c) if c.name == "input" => {
                cx.error(
                    c.name.span(),
                    "`input(...)` can only start a model, and this one follows a layer: remove it, or start a new model",
                );
            }
            Term::Call(c) => match chain_layer(&c.name) {
                Some(spec) => {
                    let bound = bind(cx, c, spec.name, spec.params);
                    let name = namer.name(cx, spec.name, &bound);
                    calls.push((c, spec, bound, name));
                }
                None if merge_layer(&c.name).is_some() => cx.error(
                    c.name.span(),
                    format!(
                        "`{}(...)` merges a list of tensors, so it cannot follow `->` in a chain: bind the tensors with `let` and write `{}([a, b])`",
                        c.name, c.name
                    ),
                ),
                None => unknown_layer(cx, &c.name),
            },
            Term::Name(id) => not_a_layer(cx, id),
            Term::Path(p) => unknown_model(cx, p),
            Term::Invalid => {}
        }
    }
    let first_shape = first_layer_shape(cx, &calls);
    let input = match (&head, &first_shape) {
        (Some(bound), first) => check_input(cx, bound, first.as_ref()),
        (None, Some(first)) => implicit_input(cx, first),
        // An unknown first layer (`InputLayer(...)`) or a first layer with an argument that
        // did not bind (`shape = ...` for `input_shape`) may well have been the input: its
        // error is already reported.
        (None, None) if first_term_failed(terms, &calls) => None,
        (None, None) => {
            let span = terms.first().map_or(item.body.span, term_span);
            cx.error(
                span,
                "the model has no input: start with `input(shape = [...]) -> ...`, or give the first layer `input_shape = [...]`",
            );
            None
        }
    };
    let mut spec = input.as_ref().map(|i| i.spec.clone());
    let mut layers = Vec::new();
    for (call, layer, bound, name) in &calls {
        let input_spec = spec.take();
        let checked = input_spec.and_then(|s| check_layer(cx, call, layer, bound, name, vec![s]));
        if let Some(l) = checked {
            spec = Some(l.output.clone());
            layers.push(l);
        }
    }
    // A term that did not parse was reported by the parser; the model is not expanded.
    if cx.has_errors() || terms.iter().any(|t| matches!(t, Term::Invalid)) {
        return None;
    }
    let input = input?;
    spec?;
    if layers.is_empty() {
        cx.error(
            input.span,
            "the model has no layers after its input: add one, e.g. `input(shape = [4]) -> dense(8)`",
        );
        return None;
    }
    let mut nodes = vec![Node {
        kind: NodeKind::Input(0),
        spec: input.spec.clone(),
        sub: None,
        mask: None,
    }];
    for (i, layer) in layers.iter().enumerate() {
        nodes.push(Node {
            kind: NodeKind::Apply {
                layer: i,
                use_index: 0,
                input: i,
            },
            spec: layer.output.clone(),
            sub: None,
            mask: None,
        });
    }
    Some(CheckedModel {
        attrs: item.attrs.clone(),
        vis: item.vis.clone(),
        ident: item.ident.clone(),
        outputs: vec![layers.len()],
        inputs: vec![input],
        layers,
        nodes,
        sequential: true,
        subs: Vec::new(),
        key: item.ident.to_string(),
        ty: item.ident.clone().into(),
    })
}

fn first_term_failed(terms: &[Term], calls: &[LayerCall<'_>]) -> bool {
    match (terms.first(), calls.first()) {
        (Some(Term::Call(c)), Some((first, _, bound, _))) if std::ptr::eq(c, *first) => {
            bound.args.len() < c.args.len()
        }
        (Some(Term::Call(_)), _) => true,
        _ => false,
    }
}

fn term_span(t: &Term) -> Span {
    match t {
        Term::Call(c) => c.name.span(),
        Term::Name(id) => id.span(),
        Term::Path(p) => syn::spanned::Spanned::span(p),
        Term::Invalid => Span::call_site(),
    }
}

/// A layer call of a chain: the call, its spec, its bound arguments and its name.
type LayerCall<'a> = (&'a Call, &'static LayerSpec, Bound<'a>, String);

/// A sequential model is a body with no `let` and one chain as its outputs.
/// With `let`s the tail names bound tensors, which would only add errors about those names.
fn sequential_terms<'a>(cx: &Ctxt, body: &'a Body) -> Option<&'a [Term]> {
    if let Some(l) = body.lets.first() {
        cx.error(
            l.name.span(),
            "`let` bindings (functional graphs with several inputs, outputs or shared layers) are not supported yet: declare a chain `input(...) -> layer -> ...`",
        );
        return None;
    }
    match &body.tail {
        Some(chain) => Some(&chain.terms),
        None => {
            if body.lets.is_empty() {
                cx.error(
                    body.span,
                    "a model needs layers: e.g. `input(shape = [4]) -> dense(8)`",
                );
            }
            None
        }
    }
}

/// A bare name in a chain: with no `let` to bind it, it is a layer or activation written
/// without its call.
pub(super) fn not_a_layer(cx: &Ctxt, id: &Ident) {
    let s = id.to_string();
    let msg = if Activation::from_name(&s).is_some() {
        format!("`{s}` is an activation, not a layer: write `activation({s})`, or give it to the layer before as `activation = {s}`")
    } else if layer_spec(&s).is_some() || s == "input" {
        format!(
            "`{s}` needs its arguments: a layer is called, e.g. `{}`",
            example_call(&s)
        )
    } else {
        format!("`{s}` is not a layer or a bound name: a layer is called with its arguments, e.g. `dense(8)`, and a name is bound with `let {s} = ...;` first")
    };
    cx.error(id.span(), msg);
}

fn example_call(layer: &str) -> &'static str {
    match layer {
        "input" => "input(shape = [4])",
        "activation" => "activation(relu)",
        _ => "dense(8)",
    }
}

/// A path in a chain that names no model this invocation was described.
pub(super) fn unknown_model(cx: &Ctxt, path: &syn::Path) {
    cx.error(
        syn::spanned::Spanned::span(path),
        format!(
            "`{}` is not a model declared with `model!`: a path in a chain names a model used as a layer",
            path_string(path)
        ),
    );
}

pub(super) fn unknown_layer(cx: &Ctxt, name: &Ident) {
    let s = name.to_string();
    // Chain layers, the input, then merges: the order a model is written in.
    let mut known: Vec<&str> = LAYERS
        .iter()
        .filter(|s| s.arity == Arity::One)
        .map(|s| s.name)
        .collect();
    known.push("input");
    known.extend(
        LAYERS
            .iter()
            .filter(|s| s.arity == Arity::Many)
            .map(|s| s.name),
    );
    // Keras' class names (`Dense`, `InputLayer`) are the most likely misspelling.
    let snake = keras_class_to_snake(&s);
    let hint = known
        .iter()
        .find(|k| **k == snake || format!("{k}_layer") == snake)
        .map(|k| format!("Keras' `{s}` is written `{}` here; ", example_call(k)))
        .or_else(|| closest(&s, known.iter().copied()).map(|c| format!("did you mean `{c}`? ")))
        .unwrap_or_default();
    let list = known
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    cx.error(
        name.span(),
        format!("unknown layer `{s}`; {hint}the layers `model!` knows are {list}"),
    );
}

/// `InputLayer` -> `input_layer`, `GlobalAveragePooling1D` -> `global_average_pooling1_d`
/// (close enough to compare with the DSL's names).
fn keras_class_to_snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Keras' shortcut: the first layer may carry `input_shape` (or `batch_input_shape`). On any
/// later layer it means nothing, so it is an error there.
fn first_layer_shape(cx: &Ctxt, calls: &[LayerCall<'_>]) -> Option<FirstLayerShape> {
    let mut found = None;
    for (i, (_, _, bound, _)) in calls.iter().enumerate() {
        for (param, arg) in [
            ("input_shape", InputArg::InputShape),
            ("batch_input_shape", InputArg::BatchInputShape),
        ] {
            let Some(b) = bound.get(param) else { continue };
            if i > 0 {
                cx.error(
                    b.span,
                    format!("`{param}` only means something on the first layer of a model: remove it here"),
                );
            } else if found.is_some() {
                cx.error(
                    b.span,
                    "`input_shape` and `batch_input_shape` both give the input's shape: keep one",
                );
            } else if let Some(dims) = bound.dims(param) {
                found = Some(FirstLayerShape {
                    arg,
                    dims,
                    span: b.span,
                    value: clone_dims_value(b.value),
                });
            }
        }
    }
    found
}

fn clone_dims_value(v: &Value) -> Value {
    match v {
        Value::List { items, span } => Value::List {
            items: items.iter().map(clone_dims_value).collect(),
            span: *span,
        },
        Value::Int { value, span } => Value::Int {
            value: *value,
            span: *span,
        },
        Value::None(s) => Value::None(*s),
        other => Value::Invalid(other.span()),
    }
}

/// Keras names layers by class, counting per class (`dense`, `dense_1`, ...); an explicit
/// `name = ...` is used as is and must be unique.
#[derive(Default)]
pub(super) struct Namer {
    counters: HashMap<String, usize>,
    /// Every name taken, keyed by its NFC form: rustc compares identifiers so, and a name
    /// becomes the layer's field.
    used: HashMap<String, (String, Span)>,
}

/// The form rustc compares identifiers in (Unicode NFC).
fn nfc(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    name.nfc().collect()
}

impl Namer {
    /// Whether `name` (or a name equal to it after NFC normalisation) is taken.
    pub(super) fn is_taken(&self, name: &str) -> bool {
        self.used.contains_key(&nfc(name))
    }

    /// Takes `name`, spanned at `span`.
    pub(super) fn take(&mut self, name: &str, span: Span) {
        self.used.insert(nfc(name), (name.to_string(), span));
    }

    /// The name as first written that `name` is equal to after NFC normalisation, when it
    /// is written differently.
    fn differently_written(&self, name: &str) -> Option<&str> {
        self.used
            .get(&nfc(name))
            .map(|(first, _)| first.as_str())
            .filter(|first| *first != name)
    }

    pub(super) fn name(&mut self, cx: &Ctxt, kind: &'static str, bound: &Bound<'_>) -> String {
        if let (Some(name), Some(value)) = (bound.str("name"), bound.value("name")) {
            let span = value.span();
            if syn::parse_str::<Ident>(&name).is_err() {
                cx.error(
                    span,
                    format!(
                        "layer name {name:?} is not a Rust identifier, and it names the layer's field in the struct: use letters, digits and `_`, e.g. {:?}",
                        identifier_like(&name)
                    ),
                );
            } else if self.is_taken(&name) {
                let how = match self.differently_written(&name) {
                    Some(first) => format!(
                        "another layer of this model is named {first:?}, which is the same name once Unicode-normalised (NFC), as Rust compares identifiers"
                    ),
                    None => "another layer of this model is already named so".to_string(),
                };
                cx.error(
                    span,
                    format!(
                        "duplicate layer name {name:?}: {how}, and names must be unique; rename one, e.g. {:?}",
                        format!("{name}_1")
                    ),
                );
            }
            self.take(&name, span);
            return name;
        }
        self.auto(kind)
    }

    /// The next free automatic name for `kind`: `dense`, `dense_1`, ...
    pub(super) fn auto(&mut self, kind: &str) -> String {
        loop {
            let n = self.counters.entry(kind.to_string()).or_insert(0);
            let name = if *n == 0 {
                kind.to_string()
            } else {
                format!("{kind}_{n}")
            };
            *n += 1;
            if !self.is_taken(&name) {
                self.take(&name, Span::call_site());
                return name;
            }
        }
    }
}

/// `name` turned into a plausible identifier, for the suggestion in an error.
fn identifier_like(name: &str) -> String {
    let mut s: String = name
        .trim()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty()
        || s.starts_with(|c: char| c.is_ascii_digit())
        || syn::parse_str::<Ident>(&s).is_err()
    {
        s.insert_str(0, "layer_");
    }
    s
}

/// Binds a layer's configuration and applies its spec (input check, shape rule, weights); on
/// failure the error points at the layer's name.
pub(super) fn check_layer(
    cx: &Ctxt,
    call: &Call,
    spec: &'static LayerSpec,
    bound: &Bound<'_>,
    name: &str,
    inputs: Vec<TensorSpec>,
) -> Option<CheckedLayer> {
    // A required argument that did not bind was reported by the binder; a rule run without
    // it would only add a second, misleading error.
    let missing = spec
        .params
        .iter()
        .any(|p| p.is_required() && p.kind != args::Kind::Tensors && bound.get(p.name).is_none());
    // Likewise an argument refused for its value: the rule would see its default instead.
    if missing || bound.rejected {
        return None;
    }
    let config = spec.configure(bound.config_values(spec.params));
    let rule = RuleInput {
        name,
        config: &config,
        inputs: &inputs,
    };
    match spec.output_spec(&rule) {
        Ok(output) => {
            let trainable = bound.bool("trainable").unwrap_or(true);
            let mut weights = spec.weight_specs(&rule);
            if !trainable {
                weights.iter_mut().for_each(|w| w.trainable = false);
            }
            let input = inputs.first().cloned().unwrap_or_else(|| output.clone());
            Some(CheckedLayer {
                name: name.to_string(),
                owner: Vec::new(),
                spec,
                config,
                inputs,
                input,
                output,
                weights,
                span: call.name.span(),
                uses: 1,
                trainable,
                custom: None,
            })
        }
        Err(e) => {
            cx.error(call.name.span(), e.message);
            None
        }
    }
}

/// The most inputs a model runs with (Keras programs use up to a dozen or so named inputs).
pub const MAX_INPUTS: usize = 32;
/// The most outputs: the target tuples `fit` takes are implemented up to this many.
pub const MAX_OUTPUTS: usize = 16;

/// Whether the runtime can run this model.
pub fn runtime_supported(model: &CheckedModel) -> bool {
    unsupported(model).is_none()
}

/// What of a model that passed every rule the runtime cannot run yet, with the token to point
/// at: expansion reports it as an error rather than generating a model without `predict`.
pub fn unsupported(model: &CheckedModel) -> Option<(Span, String)> {
    let known =
        |spec: &TensorSpec| spec.dims.iter().all(|d| d.known().is_some()) && spec.ndim() <= 6;
    for input in &model.inputs {
        let spec = &input.spec;
        let name = &input.name;
        let problem = if input.optional {
            Some(format!("input '{name}': `optional = true` is checked, but optional inputs do not run yet; remove it"))
        } else {
            match spec.layout {
                Layout::Dense if !matches!(spec.dtype, DType::F32 | DType::I32 | DType::I64) => Some(format!(
                    "input '{name}': dense inputs run as f32 values or i32/i64 ids, and dtype {} does not run yet; use f32, or i32 for token ids",
                    spec.dtype
                )),
                Layout::Dense if !known(spec) => Some(format!(
                    "input '{name}' {}: dense inputs run with every dimension after the batch axis known (at most 5 of them); for variable lengths declare `ragged = true`",
                    spec.shape_string()
                )),
                Layout::Sparse if spec.dtype != DType::F32 || spec.dims.len() != 1 || !known(spec) => Some(format!(
                    "input '{name}' {}: sparse inputs run as f32 of rank 2 (batch, features), into `dense`",
                    spec.shape_string()
                )),
                Layout::Ragged if !matches!(spec.dtype, DType::I32 | DType::F32) => Some(format!(
                    "input '{name}': ragged inputs run as i32 ids or f32 values, not {}",
                    spec.dtype
                )),
                Layout::Ragged if stratic_core::shape::ragged_rank(spec) != 1 => Some(format!(
                    "input '{name}' {}: ragged inputs run with one ragged axis (the steps) yet",
                    spec.shape_string()
                )),
                _ => None,
            }
        };
        if let Some(message) = problem {
            return Some((input.span, message));
        }
    }
    for l in &model.layers {
        let rule = RuleInput {
            name: &l.name,
            config: &l.config,
            inputs: &l.inputs,
        };
        if let Err(message) = (l.spec.runs)(&rule) {
            let class = l.class_name();
            return Some((l.span, format!("layer '{}' ({class}): {message}", l.name)));
        }
    }
    for &o in &model.outputs {
        let spec = &model.nodes[o].spec;
        // One length known only at run time (a padded `to_dense()` axis) is inferred from the
        // rows; the features (last axis) must be known.
        let unknown = spec.dims.iter().filter(|d| d.known().is_none()).count();
        let last_known = spec.dims.last().is_some_and(|d| d.known().is_some());
        if spec.layout != Layout::Dense || unknown > 1 || !last_known || spec.ndim() > 6 {
            let span = match &model.nodes[o].kind {
                NodeKind::Apply { layer, .. } | NodeKind::Merge { layer, .. } => {
                    model.layers[*layer].span
                }
                NodeKind::Input(i) => model.inputs[*i].span,
            };
            return Some((span, format!(
                "an output of shape {} does not run yet: outputs are dense with every dimension known; pool a ragged tensor first (e.g. `global_average_pooling_1d()`)",
                spec
            )));
        }
    }
    if model.inputs.len() > MAX_INPUTS || model.outputs.len() > MAX_OUTPUTS {
        return Some((
            model.ident.span(),
            format!(
                "models run with at most {MAX_INPUTS} inputs and {MAX_OUTPUTS} outputs; this one has {} and {}",
                model.inputs.len(),
                model.outputs.len()
            ),
        ));
    }
    None
}
