//! trybuild cases for `stratic`: see tests/ui.rs.
