//! The syntax tree of a `model!` invocation, as parsed: tokens turned into values, spans kept,
//! no meaning given yet (that is `check`'s job).

use proc_macro2::{Span, TokenStream};
use syn::{Attribute, Ident, LitStr, Visibility};

/// One model declaration:
///
/// ```text
/// $(#[$attr])* $vis struct $Name { $(let $x = $chain;)* $chain }
/// ```
pub struct ModelItem {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub ident: Ident,
    pub body: Body,
    /// The body's tokens as written, for the model's description (see [`Described`]).
    pub body_tokens: TokenStream,
}

/// A model of another invocation (or crate), as its description macro hands it to this
/// invocation: `@describe { path = nets::Encoder; $(@describe { ... })* struct Encoder { ... } }`.
/// The path is how the using model names it; the nested descriptions are the models it uses.
pub struct Described {
    pub path: syn::Path,
    pub subs: Vec<Described>,
    /// A model's declaration, or `None` for a user's layer (see `layer_units`).
    pub item: Option<ModelItem>,
    /// For a user's layer, `custom_layer!`'s shape rule: the last axis becomes `units`, or
    /// with 0 the input's shape is kept.
    pub layer_units: i64,
    /// The whole `@describe { ... }` group, to pass on in this invocation's descriptions.
    pub tokens: TokenStream,
}

/// The body of a model: `let` statements, then the outputs.
pub struct Body {
    pub lets: Vec<Let>,
    pub tail: Option<Chain>,
    /// `(a, b, ...)` as the last expression: several outputs, with the parentheses' span.
    pub outputs: Option<(Vec<Chain>, Span)>,
    /// The span of the braces, for errors about the body as a whole.
    pub span: Span,
    /// Whether parsing reported errors (the model is then checked but not expanded).
    pub had_errors: bool,
}

/// `let $name = $chain;`
pub struct Let {
    pub name: Ident,
    pub chain: Chain,
}

/// `$term -> $term -> ...`
pub struct Chain {
    pub terms: Vec<Term>,
}

impl Chain {
    /// Where to point at the chain: its first term.
    pub fn span(&self) -> Span {
        match self.terms.first() {
            Some(Term::Call(c)) => c.name.span(),
            Some(Term::Name(id)) => id.span(),
            Some(Term::Path(p)) => syn::spanned::Spanned::span(p),
            _ => Span::call_site(),
        }
    }
}

/// One link of a chain.
pub enum Term {
    /// `layer(args)`
    Call(Call),
    /// A bound name, or a model used as a layer.
    Name(Ident),
    /// A path of several segments: a model of another module or crate used as a layer
    /// (`nets::Encoder`).
    Path(syn::Path),
    /// Tokens that did not parse (the error is already recorded).
    Invalid,
}

/// `$name($args)`
pub struct Call {
    pub name: Ident,
    pub args: Vec<Arg>,
}

/// `$value` or `$key = $value`.
pub struct Arg {
    pub key: Option<Ident>,
    pub value: Value,
}

impl Arg {
    /// Where to point at this argument: its key if named, else its value.
    pub fn span(&self) -> Span {
        self.key
            .as_ref()
            .map_or_else(|| self.value.span(), Ident::span)
    }
}

/// An argument's value.
pub enum Value {
    Int {
        value: i64,
        span: Span,
    },
    Float {
        value: f64,
        span: Span,
    },
    Bool {
        value: bool,
        span: Span,
    },
    Str(LitStr),
    None(Span),
    Ident(Ident),
    Path(syn::Path),
    List {
        items: Vec<Value>,
        span: Span,
    },
    Call(Call),
    /// `x -> layer(...)` inside a merge's list (Keras' nested call `Concatenate()([f, Dense(4)(x)])`).
    Chain(Chain),
    /// A value that did not parse (the error is already recorded).
    Invalid(Span),
}

impl Value {
    pub fn span(&self) -> Span {
        match self {
            Value::Int { span, .. }
            | Value::Float { span, .. }
            | Value::Bool { span, .. }
            | Value::None(span)
            | Value::List { span, .. }
            | Value::Invalid(span) => *span,
            Value::Str(s) => s.span(),
            Value::Ident(i) => i.span(),
            Value::Path(p) => syn::spanned::Spanned::span(p),
            Value::Call(c) => c.name.span(),
            Value::Chain(c) => c.span(),
        }
    }

    /// What kind of value this is, for "expected ..., found ..." messages.
    pub fn describe(&self) -> String {
        match self {
            Value::Int { value, .. } => format!("the integer `{value}`"),
            Value::Float { value, .. } => format!("the number `{value}`"),
            Value::Bool { value, .. } => format!("`{value}`"),
            Value::Str(s) => format!("the string {:?}", s.value()),
            Value::None(_) => "`None`".to_string(),
            Value::Ident(i) => format!("`{i}`"),
            Value::Path(p) => format!("the path `{}`", quote::quote!(#p)),
            Value::List { .. } => "a list".to_string(),
            Value::Call(c) => format!("`{}(...)`", c.name),
            Value::Chain(_) => "a chain `x -> layer(...)`".to_string(),
            Value::Invalid(_) => "an invalid value".to_string(),
        }
    }
}

/// Keeps the raw tokens of an item whose body failed to split, so expansion can still emit a
/// stub for it.
pub struct RawItem {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub ident: Ident,
    pub body: TokenStream,
    pub brace_span: Span,
}
