//! The reference pages under `stratic::guide` that are generated from the layer specs stay in
//! step with them: a registered layer without its entry, or a stale page, fails here.
//! `STRATIC_BLESS=1 cargo test --test guide` rewrites the page from the specs.

use stratic::shape::{reference_markdown, LAYERS};

#[test]
fn the_layer_reference_is_generated_from_the_specs() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/guide/layers.md");
    let want = reference_markdown();
    if std::env::var_os("STRATIC_BLESS").is_some() {
        std::fs::write(path, &want).expect("write the reference");
    }
    let got = std::fs::read_to_string(path).expect("src/guide/layers.md");
    for s in LAYERS {
        assert!(
            got.contains(&format!("## `{}` (Keras `{}`)", s.name, s.class_name)),
            "layer `{}` has no entry in src/guide/layers.md: run STRATIC_BLESS=1 cargo test --test guide",
            s.name
        );
    }
    assert!(
        got == want,
        "src/guide/layers.md is stale: run STRATIC_BLESS=1 cargo test --test guide"
    );
}
