//! Implementation detail of the `stratic` crate: the `model!` macro.
use proc_macro::TokenStream;

/// Declares one or more models. See the `stratic` crate.
#[proc_macro]
pub fn model(input: TokenStream) -> TokenStream {
    let _ = input;
    TokenStream::new()
}
