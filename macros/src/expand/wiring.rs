//! How a graph's tensors and gradients flow in the generated code.
//!
//! Every layer is driven through core's `Layer` trait (merges through `MergeLayer`), with its
//! input as a `Input`: which variant is decided by the tensor's spec (dense, sparse, ragged,
//! ids), never by the layer. A layer whose output is ragged returns flat values, paired here
//! with the row partitions of the ragged model input they descend from.
//!
//! Every layer keeps its own output and input gradient, so most tensors are read straight from
//! the layer that made them. Two cases need a buffer of the model's own (`__graph`):
//! - a shared layer holds one buffer set per use and shows one at a time, so the output of
//!   each of its uses is copied out (a merge may need two of them at once);
//! - a tensor consumed more than once (or by a shared layer, or both consumed and an output)
//!   gets the sum of its consumers' gradients, built one addition at a time.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use stratic_core::shape::{DType, Layout, MaskFlow};

use crate::check::{CheckedModel, NodeKind};

/// Where a tensor's gradient comes from.
enum Source {
    /// The loss gradient of output `i`.
    Output(usize),
    /// The input gradient of use `use_index` of a layer.
    Apply { layer: usize, use_index: usize },
    /// The gradient of a merge layer's input `slot`.
    Merge { layer: usize, slot: usize },
}

pub struct Wiring {
    pub n_values: usize,
    pub n_grads: usize,
    value_slot: Vec<Option<usize>>,
    grad_slot: Vec<Option<usize>>,
    sources: Vec<Vec<Source>>,
}

/// The ragged input whose row partitions a ragged tensor `node` carries (layers on ragged
/// tensors keep the partitions and change only the flat values).
fn ragged_root(model: &CheckedModel, node: usize) -> Option<usize> {
    if model.nodes[node].spec.layout != Layout::Ragged {
        return None;
    }
    match &model.nodes[node].kind {
        NodeKind::Input(i) => Some(*i),
        NodeKind::Apply { input, .. } => ragged_root(model, *input),
        NodeKind::Merge { .. } => None,
    }
}

/// The node whose mask layer `layer` reads on its input `node`: the layer reads masks and the
/// input carries one (known statically; see `check_masks`).
fn mask_read(model: &CheckedModel, layer: usize, node: usize) -> Option<usize> {
    match model.layers[layer].spec.mask {
        MaskFlow::Reads(_) => model.nodes[node].mask,
        _ => None,
    }
}

/// The layer that made the mask of node `maker` (a `masking` application).
fn mask_layer(model: &CheckedModel, maker: usize) -> TokenStream {
    match &model.nodes[maker].kind {
        NodeKind::Apply { layer, .. } | NodeKind::Merge { layer, .. } => field(model, *layer),
        NodeKind::Input(_) => quote!(__no_mask_layer),
    }
}

/// A layer's field as seen from the model (`dense`, or `encoder.dense` in a sub-model).
fn field(model: &CheckedModel, layer: usize) -> TokenStream {
    model.layers[layer].access()
}

/// The `Input` variant for a model input of `spec`'s layout and dtype, around `value`.
fn input_variant(model: &CheckedModel, node: usize, value: TokenStream) -> TokenStream {
    let spec = &model.nodes[node].spec;
    match spec.layout {
        Layout::Sparse => quote!(__s::Input::Sparse(#value)),
        Layout::Ragged if spec.dtype == DType::I32 => quote!(__s::Input::RaggedIds(#value)),
        Layout::Ragged => quote!(__s::Input::Ragged(#value)),
        Layout::Dense if spec.dtype.is_integer() => quote!(__s::Input::Ids(#value)),
        Layout::Dense => quote!(__s::Input::Dense(#value)),
    }
}

impl Wiring {
    pub fn new(model: &CheckedModel) -> Self {
        let n = model.nodes.len();
        let shared = |layer: usize| model.layers[layer].uses > 1;
        let mut sources: Vec<Vec<Source>> = (0..n).map(|_| Vec::new()).collect();
        let mut value_slot = vec![None; n];
        let mut n_values = 0;
        for (i, node) in model.nodes.iter().enumerate() {
            match &node.kind {
                NodeKind::Input(_) => {}
                NodeKind::Apply {
                    layer,
                    use_index,
                    input,
                } => {
                    sources[*input].push(Source::Apply {
                        layer: *layer,
                        use_index: *use_index,
                    });
                    if shared(*layer) {
                        value_slot[i] = Some(n_values);
                        n_values += 1;
                    }
                }
                NodeKind::Merge { layer, inputs } => {
                    for (slot, input) in inputs.iter().enumerate() {
                        sources[*input].push(Source::Merge {
                            layer: *layer,
                            slot,
                        });
                    }
                }
            }
        }
        for (i, &o) in model.outputs.iter().enumerate() {
            sources[o].push(Source::Output(i));
        }
        let mut grad_slot = vec![None; n];
        let mut n_grads = 0;
        for (i, node) in model.nodes.iter().enumerate() {
            if matches!(node.kind, NodeKind::Input(_)) {
                continue;
            }
            let from_shared = sources[i]
                .iter()
                .any(|s| matches!(s, Source::Apply { layer, .. } if shared(*layer)));
            if sources[i].len() > 1 || from_shared {
                grad_slot[i] = Some(n_grads);
                n_grads += 1;
            }
        }
        Wiring {
            n_values,
            n_grads,
            value_slot,
            grad_slot,
            sources,
        }
    }

    pub fn needs_buffers(&self) -> bool {
        self.n_values + self.n_grads > 0
    }

    /// The name of the layer (or input) that makes `node`.
    pub fn node_name(&self, model: &CheckedModel, node: usize) -> String {
        if let Some(tag) = model.nodes[node].sub {
            return model.subs[tag.sub].field.clone();
        }
        match &model.nodes[node].kind {
            NodeKind::Input(i) => model.inputs[*i].name.clone(),
            NodeKind::Apply { layer, .. } | NodeKind::Merge { layer, .. } => {
                model.layers[*layer].name.clone()
            }
        }
    }

    fn shared(model: &CheckedModel, layer: usize) -> bool {
        model.layers[layer].uses > 1
    }

    /// A node's value in inference code as a layer's `Input`.
    fn input_local(model: &CheckedModel, node: usize) -> TokenStream {
        let v = format_ident!("__v{}", node);
        match &model.nodes[node].kind {
            NodeKind::Input(_) => input_variant(model, node, quote!(#v)),
            _ => match ragged_root(model, node) {
                Some(root) => {
                    let x = format_ident!("__x{}", root);
                    quote!(__s::Input::Ragged(#x.view().with_values(#v.view())))
                }
                None => quote!(__s::Input::Dense(#v.view())),
            },
        }
    }

    /// Inference: every node as a local, then the outputs (moved out on their last mention).
    pub fn call_body(&self, model: &CheckedModel) -> TokenStream {
        let mut stmts = Vec::new();
        for (n, node) in model.nodes.iter().enumerate() {
            let v = format_ident!("__v{}", n);
            stmts.push(match &node.kind {
                NodeKind::Input(i) => {
                    let x = format_ident!("__x{}", i);
                    if node.spec.layout == Layout::Sparse {
                        quote!(let #v = #x;)
                    } else {
                        quote!(let #v = #x.view();)
                    }
                }
                NodeKind::Apply { layer, input, .. } => {
                    let f = field(model, *layer);
                    let x = match mask_read(model, *layer, *input) {
                        Some(m) => {
                            let (vi, mm) =
                                (format_ident!("__v{}", input), format_ident!("__m{}", m));
                            quote!(__s::Input::Masked(#vi.view(), &#mm))
                        }
                        None => Self::input_local(model, *input),
                    };
                    let call = quote!(let #v = __s::Layer::call(&self.#f, #x););
                    if node.mask == Some(n) {
                        // The mask this layer makes, for the layers after it that read it.
                        let mm = format_ident!("__m{}", n);
                        quote!(let #mm = self.#f.mask_of(#x); #call)
                    } else {
                        call
                    }
                }
                NodeKind::Merge { layer, inputs } => {
                    let f = field(model, *layer);
                    let ps = inputs.iter().map(|p| format_ident!("__v{}", p));
                    quote!(let #v = __s::MergeLayer::call(&self.#f, &[#(#ps.view()),*]);)
                }
            });
        }
        let outs = model.outputs.iter().enumerate().map(|(i, &o)| {
            let v = format_ident!("__v{}", o);
            if model.outputs[i + 1..].contains(&o) {
                quote!(#v.clone())
            } else {
                quote!(#v)
            }
        });
        quote! {
            #(#stmts)*
            ::std::vec![#(#outs),*]
        }
    }

    /// The value of `node` during training, as rows (a ragged tensor's flat values).
    pub fn view(&self, model: &CheckedModel, node: usize) -> TokenStream {
        match &model.nodes[node].kind {
            NodeKind::Input(i) => {
                let x = format_ident!("__x{}", i);
                if model.nodes[node].spec.layout == Layout::Ragged {
                    quote!(#x.view().values())
                } else {
                    quote!(#x.view())
                }
            }
            NodeKind::Apply { layer, .. } => match self.value_slot[node] {
                Some(k) => quote!(self.__graph.values[#k].view()),
                None => {
                    let f = field(model, *layer);
                    quote!(__s::Layer::output(&self.#f))
                }
            },
            NodeKind::Merge { layer, .. } => {
                let f = field(model, *layer);
                quote!(__s::MergeLayer::output(&self.#f))
            }
        }
    }

    /// The input `node` of layer `layer` during training: with its mask when the layer
    /// reads one (the mask its `masking` layer kept from this forward pass).
    fn layer_input_train(&self, model: &CheckedModel, layer: usize, node: usize) -> TokenStream {
        match mask_read(model, layer, node) {
            Some(m) => {
                let rows = self.view(model, node);
                let mf = mask_layer(model, m);
                quote!(__s::Input::Masked(#rows, self.#mf.mask()))
            }
            None => self.input_train(model, node),
        }
    }

    /// The value of `node` during training as a layer's `Input`.
    fn input_train(&self, model: &CheckedModel, node: usize) -> TokenStream {
        if let NodeKind::Input(i) = model.nodes[node].kind {
            let x = format_ident!("__x{}", i);
            let value = if model.nodes[node].spec.layout == Layout::Sparse {
                quote!(#x)
            } else {
                quote!(#x.view())
            };
            return input_variant(model, node, value);
        }
        let rows = self.view(model, node);
        match ragged_root(model, node) {
            Some(root) => {
                let x = format_ident!("__x{}", root);
                quote!(__s::Input::Ragged(#x.view().with_values(#rows)))
            }
            None => quote!(__s::Input::Dense(#rows)),
        }
    }

    pub fn forward_train(&self, model: &CheckedModel) -> TokenStream {
        let mut stmts = Vec::new();
        for (n, node) in model.nodes.iter().enumerate() {
            match &node.kind {
                NodeKind::Input(_) => {}
                NodeKind::Apply {
                    layer,
                    use_index,
                    input,
                } => {
                    let f = field(model, *layer);
                    if Self::shared(model, *layer) {
                        stmts.push(quote!(__s::Layer::select_use(&mut self.#f, #use_index);));
                    }
                    let x = self.layer_input_train(model, *layer, *input);
                    stmts.push(quote!(__s::Layer::forward(&mut self.#f, #x, &mut self.__cx);));
                    if let Some(k) = self.value_slot[n] {
                        stmts.push(quote! {
                            __s::assign_rows(&mut self.__graph.values[#k], __s::Layer::output(&self.#f));
                        });
                    }
                }
                NodeKind::Merge { layer, inputs } => {
                    let f = field(model, *layer);
                    let xs = inputs.iter().map(|&p| self.view(model, p));
                    stmts.push(quote!(__s::MergeLayer::forward_train(&mut self.#f, &[#(#xs),*]);));
                }
            }
        }
        quote!(#(#stmts)*)
    }

    fn source(&self, model: &CheckedModel, source: &Source) -> TokenStream {
        match source {
            Source::Output(i) => quote!(__grad_outputs[#i].view()),
            Source::Apply { layer, use_index } => {
                let f = field(model, *layer);
                if Self::shared(model, *layer) {
                    quote!({
                        __s::Layer::select_use(&mut self.#f, #use_index);
                        __s::Layer::grad_input(&self.#f)
                    })
                } else {
                    quote!(__s::Layer::grad_input(&self.#f))
                }
            }
            Source::Merge { layer, slot } => {
                let f = field(model, *layer);
                quote!(__s::MergeLayer::grad_input(&self.#f, #slot))
            }
        }
    }

    /// Backward in reverse graph order: each tensor's gradient is complete once every
    /// consumer (which comes later in the order) has run.
    pub fn backward(&self, model: &CheckedModel) -> TokenStream {
        let mut stmts = Vec::new();
        let mut visited = vec![false; model.layers.len()];
        for (n, node) in model.nodes.iter().enumerate().rev() {
            if matches!(node.kind, NodeKind::Input(_)) || self.sources[n].is_empty() {
                continue;
            }
            let grad = match self.grad_slot[n] {
                Some(k) => {
                    for (i, s) in self.sources[n].iter().enumerate() {
                        let e = self.source(model, s);
                        stmts.push(if i == 0 {
                            quote!(__s::assign_rows(&mut self.__graph.grads[#k], #e);)
                        } else {
                            quote!(__s::add_rows(&mut self.__graph.grads[#k], #e);)
                        });
                    }
                    quote!(self.__graph.grads[#k].view())
                }
                None => self.source(model, &self.sources[n][0]),
            };
            match &node.kind {
                NodeKind::Input(_) => {}
                NodeKind::Apply {
                    layer,
                    use_index,
                    input,
                } => {
                    let f = field(model, *layer);
                    let need = !matches!(model.nodes[*input].kind, NodeKind::Input(_));
                    if Self::shared(model, *layer) {
                        let accumulate = visited[*layer];
                        stmts.push(quote! {
                            __s::Layer::select_use(&mut self.#f, #use_index);
                            __s::Layer::set_accumulate(&mut self.#f, #accumulate);
                        });
                    }
                    visited[*layer] = true;
                    let x = self.layer_input_train(model, *layer, *input);
                    stmts.push(quote!(__s::Layer::backward(&mut self.#f, #x, #grad, #need);));
                }
                NodeKind::Merge { layer, inputs } => {
                    let f = field(model, *layer);
                    let xs = inputs.iter().map(|&p| self.view(model, p));
                    stmts
                        .push(quote!(__s::MergeLayer::backward(&mut self.#f, &[#(#xs),*], #grad);));
                }
            }
        }
        quote!(#(#stmts)*)
    }
}
