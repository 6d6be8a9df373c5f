//! Compile-time behaviour of `model!`: every rule the macro enforces has a failing case with its
//! expected diagnostics in `fail/<family>/<case>.stderr`, and `pass/` holds declarations that
//! must compile and run. Regenerate with `TRYBUILD=overwrite cargo test -p stratic-ui-tests`
//! and review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/fail/**/*.rs");
    t.pass("tests/pass/*.rs");
}
