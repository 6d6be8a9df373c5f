//! Implementation detail of the `stratic` crate: the `model!` macro.
//!
//! Three phases with a typed tree between them: `parse` (tokens to `ast`, recovering after
//! errors), `check` (meaning, shape inference through core's rules, every error collected in
//! a `ctxt::Ctxt`) and `expand` (Rust code, only for models that passed).

mod ast;
mod check;
mod ctxt;
mod describe;
mod expand;
mod parse;
#[cfg(test)]
mod tests;

use proc_macro2::TokenStream;

/// Declares one or more models: the language is documented on `stratic::model!` and in
/// `stratic::guide`.
#[proc_macro]
pub fn model(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    expand_models(input.into()).into()
}

/// Declares a user's layer type to `model!`, with its shape rule. See the `stratic` crate.
#[proc_macro]
pub fn custom_layer(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    describe::custom_layer_macro(input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

fn expand_models(input: TokenStream) -> TokenStream {
    let cx = ctxt::Ctxt::new();
    // Models of other invocations this one uses, described by their description macros.
    let (groups, rest) = parse::split_descriptions(input.clone());
    let mut described = Vec::new();
    for group in groups {
        match parse::parse_described(group, &cx) {
            Ok(d) => described.push(d),
            Err(e) => return e.to_compile_error(),
        }
    }
    let items = match parse::parse_items(rest, &cx) {
        Ok(items) => items,
        Err(e) => {
            let mut out = e.to_compile_error();
            if let Err(more) = cx.check() {
                out.extend(more.to_compile_error());
            }
            return out;
        }
    };
    // A model of another invocation is described by its macro, which then calls this macro
    // again with the description in front: one round per model used.
    if let Some(path) = describe::unresolved(&items, &described) {
        // Parse errors are reported in the last round, with everything else.
        let _ = cx.check();
        return describe::ask_for(&path, input);
    }
    let mut out = TokenStream::new();
    // The described models come first in what the items may use; they are not expanded.
    let mut models: Vec<check::CheckedModel> = Vec::new();
    let mut customs = Vec::new();
    for d in &described {
        if let Some(layer) = describe::custom_decl(d) {
            customs.push(layer);
            continue;
        }
        match describe::check_described(&cx, d) {
            Some(m) => models.push(m),
            None => {
                return cx
                    .check()
                    .err()
                    .map(|e| e.to_compile_error())
                    .unwrap_or_default()
            }
        }
    }
    let n_described = models.len();
    let mut descriptions = Vec::new();
    let mut declared: Vec<(String, proc_macro2::Span)> = Vec::new();
    let mut unique = Vec::new();
    for item in &items {
        // Two items of one name would be rustc's E0428 on generated code; say it here.
        let name = item.ident.to_string();
        if declared.iter().any(|(n, _)| *n == name) {
            cx.error(
                item.ident.span(),
                format!("a model named `{name}` is already declared in this invocation: rename one of them"),
            );
            continue;
        }
        declared.push((name, item.ident.span()));
        unique.push(item);
    }
    // A model used as a layer by another is checked first, so the user sees its shapes.
    // A model in a cycle is reported once, at its declaration, and not checked.
    let (order, mut failed) = order_by_use(&unique, &cx);
    for item in order {
        let name = item.ident.to_string();
        let uses_failed = check::names_in(item)
            .iter()
            .chain(std::iter::once(&name))
            .any(|n| failed.contains(n));
        // Each model is checked against a fresh sink so one model's errors do not stop another's expansion.
        let item_cx = ctxt::Ctxt::new();
        let checked = if uses_failed {
            // Its sub-model's errors are reported; checking it would only add noise.
            None
        } else {
            let known = check::Known {
                models: &models,
                layers: &customs,
            };
            check::check_model(&item_cx, item, known)
        };
        match (item_cx.check(), checked) {
            (Ok(()), Some(model)) => {
                descriptions.push(describe::description_macro(item, &unique, &described));
                models.push(model);
            }
            (Err(e), _) => {
                cx.push(e);
                failed.push(item.ident.to_string());
                out.extend(expand::stub(item));
            }
            (Ok(()), None) => {
                failed.push(item.ident.to_string());
                out.extend(expand::stub(item));
            }
        }
    }
    for model in &models[n_described..] {
        out.extend(expand::expand(model));
    }
    out.extend(descriptions);
    if let Err(e) = cx.check() {
        out.extend(e.to_compile_error());
    }
    out
}

/// The items in an order where every model comes after the models it uses as layers, and
/// the names of the models that use themselves, directly or through others (an error).
fn order_by_use<'a>(
    items: &[&'a ast::ModelItem],
    cx: &ctxt::Ctxt,
) -> (Vec<&'a ast::ModelItem>, Vec<String>) {
    let names: Vec<String> = items.iter().map(|i| i.ident.to_string()).collect();
    let deps: Vec<Vec<usize>> = items
        .iter()
        .map(|item| {
            let mut d: Vec<usize> = check::names_in(item)
                .iter()
                .filter_map(|n| names.iter().position(|m| m == n))
                .collect();
            d.dedup();
            d
        })
        .collect();
    // 0: not visited, 1: on the stack, 2: placed.
    let mut state = vec![0u8; items.len()];
    let mut order = Vec::new();
    fn visit(
        i: usize,
        deps: &[Vec<usize>],
        state: &mut [u8],
        order: &mut Vec<usize>,
        items: &[&ast::ModelItem],
        cx: &ctxt::Ctxt,
        cyclic: &mut Vec<String>,
    ) {
        match state[i] {
            2 => return,
            1 => {
                cyclic.push(items[i].ident.to_string());
                cx.error(
                    items[i].ident.span(),
                    format!(
                        "model `{}` uses itself as a layer, directly or through another model: a model cannot contain itself",
                        items[i].ident
                    ),
                );
                return;
            }
            _ => {}
        }
        state[i] = 1;
        for &d in &deps[i] {
            visit(d, deps, state, order, items, cx, cyclic);
        }
        state[i] = 2;
        order.push(i);
    }
    let mut cyclic = Vec::new();
    for i in 0..items.len() {
        visit(i, &deps, &mut state, &mut order, items, cx, &mut cyclic);
    }
    (order.into_iter().map(|i| items[i]).collect(), cyclic)
}
