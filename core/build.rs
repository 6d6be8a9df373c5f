//! Tells the code whether it is compiled without optimization (Cargo's `OPT_LEVEL` for this
//! package), so that training can warn once that it will run two orders of magnitude slower:
//! a downstream crate's dev profile builds its dependencies at opt-level 0 unless told.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(stratic_unoptimized)");
    println!("cargo::rerun-if-env-changed=OPT_LEVEL");
    if std::env::var("OPT_LEVEL").as_deref() == Ok("0") {
        println!("cargo::rustc-cfg=stratic_unoptimized");
    }
}
