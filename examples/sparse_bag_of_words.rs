//! A bag-of-words classifier on a sparse input: documents are word counts over a 20 000-word
//! vocabulary, stored sparsely (a few dozen non-zeros per row), never densified.
//!
//! The corpus is generated: two topics, each with its own favourite words, plus common words
//! shared by both. Run with `cargo run --example sparse_bag_of_words`.

use stratic::ndarray::{Array1, Array2};
use stratic::prelude::*;
use stratic::{SparseOptions, SparseTensor};

const VOCAB: usize = 20_000;

model! {
    /// Topic classifier over word counts.
    pub struct TopicClassifier {
        input(shape = [20_000], sparse = true, name = "words")
            -> dense(32, activation = relu)
            -> dense(1, activation = sigmoid)
    }
}

/// A small xorshift generator, so the example needs no extra crate.
struct Xorshift(u64);

impl Xorshift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// `n` documents of 40 words each: common words (0..2000) half the time, else words of the
/// document's topic (topic 0: 2000..11000, topic 1: 11000..20000).
fn corpus(n: usize, seed: u64) -> Result<(SparseTensor<f32>, Array2<f32>), stratic::Error> {
    let mut rng = Xorshift(seed);
    let mut coo: Vec<i64> = Vec::new();
    let mut counts: Vec<f32> = Vec::new();
    let mut labels = Array2::zeros((n, 1));
    for doc in 0..n {
        let topic = doc % 2;
        labels[[doc, 0]] = topic as f32;
        let mut words: Vec<usize> = (0..40)
            .map(|_| {
                if rng.below(2) == 0 {
                    rng.below(2000)
                } else {
                    2000 + topic * 9000 + rng.below(9000)
                }
            })
            .collect();
        words.sort_unstable();
        for w in words {
            // Canonical COO: repeated words become one entry with their count.
            if coo.len() >= 2 && coo[coo.len() - 2] == doc as i64 && coo[coo.len() - 1] == w as i64
            {
                if let Some(c) = counts.last_mut() {
                    *c += 1.0;
                }
            } else {
                coo.extend([doc as i64, w as i64]);
                counts.push(1.0);
            }
        }
    }
    let indices = Array2::from_shape_vec((counts.len(), 2), coo).map_err(|e| {
        stratic::Error::InvalidArgument {
            name: "indices",
            message: e.to_string(),
        }
    })?;
    let x = SparseTensor::from_coo(
        indices.view(),
        Array1::from(counts).view(),
        &[n as i64, VOCAB as i64],
        SparseOptions::default(),
    )?;
    Ok((x, labels))
}

fn accuracy(p: &Array2<f32>, y: &Array2<f32>) -> f32 {
    let right = p
        .iter()
        .zip(y)
        .filter(|(p, y)| (**p > 0.5) == (**y > 0.5))
        .count();
    right as f32 / y.len() as f32
}

fn main() -> Result<(), stratic::Error> {
    let (train_x, train_y) = corpus(4000, 0x9e37_79b9_7f4a_7c15)?;
    let (test_x, test_y) = corpus(1000, 0x2545_f491_4f6c_dd1d)?;
    println!(
        "{} training documents, {} stored counts ({:.2}% of the dense matrix)",
        train_x.n_rows(),
        train_x.nnz(),
        100.0 * train_x.nnz() as f64 / (train_x.n_rows() * VOCAB) as f64
    );
    let model = TopicClassifier::with_seed(1);
    println!("{}", model.summary());
    let mut model = model.compile(Adam::new(1e-3), Loss::binary_crossentropy());
    model.fit(
        &train_x,
        train_y.view(),
        &FitOptions::default().epochs(3).seed(2),
    )?;
    let p = model.predict(&test_x)?;
    println!("test accuracy: {:.3}", accuracy(&p, &test_y));
    Ok(())
}
