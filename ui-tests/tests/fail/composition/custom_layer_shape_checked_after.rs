use stratic::custom_layer;
use stratic::prelude::*;

/// A user's layer giving 3 features (its `Layer` impl does not matter to the check).
pub struct Project;
custom_layer!(Project, units = 3);

model! {
    /// 3 features cannot be reshaped into (2, 2): checked through the user's layer.
    pub struct M {
        input(shape = [4]) -> Project -> reshape([2, 2])
    }
}

fn main() {}
