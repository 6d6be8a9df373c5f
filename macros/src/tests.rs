//! Unit tests of parse + check on token streams, with no compiler in the loop: each asserts
//! which errors an invocation produces (or the checked model it yields).

use proc_macro2::TokenStream;
use quote::quote;

use crate::check::{check_model, CheckedModel};
use crate::ctxt::Ctxt;
use crate::parse::parse_items;

/// Every error message of the invocation, in order.
fn errors(tokens: TokenStream) -> Vec<String> {
    let cx = Ctxt::new();
    match parse_items(tokens, &cx) {
        Ok(items) => {
            for item in &items {
                let _ = check_model(
                    &cx,
                    item,
                    crate::check::Known {
                        models: &[],
                        layers: &[],
                    },
                );
            }
        }
        Err(e) => cx.push(e),
    }
    match cx.check() {
        Ok(()) => Vec::new(),
        Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
    }
}

fn checked(tokens: TokenStream) -> CheckedModel {
    let cx = Ctxt::new();
    let items = parse_items(tokens, &cx).expect("parses");
    let model = check_model(
        &cx,
        &items[0],
        crate::check::Known {
            models: &[],
            layers: &[],
        },
    );
    if let Err(e) = cx.check() {
        panic!("unexpected errors: {e}");
    }
    model.expect("a checked model")
}

#[test]
fn seed_forms_agree() {
    let a = checked(quote!(struct A { input(shape = [4]) -> dense(8) }));
    let b = checked(quote!(struct B { dense(8, input_shape = [4]) }));
    for m in [&a, &b] {
        assert_eq!(m.inputs[0].spec.shape_string(), "(None, 4)");
        assert_eq!(m.nodes[m.outputs[0]].spec.shape_string(), "(None, 8)");
        assert_eq!(m.layers.len(), 1);
        assert_eq!(m.layers[0].name, "dense");
        assert_eq!(m.layers[0].spec.name, "dense");
        assert_eq!(m.layers[0].weights[0].shape, vec![4, 8]);
        assert_eq!(m.layers[0].param_counts(), (40, 0));
    }
}

#[test]
fn layers_are_named_per_class_as_keras_does() {
    let m = checked(quote!(struct M {
        input(shape = [4]) -> dense(8, activation = relu) -> activation(tanh)
            -> dense(3, name = "head") -> dense(2) -> activation(softmax)
    }));
    let names: Vec<&str> = m.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        ["dense", "activation", "head", "dense_1", "activation_1"]
    );
    assert_eq!(m.nodes[m.outputs[0]].spec.shape_string(), "(None, 2)");
}

#[test]
fn every_error_of_an_invocation_is_reported() {
    let errs = errors(quote! {
        struct A { input(shape = [4], sparse = true, ragged = true) -> dnese(8) -> dense(units = 0) }
        struct B { input(shape = [0]) -> dense(8, activaton = relu, use_bias = 1) }
    });
    // Both models, every layer: sparse+ragged (and no None dim to be ragged), the misspelt
    // layer, the bad units, the misspelt argument, the ill-typed bool, the zero dim.
    assert_eq!(errs.len(), 7, "{errs:#?}");
    assert!(errs.iter().any(|e| e.contains("both sparse and ragged")));
    assert!(errs.iter().any(|e| e.contains("needs a `None` dimension")));
    assert!(errs.iter().any(|e| e.contains("did you mean `dense`")));
    assert!(errs.iter().any(|e| e.contains("units=0")));
    assert!(errs.iter().any(|e| e.contains("did you mean `activation`")));
    assert!(errs
        .iter()
        .any(|e| e.contains("`use_bias` of `dense` takes `true` or `false`")));
    assert!(errs
        .iter()
        .any(|e| e.contains("dimension 0 of `shape` is 0")));
}

#[test]
fn argument_binding_errors() {
    let errs = errors(quote!(struct A { input(shape = [4]) -> dense(8, units = 3) -> dense() }));
    assert!(errs[0].contains("duplicate argument `units`"), "{errs:?}");
    assert!(
        errs[1].contains("missing its required argument `units`"),
        "{errs:?}"
    );
    let errs = errors(quote!(struct A { input(shape = [4]) -> dense(use_bias = true, 8) }));
    assert!(
        errs[0].contains("positional arguments must come before"),
        "{errs:?}"
    );
    let errs = errors(quote!(struct A { input(shape = [4]) -> dense(8, relu, true) }));
    assert!(
        errs[0].contains("too many positional arguments"),
        "{errs:?}"
    );
}

#[test]
fn shape_rules_come_from_core() {
    let errs = errors(quote!(struct A { input(shape = [None]) -> dense(8) }));
    assert!(errs[0].contains("should be defined"), "{errs:?}");
    let errs = errors(quote!(struct A { input(shape = [4], dtype = i32) -> dense(8) }));
    assert!(errs[0].contains("embedding"), "{errs:?}");
    let errs = errors(quote!(struct A { input(shape = [4], sparse = true) -> activation(relu) }));
    assert!(errs[0].contains("to_dense()"), "{errs:?}");
}

#[test]
fn parse_errors_recover() {
    let errs = errors(quote!(struct A { input(shape = [4]) dense(8) -> dense(4, activation = ) }));
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert!(errs[0].contains("expected `->`"), "{errs:?}");
    assert!(errs[1].contains("needs a value"), "{errs:?}");
}

#[test]
fn input_shape_only_on_first_layer() {
    let errs =
        errors(quote!(struct A { dense(8, input_shape = [4]) -> dense(2, input_shape = [8]) }));
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0].contains("only means something on the first layer"));
    let errs = errors(quote!(struct A { input(shape = [4]) -> dense(2, input_shape = [4]) }));
    assert!(errs[0].contains("already given"), "{errs:?}");
}

#[test]
fn functional_graph_with_shared_layer_and_merge() {
    let m = checked(quote!(struct Ranker {
        let query = input(shape = [32], name = "query");
        let doc = input(shape = [16], name = "doc");
        let project = dense(16, activation = relu);
        let tower = dense(8);
        let q = query -> project -> tower;
        let d = doc -> dense(16) -> tower;
        let score = concatenate([q, d]) -> dense(1, activation = sigmoid, name = "score");
        (score, q)
    }));
    assert!(!m.sequential);
    assert_eq!(m.inputs.len(), 2);
    assert_eq!(m.inputs[1].name, "doc");
    let names: Vec<&str> = m.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        ["dense", "dense_1", "dense_2", "concatenate", "score"]
    );
    assert_eq!(m.layers[1].uses, 2, "tower is shared");
    assert_eq!(m.outputs.len(), 2);
    assert_eq!(m.nodes[m.outputs[0]].spec.shape_string(), "(None, 1)");
    assert_eq!(m.nodes[m.outputs[1]].spec.shape_string(), "(None, 8)");
}

#[test]
fn graph_rules() {
    let errs = errors(quote!(struct A {
        let x = input(shape = [4]);
        let y = x -> dense(2);
        (y, z)
    }));
    assert!(errs[0].contains("cannot find `z`"), "{errs:?}");
    // A later `let` shadows an earlier one, as in Rust.
    let errs = errors(quote!(struct A {
        let x = input(shape = [4]);
        let x = x -> dense(2);
        x
    }));
    assert!(errs.is_empty(), "{errs:?}");
    // A shadowed tensor that reaches no output is still reported.
    let errs = errors(quote!(struct A {
        let x = input(shape = [4]);
        let h = x -> dense(8);
        let h = x -> dense(2);
        h
    }));
    assert!(
        errs.len() == 1 && errs[0].contains("tensor `h` does not reach any output"),
        "{errs:?}"
    );
    let errs = errors(quote!(struct A {
        let x = input(shape = [4]);
        let unused = input(shape = [3]);
        let tower = dense(2);
        x -> dense(1)
    }));
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert!(errs
        .iter()
        .any(|e| e.contains("layer value `tower` is never applied")));
    assert!(errs
        .iter()
        .any(|e| e.contains("input `unused` does not reach any output")));
    let errs = errors(quote!(struct A {
        let a = input(shape = [4]);
        let b = input(shape = [5]);
        let tower = dense(2);
        let x = a -> tower;
        let y = b -> tower;
        add([x, y])
    }));
    assert!(errs[0].contains("is shared"), "{errs:?}");
    let errs = errors(quote!(struct A {
        let a = input(shape = [4]);
        let b = input(shape = [5]);
        add([a, b]) -> dense(1)
    }));
    assert!(
        errs[0].contains("(None, 4)") && errs[0].contains("(None, 5)"),
        "{errs:?}"
    );
}
