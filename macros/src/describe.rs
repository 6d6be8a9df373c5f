//! Models of other invocations and crates used as layers. The macro sees one invocation, so
//! each model also expands to a *description macro* holding its declaration. A model that
//! uses `nets::Encoder` expands first to a call of `nets::__stratic_model_Encoder!`, which
//! calls `model!` again with Encoder's declaration in front (`@describe { ... }`); Encoder's
//! shapes are then checked by the same rules as a model of the invocation, at the user's
//! token, in whatever crate Encoder was declared.

use std::hash::{Hash, Hasher};

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

use crate::ast::{Described, ModelItem};
use crate::check::{self, path_string, CheckedModel, CustomDecl, Known};
use crate::ctxt::Ctxt;

/// The name of a model's description macro where the model is declared: `Encoder`'s is
/// `__stratic_model_Encoder`.
fn alias(name: &str) -> String {
    format!("__stratic_model_{name}")
}

/// The first name an item uses as a model that is neither in the invocation nor described:
/// a path (`nets::Encoder`), or a capitalised name that is no bound name and no Keras class
/// of a layer (`Dense` gets its own hint).
pub fn unresolved(items: &[ModelItem], described: &[Described]) -> Option<syn::Path> {
    for item in items {
        let bound: Vec<String> = item.body.lets.iter().map(|l| l.name.to_string()).collect();
        for path in check::refs_in(item) {
            let key = path_string(&path);
            let single = path.segments.len() == 1 && path.leading_colon.is_none();
            let capitalised = key.starts_with(|c: char| c.is_uppercase());
            if (single && (!capitalised || bound.contains(&key) || check::is_keras_class(&key)))
                || items.iter().any(|i| single && i.ident == key)
                || described.iter().any(|d| path_string(&d.path) == key)
            {
                continue;
            }
            return Some(path);
        }
    }
    None
}

/// The call of `path`'s description macro that hands `input` back with the description in
/// front: `nets::__stratic_model_Encoder! { { nets::Encoder } input }`.
pub fn ask_for(path: &syn::Path, input: TokenStream) -> TokenStream {
    let mut prefix = path.clone();
    let last = prefix.segments.pop().map(|p| p.into_value());
    let Some(last) = last else {
        return TokenStream::new();
    };
    let span = last.ident.span();
    let name = format_ident!("{}", alias(&last.ident.to_string()), span = span);
    // Spanned at the user's token: a model that is not there is an error there.
    quote_spanned! {span=> #prefix #name! { { #path } #input } }
}

/// Checks a described model, the models it uses first.
pub fn check_described(cx: &Ctxt, d: &Described) -> Option<CheckedModel> {
    let mut models = Vec::new();
    let mut layers = Vec::new();
    for sub in &d.subs {
        match custom_decl(sub) {
            Some(layer) => layers.push(layer),
            None => models.push(check_described(cx, sub)?),
        }
    }
    let known = Known {
        models: &models,
        layers: &layers,
    };
    let mut model = check::check_model(cx, d.item.as_ref()?, known)?;
    model.key = path_string(&d.path);
    model.ty = d.path.clone();
    Some(model)
}

/// A described user's layer, as the models using it name it.
pub fn custom_decl(d: &Described) -> Option<CustomDecl> {
    d.item.is_none().then(|| CustomDecl {
        key: path_string(&d.path),
        path: d.path.clone(),
        units: d.layer_units,
    })
}

/// The description macro of a user's layer type: `custom_layer!(Scale)` keeps the input's
/// shape, `custom_layer!(Project, units = 8)` gives the last axis 8.
pub fn custom_layer_macro(input: TokenStream) -> syn::Result<TokenStream> {
    use syn::parse::Parser;
    let parser = |stream: syn::parse::ParseStream| -> syn::Result<(syn::Ident, i64)> {
        let ty: syn::Ident = stream.parse()?;
        let mut units = 0;
        if stream.parse::<Option<syn::Token![,]>>()?.is_some() && !stream.is_empty() {
            let key: syn::Ident = stream.parse()?;
            if key != "units" {
                return Err(syn::Error::new(
                    key.span(),
                    format!("unknown argument `{key}`: `custom_layer!(Type)` keeps the input's shape, `custom_layer!(Type, units = 8)` gives its last axis 8"),
                ));
            }
            stream.parse::<syn::Token![=]>()?;
            let lit: syn::LitInt = stream.parse()?;
            units = lit.base10_parse::<i64>()?;
            if units < 1 {
                return Err(syn::Error::new(lit.span(), "`units` must be at least 1"));
            }
            let _ = stream.parse::<Option<syn::Token![,]>>()?;
        }
        Ok((ty, units))
    };
    let (ty, units) = parser.parse2(input)?;
    let units = proc_macro2::Literal::i64_unsuffixed(units);
    let desc = quote!(layer(units = #units));
    Ok(emit_description(&ty, desc))
}

/// `item`'s declaration with the descriptions of the models it uses.
fn description(item: &ModelItem, items: &[&ModelItem], described: &[Described]) -> TokenStream {
    let mut out = TokenStream::new();
    let mut seen: Vec<String> = Vec::new();
    for path in check::refs_in(item) {
        let key = path_string(&path);
        if seen.contains(&key) {
            continue;
        }
        seen.push(key.clone());
        if let Some(d) = described.iter().find(|d| path_string(&d.path) == key) {
            out.extend(d.tokens.clone());
        } else if let Some(other) = items
            .iter()
            .find(|i| i.ident == key && i.ident != item.ident)
        {
            let inner = description(other, items, described);
            let ident = &other.ident;
            out.extend(quote!(@describe { path = #ident; #inner }));
        }
    }
    let ident = &item.ident;
    let body = &item.body_tokens;
    out.extend(quote!(struct #ident { #body }));
    out
}

/// The description macro of a checked model, and its alias beside the model's type.
pub fn description_macro(
    item: &ModelItem,
    items: &[&ModelItem],
    described: &[Described],
) -> TokenStream {
    let desc = description(item, items, described);
    emit_description(&item.ident, desc)
}

/// The description macro `desc` of the type `ident`, and its alias beside the type.
fn emit_description(ident: &syn::Ident, desc: TokenStream) -> TokenStream {
    // Unique in the crate (macro_export puts every one at its root): the declaration's place.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    format!("{:?}", ident.span()).hash(&mut h);
    desc.to_string().hash(&mut h);
    let unique = format_ident!("__stratic_describe_{}_{:016x}", ident, h.finish());
    let alias = format_ident!("{}", alias(&ident.to_string()));
    quote! {
        #[doc(hidden)]
        #[macro_export]
        #[allow(non_local_definitions)]
        macro_rules! #unique {
            ({ $($path:tt)* } $($rest:tt)*) => {
                ::stratic::model! { @describe { path = $($path)*; #desc } $($rest)* }
            };
        }
        #[doc(hidden)]
        #[allow(unused_imports)]
        pub use #unique as #alias;
    }
}
