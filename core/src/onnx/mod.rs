//! ONNX export: a declared model as an ONNX file (opset 18, IR 8) that ONNX Runtime, Triton
//! or tract can serve.
//!
//! The walk is generic: `model!` describes the graph as data ([`Model::graph`]) and hands out
//! its built layers ([`Model::layer`]); each layer writes its own nodes in
//! [`Layer::export_onnx`](crate::Layer::export_onnx) (or
//! [`MergeLayer::export_onnx`](crate::MergeLayer::export_onnx)), whose default refuses with
//! [`Error::OnnxExport`] naming the layer. What the file keeps of the model:
//! - inputs and outputs keep the model's names; the batch axis is the symbolic dimension
//!   `batch`, every other axis declared `None` a symbol of its own;
//! - every tensor keeps Keras' layout (channels last): a convolution or a pooling transposes
//!   to ONNX's channels-first and back around its node, so `flatten` after it flattens in
//!   H, W, C order and the next kernel's rows line up as in Keras;
//! - every weight is an initializer named as in [`Model::weights`] (`dense/kernel`), with
//!   Keras' layout and values: a layer that needs another layout (a convolution's kernel)
//!   transposes it with a node, which runtimes fold when they load the file;
//! - dense inputs are `float32`, or `int32` / `int64` for ids, as `predict` takes them;
//! - the recurrent layers are ONNX's `LSTM`, `GRU` and `RNN`, time-major between transposes,
//!   their kernels reordered into ONNX's gate order by nodes over Keras' initializers.
//!
//! Sparse and ragged tensors have no ONNX form. A sparse input read only by layers that
//! compute the same on its dense form (`Dense`) becomes a dense ONNX input of its shape;
//! otherwise, and for every ragged input, the model is refused, naming the layer that reads
//! it, and nothing is written.

mod proto;

use std::collections::HashSet;

use crate::shape::{Activation, DType, Dim, GraphOp, LayerInfo, Layout, TensorSpec};
use crate::{Error, LayerRef, Model};
pub use proto::DataType;
use proto::{
    AttributeProto, AttributeValue, Dimension, GraphProto, ModelProto, NodeProto,
    OperatorSetIdProto, TensorProto, ValueInfoProto,
};

/// The ONNX opset the exporter writes.
pub const OPSET: i64 = 18;
/// The ONNX IR version the exporter writes.
pub const IR_VERSION: i64 = 8;
/// The symbolic name of the batch dimension of every input and output.
pub const BATCH_DIM: &str = "batch";

/// ONNX export of a declared model: `to_onnx` and `save_onnx`, for every [`Model`] (in the
/// prelude).
pub trait OnnxExport: Model {
    /// The model as an ONNX file (opset 18, IR 8), in memory. See the module documentation
    /// for what the file keeps.
    ///
    /// # Errors
    /// [`Error::OnnxExport`] naming the first layer ONNX cannot express as exported (a sparse
    /// or ragged input, a layer without an export), or a model without graph metadata.
    fn to_onnx(&self) -> Result<Vec<u8>, Error> {
        export(self).map(|m| m.encode())
    }

    /// Writes the model as an ONNX file to `path`. Nothing is written when the export fails.
    ///
    /// # Errors
    /// As [`to_onnx`](OnnxExport::to_onnx), and [`Error::Io`] if the file cannot be written.
    fn save_onnx(&self, path: impl AsRef<std::path::Path>) -> Result<(), Error> {
        let path = path.as_ref();
        let bytes = self.to_onnx()?;
        std::fs::write(path, bytes).map_err(|e| Error::Io {
            path: path.display().to_string(),
            kind: e.kind(),
            message: e.to_string(),
        })
    }
}

impl<M: Model> OnnxExport for M {}

/// The graph being written: nodes in order, initializers, and every name used.
struct Builder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    names: HashSet<String>,
}

impl Builder {
    /// `base` if no tensor has that name yet, else `base_1`, `base_2`, ...
    fn fresh(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut i = 1usize;
        while self.names.contains(&name) {
            name = format!("{base}_{i}");
            i += 1;
        }
        self.names.insert(name.clone());
        name
    }
}

/// What a layer sees while it writes its nodes: its metadata, the names of its input tensors
/// and of the output it must produce, and the graph to add nodes and constants to.
pub struct LayerExport<'a> {
    builder: &'a mut Builder,
    info: &'a LayerInfo,
    inputs: Vec<String>,
    input_specs: Vec<TensorSpec>,
    output: String,
    output_spec: TensorSpec,
}

impl LayerExport<'_> {
    /// The layer's name (`dense`, `conv2d_1`, ...).
    pub fn layer(&self) -> &str {
        self.info.name
    }

    /// The layer's metadata: spec, configuration, weights.
    pub fn info(&self) -> &LayerInfo {
        self.info
    }

    /// The name of input tensor `index` (empty past the inputs).
    pub fn input(&self, index: usize) -> &str {
        self.inputs.get(index).map_or("", String::as_str)
    }

    /// The names of every input tensor, in order.
    pub fn inputs(&self) -> &[String] {
        &self.inputs
    }

    /// The spec of input `index` (for this use of the layer); `None` past the inputs.
    pub fn input_spec(&self, index: usize) -> Option<&TensorSpec> {
        self.input_specs.get(index)
    }

    /// The name of the tensor the layer must produce.
    pub fn output(&self) -> &str {
        &self.output
    }

    /// The spec of the output.
    pub fn output_spec(&self) -> &TensorSpec {
        &self.output_spec
    }

    /// The error refusing this layer, with `reason`.
    pub fn unsupported(&self, reason: impl Into<String>) -> Error {
        Error::OnnxExport {
            layer: self.info.name.to_string(),
            class: self.info.spec.class_name.to_string(),
            reason: reason.into(),
        }
    }

    /// A new tensor name for an intermediate value, `layer/what`.
    pub fn tmp(&mut self, what: &str) -> String {
        let base = format!("{}/{what}", self.info.name);
        self.builder.fresh(&base)
    }

    /// The initializer of weight `variable` (`kernel`, `bias`): named as in
    /// [`Model::weights`], `layer/variable`.
    ///
    /// # Errors
    /// [`Error::OnnxExport`] if the model has no such weight.
    pub fn weight(&self, variable: &str) -> Result<String, Error> {
        let name = format!("{}/{variable}", self.info.name);
        if self.builder.initializers.iter().any(|t| t.name == name) {
            Ok(name)
        } else {
            Err(self.unsupported(format!("the model has no weight '{name}'")))
        }
    }

    /// Adds the `int64` constant `values` (a 1-D tensor) and returns its name.
    pub fn ints(&mut self, what: &str, values: &[i64]) -> String {
        let name = self.tmp(what);
        self.builder.initializers.push(TensorProto {
            dims: vec![values.len() as i64],
            data_type: DataType::Int64,
            name: name.clone(),
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        });
        name
    }

    /// Adds the `float32` scalar constant `value` and returns its name.
    pub fn scalar(&mut self, what: &str, value: f32) -> String {
        let name = self.tmp(what);
        self.builder.initializers.push(TensorProto {
            dims: Vec::new(),
            data_type: DataType::Float,
            name: name.clone(),
            raw_data: value.to_le_bytes().to_vec(),
        });
        name
    }

    /// Adds the `float32` constant `values` of shape `dims` and returns its name.
    pub fn floats(&mut self, what: &str, dims: &[i64], values: &[f32]) -> String {
        let name = self.tmp(what);
        self.builder.initializers.push(TensorProto {
            dims: dims.to_vec(),
            data_type: DataType::Float,
            name: name.clone(),
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        });
        name
    }

    /// The per-channel vector `v` (one value per index of axis `axis` of input 0, the batch
    /// axis being 0) shaped to broadcast along that axis: `v` itself for the last axis, else
    /// `v` reshaped to `[n, 1, ..., 1]` with a 1 for every axis after `axis`.
    pub fn along_axis(&mut self, v: &str, axis: usize) -> String {
        let rank = self.input_spec(0).map_or(0, TensorSpec::ndim);
        let after = rank.saturating_sub(axis + 1);
        if after == 0 {
            return v.to_string();
        }
        let shape: Vec<i64> = std::iter::once(-1)
            .chain(std::iter::repeat_n(1, after))
            .collect();
        let shape = self.ints("channel_shape", &shape);
        let out = self.tmp("channel");
        self.node("Reshape", &[v, &shape], &[&out], vec![]);
        out
    }

    /// Adds node `op_type` reading `inputs` and writing `outputs`, with `attributes`.
    pub fn node(
        &mut self,
        op_type: &str,
        inputs: &[&str],
        outputs: &[&str],
        attributes: Vec<Attr>,
    ) {
        let name = self.builder.fresh(&format!("{}/{op_type}", self.info.name));
        self.builder.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            name,
            op_type: op_type.to_string(),
            attribute: attributes.into_iter().map(|a| a.0).collect(),
        });
    }

    /// Adds the nodes computing `activation` of `x` into `out` (Keras' formulas: `gelu`
    /// exact through `Erf`, `swish` as `x * sigmoid(x)`, `selu` with Keras' constants).
    pub fn activation(&mut self, activation: Activation, x: &str, out: &str) {
        match activation {
            Activation::Linear => self.node("Identity", &[x], &[out], vec![]),
            Activation::Relu => self.node("Relu", &[x], &[out], vec![]),
            Activation::Sigmoid => self.node("Sigmoid", &[x], &[out], vec![]),
            Activation::Tanh => self.node("Tanh", &[x], &[out], vec![]),
            Activation::Softmax => {
                self.node("Softmax", &[x], &[out], vec![Attr::int("axis", -1)]);
            }
            Activation::Elu => self.node("Elu", &[x], &[out], vec![Attr::float("alpha", 1.0)]),
            Activation::Selu => self.node(
                "Selu",
                &[x],
                &[out],
                vec![
                    Attr::float("alpha", 1.673_263_2),
                    Attr::float("gamma", 1.050_701),
                ],
            ),
            Activation::Softplus => self.node("Softplus", &[x], &[out], vec![]),
            Activation::Swish => {
                let s = self.tmp("sigmoid");
                self.node("Sigmoid", &[x], &[&s], vec![]);
                self.node("Mul", &[x, &s], &[out], vec![]);
            }
            Activation::Gelu => {
                // 0.5 · x · (1 + erf(x / √2)); opset 18 has no Gelu (it came in 20).
                let inv_sqrt2 = self.scalar("inv_sqrt2", std::f32::consts::FRAC_1_SQRT_2);
                let (one, half) = (self.scalar("one", 1.0), self.scalar("half", 0.5));
                let (scaled, erf, plus, halfx) = (
                    self.tmp("gelu_scaled"),
                    self.tmp("gelu_erf"),
                    self.tmp("gelu_plus"),
                    self.tmp("gelu_half"),
                );
                self.node("Mul", &[x, &inv_sqrt2], &[&scaled], vec![]);
                self.node("Erf", &[&scaled], &[&erf], vec![]);
                self.node("Add", &[&erf, &one], &[&plus], vec![]);
                self.node("Mul", &[x, &half], &[&halfx], vec![]);
                self.node("Mul", &[&halfx, &plus], &[out], vec![]);
            }
        }
    }

    /// Writes `activation(z + bias)` into the output: the tail of `Dense` and of the
    /// convolutions (the bias broadcasts over the last, channels axis).
    ///
    /// # Errors
    /// [`Error::OnnxExport`] if `use_bias` but the model has no bias weight.
    pub fn bias_activation(
        &mut self,
        z: &str,
        use_bias: bool,
        activation: Activation,
    ) -> Result<(), Error> {
        let out = self.output.clone();
        let linear = activation == Activation::Linear;
        let z = if use_bias {
            let bias = self.weight("bias")?;
            let zb = if linear {
                out.clone()
            } else {
                self.tmp("bias_add")
            };
            self.node("Add", &[z, &bias], &[&zb], vec![]);
            zb
        } else {
            z.to_string()
        };
        if z != out {
            self.activation(activation, &z, &out);
        }
        Ok(())
    }

    /// Runs `op` on channels-first data: transposes input 0 from Keras' channels-last
    /// `(batch, ..., channels)` to ONNX's `(batch, channels, ...)`, lets `op` write its nodes
    /// from the transposed name into a new name, then transposes that back into `out`.
    ///
    /// # Errors
    /// Whatever `op` returns.
    pub fn channels_first(
        &mut self,
        out: &str,
        op: impl FnOnce(&mut Self, &str, &str) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let rank = self.input_spec(0).map_or(0, TensorSpec::ndim) as i64;
        // (0, rank-1, 1, ..., rank-2) and its inverse (0, 2, ..., rank-1, 1).
        let to_first: Vec<i64> = std::iter::once(0)
            .chain(std::iter::once(rank - 1))
            .chain(1..rank - 1)
            .collect();
        let to_last: Vec<i64> = std::iter::once(0)
            .chain(2..rank)
            .chain(std::iter::once(1))
            .collect();
        let x = self.input(0).to_string();
        let (xt, yt) = (self.tmp("nchw_in"), self.tmp("nchw_out"));
        self.node(
            "Transpose",
            &[&x],
            &[&xt],
            vec![Attr::ints("perm", &to_first)],
        );
        op(self, &xt, &yt)?;
        self.node(
            "Transpose",
            &[&yt],
            &[out],
            vec![Attr::ints("perm", &to_last)],
        );
        Ok(())
    }
}

/// The attributes of a sliding window (`Conv`, `MaxPool`, `AveragePool`): `kernel_shape`,
/// `strides`, `dilations` and explicit `pads` that reproduce Keras' `valid`, `same` (the odd
/// extra after the input, as TensorFlow) and `causal` exactly.
pub fn window_attrs(
    windows: &[crate::shape::layers::Window],
    dilations: bool,
) -> Result<Vec<Attr>, String> {
    let int = |n: usize| i64::try_from(n).map_err(|_| format!("size {n} does not fit in int64"));
    let (mut kernel, mut strides, mut dil, mut begin, mut end) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for w in windows {
        kernel.push(int(w.kernel)?);
        strides.push(int(w.stride)?);
        dil.push(int(w.dilation)?);
        begin.push(int(w.pad_before)?);
        // The last window ends at (output - 1) · stride + (kernel - 1) · dilation + 1 of the
        // padded input: what is past the input is the padding after it.
        let span = w
            .output
            .checked_sub(1)
            .and_then(|o| o.checked_mul(w.stride))
            .and_then(|o| {
                w.kernel
                    .saturating_sub(1)
                    .checked_mul(w.dilation)
                    .and_then(|k| o.checked_add(k))
            })
            .and_then(|s| s.checked_add(1))
            .ok_or_else(|| "window sizes overflow".to_string())?;
        end.push(int(
            span.saturating_sub(w.input.saturating_add(w.pad_before))
        )?);
    }
    let mut pads = begin;
    pads.extend(end);
    let mut attrs = vec![
        Attr::ints("kernel_shape", &kernel),
        Attr::ints("strides", &strides),
        Attr::ints("pads", &pads),
    ];
    if dilations {
        attrs.push(Attr::ints("dilations", &dil));
    }
    Ok(attrs)
}

/// A node attribute.
#[derive(Clone, Debug)]
pub struct Attr(AttributeProto);

impl Attr {
    /// An `INT` attribute.
    pub fn int(name: &str, value: i64) -> Attr {
        Attr(AttributeProto {
            name: name.to_string(),
            value: AttributeValue::Int(value),
        })
    }

    /// A `FLOAT` attribute.
    pub fn float(name: &str, value: f32) -> Attr {
        Attr(AttributeProto {
            name: name.to_string(),
            value: AttributeValue::Float(value),
        })
    }

    /// A `STRINGS` attribute.
    pub fn strings(name: &str, values: &[&str]) -> Attr {
        Attr(AttributeProto {
            name: name.to_string(),
            value: AttributeValue::Strings(values.iter().map(|s| s.to_string()).collect()),
        })
    }

    /// An `INTS` attribute.
    pub fn ints(name: &str, values: &[i64]) -> Attr {
        Attr(AttributeProto {
            name: name.to_string(),
            value: AttributeValue::Ints(values.to_vec()),
        })
    }
}

/// The error for a model-level problem (no layer to blame).
fn model_error(model: &str, reason: impl Into<String>) -> Error {
    Error::OnnxExport {
        layer: model.to_string(),
        class: "Model".to_string(),
        reason: reason.into(),
    }
}

/// An `i64` for ONNX, or an error naming `what` (sizes past `i64` cannot be written).
fn dim_i64(layer: &str, n: usize) -> Result<i64, Error> {
    i64::try_from(n).map_err(|_| model_error(layer, format!("dimension {n} does not fit in int64")))
}

/// The shape of a boundary tensor: the symbolic batch, then every dim (unknown ones as
/// symbols named after the tensor and axis).
fn boundary_shape(name: &str, spec: &TensorSpec) -> Result<Vec<Dimension>, Error> {
    let mut shape = vec![Dimension::Param(BATCH_DIM.to_string())];
    for (axis, d) in spec.dims.iter().enumerate() {
        shape.push(match d {
            Dim::Known(n) => Dimension::Value(dim_i64(name, *n)?),
            Dim::Unknown => Dimension::Param(format!("{name}_dim{}", axis + 1)),
        });
    }
    Ok(shape)
}

/// The ONNX model of `model`.
fn export<M: Model>(model: &M) -> Result<ModelProto, Error> {
    let model_name = std::any::type_name::<M>()
        .rsplit("::")
        .next()
        .unwrap_or("model")
        .to_string();
    let graph = M::graph().ok_or_else(|| {
        model_error(
            &model_name,
            "the model has no graph metadata (models declared with `model!` have it)",
        )
    })?;
    let layers = M::layers();
    let input_names = M::input_names();
    let output_names = M::output_names();
    let mut b = Builder {
        nodes: Vec::new(),
        initializers: Vec::new(),
        names: HashSet::new(),
    };
    // Weights first, named and laid out as `weights()` gives them.
    let mut weight_error = None;
    model.visit_weights(&mut |p| {
        let name = format!("{}/{}", p.layer, p.variable);
        let dims: Result<Vec<i64>, Error> = p.shape.iter().map(|&d| dim_i64(&name, d)).collect();
        match dims {
            Ok(dims) => {
                b.names.insert(name.clone());
                b.initializers.push(TensorProto {
                    dims,
                    data_type: DataType::Float,
                    name,
                    raw_data: p.value.iter().flat_map(|v| v.to_le_bytes()).collect(),
                });
            }
            Err(e) => weight_error = Some(e),
        }
    });
    if let Some(e) = weight_error {
        return Err(e);
    }
    let mut inputs = Vec::new();
    // The tensor name of every node, once written.
    let mut tensor: Vec<String> = Vec::with_capacity(graph.nodes.len());
    for node in graph.nodes {
        let spec = node.spec.to_spec();
        let name = match node.op {
            GraphOp::Input(i) => {
                let name = input_names
                    .get(i)
                    .map_or_else(|| format!("input_{i}"), |n| n.to_string());
                let name = b.fresh(&name);
                // A sparse or ragged input is refused by the layer reading it (below), which
                // names the layer, unless that layer computes the same on its dense form (Dense):
                // here it is declared as what it is dense.
                inputs.push(ValueInfoProto {
                    name: name.clone(),
                    elem_type: input_type(&spec),
                    shape: boundary_shape(&name, &spec)?,
                });
                name
            }
            GraphOp::Apply {
                layer,
                use_index,
                input,
            } => {
                let (info, built) = layer_at(model, layers, layer, &model_name)?;
                let LayerRef::One(built) = built else {
                    return Err(model_error(
                        &model_name,
                        "a merge layer applied to one tensor",
                    ));
                };
                let x = tensor.get(input).cloned().ok_or_else(|| {
                    model_error(&model_name, "the graph reads a node before writing it")
                })?;
                let x_spec = graph.nodes.get(input).map(|n| n.spec.to_spec());
                let out = b.fresh(&if use_index == 0 {
                    info.name.to_string()
                } else {
                    format!("{}_use{use_index}", info.name)
                });
                let mut cx = LayerExport {
                    builder: &mut b,
                    info,
                    inputs: vec![x],
                    input_specs: x_spec.into_iter().collect(),
                    output: out.clone(),
                    output_spec: spec,
                };
                refuse_layouts(&cx, built.onnx_sparse_as_dense())?;
                built.export_onnx(&mut cx)?;
                out
            }
            GraphOp::Merge {
                layer,
                inputs: from,
            } => {
                let (info, built) = layer_at(model, layers, layer, &model_name)?;
                let LayerRef::Merge(built) = built else {
                    return Err(model_error(
                        &model_name,
                        "a one-input layer applied to a list",
                    ));
                };
                let mut xs = Vec::new();
                let mut specs = Vec::new();
                for &i in from {
                    xs.push(tensor.get(i).cloned().ok_or_else(|| {
                        model_error(&model_name, "the graph reads a node before writing it")
                    })?);
                    if let Some(n) = graph.nodes.get(i) {
                        specs.push(n.spec.to_spec());
                    }
                }
                let out = b.fresh(info.name);
                let mut cx = LayerExport {
                    builder: &mut b,
                    info,
                    inputs: xs,
                    input_specs: specs,
                    output: out.clone(),
                    output_spec: spec,
                };
                refuse_layouts(&cx, false)?;
                built.export_onnx(&mut cx)?;
                out
            }
        };
        tensor.push(name);
    }
    // Outputs under the model's output names (an Identity where the tensor is named
    // otherwise, e.g. a second use of a shared layer or an input returned as is).
    let mut outputs = Vec::new();
    let mut used = HashSet::new();
    for (k, &o) in graph.outputs.iter().enumerate() {
        let (Some(t), Some(node)) = (tensor.get(o), graph.nodes.get(o)) else {
            return Err(model_error(&model_name, "an output names no node"));
        };
        let wanted = output_names.get(k).copied().unwrap_or(t.as_str());
        let name = if wanted == t && used.insert(t.clone()) {
            t.clone()
        } else {
            // Taken (by another tensor or an earlier output): a fresh name after it.
            let name = b.fresh(wanted);
            used.insert(name.clone());
            b.nodes.push(NodeProto {
                input: vec![t.clone()],
                output: vec![name.clone()],
                name: format!("{name}/output"),
                op_type: "Identity".to_string(),
                attribute: Vec::new(),
            });
            name
        };
        outputs.push(ValueInfoProto {
            shape: boundary_shape(&name, &node.spec.to_spec())?,
            name,
            elem_type: DataType::Float,
        });
    }
    Ok(ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        producer_name: "stratic".to_string(),
        producer_version: env!("CARGO_PKG_VERSION").to_string(),
        doc_string: String::new(),
        graph: GraphProto {
            node: b.nodes,
            name: model_name,
            initializer: b.initializers,
            input: inputs,
            output: outputs,
        },
    })
}

/// Layer `index`'s metadata and built layer.
fn layer_at<'m, M: Model>(
    model: &'m M,
    layers: &'static [LayerInfo],
    index: usize,
    model_name: &str,
) -> Result<(&'static LayerInfo, LayerRef<'m>), Error> {
    match (layers.get(index), model.layer(index)) {
        (Some(info), Some(built)) => Ok((info, built)),
        _ => Err(model_error(
            model_name,
            format!("the graph names layer {index}, which the model does not have"),
        )),
    }
}

/// An input's ONNX element type, as `predict` takes it: `float32` values, `int32` or `int64`
/// ids (the dtypes `model!` runs).
fn input_type(spec: &TensorSpec) -> DataType {
    match spec.dtype {
        DType::I64 => DataType::Int64,
        d if d.is_integer() => DataType::Int32,
        _ => DataType::Float,
    }
}

/// Sparse and ragged tensors have no ONNX form: refuse the layer reading one, unless it
/// computes the same on the dense form of a sparse input (`sparse_as_dense`).
fn refuse_layouts(cx: &LayerExport<'_>, sparse_as_dense: bool) -> Result<(), Error> {
    for spec in &cx.input_specs {
        let what = match spec.layout {
            Layout::Dense => continue,
            Layout::Sparse if sparse_as_dense => continue,
            Layout::Sparse => "sparse",
            Layout::Ragged => "ragged",
        };
        return Err(cx.unsupported(format!(
            "its input is a {what} tensor, which ONNX cannot represent (ONNX tensors are dense); \
             declare the input dense to export the model"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::layers::{Padding, Window, EMBEDDING};
    use crate::shape::EmbeddingConfig;
    use crate::Rng;

    fn pads(w: Window) -> Vec<i64> {
        let attrs = window_attrs(&[w], true).expect("attrs");
        let pads = attrs.iter().find(|a| a.0.name == "pads").expect("pads");
        match &pads.0.value {
            AttributeValue::Ints(v) => v.clone(),
            other => panic!("pads is {other:?}"),
        }
    }

    #[test]
    fn window_pads_reproduce_tensorflow_padding() {
        // `same`, stride 2 over 5: 3 outputs, one zero of padding, after the input (TF).
        let w = Window::new(5, 2, 2, 1, Padding::Same).expect("window");
        assert_eq!(pads(w), [0, 1]);
        // `same`, kernel 3 over 10 with stride 2: 5 outputs, padding 1 = 0 before, 1 after.
        let w = Window::new(10, 3, 2, 1, Padding::Same).expect("window");
        assert_eq!(pads(w), [0, 1]);
        // `causal`, kernel 3 dilated 2: all 4 zeros before the input.
        let w = Window::new(12, 3, 1, 2, Padding::Causal).expect("window");
        assert_eq!(pads(w), [4, 0]);
        // `valid` on a length the stride does not divide: the tail is dropped, no padding.
        let w = Window::new(7, 2, 2, 1, Padding::Valid).expect("window");
        assert_eq!(pads(w), [0, 0]);
    }

    #[test]
    fn a_sparse_input_is_refused_unless_the_layer_reads_its_dense_form() {
        let spec = TensorSpec {
            layout: Layout::Sparse,
            ..TensorSpec::dense(vec![Dim::Known(6)])
        };
        let info = LayerInfo {
            spec: &crate::shape::layers::FLATTEN,
            name: "flatten",
            config: crate::shape::Config::new(Vec::new()),
            input: spec.clone(),
            inputs: vec![spec.clone()],
            output: spec.clone(),
            weights: Vec::new(),
        };
        let mut b = Builder {
            nodes: Vec::new(),
            initializers: Vec::new(),
            names: HashSet::new(),
        };
        let cx = LayerExport {
            builder: &mut b,
            info: &info,
            inputs: vec!["x".into()],
            input_specs: vec![spec.clone()],
            output: "flatten".into(),
            output_spec: spec,
        };
        match refuse_layouts(&cx, false) {
            Err(Error::OnnxExport { layer, reason, .. }) => {
                assert_eq!(layer, "flatten");
                assert!(reason.contains("sparse"), "{reason}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(refuse_layouts(&cx, true).is_ok());
    }

    #[test]
    fn embedding_on_dense_ids_exports_as_a_gather_of_the_table() {
        let config = EmbeddingConfig::new(10, 3).to_config();
        let ids = TensorSpec {
            dtype: DType::I32,
            ..TensorSpec::dense(vec![Dim::Known(4)])
        };
        let layer = crate::build_dyn(
            &EMBEDDING,
            &config,
            std::slice::from_ref(&ids),
            &mut Rng::new(0),
        )
        .expect("embedding builds");
        let info = LayerInfo {
            spec: &EMBEDDING,
            name: "embedding",
            config,
            input: ids.clone(),
            inputs: vec![ids.clone()],
            output: TensorSpec::dense(vec![Dim::Known(4), Dim::Known(3)]),
            weights: Vec::new(),
        };
        let mut b = Builder {
            nodes: Vec::new(),
            initializers: vec![TensorProto {
                dims: vec![10, 3],
                data_type: DataType::Float,
                name: "embedding/embeddings".into(),
                raw_data: vec![0; 120],
            }],
            names: HashSet::new(),
        };
        let mut cx = LayerExport {
            builder: &mut b,
            info: &info,
            inputs: vec!["ids".into()],
            input_specs: vec![ids],
            output: "embedding".into(),
            output_spec: info.output.clone(),
        };
        layer.export_onnx(&mut cx).expect("exports");
        let ops: Vec<&str> = b.nodes.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(ops, ["Cast", "Gather"]);
        assert_eq!(b.nodes[1].input[0], "embedding/embeddings");
        assert_eq!(b.nodes[1].input[1], b.nodes[0].output[0]);
        assert_eq!(b.nodes[1].output, ["embedding"]);
    }
}
