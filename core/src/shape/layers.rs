//! Per-layer shape rules: Keras' `compute_output_shape` and `InputSpec`, one function per layer.

use super::{Dim, Layout, RuleError, TensorSpec};

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
}

/// Every initializer with its DSL name.
pub const INITIALIZERS: [(Initializer, &str); 10] = [
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

/// The configuration of a `Dense` layer (Keras' constructor arguments), separate from the
/// built layer and its weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DenseConfig {
    /// Output size.
    pub units: usize,
    /// Activation applied after the affine map.
    pub activation: Activation,
    /// Whether the layer has a bias.
    pub use_bias: bool,
    /// How the kernel is initialised.
    pub kernel_initializer: Initializer,
    /// How the bias is initialised.
    pub bias_initializer: Initializer,
}

impl DenseConfig {
    /// Keras' defaults for `Dense(units)`.
    pub fn new(units: usize) -> Self {
        DenseConfig {
            units,
            activation: Activation::Linear,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
        }
    }
}

/// Keras' `Dense`: `(batch, ..., d) -> (batch, ..., units)`. The last axis must be known
/// (it sizes the kernel) and the input must be floating point. A sparse input must be of rank 2
/// (the sparse x dense product); a ragged input must have a uniform (known) last axis, which is
/// how the layer applies to its flat values.
pub fn dense_output(
    layer: &str,
    input: &TensorSpec,
    units: usize,
) -> Result<TensorSpec, RuleError> {
    if units == 0 {
        return Err(RuleError::new(format!(
            "Received an invalid value for `units` of layer '{layer}', expected a positive integer. Received: units=0"
        )));
    }
    if input.dims.is_empty() {
        return Err(RuleError::new(format!(
            "Input 0 of layer '{layer}' is incompatible with the layer: expected min_ndim=2, found ndim=1. Full shape received: {}. Give the input a feature axis, e.g. shape = [4]",
            input.shape_string()
        )));
    }
    if !input.dtype.is_float() {
        let mut e = RuleError::new(format!(
            "layer '{layer}' (Dense) expects a floating-point input, but received {} {}: declare the input `dtype = f32` (or `f64`); integer ids go through `embedding(...)` first",
            input.dtype,
            input.shape_string()
        ));
        e.alternatives = vec!["embedding"];
        return Err(e);
    }
    if input.last() == Dim::Unknown {
        return Err(RuleError::new(format!(
            "The last dimension of the inputs to layer '{layer}' (Dense) should be defined. Found None. Full input shape received: {}. The last axis sizes the kernel, so it must be a number, e.g. shape = [None, 4]",
            input.shape_string()
        )));
    }
    if input.layout == Layout::Sparse && input.dims.len() != 1 {
        let mut e = RuleError::new(format!(
            "layer '{layer}' (Dense) takes a sparse input of rank 2 only, but received {}: use `to_dense()` first",
            input.shape_string()
        ));
        e.alternatives = vec!["to_dense"];
        return Err(e);
    }
    let mut out = input.clone();
    if let Some(last) = out.dims.last_mut() {
        *last = Dim::Known(units);
    }
    // Dense on a sparse input produces a dense output (sparse x dense product).
    if out.layout == Layout::Sparse {
        out.layout = Layout::Dense;
    }
    Ok(out)
}

/// The number of weights of a `Dense` layer on an input whose last axis is `input_dim`.
pub fn dense_params(input_dim: usize, units: usize, use_bias: bool) -> usize {
    input_dim * units + if use_bias { units } else { 0 }
}

/// Keras' `Activation` layer (and a `Dense` layer's activation): the shape is unchanged. It is
/// element-wise, so it applies to a ragged tensor's flat values; a sparse tensor is refused,
/// since most activations do not map zero to zero and would make it dense.
pub fn activation_output(
    layer: &str,
    input: &TensorSpec,
    activation: Activation,
) -> Result<TensorSpec, RuleError> {
    if input.layout == Layout::Sparse {
        let mut e = RuleError::new(format!(
            "layer '{layer}' (Activation) cannot take a sparse input {}: pass it through `dense(...)` or `to_dense()` first",
            input.shape_string()
        ));
        e.alternatives = vec!["dense", "to_dense"];
        return Err(e);
    }
    if !input.dtype.is_float() {
        return Err(RuleError::new(format!(
            "layer '{layer}' (Activation) expects a floating-point input, but received {} {}: declare the input `dtype = f32` (or `f64`)",
            input.dtype,
            input.shape_string()
        )));
    }
    if activation == Activation::Softmax && input.dims.is_empty() {
        return Err(RuleError::new(format!(
            "layer '{layer}': softmax needs an axis besides the batch axis, received {}",
            input.shape_string()
        )));
    }
    Ok(input.clone())
}

/// Checks the shape of a value handed to a model at run time against the declared spec.
/// `actual` includes the batch axis. Returns the message describing the mismatch.
pub fn check_runtime_shape(spec: &TensorSpec, actual: &[usize]) -> Result<(), String> {
    let expected = spec.ndim();
    if actual.len() != expected {
        return Err(format!(
            "expected a tensor of rank {expected} with shape {}, received rank {} with shape {:?}",
            spec.shape_string(),
            actual.len(),
            actual
        ));
    }
    let declared = std::iter::once(spec.batch).chain(spec.dims.iter().copied());
    for (axis, (want, got)) in declared.zip(actual).enumerate() {
        if let Dim::Known(n) = want {
            if n != *got {
                return Err(format!(
                    "expected axis {axis} of input shape to have value {n}, but received input with shape {actual:?}; the declared shape is {}",
                    spec.shape_string()
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::DType;

    fn spec(dims: &[Option<usize>]) -> TensorSpec {
        TensorSpec::dense(
            dims.iter()
                .map(|d| d.map_or(Dim::Unknown, Dim::Known))
                .collect(),
        )
    }

    #[test]
    fn dense_replaces_last_axis() {
        let out = dense_output("dense", &spec(&[Some(3), Some(4)]), 8).unwrap();
        assert_eq!(out.shape_string(), "(None, 3, 8)");
        assert_eq!(dense_params(4, 8, true), 40);
        assert_eq!(dense_params(4, 8, false), 32);
    }

    #[test]
    fn dense_refuses_unknown_last_axis_and_ints() {
        let e = dense_output("dense", &spec(&[None]), 8).unwrap_err();
        assert!(e.message.contains("should be defined"), "{e}");
        let mut ints = spec(&[Some(4)]);
        ints.dtype = DType::I32;
        let e = dense_output("dense", &ints, 8).unwrap_err();
        assert_eq!(e.alternatives, vec!["embedding"]);
        let e = dense_output("dense", &spec(&[]), 8).unwrap_err();
        assert!(e.message.contains("min_ndim=2"), "{e}");
    }

    #[test]
    fn dense_on_sparse_is_dense_and_activation_refuses_sparse() {
        let mut sparse = spec(&[Some(20)]);
        sparse.layout = Layout::Sparse;
        let out = dense_output("dense", &sparse, 4).unwrap();
        assert_eq!(out.layout, Layout::Dense);
        let e = activation_output("activation", &sparse, Activation::Relu).unwrap_err();
        assert!(e.alternatives.contains(&"to_dense"));
    }

    #[test]
    fn runtime_shape_check() {
        let s = spec(&[Some(4)]);
        assert!(check_runtime_shape(&s, &[10, 4]).is_ok());
        assert!(check_runtime_shape(&s, &[10, 5])
            .unwrap_err()
            .contains("axis 1"));
        assert!(check_runtime_shape(&s, &[10])
            .unwrap_err()
            .contains("rank 2"));
    }

    #[test]
    fn activation_names() {
        for (a, n) in ACTIVATIONS {
            assert_eq!(Activation::from_name(n), Some(a));
            assert_eq!(a.name(), n);
        }
        assert_eq!(Activation::from_name("silu"), Some(Activation::Swish));
    }
}
