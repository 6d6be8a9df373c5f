//! Functional graphs: `let` bindings of tensors and of layer values, chains from any bound
//! tensor, merges, several inputs and outputs, shared layers (a layer value applied more than
//! once shares its weights).
//!
//! The body is evaluated in source order, so a name is always defined before it is used and
//! the nodes come out in an order where every node follows its inputs.

use std::collections::HashMap;

use proc_macro2::Span;
use stratic_core::shape::{closest, LayerSpec, RuleInput, TensorSpec};
use syn::Ident;

use super::args::{bind, Bound};
use super::input::{bind_input, check_input};
use super::{
    chain_layer, check_layer, merge_layer, not_a_layer, path_string, unknown_layer, unknown_model,
    CheckedInput, CheckedLayer, CheckedModel, CheckedSub, CustomDecl, Known, Namer, Node, NodeKind,
    SubTag,
};
use crate::ast::{Call, Chain, ModelItem, Term, Value};
use crate::ctxt::Ctxt;

/// What a name is bound to.
enum Binding {
    /// A tensor: a node of the graph.
    Tensor { node: usize },
    /// A layer value: layers (and sub-models) to apply in order (not yet applied, or shared).
    Layers { layers: Vec<Step> },
    /// Its definition failed (already reported): uses of it report nothing more.
    Failed,
}

struct Bound_ {
    binding: Binding,
    span: Span,
    used: bool,
}

/// A layer as the graph holds it: declared (arguments bound, name given) and built at its
/// first application, when its input's shape is known.
enum Slot<'a> {
    Declared {
        call: &'a Call,
        spec: &'static LayerSpec,
        bound: Bound<'a>,
        name: String,
    },
    Built(CheckedLayer),
    /// A user's layer (`custom_layer!`), built at its first application.
    Custom {
        decl: CustomDecl,
        name: String,
        span: Span,
    },
    /// Its declaration or first application failed (already reported).
    Failed,
}

/// What a chain evaluates to.
enum Eval {
    Tensor(usize),
    Layers(Vec<Step>),
}

/// One step of a layer value: a layer (its slot), or a sub-model (its index in `subs`).
#[derive(Clone, Copy)]
enum Step {
    Layer(usize),
    Sub(usize),
}

/// A sub-model of the graph: a model of the invocation (`known[model]`) used as a layer.
struct Sub {
    model: usize,
    field: String,
    ty: syn::Path,
    /// The slot of its first layer, once it is applied (its layers are inlined then).
    offset: Option<usize>,
    applications: usize,
}

struct Graph<'a> {
    cx: &'a Ctxt,
    /// The models of the invocation checked before this one, usable as layers.
    known: Known<'a>,
    subs: Vec<Sub>,
    namer: Namer,
    env: HashMap<String, Bound_>,
    /// Bindings a later `let` of the same name shadowed.
    shadowed: Vec<(String, Bound_)>,
    inputs: Vec<CheckedInput>,
    slots: Vec<Slot<'a>>,
    nodes: Vec<Node>,
    node_spans: Vec<Span>,
    /// Set when something could not be evaluated; later checks that need the whole graph
    /// (reachability) are skipped, since they would only repeat the first error.
    broken: bool,
}

/// Checks a model declared as a graph.
pub fn check_graph<'a>(
    cx: &'a Ctxt,
    item: &'a ModelItem,
    known: Known<'a>,
) -> Option<CheckedModel> {
    let mut g = Graph {
        cx,
        known,
        subs: Vec::new(),
        namer: Namer::default(),
        env: HashMap::new(),
        shadowed: Vec::new(),
        inputs: Vec::new(),
        slots: Vec::new(),
        nodes: Vec::new(),
        node_spans: Vec::new(),
        broken: false,
    };
    for l in &item.body.lets {
        let name = l.name.to_string();
        let eval = g.eval_chain(&l.chain, true);
        // A later `let` shadows an earlier one, as in Rust (Keras' `x = Dense(64)(x)`); the
        // earlier binding is kept aside so that an unused one is still reported.
        if let Some(previous) = g.env.remove(&name) {
            g.shadowed.push((name.clone(), previous));
        }
        let Some(eval) = eval else {
            g.broken = true;
            g.env.insert(
                name,
                Bound_ {
                    binding: Binding::Failed,
                    span: l.name.span(),
                    used: true,
                },
            );
            continue;
        };
        let binding = match eval {
            Eval::Tensor(node) => Binding::Tensor { node },
            Eval::Layers(layers) => Binding::Layers { layers },
        };
        g.env.insert(
            name,
            Bound_ {
                binding,
                span: l.name.span(),
                used: false,
            },
        );
    }
    let chains: Vec<&Chain> = match (&item.body.outputs, &item.body.tail) {
        (Some((chains, _)), _) => chains.iter().collect(),
        (None, Some(chain)) => vec![chain],
        (None, None) => {
            cx.error(
                item.body.span,
                "the model needs outputs: end the body with the output tensor, or a tuple `(a, b)` of them",
            );
            return None;
        }
    };
    if chains.is_empty() {
        if let Some((_, span)) = &item.body.outputs {
            cx.error(*span, "the model needs at least one output: `(a, b)`");
        }
        return None;
    }
    let mut outputs = Vec::new();
    for chain in chains {
        match g.eval_chain(chain, false) {
            Some(Eval::Tensor(node)) => outputs.push(node),
            Some(Eval::Layers(_)) => {}
            None => g.broken = true,
        }
    }
    if !g.broken && !cx.has_errors() {
        g.check_unused(&outputs);
    }
    if cx.has_errors() || g.broken || item.body.had_errors {
        return None;
    }
    for &o in &outputs {
        if matches!(g.nodes[o].kind, NodeKind::Input(_)) {
            cx.error(
                g.node_spans[o],
                "an output must be computed by a layer; this one is an input",
            );
            return None;
        }
    }
    let mut layers = Vec::new();
    for slot in g.slots {
        match slot {
            Slot::Built(l) => layers.push(l),
            _ => return None,
        }
    }
    let subs = g
        .subs
        .into_iter()
        .filter_map(|sub| {
            let offset = sub.offset?;
            let inner = &known.models[sub.model];
            Some(CheckedSub {
                field: sub.field,
                ty: sub.ty,
                class: inner.ident.to_string(),
                input: inner.inputs[0].spec.clone(),
                output: inner.nodes[inner.outputs[0]].spec.clone(),
                layers: offset..offset + inner.layers.len(),
                applications: sub.applications,
            })
        })
        .collect();
    Some(CheckedModel {
        subs,
        key: item.ident.to_string(),
        ty: item.ident.clone().into(),
        attrs: item.attrs.clone(),
        vis: item.vis.clone(),
        ident: item.ident.clone(),
        inputs: g.inputs,
        layers,
        nodes: g.nodes,
        outputs,
        sequential: false,
    })
}

impl<'a> Graph<'a> {
    /// Evaluates a chain: a tensor, or (where `allow_layers`, i.e. on the right of `let`) a
    /// layer value when the chain starts with a layer rather than a tensor.
    fn eval_chain(&mut self, chain: &'a Chain, allow_layers: bool) -> Option<Eval> {
        let (head, rest) = chain.terms.split_first()?;
        let mut current = match head {
            Term::Invalid => return None,
            Term::Call(c) if c.name == "input" => Eval::Tensor(self.input(c)?),
            Term::Call(c) if merge_layer(&c.name).is_some() => Eval::Tensor(self.merge(c)?),
            Term::Call(c) => {
                let layer = self.declare(c)?;
                if !allow_layers {
                    self.cx.error(
                        c.name.span(),
                        format!(
                            "`{}(...)` has no input here: a chain starts with a tensor (an `input(...)`, a bound tensor, or a merge such as `concatenate([a, b])`), e.g. `x -> {}(...)`",
                            c.name, c.name
                        ),
                    );
                    return None;
                }
                Eval::Layers(vec![Step::Layer(layer)])
            }
            Term::Name(_) | Term::Path(_) if self.custom_ref(head).is_some() => {
                let (decl, span) = self.custom_ref(head)?;
                let layer = self.declare_custom(decl, span);
                if !allow_layers {
                    self.cx.error(
                        span,
                        format!("`{}` is a layer and has no input here: a chain starts with a tensor, e.g. `x -> {}`", decl_name(&self.slots[layer]), decl_name(&self.slots[layer])),
                    );
                    return None;
                }
                Eval::Layers(vec![Step::Layer(layer)])
            }
            Term::Name(_) | Term::Path(_) if self.sub_ref(head).is_some() => {
                let r = self.sub_ref(head)?;
                let sub = self.declare_sub(&r)?;
                if !allow_layers {
                    self.cx.error(
                        r.span,
                        format!("`{}` is a model used as a layer and has no input here: a chain starts with a tensor, e.g. `x -> {}`", r.shown, r.shown),
                    );
                    return None;
                }
                Eval::Layers(vec![Step::Sub(sub)])
            }
            Term::Path(p) => {
                unknown_model(self.cx, p);
                return None;
            }
            Term::Name(id) => match self.lookup(id)? {
                Binding::Failed => return None,
                Binding::Tensor { node } => Eval::Tensor(*node),
                Binding::Layers { layers } => {
                    if !allow_layers {
                        self.cx.error(
                            id.span(),
                            format!("`{id}` is a layer, not a tensor: apply it to one, e.g. `x -> {id}`"),
                        );
                        return None;
                    }
                    Eval::Layers(layers.clone())
                }
            },
        };
        for term in rest {
            current = match (current, term) {
                (_, Term::Invalid) => return None,
                (_, Term::Call(c)) if c.name == "input" => {
                    self.cx.error(
                        c.name.span(),
                        "`input(...)` starts a chain; it cannot follow `->`",
                    );
                    return None;
                }
                (_, Term::Call(c)) if merge_layer(&c.name).is_some() => {
                    self.cx.error(
                        c.name.span(),
                        format!(
                            "`{}(...)` takes its inputs as a list and starts a chain: write `let m = {}([a, b]);` and continue from `m`",
                            c.name, c.name
                        ),
                    );
                    return None;
                }
                (Eval::Tensor(node), Term::Call(c)) => {
                    let layer = self.declare(c)?;
                    Eval::Tensor(self.apply(layer, node, c.name.span())?)
                }
                (Eval::Layers(mut layers), Term::Call(c)) => {
                    layers.push(Step::Layer(self.declare(c)?));
                    Eval::Layers(layers)
                }
                (current, Term::Name(_) | Term::Path(_)) if self.custom_ref(term).is_some() => {
                    let (decl, span) = self.custom_ref(term)?;
                    let layer = self.declare_custom(decl, span);
                    match current {
                        Eval::Tensor(node) => Eval::Tensor(self.apply(layer, node, span)?),
                        Eval::Layers(mut layers) => {
                            layers.push(Step::Layer(layer));
                            Eval::Layers(layers)
                        }
                    }
                }
                (current, Term::Name(_) | Term::Path(_)) if self.sub_ref(term).is_some() => {
                    let r = self.sub_ref(term)?;
                    let sub = self.declare_sub(&r)?;
                    match current {
                        Eval::Tensor(node) => Eval::Tensor(self.apply_sub(sub, node, &r)?),
                        Eval::Layers(mut layers) => {
                            layers.push(Step::Sub(sub));
                            Eval::Layers(layers)
                        }
                    }
                }
                (_, Term::Path(p)) => {
                    unknown_model(self.cx, p);
                    return None;
                }
                (current, Term::Name(id)) => {
                    let layers = match self.lookup(id)? {
                        Binding::Failed => return None,
                        Binding::Layers { layers } => layers.clone(),
                        Binding::Tensor { .. } => {
                            self.cx.error(
                                id.span(),
                                format!("`{id}` is a tensor; only layers follow `->` (to combine tensors, use a merge such as `concatenate([a, {id}])`)"),
                            );
                            return None;
                        }
                    };
                    match current {
                        Eval::Tensor(mut node) => {
                            for step in layers {
                                node = match step {
                                    Step::Layer(layer) => self.apply(layer, node, id.span())?,
                                    Step::Sub(sub) => {
                                        let r = SubRef::named(id);
                                        self.apply_sub(sub, node, &r)?
                                    }
                                };
                            }
                            Eval::Tensor(node)
                        }
                        Eval::Layers(mut chain) => {
                            chain.extend(layers);
                            Eval::Layers(chain)
                        }
                    }
                }
            };
        }
        Some(current)
    }

    /// The user's layer a term names, if it names one (and no binding shadows it).
    fn custom_ref(&self, term: &Term) -> Option<(CustomDecl, Span)> {
        let (key, span) = match term {
            Term::Name(id) if !self.env.contains_key(&id.to_string()) => {
                (id.to_string(), id.span())
            }
            Term::Path(p) => (path_string(p), syn::spanned::Spanned::span(p)),
            _ => return None,
        };
        let decl = self.known.layers.iter().find(|l| l.key == key)?;
        Some((decl.clone(), span))
    }

    /// A new use of a user's layer, named after its type as Keras names a layer by class.
    fn declare_custom(&mut self, decl: CustomDecl, span: Span) -> usize {
        let class = decl
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        let name = self.namer.auto(&snake_case(&class));
        self.slots.push(Slot::Custom { decl, name, span });
        self.slots.len() - 1
    }

    /// The model a term names, if it names one (and no binding shadows it).
    fn sub_ref(&self, term: &Term) -> Option<SubRef> {
        let r = match term {
            Term::Name(id) if !self.env.contains_key(&id.to_string()) => SubRef::named(id),
            Term::Path(p) => SubRef {
                key: path_string(p),
                shown: path_string(p),
                span: syn::spanned::Spanned::span(p),
                path: p.clone(),
            },
            _ => return None,
        };
        self.known
            .models
            .iter()
            .any(|m| m.key == r.key)
            .then_some(r)
    }

    /// A new use of a model as a layer: named, as Keras names a nested model, after its
    /// type in snake case (`Encoder` is `encoder`, then `encoder_1`).
    fn declare_sub(&mut self, r: &SubRef) -> Option<usize> {
        let model = self.known.models.iter().position(|m| m.key == r.key)?;
        let inner = &self.known.models[model];
        let id = &r.shown;
        if inner.inputs.len() != 1 || inner.outputs.len() != 1 {
            self.cx.error(
                r.span,
                format!(
                    "model `{id}` has {} and {}; a model used as a layer takes one input and gives one output",
                    count(inner.inputs.len(), "input"),
                    count(inner.outputs.len(), "output")
                ),
            );
            return None;
        }
        let field = self.namer.auto(&snake_case(&inner.ident.to_string()));
        self.subs.push(Sub {
            model,
            field,
            ty: r.path.clone(),
            offset: None,
            applications: 0,
        });
        Some(self.subs.len() - 1)
    }

    /// Applies sub-model `index` to node `input`: its input spec must be the node's; its
    /// layers are inlined on the first application and shared on later ones.
    fn apply_sub(&mut self, index: usize, input: usize, r: &SubRef) -> Option<usize> {
        let id = &r.shown;
        let known = self.known.models;
        let inner = &known[self.subs[index].model];
        let takes = &inner.inputs[0].spec;
        let receives = &self.nodes[input].spec;
        let fits = takes.dims == receives.dims
            && takes.dtype == receives.dtype
            && takes.layout == receives.layout
            && (takes.batch.known().is_none() || takes.batch == receives.batch);
        if !fits {
            let (t, rr) = if takes.dims != receives.dims {
                (takes.shape_string(), receives.shape_string())
            } else {
                (takes.to_string(), receives.to_string())
            };
            self.cx.error(
                r.span,
                format!("`{id}` takes {t} and receives {got}: give it a tensor of its input's shape, or change its `input(...)`", got = rr),
            );
            return None;
        }
        let application = self.subs[index].applications;
        let offset = match self.subs[index].offset {
            None => {
                let offset = self.slots.len();
                let field = self.subs[index].field.clone();
                for l in &inner.layers {
                    let mut l = l.clone();
                    l.owner.insert(0, field.clone());
                    self.slots.push(Slot::Built(l));
                }
                self.subs[index].offset = Some(offset);
                offset
            }
            Some(offset) => {
                let ty = path_string(&self.subs[index].ty);
                let what = if *id == ty {
                    format!("`{id}`")
                } else {
                    format!("`{id}` (a `{ty}`)")
                };
                for (i, l) in inner.layers.iter().enumerate() {
                    if !l.spec.shareable {
                        self.cx.error(
                            r.span,
                            format!(
                                "{what} is applied again, which shares its layers, but its layer '{}' ({}) cannot be shared yet: give this branch a `{ty}` of its own, or share only models of shareable layers (such as `dense`)",
                                l.name,
                                l.class_name()
                            ),
                        );
                        return None;
                    }
                    if let Slot::Built(outer) = &mut self.slots[offset + i] {
                        outer.uses += l.uses;
                    }
                }
                offset
            }
        };
        self.subs[index].applications += 1;
        let mut map = vec![input; inner.nodes.len()];
        let out_node = inner.outputs[0];
        for (j, n) in inner.nodes.iter().enumerate() {
            let kind = match &n.kind {
                NodeKind::Input(_) => continue,
                NodeKind::Apply {
                    layer,
                    use_index,
                    input,
                } => NodeKind::Apply {
                    layer: offset + layer,
                    use_index: application * inner.layers[*layer].uses + use_index,
                    input: map[*input],
                },
                NodeKind::Merge { layer, inputs } => NodeKind::Merge {
                    layer: offset + layer,
                    inputs: inputs.iter().map(|&i| map[i]).collect(),
                },
            };
            let node = self.push_node(kind, n.spec.clone(), r.span);
            self.nodes[node].sub = Some(SubTag {
                sub: index,
                application,
                input,
                output: j == out_node,
            });
            map[j] = node;
        }
        Some(map[out_node])
    }

    /// Looks a name up and marks it used; an undefined name gets "did you mean".
    fn lookup(&mut self, id: &Ident) -> Option<&Binding> {
        let name = id.to_string();
        if !self.env.contains_key(&name) {
            if self.env.is_empty() {
                not_a_layer(self.cx, id);
            } else {
                let message = match closest(&name, self.env.keys().map(String::as_str)) {
                    Some(c) => format!("cannot find `{name}` in this model; did you mean `{c}`?"),
                    None => format!("cannot find `{name}` in this model: bind it first with `let {name} = ...;`"),
                };
                self.cx.error(id.span(), message);
            }
            return None;
        }
        let entry = self.env.get_mut(&name)?;
        entry.used = true;
        Some(&entry.binding)
    }

    fn input(&mut self, call: &'a Call) -> Option<usize> {
        let bound = bind_input(self.cx, call);
        let explicit = bound.name();
        let mut input = check_input(self.cx, &bound, None)?;
        input.name = match explicit {
            Some((name, span)) => {
                if self.namer.is_taken(&name) {
                    self.cx.error(
                        span,
                        format!("duplicate layer name {name:?}: every layer's name must be unique"),
                    );
                }
                self.namer.take(&name, span);
                name
            }
            None => self.namer.auto("input_layer"),
        };
        let index = self.inputs.len();
        let spec = input.spec.clone();
        self.inputs.push(input);
        Some(self.push_node(NodeKind::Input(index), spec, call.name.span()))
    }

    fn push_node(&mut self, kind: NodeKind, spec: TensorSpec, span: Span) -> usize {
        self.nodes.push(Node {
            kind,
            spec,
            sub: None,
            mask: None,
        });
        self.node_spans.push(span);
        self.nodes.len() - 1
    }

    /// Binds a layer call's arguments and names it (Keras names a layer when it is created).
    fn declare(&mut self, call: &'a Call) -> Option<usize> {
        let Some(spec) = chain_layer(&call.name) else {
            unknown_layer(self.cx, &call.name);
            self.slots.push(Slot::Failed);
            return None;
        };
        let bound = bind(self.cx, call, spec.name, spec.params);
        for param in ["input_shape", "batch_input_shape"] {
            if let Some(span) = bound.span_of(param) {
                self.cx.error(
                    span,
                    format!("`{param}` is the sequential shortcut; in a graph, declare the input with `let x = input(shape = [...]);`"),
                );
            }
        }
        let name = self.namer.name(self.cx, spec.name, &bound);
        self.slots.push(Slot::Declared {
            call,
            spec,
            bound,
            name,
        });
        Some(self.slots.len() - 1)
    }

    /// Applies layer `index` to node `input`: builds it on its first use, checks the shape
    /// rule on every use, and for a shared layer checks that the new input fits its weights.
    fn apply(&mut self, index: usize, input: usize, span: Span) -> Option<usize> {
        let spec = self.nodes[input].spec.clone();
        let slot = std::mem::replace(&mut self.slots[index], Slot::Failed);
        let (layer, out) = match slot {
            Slot::Failed => return None,
            Slot::Declared {
                call,
                spec: layer_spec,
                bound,
                name,
            } => {
                let layer = check_layer(self.cx, call, layer_spec, &bound, &name, vec![spec])?;
                let out = layer.output.clone();
                (layer, out)
            }
            Slot::Custom { decl, name, span } => {
                let layer = custom_layer(self.cx, &decl, &name, span, spec)?;
                let out = layer.output.clone();
                (layer, out)
            }
            Slot::Built(mut layer) => {
                let out = match reapply(&layer, &spec) {
                    Ok(out) => out,
                    Err(message) => {
                        self.cx.error(span, message);
                        self.slots[index] = Slot::Built(layer);
                        return None;
                    }
                };
                layer.uses += 1;
                (layer, out)
            }
        };
        let use_index = layer.uses - 1;
        self.slots[index] = Slot::Built(layer);
        Some(self.push_node(
            NodeKind::Apply {
                layer: index,
                use_index,
                input,
            },
            out,
            span,
        ))
    }

    /// `concatenate([a, b], ...)` and the other merges: a new layer applied to bound tensors.
    fn merge(&mut self, call: &'a Call) -> Option<usize> {
        let spec = merge_layer(&call.name)?;
        let bound = bind(self.cx, call, spec.name, spec.params);
        let name = self.namer.name(self.cx, spec.name, &bound);
        let mut inputs = Vec::new();
        for item in bound.list("inputs") {
            match item {
                // A merge written inline: `concatenate([a, multiply([a, b])])`.
                Value::Call(nested) if merge_layer(&nested.name).is_some() => {
                    inputs.push(self.merge(nested)?);
                }
                // A chain written inline: `concatenate([f, meta -> dense(4)])`.
                Value::Chain(chain) => match self.eval_chain(chain, false)? {
                    Eval::Tensor(node) => inputs.push(node),
                    Eval::Layers(_) => return None,
                },
                Value::Call(other) => {
                    self.cx.error(
                        other.name.span(),
                        format!("a layer inside a merge's list needs its input: write `x -> {}(...)`, or bind the tensor first and list its name", other.name),
                    );
                    return None;
                }
                Value::Ident(id) => match self.lookup(id) {
                    Some(Binding::Failed) => return None,
                    Some(Binding::Tensor { node }) => inputs.push(*node),
                    Some(Binding::Layers { .. }) => {
                        self.cx.error(
                            id.span(),
                            format!("`{id}` is a layer, not a tensor: a merge takes tensors, e.g. `x -> {id}` bound with `let`"),
                        );
                        return None;
                    }
                    None => return None,
                },
                _ => return None,
            }
        }
        // Missing inputs were reported by the binder.
        bound.get("inputs")?;
        let specs: Vec<TensorSpec> = inputs.iter().map(|&n| self.nodes[n].spec.clone()).collect();
        let layer = check_layer(self.cx, call, spec, &bound, &name, specs)?;
        let out = layer.output.clone();
        self.slots.push(Slot::Built(layer));
        let layer = self.slots.len() - 1;
        Some(self.push_node(NodeKind::Merge { layer, inputs }, out, call.name.span()))
    }

    /// Every layer value is applied, and every input and bound tensor reaches an output.
    fn check_unused(&self, outputs: &[usize]) {
        let mut live = vec![false; self.nodes.len()];
        let mut stack: Vec<usize> = outputs.to_vec();
        while let Some(n) = stack.pop() {
            if std::mem::replace(&mut live[n], true) {
                continue;
            }
            match &self.nodes[n].kind {
                NodeKind::Input(_) => {}
                NodeKind::Apply { input, .. } => stack.push(*input),
                NodeKind::Merge { inputs, .. } => stack.extend(inputs.iter().copied()),
            }
        }
        let mut names: Vec<(&String, &Bound_)> = self
            .env
            .iter()
            .chain(self.shadowed.iter().map(|(n, b)| (n, b)))
            .collect();
        names.sort_by_key(|(name, b)| (name.as_str(), format!("{:?}", b.span)));
        for (name, entry) in names {
            match &entry.binding {
                Binding::Layers { .. } if !entry.used => {
                    self.cx.error(
                        entry.span,
                        format!("layer value `{name}` is never applied: apply it to a tensor (`x -> {name}`), or remove it"),
                    );
                }
                Binding::Tensor { node } if !live[*node] => {
                    let what = if matches!(self.nodes[*node].kind, NodeKind::Input(_)) {
                        "input"
                    } else {
                        "tensor"
                    };
                    self.cx.error(
                        entry.span,
                        format!("{what} `{name}` does not reach any output: use it on the way to an output, or remove it"),
                    );
                }
                _ => {}
            }
        }
        for (n, node) in self.nodes.iter().enumerate() {
            // Unnamed inputs and layer applications that lead nowhere (an output's chain
            // always leads somewhere, so these come from `let` chains already reported, or
            // from inputs used inline).
            if !live[n] && matches!(node.kind, NodeKind::Input(_)) {
                let bound_by_name = self
                    .env
                    .values()
                    .chain(self.shadowed.iter().map(|(_, b)| b))
                    .any(|e| matches!(e.binding, Binding::Tensor { node } if node == n));
                if !bound_by_name {
                    self.cx.error(
                        self.node_spans[n],
                        "this input does not reach any output: use it on the way to an output, or remove it",
                    );
                }
            }
        }
    }
}

/// The shape rule of a layer applied again (a shared layer): the output for `input`, or why
/// its weights cannot take it.
fn reapply(layer: &CheckedLayer, input: &TensorSpec) -> Result<TensorSpec, String> {
    if !layer.spec.shareable {
        return Err(format!(
            "layer '{}' ({}) cannot be shared yet: only {} layers can be applied more than once; declare one per use",
            layer.name,
            layer.class_name(),
            stratic_core::shape::LAYERS
                .iter()
                .filter(|s| s.shareable)
                .map(|s| format!("`{}`", s.name))
                .collect::<Vec<_>>()
                .join(" and ")
        ));
    }
    let inputs = [input.clone()];
    let rule = RuleInput {
        name: &layer.name,
        config: &layer.config,
        inputs: &inputs,
    };
    let out = layer.spec.output_spec(&rule).map_err(|e| e.message)?;
    let weights = layer.spec.weight_specs(&rule);
    if weights != layer.weights {
        let show = |ws: &[stratic_core::shape::WeightSpec]| {
            ws.iter()
                .map(|w| {
                    let dims: Vec<String> = w.shape.iter().map(usize::to_string).collect();
                    format!("{} ({})", w.name, dims.join(", "))
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(format!(
            "layer '{}' is shared: its first use gave it weights {} for inputs {}, but here it is applied to {}, which would need {}; a shared layer takes only inputs its weights fit",
            layer.name,
            show(&layer.weights),
            layer.input.shape_string(),
            input.shape_string(),
            show(&weights)
        ));
    }
    Ok(out)
}

/// A term naming a model used as a layer: the key it is known by, how to show it, where it
/// is, and the path to write in code.
struct SubRef {
    key: String,
    shown: String,
    span: Span,
    path: syn::Path,
}

impl SubRef {
    fn named(id: &Ident) -> Self {
        SubRef {
            key: id.to_string(),
            shown: id.to_string(),
            span: id.span(),
            path: id.clone().into(),
        }
    }
}

/// The type a declared user's layer is, for messages.
fn decl_name(slot: &Slot<'_>) -> String {
    match slot {
        Slot::Custom { decl, .. } => path_string(&decl.path),
        _ => String::new(),
    }
}

/// A user's layer built on its first input, with `custom_layer!`'s shape rule.
fn custom_layer(
    cx: &Ctxt,
    decl: &CustomDecl,
    name: &str,
    span: Span,
    input: TensorSpec,
) -> Option<CheckedLayer> {
    use stratic_core::shape::{ParamValue, CUSTOM};
    let config = CUSTOM.configure(vec![("units", ParamValue::Int(decl.units))]);
    let inputs = vec![input];
    let rule = RuleInput {
        name,
        config: &config,
        inputs: &inputs,
    };
    match CUSTOM.output_spec(&rule) {
        Ok(output) => Some(CheckedLayer {
            name: name.to_string(),
            owner: Vec::new(),
            spec: &CUSTOM,
            config,
            input: inputs[0].clone(),
            inputs,
            output,
            weights: Vec::new(),
            span,
            uses: 1,
            trainable: true,
            custom: Some(decl.path.clone()),
        }),
        Err(e) => {
            cx.error(span, e.message);
            None
        }
    }
}

/// `1 input`, `2 inputs`.
fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// Keras' `to_snake_case` for a nested model's default name: `Encoder` is `encoder`,
/// `MlpHead` is `mlp_head`, `CNNBlock` is `cnn_block`.
fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_uppercase();
            if prev_lower || (prev_upper && next_lower) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
