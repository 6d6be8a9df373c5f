//! Parsing: tokens to the syntax tree of `ast`. Recovers after an error inside a statement,
//! a layer or an argument, so every later one is still parsed and checked.

use proc_macro2::{Delimiter, Spacing, Span, TokenStream, TokenTree};
use syn::parse::{Parse, ParseStream, Parser};
use syn::{Attribute, Ident, LitBool, LitFloat, LitInt, LitStr, Token, Visibility};

use crate::ast::{Arg, Body, Call, Chain, Described, Let, ModelItem, RawItem, Term, Value};
use crate::ctxt::Ctxt;

/// Parses the items of one invocation. Errors inside bodies go to `cx`; an error in an item's
/// header (attributes, visibility, `struct Name { ... }`) cannot be recovered from and is
/// returned.
pub fn parse_items(input: TokenStream, cx: &Ctxt) -> syn::Result<Vec<ModelItem>> {
    let raws = Parser::parse2(parse_raw_items, input)?;
    Ok(raws.into_iter().map(|raw| model_item(raw, cx)).collect())
}

/// Splits the descriptions of models of other invocations (`@describe { ... }`, put there by
/// their description macros) off the front of an invocation.
pub fn split_descriptions(input: TokenStream) -> (Vec<TokenStream>, TokenStream) {
    let toks: Vec<TokenTree> = input.into_iter().collect();
    let mut groups = Vec::new();
    let mut i = 0;
    while let (Some(TokenTree::Punct(at)), Some(TokenTree::Ident(kw)), Some(TokenTree::Group(g))) =
        (toks.get(i), toks.get(i + 1), toks.get(i + 2))
    {
        if at.as_char() != '@' || kw != "describe" || g.delimiter() != Delimiter::Brace {
            break;
        }
        groups.push(toks[i..i + 3].iter().cloned().collect());
        i += 3;
    }
    (groups, toks[i..].iter().cloned().collect())
}

/// Parses one `@describe { path = P; $(@describe { ... })* struct Name { ... } }` group.
pub fn parse_described(group: TokenStream, cx: &Ctxt) -> syn::Result<Described> {
    let tokens = group.clone();
    let inner = match group.into_iter().nth(2) {
        Some(TokenTree::Group(g)) => g.stream(),
        _ => {
            return Err(syn::Error::new(
                Span::call_site(),
                "malformed model description",
            ))
        }
    };
    let toks: Vec<TokenTree> = inner.into_iter().collect();
    let semi = toks
        .iter()
        .position(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ';'))
        .ok_or_else(|| syn::Error::new(Span::call_site(), "malformed model description"))?;
    // `path = P`
    let path_tokens: TokenStream = toks[2.min(semi)..semi].iter().cloned().collect();
    let path: syn::Path = syn::parse2(path_tokens)?;
    let (groups, rest) = split_descriptions(toks[semi + 1..].iter().cloned().collect());
    let subs = groups
        .into_iter()
        .map(|g| parse_described(g, cx))
        .collect::<syn::Result<Vec<_>>>()?;
    // A user's layer: `layer(units = N)` or `layer()`.
    let rest_toks: Vec<TokenTree> = rest.clone().into_iter().collect();
    if let [TokenTree::Ident(kw), TokenTree::Group(g)] = rest_toks.as_slice() {
        if kw == "layer" {
            let units = g
                .stream()
                .into_iter()
                .find_map(|t| match t {
                    TokenTree::Literal(l) => l.to_string().parse::<i64>().ok(),
                    _ => None,
                })
                .unwrap_or(0);
            return Ok(Described {
                path,
                subs,
                item: None,
                layer_units: units,
                tokens,
            });
        }
    }
    let raw: RawItem = syn::parse2(rest)?;
    Ok(Described {
        path,
        subs,
        item: Some(model_item(raw, cx)),
        layer_units: 0,
        tokens,
    })
}

fn model_item(raw: RawItem, cx: &Ctxt) -> ModelItem {
    let body_tokens = raw.body.clone();
    {
        {
            let body_cx = Ctxt::new();
            let mut body = parse_body(raw.body, raw.brace_span, &body_cx);
            if let Err(e) = body_cx.check() {
                cx.push(e);
                // Mark the outputs as not fully parsed, so checking reports what it can but the
                // model is not expanded (it becomes a stub, like any model with errors).
                if let Some(tail) = &mut body.tail {
                    tail.terms.push(Term::Invalid);
                }
                body.had_errors = true;
            }
            ModelItem {
                body,
                attrs: raw.attrs,
                vis: raw.vis,
                ident: raw.ident,
                body_tokens,
            }
        }
    }
}

fn parse_raw_items(input: ParseStream) -> syn::Result<Vec<RawItem>> {
    let mut items = Vec::new();
    while !input.is_empty() {
        items.push(input.parse()?);
    }
    if items.is_empty() {
        return Err(input.error(
            "expected a model declaration: `pub struct Name { input(shape = [4]) -> dense(8) }`",
        ));
    }
    Ok(items)
}

impl Parse for RawItem {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        input.parse::<Token![struct]>().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected `struct`: a model is declared as `struct Name { layers }`",
            )
        })?;
        let ident: Ident = input.parse()?;
        let content;
        let brace = syn::braced!(content in input);
        let body: TokenStream = content.parse()?;
        Ok(RawItem {
            attrs,
            vis,
            ident,
            body,
            brace_span: brace.span.join(),
        })
    }
}

/// Splits `tokens` at top-level punctuation `sep` (groups are single token trees, so nested
/// separators are never split). Each piece keeps the span of the separator that ended it.
fn split_top_level(tokens: TokenStream, sep: char) -> Vec<(Vec<TokenTree>, Option<Span>)> {
    let mut pieces = Vec::new();
    let mut cur = Vec::new();
    for tt in tokens {
        match &tt {
            TokenTree::Punct(p) if p.as_char() == sep => {
                pieces.push((std::mem::take(&mut cur), Some(p.span())));
            }
            _ => cur.push(tt),
        }
    }
    if !cur.is_empty() {
        pieces.push((cur, None));
    }
    pieces
}

fn parse_body(tokens: TokenStream, span: Span, cx: &Ctxt) -> Body {
    let mut lets = Vec::new();
    let mut tail = None;
    let mut outputs = None;
    let pieces = split_top_level(tokens, ';');
    let count = pieces.len();
    for (i, (toks, semi)) in pieces.into_iter().enumerate() {
        if toks.is_empty() {
            if let Some(s) = semi {
                cx.error(
                    s,
                    "unexpected `;`: expected `let name = ...;` or the outputs",
                );
            }
            continue;
        }
        if matches!(&toks[0], TokenTree::Ident(id) if id == "let") {
            if let Some(l) = parse_let(toks, semi.is_none(), cx) {
                lets.push(l);
            }
            continue;
        }
        let first_span = toks[0].span();
        // `(a, b)` as the last expression: several outputs.
        if let [TokenTree::Group(g)] = toks.as_slice() {
            if g.delimiter() == Delimiter::Parenthesis && i + 1 == count {
                let chains = split_top_level(g.stream(), ',')
                    .into_iter()
                    .filter(|(t, _)| !t.is_empty())
                    .map(|(t, _)| parse_chain(t.into_iter().collect(), cx))
                    .collect();
                if let Some(s) = semi {
                    cx.error(
                        s,
                        "the outputs are the body's last expression and take no `;` (as in a Rust block): remove it",
                    );
                }
                outputs = Some((chains, g.span()));
                continue;
            }
        }
        let chain = parse_chain(toks.into_iter().collect(), cx);
        if i + 1 == count && semi.is_none() {
            tail = Some(chain);
        } else if semi.is_some() && i + 1 == count {
            cx.error(
                semi.unwrap_or(first_span),
                "the outputs are the body's last expression and take no `;` (as in a Rust block): remove it",
            );
            tail = Some(chain);
        } else {
            cx.error(
                first_span,
                "only the body's last expression (the outputs) may stand without `let`: bind this one with `let name = ...;`",
            );
        }
    }
    Body {
        lets,
        tail,
        outputs,
        span,
        had_errors: false,
    }
}

fn parse_let(toks: Vec<TokenTree>, missing_semi: bool, cx: &Ctxt) -> Option<Let> {
    let let_span = toks[0].span();
    let mut it = toks.into_iter().skip(1);
    let name = match it.next() {
        Some(TokenTree::Ident(id)) => id,
        other => {
            cx.error(
                other.map_or(let_span, |t| t.span()),
                "expected a name after `let`",
            );
            return None;
        }
    };
    match it.next() {
        Some(TokenTree::Punct(p)) if p.as_char() == '=' => {}
        other => {
            cx.error(
                other.map_or(name.span(), |t| t.span()),
                format!("expected `=` after `let {name}`"),
            );
            return None;
        }
    }
    let rest: TokenStream = it.collect();
    if rest.is_empty() {
        cx.error(name.span(), format!("`let {name} =` needs a value"));
        return None;
    }
    if missing_semi {
        cx.error(
            name.span(),
            format!("`let {name} = ...` needs a `;`, and the body must end with its outputs"),
        );
    }
    Some(Let {
        name,
        chain: parse_chain(rest, cx),
    })
}

/// Whether `toks` hold a `->` outside any group.
fn has_top_level_arrow(toks: &[TokenTree]) -> bool {
    toks.windows(2).any(|w| {
        matches!((&w[0], &w[1]), (TokenTree::Punct(a), TokenTree::Punct(b))
            if a.as_char() == '-' && a.spacing() == Spacing::Joint && b.as_char() == '>')
    })
}

/// Splits at top-level `->` (a joint `-` followed by `>`).
fn parse_chain(tokens: TokenStream, cx: &Ctxt) -> Chain {
    let toks: Vec<TokenTree> = tokens.into_iter().collect();
    let mut segments: Vec<(Vec<TokenTree>, Span)> = Vec::new();
    let mut cur = Vec::new();
    let mut i = 0;
    let mut last_arrow = toks.first().map_or_else(Span::call_site, TokenTree::span);
    while i < toks.len() {
        if let (TokenTree::Punct(a), Some(TokenTree::Punct(b))) = (&toks[i], toks.get(i + 1)) {
            if a.as_char() == '-' && a.spacing() == Spacing::Joint && b.as_char() == '>' {
                segments.push((std::mem::take(&mut cur), a.span()));
                last_arrow = a.span();
                i += 2;
                continue;
            }
        }
        cur.push(toks[i].clone());
        i += 1;
    }
    segments.push((cur, last_arrow));
    let terms = segments
        .into_iter()
        .map(|(seg, arrow)| {
            if seg.is_empty() {
                cx.error(arrow, "expected a layer here, e.g. `dense(8)`");
                return Term::Invalid;
            }
            parse_term(seg, cx)
        })
        .collect();
    Chain { terms }
}

fn parse_term(seg: Vec<TokenTree>, cx: &Ctxt) -> Term {
    let mut it = seg.into_iter();
    let name = match it.next() {
        Some(TokenTree::Ident(id)) => id,
        Some(other) => {
            cx.error(
                other.span(),
                "expected a layer such as `dense(8)`, an `input(...)`, or a bound name",
            );
            return Term::Invalid;
        }
        None => return Term::Invalid,
    };
    let mut it = it.peekable();
    // `nets::Encoder`: a model of another module or crate.
    let mut segments = vec![name.clone()];
    while let Some(TokenTree::Punct(p)) = it.peek() {
        if p.as_char() != ':' || p.spacing() != Spacing::Joint {
            break;
        }
        it.next();
        match (it.next(), it.next()) {
            (Some(TokenTree::Punct(q)), Some(TokenTree::Ident(seg))) if q.as_char() == ':' => {
                segments.push(seg);
            }
            (_, other) => {
                cx.error(
                    other.map_or(name.span(), |t| t.span()),
                    "expected a path such as `nets::Encoder` (a model used as a layer)",
                );
                return Term::Invalid;
            }
        }
    }
    if segments.len() > 1 {
        let path: TokenStream = segments
            .iter()
            .enumerate()
            .flat_map(|(i, s)| {
                let sep: TokenStream = if i == 0 {
                    TokenStream::new()
                } else {
                    quote::quote!(::)
                };
                sep.into_iter()
                    .chain(std::iter::once(TokenTree::Ident(s.clone())))
            })
            .collect();
        if let Some(extra) = it.next() {
            cx.error(
                extra.span(),
                "expected `->` after a model used as a layer: models take no arguments",
            );
            return Term::Invalid;
        }
        return match syn::parse2::<syn::Path>(path) {
            Ok(p) => Term::Path(p),
            Err(e) => {
                cx.push(e);
                Term::Invalid
            }
        };
    }
    let term = match it.next() {
        None => return Term::Name(name),
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => Term::Call(Call {
            args: parse_args(g.stream(), cx),
            name: name.clone(),
        }),
        Some(other) => {
            cx.error(
                other.span(),
                format!("expected `(` with the arguments of `{name}`, or `->` to the next layer"),
            );
            return Term::Invalid;
        }
    };
    if let Some(extra) = it.next() {
        let msg = match &extra {
            TokenTree::Ident(next) => format!(
                "expected `->` between `{name}(...)` and `{next}`: layers are chained as `a(...) -> b(...)`"
            ),
            _ => format!(
                "expected `->` after `{name}(...)` (to the next layer), or the end of the statement"
            ),
        };
        cx.error(extra.span(), msg);
    }
    term
}

/// Parses `a, b, key = value, ...`, recovering at each comma.
pub fn parse_args(tokens: TokenStream, cx: &Ctxt) -> Vec<Arg> {
    let mut args = Vec::new();
    for (toks, comma) in split_top_level(tokens, ',') {
        if toks.is_empty() {
            if let Some(c) = comma {
                cx.error(c, "expected an argument before `,`");
            }
            continue;
        }
        let keyed = matches!(
            (&toks.first(), &toks.get(1)),
            (Some(TokenTree::Ident(_)), Some(TokenTree::Punct(p))) if p.as_char() == '=' && p.spacing() == Spacing::Alone
        );
        if keyed {
            let key = match &toks[0] {
                TokenTree::Ident(id) => id.clone(),
                _ => continue,
            };
            let value_toks: TokenStream = toks[2..].iter().cloned().collect();
            if value_toks.is_empty() {
                cx.error(key.span(), format!("`{key} =` needs a value"));
                continue;
            }
            args.push(Arg {
                value: parse_value(value_toks, cx),
                key: Some(key),
            });
        } else {
            args.push(Arg {
                key: None,
                value: parse_value(toks.into_iter().collect(), cx),
            });
        }
    }
    args
}

fn parse_value(tokens: TokenStream, cx: &Ctxt) -> Value {
    let span = tokens
        .clone()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |t| t.span());
    let parser = |input: ParseStream| value_inner(input, cx);
    match parser.parse2(tokens) {
        Ok(v) => v,
        Err(e) => {
            cx.push(e);
            Value::Invalid(span)
        }
    }
}

fn value_inner(input: ParseStream, cx: &Ctxt) -> syn::Result<Value> {
    let value = if input.peek(Token![-]) && (input.peek2(LitInt) || input.peek2(LitFloat)) {
        let minus: Token![-] = input.parse()?;
        if input.peek(LitInt) {
            let lit: LitInt = input.parse()?;
            let v: i64 = lit.base10_parse()?;
            Value::Int {
                value: -v,
                span: minus.span.join(lit.span()).unwrap_or(lit.span()),
            }
        } else {
            let lit: LitFloat = input.parse()?;
            Value::Float {
                value: -lit.base10_parse::<f64>()?,
                span: lit.span(),
            }
        }
    } else if input.peek(LitInt) {
        let lit: LitInt = input.parse()?;
        Value::Int {
            value: lit.base10_parse()?,
            span: lit.span(),
        }
    } else if input.peek(LitFloat) {
        let lit: LitFloat = input.parse()?;
        Value::Float {
            value: lit.base10_parse()?,
            span: lit.span(),
        }
    } else if input.peek(LitBool) {
        let lit: LitBool = input.parse()?;
        Value::Bool {
            value: lit.value,
            span: lit.span,
        }
    } else if input.peek(LitStr) {
        Value::Str(input.parse()?)
    } else if input.peek(syn::token::Bracket) {
        let content;
        let bracket = syn::bracketed!(content in input);
        let inner: TokenStream = content.parse()?;
        let mut items = Vec::new();
        for (toks, comma) in split_top_level(inner, ',') {
            if toks.is_empty() {
                if let Some(c) = comma {
                    cx.error(c, "expected a value before `,`");
                }
                continue;
            }
            // `x -> dense(4)` inside a list: a chain, as Keras nests calls in a merge's list.
            if has_top_level_arrow(&toks) {
                items.push(Value::Chain(parse_chain(toks.into_iter().collect(), cx)));
            } else {
                items.push(parse_value(toks.into_iter().collect(), cx));
            }
        }
        Value::List {
            items,
            span: bracket.span.join(),
        }
    } else if input.peek(Ident) || input.peek(Token![::]) || input.peek(Token![crate]) {
        let path: syn::Path = input.call(syn::Path::parse_mod_style)?;
        match path.get_ident() {
            Some(id) if input.peek(syn::token::Paren) => {
                let content;
                syn::parenthesized!(content in input);
                let inner: TokenStream = content.parse()?;
                Value::Call(Call {
                    name: id.clone(),
                    args: parse_args(inner, cx),
                })
            }
            Some(id) if id == "None" => Value::None(id.span()),
            Some(id) => Value::Ident(id.clone()),
            None => Value::Path(path),
        }
    } else if input.peek(syn::token::Paren) {
        // A Python tuple, as Keras code writes shapes: `(4,)`.
        let content;
        let paren = syn::parenthesized!(content in input);
        let inner: TokenStream = content.parse()?;
        let items: Vec<String> = split_top_level(inner, ',')
            .into_iter()
            .map(|(toks, _)| toks.into_iter().collect::<TokenStream>().to_string())
            .filter(|t| !t.is_empty())
            .collect();
        return Err(syn::Error::new(
            paren.span.join(),
            format!(
                "a list is written in brackets, not as a tuple: write `[{}]`",
                items.join(", ")
            ),
        ));
    } else {
        return Err(input.error(
            "expected a value: an integer, `None`, `true`/`false`, a string, a list `[...]`, or a name",
        ));
    };
    if !input.is_empty() {
        return Err(input.error("expected `,` or `)` after this argument's value"));
    }
    Ok(value)
}
