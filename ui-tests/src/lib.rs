//! trybuild cases for `stratic`: see tests/ui.rs. The crate also declares models for the
//! cases to use from another crate, as a user's program uses a library's models.

/// Models another crate uses as layers.
pub mod nets {
    use stratic::prelude::*;

    model! {
        /// An encoder of 8 features to 4.
        pub struct Encoder {
            input(shape = [8]) -> dense(16, activation = relu, name = "enc_hidden") -> dense(4, name = "code")
        }

        /// The encoder under a head, so a user of this crate gets a model of models.
        pub struct Tower {
            input(shape = [8]) -> Encoder -> dense(2, name = "head")
        }
    }
}
