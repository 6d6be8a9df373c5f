//! Tests only: `tests/tract.rs` runs stratic's ONNX exports in tract (feature `tract`) and
//! compares them with `predict`.
