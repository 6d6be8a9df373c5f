//! The ONNX messages the exporter writes, and a protobuf encoder for them.
//!
//! Hand-written rather than generated (prost and `protoc`) because the exporter writes nine
//! messages and reads none: the encoder is about a hundred lines with no build step and no
//! dependency, while prost would bring its derive macros into every build of the crate. Field
//! numbers are those of `onnx/onnx.proto` (proto2); repeated scalars are written unpacked, as
//! proto2 declares them, and every protobuf parser accepts that form.

/// ONNX's `TensorProto.DataType` values the exporter uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataType {
    /// `FLOAT` (32-bit).
    Float = 1,
    /// `INT32`.
    Int32 = 6,
    /// `INT64`.
    Int64 = 7,
}

/// A protobuf message being written: fields appended in order.
#[derive(Default)]
struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire));
    }

    /// An `int64` or `int32` field (negative values as ten-byte varints, as protobuf does).
    fn int(&mut self, field: u32, v: i64) {
        self.key(field, 0);
        self.varint(v as u64);
    }

    fn float(&mut self, field: u32, v: f32) {
        self.key(field, 5);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn bytes(&mut self, field: u32, v: &[u8]) {
        self.key(field, 2);
        self.varint(v.len() as u64);
        self.buf.extend_from_slice(v);
    }

    fn string(&mut self, field: u32, v: &str) {
        self.bytes(field, v.as_bytes());
    }

    fn message(&mut self, field: u32, encode: impl FnOnce(&mut Writer)) {
        let mut inner = Writer::default();
        encode(&mut inner);
        self.bytes(field, &inner.buf);
    }
}

/// `ModelProto`.
#[derive(Clone, Debug, Default)]
pub struct ModelProto {
    /// `ir_version` (1).
    pub ir_version: i64,
    /// `opset_import` (8).
    pub opset_import: Vec<OperatorSetIdProto>,
    /// `producer_name` (2).
    pub producer_name: String,
    /// `producer_version` (3).
    pub producer_version: String,
    /// `doc_string` (6).
    pub doc_string: String,
    /// `graph` (7).
    pub graph: GraphProto,
}

/// `OperatorSetIdProto`.
#[derive(Clone, Debug, Default)]
pub struct OperatorSetIdProto {
    /// `domain` (1): empty for the default `ai.onnx` domain.
    pub domain: String,
    /// `version` (2).
    pub version: i64,
}

/// `GraphProto`.
#[derive(Clone, Debug, Default)]
pub struct GraphProto {
    /// `node` (1), in topological order.
    pub node: Vec<NodeProto>,
    /// `name` (2).
    pub name: String,
    /// `initializer` (5).
    pub initializer: Vec<TensorProto>,
    /// `input` (11).
    pub input: Vec<ValueInfoProto>,
    /// `output` (12).
    pub output: Vec<ValueInfoProto>,
}

/// `NodeProto`.
#[derive(Clone, Debug, Default)]
pub struct NodeProto {
    /// `input` (1).
    pub input: Vec<String>,
    /// `output` (2).
    pub output: Vec<String>,
    /// `name` (3).
    pub name: String,
    /// `op_type` (4).
    pub op_type: String,
    /// `attribute` (5).
    pub attribute: Vec<AttributeProto>,
}

/// `AttributeProto`, with the value kinds the exporter uses.
#[derive(Clone, Debug)]
pub struct AttributeProto {
    /// `name` (1).
    pub name: String,
    /// The value and, from it, `type` (20).
    pub value: AttributeValue,
}

/// An attribute's value.
#[derive(Clone, Debug)]
pub enum AttributeValue {
    /// `f` (2), type `FLOAT` (1).
    Float(f32),
    /// `i` (3), type `INT` (2).
    Int(i64),
    /// `ints` (8), type `INTS` (7).
    Ints(Vec<i64>),
    /// `strings` (9), type `STRINGS` (8).
    Strings(Vec<String>),
}

/// `TensorProto`: dims and raw little-endian data.
#[derive(Clone, Debug)]
pub struct TensorProto {
    /// `dims` (1).
    pub dims: Vec<i64>,
    /// `data_type` (2).
    pub data_type: DataType,
    /// `name` (8).
    pub name: String,
    /// `raw_data` (9): the values, little-endian, row-major.
    pub raw_data: Vec<u8>,
}

/// `ValueInfoProto` of a tensor: name, element type and shape.
#[derive(Clone, Debug)]
pub struct ValueInfoProto {
    /// `name` (1).
    pub name: String,
    /// `type.tensor_type.elem_type`.
    pub elem_type: DataType,
    /// `type.tensor_type.shape.dim`.
    pub shape: Vec<Dimension>,
}

/// `TensorShapeProto.Dimension`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dimension {
    /// `dim_value` (1).
    Value(i64),
    /// `dim_param` (2): a symbolic size, such as the batch.
    Param(String),
}

impl ModelProto {
    /// The message as protobuf bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.int(1, self.ir_version);
        w.string(2, &self.producer_name);
        w.string(3, &self.producer_version);
        if !self.doc_string.is_empty() {
            w.string(6, &self.doc_string);
        }
        w.message(7, |w| self.graph.encode(w));
        for o in &self.opset_import {
            w.message(8, |w| {
                if !o.domain.is_empty() {
                    w.string(1, &o.domain);
                }
                w.int(2, o.version);
            });
        }
        w.buf
    }
}

impl GraphProto {
    fn encode(&self, w: &mut Writer) {
        for n in &self.node {
            w.message(1, |w| n.encode(w));
        }
        w.string(2, &self.name);
        for t in &self.initializer {
            w.message(5, |w| t.encode(w));
        }
        for v in &self.input {
            w.message(11, |w| v.encode(w));
        }
        for v in &self.output {
            w.message(12, |w| v.encode(w));
        }
    }
}

impl NodeProto {
    fn encode(&self, w: &mut Writer) {
        for i in &self.input {
            w.string(1, i);
        }
        for o in &self.output {
            w.string(2, o);
        }
        w.string(3, &self.name);
        w.string(4, &self.op_type);
        for a in &self.attribute {
            w.message(5, |w| a.encode(w));
        }
    }
}

impl AttributeProto {
    fn encode(&self, w: &mut Writer) {
        w.string(1, &self.name);
        match &self.value {
            AttributeValue::Float(f) => {
                w.float(2, *f);
                w.int(20, 1);
            }
            AttributeValue::Int(i) => {
                w.int(3, *i);
                w.int(20, 2);
            }
            AttributeValue::Ints(v) => {
                for i in v {
                    w.int(8, *i);
                }
                w.int(20, 7);
            }
            AttributeValue::Strings(v) => {
                for s in v {
                    w.string(9, s);
                }
                w.int(20, 8);
            }
        }
    }
}

impl TensorProto {
    fn encode(&self, w: &mut Writer) {
        for d in &self.dims {
            w.int(1, *d);
        }
        w.int(2, self.data_type as i64);
        w.string(8, &self.name);
        w.bytes(9, &self.raw_data);
    }
}

impl ValueInfoProto {
    fn encode(&self, w: &mut Writer) {
        w.string(1, &self.name);
        // TypeProto { tensor_type (1): Tensor { elem_type (1), shape (2) } }
        w.message(2, |w| {
            w.message(1, |w| {
                w.int(1, self.elem_type as i64);
                w.message(2, |w| {
                    for d in &self.shape {
                        w.message(1, |w| match d {
                            Dimension::Value(v) => w.int(1, *v),
                            Dimension::Param(p) => w.string(2, p),
                        });
                    }
                });
            });
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_follow_protobuf() {
        let mut w = Writer::default();
        w.varint(1);
        w.varint(300);
        w.varint(u64::MAX);
        assert_eq!(&w.buf[..3], &[0x01, 0xac, 0x02]);
        // A negative int64 is ten bytes.
        assert_eq!(w.buf.len(), 3 + 10);
        let mut w = Writer::default();
        w.int(1, -1);
        assert_eq!(w.buf.len(), 1 + 10);
    }

    #[test]
    fn an_opset_import_encodes_as_onnx_reads_it() {
        let m = ModelProto {
            ir_version: 8,
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: 18,
            }],
            ..ModelProto::default()
        };
        let bytes = m.encode();
        // ir_version: key 0x08, value 8.
        assert_eq!(&bytes[..2], &[0x08, 0x08]);
        // opset_import: key (8 << 3 | 2) = 0x42, length 2, then version: key 0x10, 18.
        assert!(bytes.ends_with(&[0x42, 0x02, 0x10, 18]));
    }

    #[test]
    fn a_dimension_is_a_value_or_a_name() {
        let v = ValueInfoProto {
            name: "x".into(),
            elem_type: DataType::Float,
            shape: vec![Dimension::Param("N".into()), Dimension::Value(4)],
        };
        let mut w = Writer::default();
        v.encode(&mut w);
        // name "x", then type { tensor_type { elem_type 1, shape { dim { param "N" } dim { value 4 } } } }
        // (lengths: dim "N" is 5 bytes and dim 4 is 4, so shape 9, tensor_type 13, type 15)
        let expected = [
            0x0a, 1, b'x', 0x12, 15, 0x0a, 13, 0x08, 1, 0x12, 9, 0x0a, 3, 0x12, 1, b'N', 0x0a, 2,
            0x08, 4,
        ];
        assert_eq!(w.buf, expected);
    }
}
