//! Rust arrays as constant inputs (`input(input_tensor = DATA, ...)`): the compile-time view of
//! their type (dtype, shape) and a runtime view of their values.
//!
//! The macro cannot see a Rust item's type, so it emits checks against these traits, spanned at
//! the user's path: the compiler then rejects a `DATA` whose dtype or shape differs from the
//! declaration.

/// The most axes a constant input may have.
pub const MAX_CONST_RANK: usize = 8;

mod sealed {
    pub trait Sealed {}
}

/// A nested Rust array of scalars (`[[f32; 4]; 3]`), seen as a tensor.
pub trait ConstTensor: sealed::Sealed {
    /// The scalar type.
    type Elem: Copy;
    /// Number of axes.
    const RANK: usize;
    /// The sizes of the axes, outermost first, padded with zeros.
    const DIMS: [usize; MAX_CONST_RANK];
}

/// `T: ElementsAre<E>` holds when every scalar of the array `T` is an `E`.
#[diagnostic::on_unimplemented(
    message = "`input_tensor` has elements of another type than the input's dtype `{E}`",
    label = "this array's elements are not `{E}`",
    note = "the array holds `{Self}` elements; declare `dtype = ...` to match them, or change the array"
)]
pub trait ElementsAre<E> {
    /// Appends the values in row-major order to `out`.
    fn extend_as(&self, out: &mut Vec<E>);
}

macro_rules! scalar {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl ElementsAre<$t> for $t {
            fn extend_as(&self, out: &mut Vec<$t>) {
                out.push(*self);
            }
        }
        impl ConstTensor for $t {
            type Elem = $t;
            const RANK: usize = 0;
            const DIMS: [usize; MAX_CONST_RANK] = [0; MAX_CONST_RANK];
        }
    )*};
}
scalar!(f32, f64, i32, i64, u8, bool);

const fn prepend(n: usize, inner: [usize; MAX_CONST_RANK]) -> [usize; MAX_CONST_RANK] {
    let mut out = [0; MAX_CONST_RANK];
    out[0] = n;
    let mut i = 1;
    while i < MAX_CONST_RANK {
        out[i] = inner[i - 1];
        i += 1;
    }
    out
}

impl<T: ConstTensor, const N: usize> sealed::Sealed for [T; N] {}
impl<E, T: ElementsAre<E>, const N: usize> ElementsAre<E> for [T; N] {
    fn extend_as(&self, out: &mut Vec<E>) {
        for item in self {
            item.extend_as(out);
        }
    }
}
impl<T: ConstTensor, const N: usize> ConstTensor for [T; N] {
    type Elem = T::Elem;
    const RANK: usize = T::RANK + 1;
    const DIMS: [usize; MAX_CONST_RANK] = prepend(N, T::DIMS);
}

/// Used by generated code: compile-time check that the dtype of `_value` is `E`.
#[doc(hidden)]
pub fn assert_elements_are<E, T: ElementsAre<E>>(_value: &T) {}

/// Used by generated code in a `const` assertion: whether `_value`'s type has the `expected`
/// shape (batch axis first; `None` matches any size).
#[doc(hidden)]
pub const fn const_shape_matches<T: ConstTensor>(_value: &T, expected: &[Option<usize>]) -> bool {
    if T::RANK != expected.len() || T::RANK > MAX_CONST_RANK {
        return false;
    }
    let mut i = 0;
    while i < expected.len() {
        if let Some(n) = expected[i] {
            if T::DIMS[i] != n {
                return false;
            }
        }
        i += 1;
    }
    true
}

/// The values of a constant array with its shape, for generated code to wrap as an input.
/// Bounded on [`ElementsAre`] like the dtype check, so a wrong dtype gives one error, not two.
pub fn const_tensor<E, T: ConstTensor + ElementsAre<E>>(value: &T) -> (Vec<usize>, Vec<E>) {
    let mut flat = Vec::new();
    value.extend_as(&mut flat);
    let rank = T::RANK.min(MAX_CONST_RANK);
    (T::DIMS[..rank].to_vec(), flat)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATA: [[f32; 4]; 3] = [[1.0, 2.0, 3.0, 4.0]; 3];

    #[test]
    fn shape_and_values() {
        const OK: bool = const_shape_matches(&DATA, &[None, Some(4)]);
        const { assert!(OK) };
        assert!(!const_shape_matches(&DATA, &[None, Some(5)]));
        assert!(!const_shape_matches(&DATA, &[Some(3)]));
        let (dims, flat) = const_tensor::<f32, _>(&DATA);
        assert_eq!(dims, vec![3, 4]);
        assert_eq!(flat.len(), 12);
        assert_eq!(flat[5], 2.0);
        assert_elements_are::<f32, _>(&DATA);
    }
}
