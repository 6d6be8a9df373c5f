//! The DSL's vocabularies: activations and initializers, by their Keras names.

/// An activation function, by its Keras name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Activation {
    /// `linear`: the identity (Keras' default for `Dense`).
    #[default]
    Linear,
    /// `relu`: max(x, 0).
    Relu,
    /// `sigmoid`: 1 / (1 + exp(-x)).
    Sigmoid,
    /// `tanh`.
    Tanh,
    /// `softmax` over the last axis.
    Softmax,
    /// `gelu`, the exact form (Keras' default, `approximate=False`).
    Gelu,
    /// `elu` with alpha 1.
    Elu,
    /// `selu`.
    Selu,
    /// `softplus`: log(1 + exp(x)).
    Softplus,
    /// `swish` (a.k.a. `silu`): x * sigmoid(x).
    Swish,
}

/// Every activation with its DSL name.
pub const ACTIVATIONS: [(Activation, &str); 10] = [
    (Activation::Linear, "linear"),
    (Activation::Relu, "relu"),
    (Activation::Sigmoid, "sigmoid"),
    (Activation::Tanh, "tanh"),
    (Activation::Softmax, "softmax"),
    (Activation::Gelu, "gelu"),
    (Activation::Elu, "elu"),
    (Activation::Selu, "selu"),
    (Activation::Softplus, "softplus"),
    (Activation::Swish, "swish"),
];

impl Activation {
    /// Looks an activation up by its DSL name (`silu` is accepted for `swish`, as in Keras).
    pub fn from_name(name: &str) -> Option<Activation> {
        if name == "silu" {
            return Some(Activation::Swish);
        }
        ACTIVATIONS
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(a, _)| *a)
    }

    /// The DSL (and Keras) name.
    pub fn name(self) -> &'static str {
        ACTIVATIONS
            .iter()
            .find(|(a, _)| *a == self)
            .map(|(_, n)| *n)
            .unwrap_or("linear")
    }
}

/// A weight initializer, by its Keras name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Initializer {
    /// `glorot_uniform`: U(-l, l), l = sqrt(6 / (fan_in + fan_out)); Keras' kernel default.
    GlorotUniform,
    /// `glorot_normal`: truncated normal, stddev sqrt(2 / (fan_in + fan_out)).
    GlorotNormal,
    /// `he_uniform`: U(-l, l), l = sqrt(6 / fan_in).
    HeUniform,
    /// `he_normal`: truncated normal, stddev sqrt(2 / fan_in).
    HeNormal,
    /// `lecun_uniform`: U(-l, l), l = sqrt(3 / fan_in).
    LecunUniform,
    /// `lecun_normal`: truncated normal, stddev sqrt(1 / fan_in).
    LecunNormal,
    /// `random_uniform`: U(-0.05, 0.05).
    RandomUniform,
    /// `random_normal`: N(0, 0.05).
    RandomNormal,
    /// `zeros`; Keras' bias default.
    Zeros,
    /// `ones`.
    Ones,
    /// `orthogonal`: the Q of a QR decomposition of a normal matrix, sign-corrected so that
    /// R's diagonal is positive, over the variable folded to `(prod(shape[..-1]), shape[-1])`;
    /// Keras' default for recurrent kernels (gain 1).
    Orthogonal,
}

/// Every initializer with its DSL name.
pub const INITIALIZERS: [(Initializer, &str); 11] = [
    (Initializer::GlorotUniform, "glorot_uniform"),
    (Initializer::GlorotNormal, "glorot_normal"),
    (Initializer::HeUniform, "he_uniform"),
    (Initializer::HeNormal, "he_normal"),
    (Initializer::LecunUniform, "lecun_uniform"),
    (Initializer::LecunNormal, "lecun_normal"),
    (Initializer::RandomUniform, "random_uniform"),
    (Initializer::RandomNormal, "random_normal"),
    (Initializer::Zeros, "zeros"),
    (Initializer::Ones, "ones"),
    (Initializer::Orthogonal, "orthogonal"),
];

impl Initializer {
    /// Looks an initializer up by its DSL name.
    pub fn from_name(name: &str) -> Option<Initializer> {
        INITIALIZERS
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(i, _)| *i)
    }

    /// The DSL (and Keras) name.
    pub fn name(self) -> &'static str {
        INITIALIZERS
            .iter()
            .find(|(i, _)| *i == self)
            .map(|(_, n)| *n)
            .unwrap_or("zeros")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_names() {
        for (a, n) in ACTIVATIONS {
            assert_eq!(Activation::from_name(n), Some(a));
            assert_eq!(a.name(), n);
        }
        assert_eq!(Activation::from_name("silu"), Some(Activation::Swish));
    }

    #[test]
    fn initializer_names() {
        for (i, n) in INITIALIZERS {
            assert_eq!(Initializer::from_name(n), Some(i));
            assert_eq!(i.name(), n);
        }
    }
}
