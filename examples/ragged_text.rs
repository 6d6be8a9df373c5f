//! A text classifier on variable-length token sequences, with no padding anywhere: the tokens
//! are a ragged tensor, the embedding maps each token, and the mean over each row's tokens
//! feeds the classifier.
//!
//! The corpus is generated (sentences of 3 to 40 tokens over a 5 000-word vocabulary; the
//! positive class uses a few "sentiment" words more often). Run with
//! `cargo run --example ragged_text`.

use stratic::ndarray::Array2;
use stratic::prelude::*;
use stratic::RaggedTensor;

model! {
    /// Bag-of-embeddings sentiment classifier.
    pub struct Sentiment {
        input(shape = [None], ragged = true, dtype = i32, name = "tokens")
            -> embedding(5_000, 32)
            -> global_average_pooling_1d()
            -> dense(16, activation = relu)
            -> dense(1, activation = sigmoid)
    }
}

struct Xorshift(u64);

impl Xorshift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn corpus(n: usize, seed: u64) -> Result<(RaggedTensor<i32>, Array2<f32>), stratic::Error> {
    let mut rng = Xorshift(seed);
    let mut rows = Vec::with_capacity(n);
    let mut labels = Array2::zeros((n, 1));
    for i in 0..n {
        let positive = i % 2 == 0;
        labels[[i, 0]] = if positive { 1.0 } else { 0.0 };
        let len = 3 + rng.below(38);
        let row: Vec<i32> = (0..len)
            .map(|_| {
                // One token in four is a sentiment word: 0..50 positive, 50..100 negative.
                if rng.below(4) == 0 {
                    (rng.below(50) + if positive { 0 } else { 50 }) as i32
                } else {
                    (100 + rng.below(4_900)) as i32
                }
            })
            .collect();
        rows.push(row);
    }
    Ok((RaggedTensor::from_rows(&rows)?, labels))
}

fn main() -> Result<(), stratic::Error> {
    let (x, y) = corpus(4_000, 0x9e37_79b9_7f4a_7c15)?;
    let (test_x, test_y) = corpus(1_000, 0x2545_f491_4f6c_dd1d)?;
    println!(
        "{} sentences, {} tokens in all (no padding)",
        x.n_rows(),
        x.flat_values().len()
    );
    let mut model = Sentiment::with_seed(7).compile(Adam::new(0.005), Loss::binary_crossentropy());
    model.fit(&x, y.view(), &FitOptions::default().epochs(5).seed(1))?;
    let p = model.predict(&test_x)?;
    let right = p
        .iter()
        .zip(&test_y)
        .filter(|(p, y)| (**p > 0.5) == (**y > 0.5))
        .count();
    println!("test accuracy: {:.3}", right as f32 / test_y.len() as f32);
    Ok(())
}
