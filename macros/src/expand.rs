//! Expansion: a checked model to Rust. Runs only when every check passed; `stub` covers the
//! other case. Generated code names the runtime only through `::stratic::__private`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use stratic_core::shape::{Activation, DType, Dim, Initializer, TensorSpec};
use syn::Ident;

use crate::ast::ModelItem;
use crate::check::{runtime_supported, CheckedModel, LayerKind};

/// The whole expansion of one checked model.
pub fn expand(model: &CheckedModel) -> TokenStream {
    let CheckedModel {
        attrs, vis, ident, ..
    } = model;
    let fields = model.layers.iter().map(|l| {
        let field = format_ident!("{}", l.name, span = l.span);
        let ty = layer_type(&l.kind);
        let doc = format!(
            "Layer `{}` ({}): {} -> {}.",
            l.name,
            l.kind.class_name(),
            l.input.shape_string(),
            l.output.shape_string()
        );
        quote!(#[doc = #doc] pub #field: #ty)
    });
    let builds = model.layers.iter().map(|l| {
        let field = format_ident!("{}", l.name);
        let init = layer_build(&l.kind);
        quote!(#field: #init)
    });
    let model_impl = if runtime_supported(model) {
        model_impl(model)
    } else {
        TokenStream::new()
    };
    let const_checks = input_tensor_checks(model);
    let array_predict = array_predict(model);
    quote! {
        #(#attrs)*
        #vis struct #ident {
            #(#fields,)*
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
                pub fn with_seed(seed: u64) -> Self {
                    Self::__build(&mut __s::Rng::new(seed))
                }

                fn __build(rng: &mut __s::Rng) -> Self {
                    #ident { #(#builds,)* }
                }

                #array_predict
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

fn layer_type(kind: &LayerKind) -> TokenStream {
    match kind {
        LayerKind::Dense { .. } => quote!(::stratic::__private::Dense),
        LayerKind::Activation(_) => quote!(::stratic::__private::ActivationLayer),
    }
}

fn layer_build(kind: &LayerKind) -> TokenStream {
    match kind {
        LayerKind::Dense { config, input_dim } => {
            let units = config.units;
            let activation = activation_tokens(config.activation);
            let use_bias = config.use_bias;
            let k = initializer_tokens(config.kernel_initializer);
            let b = initializer_tokens(config.bias_initializer);
            quote! {
                __s::Dense::build(
                    __s::shape::DenseConfig {
                        units: #units,
                        activation: #activation,
                        use_bias: #use_bias,
                        kernel_initializer: #k,
                        bias_initializer: #b,
                    },
                    #input_dim,
                    rng,
                )
            }
        }
        LayerKind::Activation(a) => {
            let a = activation_tokens(*a);
            quote!(__s::ActivationLayer::new(#a))
        }
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

fn ndarray_dim(ndim: usize) -> TokenStream {
    quote!(__s::ndarray::Dim<[usize; #ndim]>)
}

fn elem_type(dtype: DType) -> TokenStream {
    let t = format_ident!("{}", dtype.rust_name());
    quote!(#t)
}

/// The `Model` impl: input checking, batching, and the forward and backward chains, wired
/// statically in layer order.
fn model_impl(model: &CheckedModel) -> TokenStream {
    let ident = &model.ident;
    let in_dim = ndarray_dim(model.input.spec.ndim());
    let out_dim = ndarray_dim(model.output.ndim());
    let input_spec = spec_tokens(&model.input.spec);
    let output_spec = spec_tokens(&model.output);
    let input_name = &model.input.name;
    let fields: Vec<Ident> = model
        .layers
        .iter()
        .map(|l| format_ident!("{}", l.name))
        .collect();
    let out_tail: Vec<usize> = model
        .output
        .dims
        .iter()
        .map(|d| d.known().unwrap_or(0))
        .collect();

    let mut call_chain = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        let prev = format_ident!("__h{}", i);
        let next = format_ident!("__h{}", i + 1);
        call_chain.push(quote!(let #next = __s::Layer::call(&self.#f, #prev.view());));
    }
    let last_h = format_ident!("__h{}", fields.len());

    let mut train_chain = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        let input = if i == 0 {
            quote!(__h0.view())
        } else {
            let p = &fields[i - 1];
            quote!(__s::Layer::output(&self.#p))
        };
        train_chain.push(quote!(__s::Layer::forward_train(&mut self.#f, #input);));
    }
    let last = &fields[fields.len() - 1];

    let mut back_chain = Vec::new();
    for i in (0..fields.len()).rev() {
        let f = &fields[i];
        let input = if i == 0 {
            quote!(__h0.view())
        } else {
            let p = &fields[i - 1];
            quote!(__s::Layer::output(&self.#p))
        };
        let grad = if i + 1 == fields.len() {
            quote!(__grad_output)
        } else {
            let n = &fields[i + 1];
            quote!(__s::Layer::grad_input(&self.#n))
        };
        let need = i > 0;
        back_chain.push(quote!(__s::Layer::backward(&mut self.#f, #input, #grad, #need);));
    }
    let names: Vec<&String> = model.layers.iter().map(|l| &l.name).collect();
    let last_name = &model.layers[model.layers.len() - 1].name;

    quote! {
        impl __s::Model for #ident {
            type Input<'a> = __s::ndarray::ArrayView<'a, f32, #in_dim>;
            type Batch = __s::ndarray::Array<f32, #in_dim>;
            type Output = __s::ndarray::Array<f32, #out_dim>;

            fn output_specs() -> &'static [__s::shape::TensorSpec] {
                static SPECS: ::std::sync::OnceLock<[__s::shape::TensorSpec; 1]> = ::std::sync::OnceLock::new();
                SPECS.get_or_init(|| [#output_spec])
            }

            fn output_names() -> &'static [&'static str] {
                &[#last_name]
            }

            fn check_input(x: Self::Input<'_>) -> ::core::result::Result<usize, __s::Error> {
                // Built once: checking an input allocates nothing on the training path.
                static SPEC: ::std::sync::OnceLock<__s::shape::TensorSpec> = ::std::sync::OnceLock::new();
                __s::check_dense_input(#input_name, SPEC.get_or_init(|| #input_spec), &x)
            }

            fn gather(x: Self::Input<'_>, rows: &[usize], out: &mut Self::Batch) {
                __s::gather_rows(x, rows, out)
            }

            fn batch_view(batch: &Self::Batch) -> Self::Input<'_> {
                batch.view()
            }

            fn call(&self, x: Self::Input<'_>) -> ::std::vec::Vec<__s::ndarray::Array2<f32>> {
                let __h0 = __s::as_rows(x);
                #(#call_chain)*
                ::std::vec![#last_h]
            }

            fn to_output(outputs: ::std::vec::Vec<__s::ndarray::Array2<f32>>, n: usize) -> Self::Output {
                let out = outputs.into_iter().next().unwrap_or_default();
                __s::rows_to_output(out, &[n, #(#out_tail),*])
            }

            fn forward_train(&mut self, x: Self::Input<'_>) {
                let __h0 = __s::as_rows(x);
                #(#train_chain)*
            }

            fn train_output(&mut self, _index: usize) -> __s::ndarray::ArrayView2<'_, f32> {
                __s::Layer::output(&self.#last)
            }

            fn backward(&mut self, x: Self::Input<'_>, __grad_outputs: &[__s::ndarray::Array2<f32>]) {
                let __h0 = __s::as_rows(x);
                let __grad_output = __grad_outputs[0].view();
                #(#back_chain)*
            }

            fn visit_params(&mut self, f: &mut dyn FnMut(__s::ParamMut<'_>)) {
                #(__s::Layer::visit_params(&mut self.#fields, #names, f);)*
            }

            fn visit_weights(&self, f: &mut dyn FnMut(__s::ParamRef<'_>)) {
                #(__s::Layer::visit_weights(&self.#fields, #names, f);)*
            }
        }
    }
}

/// `predict_array(&[[f32; 4]])`: rows as fixed-size Rust arrays, so a row of the wrong length
/// is a type error. Only for a dense `f32` input whose dims are all known.
fn array_predict(model: &CheckedModel) -> TokenStream {
    let spec = &model.input.spec;
    if !runtime_supported(model) {
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
    let out_dim = ndarray_dim(model.output.ndim());
    let doc = format!(
        "Predicts from rows given as Rust arrays of the declared shape {}: a row of another shape does not compile.",
        spec.shape_string()
    );
    quote! {
        #[doc = #doc]
        ///
        /// # Errors
        /// As `predict`.
        pub fn predict_array(
            &self,
            x: &[#row],
        ) -> ::core::result::Result<__s::ndarray::Array<f32, #out_dim>, __s::Error> {
            let flat: &[f32] = x #(#flatten)* .as_flattened();
            let view = __s::ndarray::ArrayView::<f32, #in_dim>::from_shape(
                [x.len(), #(#dims),*],
                flat,
            )
            .map_err(|e| __s::Error::InvalidArgument { name: "x", message: e.to_string() })?;
            <Self as __s::Model>::predict(self, view)
        }
    }
}

/// For `input_tensor = DATA`: type-level checks of `DATA`'s dtype and shape, spanned at the
/// path, and `input_tensor()` returning its values.
fn input_tensor_checks(model: &CheckedModel) -> TokenStream {
    let Some(path) = &model.input.input_tensor else {
        return TokenStream::new();
    };
    let span: Span = syn::spanned::Spanned::span(path);
    let spec = &model.input.spec;
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
    let accessor = if runtime_supported(model) {
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
    let ModelItem {
        attrs, vis, ident, ..
    } = item;
    quote! {
        #(#attrs)*
        #vis struct #ident {}

        #[allow(unused_variables, dead_code)]
        impl #ident {
            /// Not built: the declaration has errors.
            pub fn new() -> Self { ::core::unreachable!() }
            /// Not built: the declaration has errors.
            pub fn with_seed(seed: u64) -> Self { ::core::unreachable!() }
        }
    }
}
