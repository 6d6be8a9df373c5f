//! Expansion: a checked model to Rust. Runs only when every check passed; `stub` covers the
//! other case. Generated code names the runtime only through `::stratic::__private`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use stratic_core::shape::{
    Activation, Arity, DType, Dim, Initializer, Layout, ParamValue, TensorSpec, LAYERS,
};

use crate::ast::ModelItem;
use crate::check::{runtime_supported, unsupported, CheckedLayer, CheckedModel, NodeKind};

mod wiring;
use wiring::Wiring;

/// The whole expansion of one checked model.
pub fn expand(model: &CheckedModel) -> TokenStream {
    let CheckedModel {
        attrs, vis, ident, ..
    } = model;
    // Checked like everything else, so its errors are right, but not run yet: say so rather
    // than generate a model without `predict`.
    if let Some((span, message)) = unsupported(model) {
        let mut out = syn::Error::new(span, message).to_compile_error();
        out.extend(stub_of(attrs, vis, ident));
        return out;
    }
    let wiring = Wiring::new(model);
    let own = |l: &&CheckedLayer| l.owner.is_empty();
    let sub_fields = model.subs.iter().map(|sub| {
        let field = format_ident!("{}", sub.field, span = syn::spanned::Spanned::span(&sub.ty));
        let ty = &sub.ty;
        let shared = if sub.applications > 1 {
            format!(" Shared: applied {} times.", sub.applications)
        } else {
            String::new()
        };
        let doc = format!(
            "Sub-model `{}` ({}): {} -> {}. Its layers are trained with this model's.{shared}",
            sub.field,
            sub.class,
            sub.input.shape_string(),
            sub.output.shape_string()
        );
        quote!(#[doc = #doc] pub #field: #ty)
    });
    let sub_builds = model.subs.iter().map(|sub| {
        let field = format_ident!("{}", sub.field);
        let ty = &sub.ty;
        // Applied more than once, its layers hold a buffer set per use of the outer graph.
        let uses = model.layers[sub.layers.clone()]
            .iter()
            .filter(|_| sub.applications > 1)
            .map(|l| {
                let mut path = l.owner[1..].to_vec();
                path.push(l.name.clone());
                let path = path.iter().map(|s| format_ident!("{}", s));
                let n = l.uses;
                quote!(__s::Layer::set_uses(&mut sub.#(#path).*, #n);)
            });
        quote!(#field: {
            #[allow(unused_mut)]
            let mut sub = #ty::__build(rng);
            #(#uses)*
            sub
        })
    });
    let fields = model.layers.iter().filter(own).map(|l| {
        let field = format_ident!("{}", l.name, span = l.span);
        let ty = layer_type(l);
        let shared = if l.uses > 1 {
            format!(" Shared: applied {} times.", l.uses)
        } else {
            String::new()
        };
        let doc = format!(
            "Layer `{}` ({}): {} -> {}.{shared}",
            l.name,
            l.class_name(),
            l.input.shape_string(),
            l.output.shape_string()
        );
        quote!(#[doc = #doc] pub #field: #ty)
    });
    let builds = model
        .layers
        .iter()
        .enumerate()
        .filter(|(_, l)| own(l))
        .map(|(i, l)| {
            let field = format_ident!("{}", l.name);
            let init = layer_build(model, i);
            // A frozen layer is told so (merges have no weights and no `Layer` impl).
            let init = if !l.trainable && l.spec.arity == Arity::One {
                quote!({
                    let mut layer = #init;
                    __s::Layer::set_trainable(&mut layer, false);
                    layer
                })
            } else {
                init
            };
            if l.uses > 1 {
                let uses = l.uses;
                quote!(#field: {
                    let mut layer = #init;
                    __s::Layer::set_uses(&mut layer, #uses);
                    layer
                })
            } else {
                quote!(#field: #init)
            }
        });
    let (graph_field, graph_build) = if wiring.needs_buffers() {
        let (nv, ng) = (wiring.n_values, wiring.n_grads);
        (
            quote!(#[doc(hidden)] pub __graph: ::stratic::__private::GraphBuffers,),
            quote!(__graph: __s::GraphBuffers::new(#nv, #ng),),
        )
    } else {
        (TokenStream::new(), TokenStream::new())
    };
    let graph_field = quote! {
        #graph_field
        #[doc(hidden)] pub __cx: ::stratic::__private::ForwardContext,
    };
    // Drawn after the weights, so the weights of a seed do not depend on it.
    let graph_build = quote!(#graph_build __cx: __s::ForwardContext::training(rng.next_u64()),);
    let model_impl = if runtime_supported(model) {
        model_impl(model, &wiring)
    } else {
        TokenStream::new()
    };
    let const_checks = input_tensor_checks(model);
    let array_predict = array_predict(model);
    let summary = summary(model);
    quote! {
        #(#attrs)*
        #vis struct #ident {
            #(#fields,)*
            #(#sub_fields,)*
            #graph_field
        }

        const _: () = {
            use ::stratic::__private as __s;

            impl #ident {
                /// Builds the model with Keras' default initializers, seeded from the system's
                /// entropy (see `with_seed` for reproducible weights).
                pub fn new() -> Self {
                    Self::__build(&mut __s::Rng::from_entropy())
                }

                /// Builds the model with weights drawn from a generator seeded with `seed`:
                /// the same seed gives the same weights.
                ///
                /// Like every allocation in Rust, it aborts if the weights do not fit in
                /// memory (a model larger than one allocation can be is a compile error);
                /// [`try_with_seed`](Self::try_with_seed) returns an error instead.
                pub fn with_seed(seed: u64) -> Self {
                    Self::__build(&mut __s::Rng::new(seed))
                }

                /// As [`with_seed`](Self::with_seed), with every weight reserved first: a
                /// model too large for this machine is an error, not an abort.
                ///
                /// # Errors
                /// [`Error::InvalidArgument`](::stratic::Error::InvalidArgument) naming the
                /// layer and the weight that cannot be allocated.
                pub fn try_with_seed(seed: u64) -> ::core::result::Result<Self, __s::Error> {
                    __s::reserve_weights(<Self as __s::Model>::layers())?;
                    ::core::result::Result::Ok(Self::with_seed(seed))
                }

                /// As [`new`](Self::new), with every weight reserved first; see
                /// [`try_with_seed`](Self::try_with_seed).
                ///
                /// # Errors
                /// As [`try_with_seed`](Self::try_with_seed).
                pub fn try_new() -> ::core::result::Result<Self, __s::Error> {
                    __s::reserve_weights(<Self as __s::Model>::layers())?;
                    ::core::result::Result::Ok(Self::new())
                }

                #[doc(hidden)]
                pub fn __build(rng: &mut __s::Rng) -> Self {
                    let __layers = <Self as __s::Model>::layers();
                    #ident { #(#builds,)* #(#sub_builds,)* #graph_build }
                }

                #array_predict
                #summary
            }

            impl ::core::default::Default for #ident {
                fn default() -> Self {
                    Self::new()
                }
            }

            #const_checks
            #model_impl
        };
    }
}

/// The layers that input `input` feeds directly and that take integer ids, with their name
/// and the exclusive bound of an id (Embedding's `input_dim`).
fn id_bounds_fed_by(model: &CheckedModel, input: usize) -> Vec<(String, usize)> {
    let Some(node) = model
        .nodes
        .iter()
        .position(|n| matches!(n.kind, NodeKind::Input(i) if i == input))
    else {
        return Vec::new();
    };
    model
        .nodes
        .iter()
        .filter_map(|n| match &n.kind {
            NodeKind::Apply { layer, input, .. } if *input == node => {
                let l = &model.layers[*layer];
                let bound = l.spec.id_bound?;
                Some((l.name.clone(), bound(&l.config)))
            }
            _ => None,
        })
        .collect()
}

fn layer_type(l: &CheckedLayer) -> TokenStream {
    if let Some(path) = &l.custom {
        return quote!(#path);
    }
    let ty = format_ident!("{}", l.spec.runtime);
    quote!(::stratic::__private::#ty)
}

/// The index of a layer's spec in core's registry, which generated code names it by.
fn spec_index(l: &CheckedLayer) -> usize {
    LAYERS
        .iter()
        .position(|s| std::ptr::eq(*s, l.spec))
        .unwrap_or(0)
}

/// One build line, the same for every layer: the runtime type from the config and input
/// specs of its entry in `Model::layers()` (built once, shared with the summary and loaders).
fn layer_build(model: &CheckedModel, index: usize) -> TokenStream {
    if let Some(path) = &model.layers[index].custom {
        return quote! {
            <#path as __s::CustomLayer>::build(&__layers[#index].inputs[0], rng)
        };
    }
    let ty = format_ident!("{}", model.layers[index].spec.runtime);
    quote! {
        <__s::#ty as __s::BuildLayer>::from_config(
            __layers[#index].spec,
            &__layers[#index].config,
            &__layers[#index].inputs,
            rng,
        )
    }
}

/// A number as a literal: literals must be finite, but one too large for f64 parses to
/// infinity (the shape rules refuse it with a message).
fn f64_tokens(f: f64) -> TokenStream {
    if f.is_finite() {
        quote!(#f)
    } else if f > 0.0 {
        quote!(::core::f64::INFINITY)
    } else if f < 0.0 {
        quote!(::core::f64::NEG_INFINITY)
    } else {
        quote!(::core::f64::NAN)
    }
}

fn param_value_tokens(value: &ParamValue) -> TokenStream {
    match value {
        ParamValue::Int(i) => quote!(__s::shape::ParamValue::Int(#i)),
        ParamValue::Float(f) => {
            let f = f64_tokens(*f);
            quote!(__s::shape::ParamValue::Float(#f))
        }
        ParamValue::Floats(v) => {
            let v = v.iter().map(|f| f64_tokens(*f));
            quote!(__s::shape::ParamValue::Floats(::std::borrow::Cow::Borrowed(&[#(#v),*])))
        }
        ParamValue::Bool(b) => quote!(__s::shape::ParamValue::Bool(#b)),
        ParamValue::Str(s) => {
            let s: &str = s;
            quote!(__s::shape::ParamValue::Str(::std::borrow::Cow::Borrowed(#s)))
        }
        ParamValue::Activation(a) => {
            let a = activation_tokens(*a);
            quote!(__s::shape::ParamValue::Activation(#a))
        }
        ParamValue::Initializer(i) => {
            let i = initializer_tokens(*i);
            quote!(__s::shape::ParamValue::Initializer(#i))
        }
        ParamValue::Ints(v) => {
            let v = v.iter();
            quote!(__s::shape::ParamValue::Ints(::std::borrow::Cow::Borrowed(&[#(#v),*])))
        }
        ParamValue::Regularizer(r) => {
            let kind = format_ident!("{}", format!("{:?}", r.kind));
            // The check admits finite factors only.
            let (l1, l2) = (r.l1, r.l2);
            quote!(__s::shape::ParamValue::Regularizer(__s::shape::Regularizer {
                kind: __s::shape::RegularizerKind::#kind,
                l1: #l1,
                l2: #l2,
            }))
        }
        ParamValue::Layer(name, values) => {
            let name: &str = name;
            let values = values.iter().map(|(k, v)| {
                let v = param_value_tokens(v);
                quote!((#k, #v))
            });
            quote!(__s::shape::ParamValue::Layer(
                ::std::borrow::Cow::Borrowed(#name),
                ::std::borrow::Cow::Borrowed(&[#(#values),*]),
            ))
        }
        ParamValue::None => quote!(__s::shape::ParamValue::None),
    }
}

fn activation_tokens(a: Activation) -> TokenStream {
    let v = format_ident!("{}", format!("{a:?}"));
    quote!(__s::shape::Activation::#v)
}

fn initializer_tokens(i: Initializer) -> TokenStream {
    let v = format_ident!("{}", format!("{i:?}"));
    quote!(__s::shape::Initializer::#v)
}

fn dim_tokens(d: Dim) -> TokenStream {
    match d {
        Dim::Known(n) => quote!(__s::shape::Dim::Known(#n)),
        Dim::Unknown => quote!(__s::shape::Dim::Unknown),
    }
}

fn spec_tokens(spec: &TensorSpec) -> TokenStream {
    let batch = dim_tokens(spec.batch);
    let dims = spec.dims.iter().map(|d| dim_tokens(*d));
    let dtype = format_ident!("{}", format!("{:?}", spec.dtype));
    let layout = format_ident!("{}", format!("{:?}", spec.layout));
    quote! {
        __s::shape::TensorSpec {
            batch: #batch,
            dims: ::std::vec![#(#dims),*],
            dtype: __s::shape::DType::#dtype,
            layout: __s::shape::Layout::#layout,
        }
    }
}

/// A spec as static data (`StaticSpec`): a table entry rather than code that builds it.
fn static_spec_tokens(spec: &TensorSpec) -> TokenStream {
    let batch = dim_tokens(spec.batch);
    let dims = spec.dims.iter().map(|d| dim_tokens(*d));
    let dtype = format_ident!("{}", format!("{:?}", spec.dtype));
    let layout = format_ident!("{}", format!("{:?}", spec.layout));
    quote! {
        __s::shape::StaticSpec {
            batch: #batch,
            dims: &[#(#dims),*],
            dtype: __s::shape::DType::#dtype,
            layout: __s::shape::Layout::#layout,
        }
    }
}

fn ndarray_dim(ndim: usize) -> TokenStream {
    quote!(__s::ndarray::Dim<[usize; #ndim]>)
}

fn elem_type(dtype: DType) -> TokenStream {
    let t = format_ident!("{}", dtype.rust_name());
    quote!(#t)
}

/// The `Model` impl: input checking, batching, and the forward and backward passes, wired
/// statically in graph order (see `wiring`).
fn model_impl(model: &CheckedModel, w: &Wiring) -> TokenStream {
    let ident = &model.ident;
    let single_in = model.inputs.len() == 1;
    let single_out = model.outputs.len() == 1;
    let in_dims: Vec<TokenStream> = model
        .inputs
        .iter()
        .map(|i| ndarray_dim(i.spec.ndim()))
        .collect();
    let out_dims: Vec<TokenStream> = model
        .outputs
        .iter()
        .map(|&o| ndarray_dim(model.nodes[o].spec.ndim()))
        .collect();
    let tuple = |items: Vec<TokenStream>, single: bool| {
        if single {
            items.into_iter().next().unwrap_or_default()
        } else {
            quote!((#(#items,)*))
        }
    };
    let sparse: Vec<bool> = model
        .inputs
        .iter()
        .map(|i| i.spec.layout == Layout::Sparse)
        .collect();
    // The element of every dense or ragged input: `f32` values or `i32` ids.
    let elems: Vec<TokenStream> = model
        .inputs
        .iter()
        .map(|i| elem_type(i.spec.dtype))
        .collect();
    let ragged: Vec<Option<TokenStream>> = model
        .inputs
        .iter()
        .map(|i| (i.spec.layout == Layout::Ragged).then(|| elem_type(i.spec.dtype)))
        .collect();
    // A sparse input is a `&SparseTensor` (its batch a `SparseTensor`), a dense one an array.
    let input_ty = tuple(
        in_dims
            .iter()
            .zip(&sparse)
            .zip(&ragged)
            .zip(&elems)
            .map(|(((d, sparse), ragged), t)| {
                if let Some(t) = ragged {
                    quote!(&'a __s::RaggedTensor<#t>)
                } else if *sparse {
                    quote!(&'a __s::SparseTensor<f32>)
                } else {
                    quote!(__s::ndarray::ArrayView<'a, #t, #d>)
                }
            })
            .collect(),
        single_in,
    );
    let batch_fields: Vec<TokenStream> = in_dims
        .iter()
        .zip(&sparse)
        .zip(&ragged)
        .zip(&elems)
        .map(|(((d, sparse), ragged), t)| {
            if let Some(t) = ragged {
                quote!(__s::RaggedTensor<#t>)
            } else if *sparse {
                quote!(__s::SparseTensor<f32>)
            } else {
                quote!(__s::ndarray::Array<#t, #d>)
            }
        })
        .collect();
    // Several inputs batch into a tuple struct of the model's own: `Default` is derived for
    // any number of fields (std's tuples stop at 12).
    let (batch_ty, batch_struct) = if single_in {
        (tuple(batch_fields, true), TokenStream::new())
    } else {
        let name = format_ident!("__{}Batch", ident);
        (
            quote!(#name),
            quote! {
                #[doc(hidden)]
                #[derive(Default)]
                pub struct #name(#(pub #batch_fields),*);
            },
        )
    };
    let output_ty = tuple(
        out_dims
            .iter()
            .map(|d| quote!(__s::ndarray::Array<f32, #d>))
            .collect(),
        single_out,
    );
    // `x` itself for one input, `x.0`, `x.1`, ... for several.
    let access = |base: TokenStream, i: usize| {
        if single_in {
            base
        } else {
            let idx = syn::Index::from(i);
            quote!(#base.#idx)
        }
    };
    let n_in = model.inputs.len();
    let input_specs = model.inputs.iter().map(|i| spec_tokens(&i.spec));
    let checks = model.inputs.iter().enumerate().map(|(i, input)| {
        let name = &input.name;
        let xi = access(quote!(x), i);
        let n = format_ident!("__n{}", i);
        if ragged[i].is_some() {
            // Ids are checked against every layer of ids the input feeds, before any work.
            let ids = id_bounds_fed_by(model, i)
                .into_iter()
                .map(|(layer, dim)| quote!(__s::check_ragged_ids(#layer, #dim, #xi)?;));
            quote! {
                let #n = __s::check_ragged_input(#name, &specs[#i], #xi)?;
                #(#ids)*
            }
        } else if sparse[i] {
            quote!(let #n = __s::check_sparse_input(#name, &specs[#i], #xi)?;)
        } else if input.spec.dtype.is_integer() {
            // Dense ids, as ragged ones: against every layer of ids the input feeds.
            let ids = id_bounds_fed_by(model, i)
                .into_iter()
                .map(|(layer, dim)| quote!(__s::check_dense_ids(#layer, #dim, &#xi)?;));
            quote! {
                let #n = __s::check_dense_input(#name, &specs[#i], &#xi)?;
                #(#ids)*
            }
        } else {
            quote!(let #n = __s::check_dense_input(#name, &specs[#i], &#xi)?;)
        }
    });
    let counts = model.inputs.iter().enumerate().map(|(i, input)| {
        let name = &input.name;
        let n = format_ident!("__n{}", i);
        quote!((#name, #n))
    });
    let gathers = (0..n_in).map(|i| {
        let xi = access(quote!(x), i);
        // `out` is already `&mut` for one input; a field of it for several.
        let oi = if single_in {
            quote!(out)
        } else {
            let idx = syn::Index::from(i);
            quote!(&mut out.#idx)
        };
        if sparse[i] || ragged[i].is_some() {
            quote!(#xi.gather_rows(rows, #oi);)
        } else {
            quote!(__s::gather_rows(#xi, rows, #oi);)
        }
    });
    let batch_views = tuple(
        (0..n_in)
            .map(|i| {
                let bi = access(quote!(batch), i);
                if sparse[i] || ragged[i].is_some() {
                    quote!(&#bi)
                } else {
                    quote!(#bi.view())
                }
            })
            .collect(),
        single_in,
    );
    let rows_of_inputs: Vec<TokenStream> = (0..n_in)
        .map(|i| {
            let xi = access(quote!(x), i);
            let v = format_ident!("__x{}", i);
            if sparse[i] || ragged[i].is_some() {
                quote!(let #v = #xi;)
            } else if model.inputs[i].spec.dtype.is_integer() {
                // Layers read ids as `i32` rows.
                quote!(let #v = __s::ids_as_rows(#xi);)
            } else {
                quote!(let #v = __s::as_rows(#xi);)
            }
        })
        .collect();
    let n_out = model.outputs.len();
    let output_specs = model
        .outputs
        .iter()
        .map(|&o| spec_tokens(&model.nodes[o].spec));
    let output_names = model.outputs.iter().map(|&o| w.node_name(model, o));
    let input_names = model.inputs.iter().map(|i| &i.name);
    let to_outputs: Vec<TokenStream> = model
        .outputs
        .iter()
        .map(|&o| {
            let dims = &model.nodes[o].spec.dims;
            // At most one dim is known only at run time (a padded `to_dense()` axis): it is
            // what the rows hold beyond the known dims.
            let known: usize = dims.iter().filter_map(|d| d.known()).product();
            let tail = dims.iter().map(|d| match d.known() {
                Some(k) => quote!(#k),
                None => quote!(__unknown),
            });
            quote!({
                let __o = __it.next().unwrap_or_default();
                let __unknown = if n == 0 { 0 } else { __o.len() / (n * #known).max(1) };
                __s::rows_to_output(__o, &[n, #(#tail),*])
            })
        })
        .collect();
    let to_output = tuple(to_outputs, single_out);
    let call_body = w.call_body(model);
    let forward = w.forward_train(model);
    let train_outputs = model.outputs.iter().enumerate().map(|(i, &o)| {
        let view = w.view(model, o);
        quote!(#i => #view,)
    });
    let last_output = w.view(model, model.outputs[model.outputs.len() - 1]);
    let backward = w.backward(model);
    let (mut visit_params, mut visit_state, mut visit_weights) =
        (Vec::new(), Vec::new(), Vec::new());
    // Merges have no weights (and implement `MergeLayer`, not `Layer`).
    for l in model.layers.iter().filter(|l| l.spec.arity == Arity::One) {
        let f = l.access();
        let n = &l.full_name();
        if l.trainable {
            visit_params.push(quote!(__s::Layer::visit_params(&mut self.#f, #n, f);));
            visit_weights.push(quote!(__s::Layer::visit_weights(&self.#f, #n, f);));
        } else {
            // Frozen (`trainable = false`): every weight is state the optimizer never sees.
            visit_state.push(quote!(__s::Layer::visit_params(&mut self.#f, #n, f);));
            visit_weights.push(quote! {
                __s::Layer::visit_weights(&self.#f, #n, &mut |p: __s::ParamRef<'_>| {
                    f(__s::ParamRef { trainable: false, ..p })
                });
            });
        }
        visit_state.push(quote!(__s::Layer::visit_state(&mut self.#f, #n, f);));
    }
    let n_layers = model.layers.len();
    let layer_infos = model.layers.iter().map(|l| {
        let spec = if l.custom.is_some() {
            quote!(&__s::shape::CUSTOM)
        } else {
            let index = spec_index(l);
            quote!(__s::shape::LAYERS[#index])
        };
        let name = &l.full_name();
        let values = l.config.values().iter().map(|(name, value)| {
            let v = param_value_tokens(value);
            quote!((#name, #v))
        });
        let inputs = l.inputs.iter().map(static_spec_tokens);
        let output = static_spec_tokens(&l.output);
        let trainable = l.trainable;
        quote! {{
            const CONFIG: &[(&str, __s::shape::ParamValue)] = &[#(#values),*];
            __s::shape::LayerInfo::from_static(
                #spec,
                #name,
                CONFIG,
                &[#(#inputs),*],
                #output,
                #trainable,
            )
        }}
    });
    let graph_nodes = model.nodes.iter().map(|n| {
        let op = match &n.kind {
            NodeKind::Input(i) => quote!(__s::shape::GraphOp::Input(#i)),
            NodeKind::Apply {
                layer,
                use_index,
                input,
            } => quote!(__s::shape::GraphOp::Apply { layer: #layer, use_index: #use_index, input: #input }),
            NodeKind::Merge { layer, inputs } => {
                quote!(__s::shape::GraphOp::Merge { layer: #layer, inputs: &[#(#inputs),*] })
            }
        };
        let spec = static_spec_tokens(&n.spec);
        quote!(__s::shape::GraphNode { op: #op, spec: #spec })
    });
    let graph_outputs = model.outputs.iter();
    let layer_refs = model.layers.iter().enumerate().map(|(i, l)| {
        let f = l.access();
        if l.spec.arity == Arity::One {
            quote!(#i => ::core::option::Option::Some(__s::LayerRef::One(&self.#f)),)
        } else {
            quote!(#i => ::core::option::Option::Some(__s::LayerRef::Merge(&self.#f)),)
        }
    });
    quote! {
        #batch_struct

        impl __s::Model for #ident {
            type Input<'a> = #input_ty;
            type Batch = #batch_ty;
            type Output = #output_ty;

            fn output_specs() -> &'static [__s::shape::TensorSpec] {
                static SPECS: ::std::sync::OnceLock<[__s::shape::TensorSpec; #n_out]> = ::std::sync::OnceLock::new();
                SPECS.get_or_init(|| [#(#output_specs),*])
            }

            fn output_names() -> &'static [&'static str] {
                &[#(#output_names),*]
            }

            fn input_names() -> &'static [&'static str] {
                &[#(#input_names),*]
            }

            fn check_input(x: Self::Input<'_>) -> ::core::result::Result<usize, __s::Error> {
                // Built once: checking inputs allocates nothing on the training path.
                static SPECS: ::std::sync::OnceLock<[__s::shape::TensorSpec; #n_in]> = ::std::sync::OnceLock::new();
                let specs = SPECS.get_or_init(|| [#(#input_specs),*]);
                #(#checks)*
                __s::same_samples(&[#(#counts),*])
            }

            fn gather(x: Self::Input<'_>, rows: &[usize], out: &mut Self::Batch) {
                #(#gathers)*
            }

            fn batch_view(batch: &Self::Batch) -> Self::Input<'_> {
                #batch_views
            }

            fn call(&self, x: Self::Input<'_>) -> ::std::vec::Vec<__s::ndarray::Array2<f32>> {
                #(#rows_of_inputs)*
                #call_body
            }

            fn to_output(outputs: ::std::vec::Vec<__s::ndarray::Array2<f32>>, n: usize) -> Self::Output {
                let mut __it = outputs.into_iter();
                #to_output
            }

            fn forward_train(&mut self, x: Self::Input<'_>) {
                // The activity penalties are the last pass's only.
                self.__cx.penalty = 0.0;
                #(#rows_of_inputs)*
                #forward
            }

            fn set_training(&mut self, training: bool) {
                self.__cx.training = training;
            }

            fn next_fit_seed(&mut self) -> ::core::option::Option<u64> {
                ::core::option::Option::Some(self.__cx.next_fit_seed())
            }

            fn take_activity_penalty(&mut self) -> f64 {
                ::std::mem::take(&mut self.__cx.penalty)
            }

            fn train_output(&mut self, index: usize) -> __s::ndarray::ArrayView2<'_, f32> {
                match index {
                    #(#train_outputs)*
                    _ => #last_output,
                }
            }

            #[allow(unused_variables)]
            fn backward(&mut self, x: Self::Input<'_>, __grad_outputs: &[__s::ndarray::Array2<f32>]) {
                #(#rows_of_inputs)*
                #backward
            }

            #[allow(unused_variables)]
            fn visit_params(&mut self, f: &mut dyn FnMut(__s::ParamMut<'_>)) {
                #(#visit_params)*
            }

            fn summary(&self) -> __s::shape::Summary {
                // The inherent method (generated beside it): callers need no trait in scope.
                #ident::summary(self)
            }

            fn layers() -> &'static [__s::shape::LayerInfo] {
                static LAYERS: ::std::sync::OnceLock<[__s::shape::LayerInfo; #n_layers]> = ::std::sync::OnceLock::new();
                LAYERS.get_or_init(|| [#(#layer_infos),*])
            }

            fn graph() -> ::core::option::Option<&'static __s::shape::ModelGraph> {
                static GRAPH: __s::shape::ModelGraph = __s::shape::ModelGraph {
                    nodes: &[#(#graph_nodes),*],
                    outputs: &[#(#graph_outputs),*],
                };
                ::core::option::Option::Some(&GRAPH)
            }

            fn layer(&self, index: usize) -> ::core::option::Option<__s::LayerRef<'_>> {
                match index {
                    #(#layer_refs)*
                    _ => ::core::option::Option::None,
                }
            }

            #[allow(unused_variables)]
            fn visit_state(&mut self, f: &mut dyn FnMut(__s::ParamMut<'_>)) {
                #(#visit_state)*
            }

            #[allow(unused_variables)]
            fn visit_weights(&self, f: &mut dyn FnMut(__s::ParamRef<'_>)) {
                #(#visit_weights)*
            }
        }
    }
}

/// `summary()` and `to_dot()`: Keras' table and a Graphviz picture, from data the macro knows.
fn summary(model: &CheckedModel) -> TokenStream {
    let mut rows = Vec::new();
    let mut seen = vec![false; model.layers.len()];
    let producer = |node: usize| -> String {
        if let Some(tag) = model.nodes[node].sub {
            return format!("{}[{}][0]", model.subs[tag.sub].field, tag.application);
        }
        match &model.nodes[node].kind {
            NodeKind::Input(i) => format!("{}[0][0]", model.inputs[*i].name),
            NodeKind::Apply {
                layer, use_index, ..
            } => {
                format!("{}[{use_index}][0]", model.layers[*layer].name)
            }
            NodeKind::Merge { layer, .. } => format!("{}[0][0]", model.layers[*layer].name),
        }
    };
    let mut sub_seen = vec![false; model.subs.len()];
    let mut dynamic: Option<TokenStream> = None;
    for node in &model.nodes {
        let (name, class, shape, (params, non_trainable), connected) = match (&node.kind, node.sub)
        {
            // A sub-model is one row, as Keras shows a nested model, at its first output.
            (_, Some(tag)) => {
                if !tag.output || std::mem::replace(&mut sub_seen[tag.sub], true) {
                    continue;
                }
                let sub = &model.subs[tag.sub];
                let (trainable, frozen) = model.layers[sub.layers.clone()]
                    .iter()
                    .map(CheckedLayer::param_counts)
                    .fold((0usize, 0usize), |(a, b), (c, d)| {
                        (a.saturating_add(c), b.saturating_add(d))
                    });
                let connected = if model.sequential {
                    Vec::new()
                } else {
                    model
                        .nodes
                        .iter()
                        .filter_map(|n| n.sub.filter(|t| t.sub == tag.sub && t.output))
                        .map(|t| producer(t.input))
                        .collect()
                };
                (
                    sub.field.clone(),
                    sub.class.clone(),
                    sub.output.shape_string(),
                    (trainable.saturating_add(frozen), frozen),
                    connected,
                )
            }
            (NodeKind::Input(i), None) => {
                if model.sequential {
                    continue;
                }
                let input = &model.inputs[*i];
                (
                    input.name.clone(),
                    "InputLayer".to_string(),
                    input.spec.shape_string(),
                    (0usize, 0usize),
                    Vec::new(),
                )
            }
            (NodeKind::Apply { layer, .. } | NodeKind::Merge { layer, .. }, None) => {
                if std::mem::replace(&mut seen[*layer], true) {
                    continue;
                }
                let l = &model.layers[*layer];
                // Every use's inputs, in graph order.
                let mut connected = Vec::new();
                for n in &model.nodes {
                    match &n.kind {
                        NodeKind::Apply {
                            layer: x, input, ..
                        } if x == layer => connected.push(producer(*input)),
                        NodeKind::Merge { layer: x, inputs } if x == layer => {
                            connected.extend(inputs.iter().map(|&i| producer(i)));
                        }
                        _ => {}
                    }
                }
                if model.sequential {
                    connected.clear();
                }
                let (trainable, frozen) = l.param_counts();
                let class = match &l.custom {
                    Some(path) => crate::check::path_string(path)
                        .rsplit("::")
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                    None => l.class_name().to_string(),
                };
                if l.custom.is_some() {
                    dynamic = Some(l.access());
                }
                (
                    l.name.clone(),
                    class,
                    l.output.shape_string(),
                    (trainable + frozen, frozen),
                    connected,
                )
            }
        };
        // A user's layer's weights are its own: counted when the summary is made.
        let (params, non_trainable) = match dynamic.take() {
            Some(field) => (
                quote!({
                    let (t, f) = __s::count_weights(&self.#field);
                    t.saturating_add(f)
                }),
                quote!(__s::count_weights(&self.#field).1),
            ),
            None => (quote!(#params), quote!(#non_trainable)),
        };
        rows.push(quote! {
            __s::shape::SummaryRow {
                name: ::std::string::String::from(#name),
                class_name: ::std::string::String::from(#class),
                output_shape: ::std::string::String::from(#shape),
                params: #params,
                non_trainable: #non_trainable,
                connected_to: ::std::vec![#(::std::string::String::from(#connected)),*],
            }
        });
    }
    let name = model.ident.to_string();
    let sequential = model.sequential;
    quote! {
        /// The model's summary, as Keras' `model.summary()` prints it (`Display` it).
        pub fn summary(&self) -> __s::shape::Summary {
            __s::shape::Summary {
                model_name: ::std::string::String::from(#name),
                sequential: #sequential,
                rows: ::std::vec![#(#rows),*],
            }
        }

        /// The model's graph in Graphviz DOT (the counterpart of Keras' `plot_model`): layers
        /// with their types, edges with the shapes that flow along them.
        pub fn to_dot(&self) -> ::std::string::String {
            self.summary().to_dot()
        }
    }
}

/// `predict_array(&[[f32; 4]])`: rows as fixed-size Rust arrays, so a row of the wrong length
/// is a type error. Only for a dense `f32` input whose dims are all known (ids are passed as
/// arrays of `i32` to `predict`).
fn array_predict(model: &CheckedModel) -> TokenStream {
    let ([input], [output]) = (model.inputs.as_slice(), model.outputs.as_slice()) else {
        return TokenStream::new();
    };
    let spec = &input.spec;
    if !runtime_supported(model) || spec.layout != Layout::Dense || spec.dtype != DType::F32 {
        return TokenStream::new();
    }
    let Some(dims) = spec
        .dims
        .iter()
        .map(|d| d.known())
        .collect::<Option<Vec<usize>>>()
    else {
        return TokenStream::new();
    };
    let mut row = quote!(f32);
    for d in dims.iter().rev() {
        row = quote!([#row; #d]);
    }
    let flatten = (1..dims.len()).map(|_| quote!(.as_flattened()));
    let in_dim = ndarray_dim(spec.ndim());
    let out_spec = &model.nodes[*output].spec;
    // Outputs of runnable models have every dimension known (see `unsupported`).
    let out_dims: Vec<usize> = out_spec.dims.iter().filter_map(|d| d.known()).collect();
    if out_dims.len() != out_spec.dims.len() {
        return TokenStream::new();
    }
    let mut out_row = quote!(f32);
    let mut zero = quote!(0.0f32);
    for d in out_dims.iter().rev() {
        out_row = quote!([#out_row; #d]);
        zero = quote!([#zero; #d]);
    }
    let flatten_out = out_dims.iter().map(|_| quote!(.as_flattened_mut()));
    let doc = format!(
        "Predicts from rows given as Rust arrays of the declared shape {}, into rows of the output shape {}: a row of another shape does not compile.",
        spec.shape_string(),
        out_spec.shape_string()
    );
    quote! {
        #[doc = #doc]
        ///
        /// # Errors
        /// As `predict`.
        pub fn predict_array(
            &self,
            x: &[#row],
        ) -> ::core::result::Result<::std::vec::Vec<#out_row>, __s::Error> {
            let flat: &[f32] = x #(#flatten)* .as_flattened();
            let view = __s::ndarray::ArrayView::<f32, #in_dim>::from_shape(
                [x.len(), #(#dims),*],
                flat,
            )
            .map_err(|e| __s::Error::InvalidArgument { name: "x", message: e.to_string() })?;
            let y = <Self as __s::Model>::predict(self, view)?;
            let mut rows: ::std::vec::Vec<#out_row> = ::std::vec![#zero; x.len()];
            // `predict` returns one output row per input row, of the declared shape.
            for (to, from) in rows.as_mut_slice() #(#flatten_out)* .iter_mut().zip(y.iter()) {
                *to = *from;
            }
            ::core::result::Result::Ok(rows)
        }
    }
}

/// For `input_tensor = DATA`: type-level checks of `DATA`'s dtype and shape, spanned at the
/// path, and `input_tensor()` returning its values.
fn input_tensor_checks(model: &CheckedModel) -> TokenStream {
    model
        .inputs
        .iter()
        .filter(|i| i.input_tensor.is_some())
        .map(|i| input_tensor_check(model, i))
        .collect()
}

fn input_tensor_check(model: &CheckedModel, input: &crate::check::CheckedInput) -> TokenStream {
    let Some(path) = &input.input_tensor else {
        return TokenStream::new();
    };
    let span: Span = syn::spanned::Spanned::span(path);
    let spec = &input.spec;
    let elem = elem_type(spec.dtype);
    let expected = std::iter::once(spec.batch)
        .chain(spec.dims.iter().copied())
        .map(|d| match d.known() {
            Some(n) => quote!(::core::option::Option::Some(#n)),
            None => quote!(::core::option::Option::None),
        });
    let message = format!(
        "`input_tensor` does not have the input's declared shape {} (batch axis first): make the array's type agree with `shape`",
        spec.shape_string()
    );
    let dtype_check = quote_spanned! {span=>
        #[allow(dead_code)]
        fn __input_tensor_dtype() {
            __s::assert_elements_are::<#elem, _>(&#path);
        }
    };
    let shape_check = quote_spanned! {span=>
        const _: () = ::core::assert!(
            __s::const_shape_matches(&#path, &[#(#expected),*]),
            #message
        );
    };
    // Spanned at the path, like the dtype check: a wrong dtype then reports once, there.
    let tensor_values = quote_spanned!(span=> __s::const_tensor::<#elem, _>(&#path));
    let ident = &model.ident;
    let ndim = ndarray_dim(spec.ndim());
    let nd = spec.ndim();
    let accessor = if runtime_supported(model) && model.inputs.len() == 1 {
        quote! {
            impl #ident {
                /// The constant input given by `input_tensor`, as an array (batch axis first).
                pub fn input_tensor() -> __s::ndarray::Array<#elem, #ndim> {
                    let (dims, flat) = #tensor_values;
                    let mut shape = [0usize; #nd];
                    shape.copy_from_slice(&dims);
                    match __s::ndarray::Array::from_shape_vec(shape, flat) {
                        ::core::result::Result::Ok(a) => a,
                        // The const assertion above proved the shape at compile time.
                        ::core::result::Result::Err(_) => ::core::unreachable!("input_tensor shape checked at compile time"),
                    }
                }

                /// Predicts on the constant input given by `input_tensor`.
                ///
                /// # Errors
                /// As `predict`.
                pub fn predict_input_tensor(&self) -> ::core::result::Result<<Self as __s::Model>::Output, __s::Error> {
                    let x = Self::input_tensor();
                    <Self as __s::Model>::predict(self, x.view())
                }
            }
        }
    } else {
        TokenStream::new()
    };
    // With the accessor, its `const_tensor` call already checks the dtype at the same token; a
    // second check would repeat the error.
    let dtype_check = if accessor.is_empty() {
        dtype_check
    } else {
        TokenStream::new()
    };
    quote! {
        #dtype_check
        #shape_check
        #accessor
    }
}

/// When checking failed: the model type with the same name, so code that uses it does not add
/// a cascade of secondary errors to the real ones.
pub fn stub(item: &ModelItem) -> TokenStream {
    stub_of(&item.attrs, &item.vis, &item.ident)
}

fn stub_of(
    attrs: &[syn::Attribute],
    vis: &syn::Visibility,
    ident: &proc_macro2::Ident,
) -> TokenStream {
    quote! {
        #(#attrs)*
        #vis struct #ident {}

        // The methods a program calls on a model, so that they add no "no method named"
        // errors to the declaration's own. Nothing here runs: the program does not compile.
        #[allow(unused_variables, dead_code, clippy::all)]
        impl #ident {
            /// Not built: the declaration has errors.
            pub fn new() -> Self { ::core::unreachable!() }
            /// Not built: the declaration has errors.
            pub fn with_seed(seed: u64) -> Self { ::core::unreachable!() }
            /// Not built: the declaration has errors.
            pub fn try_new() -> ::core::result::Result<Self, ::stratic::__private::Error> { ::core::unreachable!() }
            /// Not built: the declaration has errors.
            pub fn try_with_seed(seed: u64) -> ::core::result::Result<Self, ::stratic::__private::Error> { ::core::unreachable!() }
            /// Not built: the declaration has errors.
            pub fn summary(&self) -> ::stratic::__private::shape::Summary { ::core::unreachable!() }
            /// Not built: the declaration has errors.
            pub fn to_dot(&self) -> ::std::string::String { ::core::unreachable!() }
            /// Not built: the declaration has errors.
            pub fn predict<X>(&self, x: X) -> ::core::result::Result<::stratic::__private::ndarray::ArrayD<f32>, ::stratic::__private::Error> { ::core::unreachable!() }
            /// Not built: the declaration has errors.
            pub fn predict_batched<X>(&self, x: X, batch_size: usize) -> ::core::result::Result<::stratic::__private::ndarray::ArrayD<f32>, ::stratic::__private::Error> { ::core::unreachable!() }
            /// Not built: the declaration has errors.
            pub fn compile<O, L>(self, optimizer: O, loss: L) -> ::stratic::__private::DeclarationFailed { ::core::unreachable!() }
            /// Not built: the declaration has errors.
            pub fn compile_with<O, L, W>(self, optimizer: O, losses: L, weights: W) -> ::core::result::Result<::stratic::__private::DeclarationFailed, ::stratic::__private::Error> { ::core::unreachable!() }
            /// Not built: the declaration has errors.
            pub fn weights(&self) -> ::std::vec::Vec<(::std::string::String, ::stratic::__private::ndarray::ArrayD<f32>)> { ::core::unreachable!() }
            /// Not built: the declaration has errors.
            pub fn save_weights<P>(&self, path: P) -> ::core::result::Result<(), ::stratic::__private::Error> { ::core::unreachable!() }
            /// Not built: the declaration has errors.
            pub fn load_weights<P>(&mut self, path: P) -> ::core::result::Result<(), ::stratic::__private::Error> { ::core::unreachable!() }
            /// Not built: the declaration has errors.
            pub fn load_keras<P>(&mut self, path: P) -> ::core::result::Result<(), ::stratic::__private::Error> { ::core::unreachable!() }
            /// Not built: the declaration has errors.
            pub fn to_onnx(&self) -> ::core::result::Result<::std::vec::Vec<u8>, ::stratic::__private::Error> { ::core::unreachable!() }
            /// Not built: the declaration has errors.
            pub fn save_onnx<P>(&self, path: P) -> ::core::result::Result<(), ::stratic::__private::Error> { ::core::unreachable!() }
            /// Not built: the declaration has errors.
            pub fn load_keras_weights<P>(&mut self, path: P) -> ::core::result::Result<(), ::stratic::__private::Error> { ::core::unreachable!() }
        }
    }
}
