//! Layer metadata: what a model declares, layer by layer, for `summary()` and for comparing a
//! saved Keras architecture with the declared one.

use super::{
    weight_counts, Config, DType, Dim, LayerSpec, Layout, ParamValue, RuleInput, TensorSpec,
    WeightSpec,
};

/// One layer of a model as declared: its spec, name, configuration, the specs of the tensors
/// it reads and produces, and its weights.
///
/// `model!` generates the list (`Model::layers`) in creation order, which is also the order
/// Keras stores layers in a `.weights.h5` file.
#[derive(Clone, Debug)]
pub struct LayerInfo {
    /// The layer's spec (its kind).
    pub spec: &'static LayerSpec,
    /// The layer's name in the model (`dense`, `dense_1`, or the `name = ...` given).
    pub name: &'static str,
    /// The configuration, every parameter with its value.
    pub config: Config,
    /// The spec of the layer's (first) input.
    pub input: TensorSpec,
    /// The specs of every input of its first use (one but for merges): what it is built for.
    pub inputs: Vec<TensorSpec>,
    /// The spec of the layer's output.
    pub output: TensorSpec,
    /// The weights, in Keras' order.
    pub weights: Vec<WeightSpec>,
}

impl PartialEq for LayerInfo {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.spec, other.spec)
            && self.name == other.name
            && self.config == other.config
            && self.input == other.input
            && self.inputs == other.inputs
            && self.output == other.output
            && self.weights == other.weights
    }
}

/// A [`TensorSpec`] as static data, the form generated code writes specs in (so a model's
/// metadata is a table, not code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaticSpec {
    /// The batch dimension.
    pub batch: Dim,
    /// The dimensions after the batch axis.
    pub dims: &'static [Dim],
    /// The element type.
    pub dtype: DType,
    /// Dense, sparse or ragged.
    pub layout: Layout,
}

impl StaticSpec {
    /// The spec it describes.
    pub fn to_spec(&self) -> TensorSpec {
        TensorSpec {
            batch: self.batch,
            dims: self.dims.to_vec(),
            dtype: self.dtype,
            layout: self.layout,
        }
    }
}

/// How a model's tensors are computed, node by node in graph order: what the generated
/// forward pass does, as data (for exporters such as ONNX). `model!` generates it
/// (`Model::graph`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelGraph {
    /// Every tensor of the model, each after the ones it reads.
    pub nodes: &'static [GraphNode],
    /// The output nodes, in the model's output order.
    pub outputs: &'static [usize],
}

/// One tensor of a [`ModelGraph`]: how it is computed and its spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GraphNode {
    /// What computes it.
    pub op: GraphOp,
    /// Its spec.
    pub spec: StaticSpec,
}

/// What computes a [`GraphNode`]. Layers are indices into `Model::layers()`, nodes indices
/// into [`ModelGraph::nodes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphOp {
    /// Input `i` of the model.
    Input(usize),
    /// Use `use_index` (0 for the first) of the one-input layer `layer`, applied to `input`.
    Apply {
        /// The layer.
        layer: usize,
        /// Which use of a shared layer this is.
        use_index: usize,
        /// The node it reads.
        input: usize,
    },
    /// The merge layer `layer` applied to the nodes `inputs`.
    Merge {
        /// The layer.
        layer: usize,
        /// The nodes it reads, in order.
        inputs: &'static [usize],
    },
}

impl LayerInfo {
    /// The metadata of layer `name` of kind `spec`, from the static tables generated code
    /// writes; its weights come from the spec, every one non-trainable when `trainable` is
    /// false (a frozen layer).
    pub fn from_static(
        spec: &'static LayerSpec,
        name: &'static str,
        config: &[(&'static str, ParamValue)],
        inputs: &[StaticSpec],
        output: StaticSpec,
        trainable: bool,
    ) -> LayerInfo {
        let config = Config::new(config.to_vec());
        let inputs: Vec<TensorSpec> = inputs.iter().map(StaticSpec::to_spec).collect();
        let mut weights = spec.weight_specs(&RuleInput {
            name,
            config: &config,
            inputs: &inputs,
        });
        if !trainable {
            weights.iter_mut().for_each(|w| w.trainable = false);
        }
        LayerInfo {
            spec,
            name,
            input: inputs.first().cloned().unwrap_or_else(|| output.to_spec()),
            config,
            inputs,
            output: output.to_spec(),
            weights,
        }
    }

    /// Keras' class name: `Dense`, `Activation`, ...
    pub fn class_name(&self) -> &'static str {
        self.spec.class_name
    }

    /// The numbers of trainable and non-trainable weights (0 for counts past `usize`, which
    /// the macro refuses).
    pub fn param_counts(&self) -> (usize, usize) {
        weight_counts(&self.weights).unwrap_or((0, 0))
    }

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
