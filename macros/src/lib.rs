//! Implementation detail of the `stratic` crate: the `model!` macro.
//!
//! Three phases with a typed tree between them: `parse` (tokens to `ast`, recovering after
//! errors), `check` (meaning, shape inference through core's rules, every error collected in
//! a `ctxt::Ctxt`) and `expand` (Rust code, only for models that passed).

mod ast;
mod check;
mod ctxt;
mod expand;
mod parse;
#[cfg(test)]
mod tests;

use proc_macro2::TokenStream;

/// Declares one or more models. See the `stratic` crate for the language.
#[proc_macro]
pub fn model(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    expand_models(input.into()).into()
}

fn expand_models(input: TokenStream) -> TokenStream {
    let cx = ctxt::Ctxt::new();
    let items = match parse::parse_items(input, &cx) {
        Ok(items) => items,
        Err(e) => {
            let mut out = e.to_compile_error();
            if let Err(more) = cx.check() {
                out.extend(more.to_compile_error());
            }
            return out;
        }
    };
    let mut out = TokenStream::new();
    let mut models = Vec::new();
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
    let mut failed: Vec<String> = Vec::new();
    for item in order_by_use(&unique, &cx) {
        let uses_failed = check::names_in(item).iter().any(|n| failed.contains(n));
        // Each model is checked against a fresh sink so one model's errors do not stop another's expansion.
        let item_cx = ctxt::Ctxt::new();
        let checked = if uses_failed {
            // Its sub-model's errors are reported; checking it would only add noise.
            None
        } else {
            check::check_model(&item_cx, item, &models)
        };
        match (item_cx.check(), checked) {
            (Ok(()), Some(model)) => models.push(model),
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
    for model in &models {
        out.extend(expand::expand(model));
    }
    if let Err(e) = cx.check() {
        out.extend(e.to_compile_error());
    }
    out
}

/// The items in an order where every model comes after the models it uses as layers; a
/// model that uses itself, directly or through others, is an error at the use.
fn order_by_use<'a>(items: &[&'a ast::ModelItem], cx: &ctxt::Ctxt) -> Vec<&'a ast::ModelItem> {
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
    ) {
        match state[i] {
            2 => return,
            1 => {
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
            visit(d, deps, state, order, items, cx);
        }
        state[i] = 2;
        order.push(i);
    }
    for i in 0..items.len() {
        visit(i, &deps, &mut state, &mut order, items, cx);
    }
    order.into_iter().map(|i| items[i]).collect()
}
