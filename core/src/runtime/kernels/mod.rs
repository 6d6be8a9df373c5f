//! The numeric kernels the layers run on: the f32 matrix product, the few-row product, the
//! sparse x dense products, and the activation passes. Layers call them; they know no layer.

pub mod activations;
pub(crate) mod fast_math;
pub(crate) mod few_rows;
pub(crate) mod gemm;
pub(crate) mod normalization;
pub(crate) mod sparse_product;
pub(crate) mod window;
