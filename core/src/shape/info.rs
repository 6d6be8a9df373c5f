//! Layer metadata: what a model declares, layer by layer, for `summary()` and for comparing a
//! saved Keras architecture with the declared one.

use super::{Activation, TensorSpec};

/// One layer of a model as declared: its Keras class, name, configuration and the specs of
/// the tensors it reads and produces.
///
/// `model!` generates the list (`Model::layers`) in creation order, which is also the order
/// Keras stores layers in a `.weights.h5` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerInfo {
    /// Keras' class name: `Dense`, `Activation`, ...
    pub class_name: &'static str,
    /// The layer's name in the model (`dense`, `dense_1`, or the `name = ...` given).
    pub name: &'static str,
    /// `units` for layers that have it (`Dense`).
    pub units: Option<usize>,
    /// The activation, for layers that have one (`Dense`, `Activation`).
    pub activation: Option<Activation>,
    /// `use_bias`, for layers that have it.
    pub use_bias: Option<bool>,
    /// The spec of the layer's input.
    pub input: TensorSpec,
    /// The spec of the layer's output.
    pub output: TensorSpec,
}

impl LayerInfo {
    /// Keras' file name for a class: `Dense` -> `dense`, `InputLayer` -> `input_layer`, as
    /// `keras.src.utils.naming.to_snake_case` derives it.
    pub fn snake_case(class_name: &str) -> String {
        let mut out = String::with_capacity(class_name.len() + 4);
        let chars: Vec<char> = class_name.chars().collect();
        for (i, c) in chars.iter().enumerate() {
            if c.is_ascii_uppercase() {
                // Keras' two regexes: `(.)([A-Z][a-z]+)` puts an underscore before a capital
                // that starts a word, `([a-z])([A-Z])` one between a lower-case letter and a
                // capital; a capital after a digit (`1D`) gets none.
                let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
                let prev_lower = i > 0 && chars[i - 1].is_ascii_lowercase();
                if i > 0 && (next_lower || prev_lower) {
                    out.push('_');
                }
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(*c);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_follows_keras() {
        assert_eq!(LayerInfo::snake_case("Dense"), "dense");
        assert_eq!(LayerInfo::snake_case("InputLayer"), "input_layer");
        assert_eq!(
            LayerInfo::snake_case("GlobalAveragePooling1D"),
            "global_average_pooling1d"
        );
        assert_eq!(LayerInfo::snake_case("Conv2D"), "conv2d");
    }
}
