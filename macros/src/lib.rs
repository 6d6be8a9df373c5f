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
        // Each model is checked against a fresh sink so one model's errors do not stop another's expansion.
        let item_cx = ctxt::Ctxt::new();
        let checked = check::check_model(&item_cx, item);
        match (item_cx.check(), checked) {
            (Ok(()), Some(model)) => models.push(model),
            (Err(e), _) => {
                cx.push(e);
                out.extend(expand::stub(item));
            }
            (Ok(()), None) => out.extend(expand::stub(item)),
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
