//! A seeded corpus of truncated and byte-flipped weight files, generated here from the
//! repository's fixtures (`tests/fixtures/keras-files/`) and from safetensors files this test
//! writes: each must load or give a typed error, never panic, and a failed load must leave
//! the weights exactly as they were. Plus the loaders' size cap.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use stratic::prelude::*;
use stratic::weights::{
    from_safetensors, load_keras_bytes, load_keras_weights_bytes, load_weights_with,
    to_safetensors, LoadLimits,
};
use stratic::{Error, FileProblem};

use super::{same_bits, snapshot};

model! {
    /// The architecture of `mlp.keras` / `mlp.weights.h5`.
    struct Mlp {
        input(shape = [4]) -> dense(5, activation = relu) -> dense(3, activation = tanh) -> dense(2)
    }

    /// The architecture of `two_tower.keras` / `two_tower.weights.h5`.
    struct TwoTower {
        let query = input(shape = [6], name = "query");
        let doc = input(shape = [4], name = "doc");
        let q = query -> dense(5, activation = relu, name = "q_tower");
        let d = doc -> dense(5, activation = relu, name = "d_tower");
        let score = concatenate([q, d], name = "concatenate") -> dense(1, activation = tanh, name = "score");
        (score, q)
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keras-files")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// xorshift64*: the corpus is the same on every run.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The corpus of one file: the empty file, truncations at seeded lengths (and the last
/// bytes), and copies with 1-4 seeded bytes replaced.
fn corpus(bytes: &[u8], seed: u64) -> Vec<(String, Vec<u8>)> {
    let mut rng = Seeded(seed | 1);
    let mut out = vec![("empty".to_string(), Vec::new())];
    let n = bytes.len();
    let mut cuts: Vec<usize> = (0..48).map(|_| rng.below(n)).collect();
    cuts.extend([1, 7, 8, 9, n.saturating_sub(1), n.saturating_sub(2)]);
    for cut in cuts {
        out.push((format!("truncated to {cut}"), bytes[..cut.min(n)].to_vec()));
    }
    for case in 0..160 {
        let mut b = bytes.to_vec();
        let mut what = Vec::new();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(n);
            let v = rng.next() as u8;
            b[at] = v;
            what.push(format!("[{at}]={v}"));
        }
        out.push((format!("flip {case}: {}", what.join(" ")), b));
    }
    out
}

/// Runs `load` on every case of `bytes`' corpus against a fresh model from `make`; returns
/// how many loaded and how many were refused.
fn attack<M: Model>(
    label: &str,
    bytes: &[u8],
    seed: u64,
    make: impl Fn() -> M,
    load: impl Fn(&mut M, &[u8]) -> Result<(), Error>,
) -> (usize, usize) {
    let (mut loaded, mut refused) = (0, 0);
    let mut model = make();
    for (case, data) in corpus(bytes, seed) {
        let before = snapshot(&model);
        let result = catch_unwind(AssertUnwindSafe(|| load(&mut model, &data)));
        match result {
            Err(_) => panic!("{label}, {case}: the loader panicked"),
            Ok(Ok(())) => {
                loaded += 1;
                // The next case starts from known weights again.
                model = make();
            }
            Ok(Err(_)) => {
                refused += 1;
                assert!(
                    same_bits(&before, &snapshot(&model)),
                    "{label}, {case}: a failed load changed the weights"
                );
            }
        }
    }
    (loaded, refused)
}

#[test]
fn corrupt_keras_files_give_a_typed_error_or_load() {
    let h5 = |m: &mut Mlp, b: &[u8]| load_keras_weights_bytes(m, b);
    let keras = |m: &mut Mlp, b: &[u8]| load_keras_bytes(m, b);
    let mlp = || Mlp::with_seed(0);
    let mut total = (0, 0);
    let mut add = |(l, r): (usize, usize)| {
        total.0 += l;
        total.1 += r;
    };
    // The intact fixtures load (the corpus is built from files that are valid).
    for name in ["mlp.weights.h5", "mlp.keras", "mlp_deflated.keras"] {
        let mut m = mlp();
        load_keras_weights_bytes(&mut m, &fixture(name)).expect(name);
    }
    add(attack(
        "mlp.weights.h5",
        &fixture("mlp.weights.h5"),
        1,
        mlp,
        h5,
    ));
    add(attack("mlp.keras", &fixture("mlp.keras"), 2, mlp, keras));
    add(attack(
        "mlp_deflated.keras",
        &fixture("mlp_deflated.keras"),
        3,
        mlp,
        keras,
    ));
    for (i, name) in [
        "plain.weights.h5",
        "latest.weights.h5",
        "chunked.weights.h5",
        "float64.weights.h5",
    ]
    .into_iter()
    .enumerate()
    {
        add(attack(name, &fixture(name), 10 + i as u64, mlp, h5));
    }
    let tower = || TwoTower::with_seed(0);
    add(attack(
        "two_tower.weights.h5",
        &fixture("two_tower.weights.h5"),
        20,
        tower,
        |m: &mut TwoTower, b: &[u8]| load_keras_weights_bytes(m, b),
    ));
    add(attack(
        "two_tower.keras",
        &fixture("two_tower.keras"),
        21,
        tower,
        |m: &mut TwoTower, b: &[u8]| load_keras_bytes(m, b),
    ));
    // Most corrupt files are refused; some flips land in weight values and still load.
    eprintln!("Keras corpus: {} loaded, {} refused", total.0, total.1);
    assert!(total.1 > total.0, "loaded {}, refused {}", total.0, total.1);
}

#[test]
fn corrupt_safetensors_give_a_typed_error_or_load() {
    let bytes = to_safetensors(&Mlp::with_seed(7)).unwrap();
    let mut m = Mlp::with_seed(0);
    from_safetensors(&mut m, &bytes).expect("intact");
    let (loaded, refused) = attack(
        "mlp.safetensors",
        &bytes,
        30,
        || Mlp::with_seed(0),
        |m: &mut Mlp, b: &[u8]| from_safetensors(m, b),
    );
    let tower = to_safetensors(&TwoTower::with_seed(7)).unwrap();
    let (l2, r2) = attack(
        "two_tower.safetensors",
        &tower,
        31,
        || TwoTower::with_seed(0),
        |m: &mut TwoTower, b: &[u8]| from_safetensors(m, b),
    );
    eprintln!(
        "safetensors corpus: {} loaded, {} refused",
        loaded + l2,
        refused + r2
    );
    assert!(
        refused + r2 > 0 && loaded + l2 > 0,
        "{loaded}/{refused}, {l2}/{r2}"
    );
}

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("stratic-hostile-{}-{name}", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn the_size_cap_refuses_larger_files_before_reading_them() {
    let bytes = to_safetensors(&Mlp::with_seed(7)).unwrap();
    let path = temp_file("cap.safetensors", &bytes);
    let mut model = Mlp::with_seed(0);
    let before = snapshot(&model);
    let small = LoadLimits::default().max_file_bytes(bytes.len() as u64 - 1);
    let err = load_weights_with(&mut model, &path, &small).unwrap_err();
    assert!(
        matches!(
            err,
            Error::WeightFile {
                problem: FileProblem::TooLarge,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(same_bits(&before, &snapshot(&model)));
    let exact = LoadLimits::default().max_file_bytes(bytes.len() as u64);
    load_weights_with(&mut model, &path, &exact).expect("at the cap");
    assert!(!same_bits(&before, &snapshot(&model)));
    std::fs::remove_file(&path).ok();
    // A file whose stated length is 0 but which never ends is cut at the cap.
    let zero = Path::new("/dev/zero");
    if zero.exists() {
        let mut model = Mlp::with_seed(0);
        let err = load_weights_with(
            &mut model,
            zero,
            &LoadLimits::default().max_file_bytes(1 << 20),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::WeightFile {
                    problem: FileProblem::TooLarge,
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
