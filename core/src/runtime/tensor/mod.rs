//! Validated tensors beside ndarray's dense arrays: sparse (COO in, CSR inside) and ragged
//! (flat values and row splits). Every constructor checks its input and returns a typed error.

pub(crate) mod ragged;
pub(crate) mod sparse;
