//! Matrix products of `Dense` on W2's shapes (benches/README.md) and a few small ones: our
//! product (`sgemm`, AVX-512 where the CPU has it) against ndarray's `general_mat_mul`
//! (matrixmultiply). The counter is floating-point operations (2·m·k·n), so divan's items/s
//! are FLOP/s.
//!
//! `cargo bench --bench gemm`

use std::fmt;

use stratic::__private::ndarray::linalg::general_mat_mul;
use stratic::__private::ndarray::Array2;
use stratic::__private::{sgemm, Rng};

fn main() {
    divan::main();
}

/// `c (m x n) = a (m x k) · b (k x n)`, with `a` or `b` a transposed view as in `Dense`.
#[derive(Clone, Copy)]
struct Case {
    name: &'static str,
    m: usize,
    k: usize,
    n: usize,
    a_transposed: bool,
    b_transposed: bool,
    beta: f32,
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}x{}x{}", self.name, self.m, self.k, self.n)
    }
}

const fn case(name: &'static str, m: usize, k: usize, n: usize) -> Case {
    Case {
        name,
        m,
        k,
        n,
        a_transposed: false,
        b_transposed: false,
        beta: 0.0,
    }
}

const CASES: &[Case] = &[
    case("w1 x·w", 10, 4, 8),
    case("cube", 16, 16, 16),
    case("cube", 32, 32, 32),
    case("cube", 64, 64, 64),
    case("w2 x·w1", 128, 784, 256),
    case("w2 h·w2", 128, 256, 256),
    case("w2 h·w3", 128, 256, 10),
    Case {
        b_transposed: true,
        ..case("w2 dz·w1ᵀ", 128, 256, 784)
    },
    Case {
        b_transposed: true,
        ..case("w2 dz·w2ᵀ", 128, 256, 256)
    },
    Case {
        b_transposed: true,
        ..case("w2 dz·w3ᵀ", 128, 10, 256)
    },
    Case {
        a_transposed: true,
        ..case("w2 xᵀ·dz", 784, 128, 256)
    },
    Case {
        a_transposed: true,
        ..case("w2 hᵀ·dz", 256, 128, 256)
    },
    Case {
        a_transposed: true,
        ..case("w2 hᵀ·dz3", 256, 128, 10)
    },
    case("w2 predict x·w1", 1024, 784, 256),
];

struct Operands {
    a: Array2<f32>,
    b: Array2<f32>,
    c: Array2<f32>,
}

fn operands(case: Case) -> Operands {
    let mut rng = Rng::new(1);
    let mut random = |shape| Array2::from_shape_fn(shape, |_| rng.next_f32() - 0.5);
    let a = if case.a_transposed {
        random((case.k, case.m))
    } else {
        random((case.m, case.k))
    };
    let b = if case.b_transposed {
        random((case.n, case.k))
    } else {
        random((case.k, case.n))
    };
    Operands {
        a,
        b,
        c: random((case.m, case.n)),
    }
}

fn flops(case: Case) -> divan::counter::ItemsCount {
    divan::counter::ItemsCount::new(2 * case.m * case.k * case.n)
}

/// Our product.
#[divan::bench(args = CASES)]
fn ours(bencher: divan::Bencher, case: Case) {
    let mut o = operands(case);
    bencher.counter(flops(case)).bench_local(|| {
        let a = if case.a_transposed {
            o.a.t()
        } else {
            o.a.view()
        };
        let b = if case.b_transposed {
            o.b.t()
        } else {
            o.b.view()
        };
        sgemm(1.0, divan::black_box(a), b, case.beta, &mut o.c);
    });
}

/// ndarray's `general_mat_mul` (matrixmultiply).
#[divan::bench(args = CASES)]
fn matrixmultiply(bencher: divan::Bencher, case: Case) {
    let mut o = operands(case);
    bencher.counter(flops(case)).bench_local(|| {
        let a = if case.a_transposed {
            o.a.t()
        } else {
            o.a.view()
        };
        let b = if case.b_transposed {
            o.b.t()
        } else {
            o.b.view()
        };
        general_mat_mul(1.0, &divan::black_box(a), &b, case.beta, &mut o.c);
    });
}
