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

const BEGIN: &str =
    "<!-- generated from the layer specs: STRATIC_BLESS=1 cargo test --test guide -->\n";
const END: &str = "<!-- end of generated -->";

#[test]
fn the_keras_layer_table_is_generated_from_the_specs() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/guide/keras.md");
    let page = std::fs::read_to_string(path).expect("src/guide/keras.md");
    let (start, end) = match (page.find(BEGIN), page.find(END)) {
        (Some(s), Some(e)) if s < e => (s + BEGIN.len(), e),
        _ => panic!("src/guide/keras.md lost its generated-table markers"),
    };
    let want = format!(
        "{}{}{}",
        &page[..start],
        stratic::shape::keras_layer_table(),
        &page[end..]
    );
    if std::env::var_os("STRATIC_BLESS").is_some() {
        std::fs::write(path, &want).expect("write the Keras page");
    }
    let got = std::fs::read_to_string(path).expect("src/guide/keras.md");
    for s in LAYERS {
        if !stratic::shape::STRATIC_ONLY.contains(&s.class_name) {
            assert!(
                got.contains(&format!("| `{}` | `{}(", s.class_name, s.name)),
                "layer `{}` has no row in src/guide/keras.md: run STRATIC_BLESS=1 cargo test --test guide",
                s.name
            );
        }
    }
    assert!(
        got == want,
        "src/guide/keras.md is stale: run STRATIC_BLESS=1 cargo test --test guide"
    );
}
