//! The one warning stratic prints by itself: training with stratic-core built at opt-level 0
//! (a downstream crate's dev profile, by default) is 100-200x slower than optimized, and
//! nothing else would say why.

use std::sync::Once;

/// The variable that silences the warning.
pub const QUIET_VAR: &str = "STRATIC_ALLOW_UNOPTIMIZED";

/// The text of the warning: what happened, and the snippet that fixes it.
pub const WARNING: &str = concat!(
    "stratic: warning: stratic-core was compiled without optimization (opt-level 0, Cargo's ",
    "default for dependencies in the dev profile), so training runs 100-200x slower than it ",
    "can. Build with `--release`, or add to your Cargo.toml:\n\n",
    "    [profile.dev.package.\"*\"]\n",
    "    opt-level = 3\n\n",
    "(set STRATIC_ALLOW_UNOPTIMIZED=1 to silence this)",
);

static WARNED: Once = Once::new();

/// Whether stratic-core was compiled at opt-level 0, when training warns.
pub fn unoptimized() -> bool {
    cfg!(stratic_unoptimized)
}

/// Prints [`WARNING`] on stderr once per process, when stratic-core is unoptimized and
/// [`QUIET_VAR`] is not set.
pub(crate) fn warn_if_unoptimized() {
    if cfg!(stratic_unoptimized) {
        WARNED.call_once(|| {
            if std::env::var_os(QUIET_VAR).is_none() {
                eprintln!("{WARNING}");
            }
        });
    }
}
