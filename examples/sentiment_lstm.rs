//! An LSTM sentiment classifier over ragged token rows: each review runs for its own length,
//! nothing is padded.
//!
//! The corpus is synthetic, generated here (there is no text data set in the repository), and
//! built so that word order decides the label: a review is one to three clauses joined by
//! "but" ("the plot was not good but the acting was great"), each clause's sentiment is its
//! adjective's, flipped by a "not" right before it, and the review's label is that of its
//! **last** clause. Every word's count is the same whichever clause comes last, so a bag of
//! words cannot tell these reviews apart; the example trains a bag-of-embeddings model on the
//! same data as a baseline and prints both test accuracies.
//!
//! Run with `cargo run --release --example sentiment_lstm`.

use stratic::ndarray::Array2;
use stratic::prelude::*;
use stratic::RaggedTensor;

/// The vocabulary: fillers, subjects, "not", "but", and the adjectives of each polarity.
const FILLERS: &[&str] = &["the", "was", "really", "quite", "a", "bit", "honestly"];
const SUBJECTS: &[&str] = &["plot", "acting", "music", "ending", "cast", "script"];
const POSITIVE: &[&str] = &["good", "great", "superb", "fun", "moving"];
const NEGATIVE: &[&str] = &["bad", "dull", "awful", "boring", "weak"];
// Ids 0 .. 25 in that order: 7 fillers, 6 subjects, "not", "but", 5 positive and 5
// negative adjectives (the models' `input_dim`, 25).
const NOT: i32 = 13;
const BUT: i32 = 14;

model! {
    /// Embedding, an LSTM reading the review in order, a sigmoid head.
    struct SentimentLstm {
        input(shape = [None], ragged = true, dtype = i32, name = "tokens")
            -> embedding(25, 16)
            -> lstm(32)
            -> dense(1, activation = sigmoid)
    }

    /// The bag-of-words baseline: the mean of the embeddings, then an MLP. It sees which
    /// words occur, not their order.
    struct BagOfWords {
        input(shape = [None], ragged = true, dtype = i32, name = "tokens")
            -> embedding(25, 16)
            -> global_average_pooling_1d()
            -> dense(32, activation = relu)
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

/// The id of a word drawn from `list`, whose ids start at `first`.
fn draw(rng: &mut Xorshift, list: &[&str], first: i32) -> i32 {
    first + rng.below(list.len()) as i32
}

/// One clause, its tokens appended to `row`: "the <subject> was [not] <adjective>", with
/// fillers sprinkled in. Returns its sentiment.
fn clause(rng: &mut Xorshift, row: &mut Vec<i32>) -> bool {
    let subjects = FILLERS.len() as i32;
    let positive = BUT + 1;
    let negative = positive + POSITIVE.len() as i32;
    row.push(draw(rng, FILLERS, 0));
    row.push(draw(rng, SUBJECTS, subjects));
    for _ in 0..rng.below(3) {
        row.push(draw(rng, FILLERS, 0));
    }
    let negated = rng.below(2) == 0;
    if negated {
        row.push(NOT);
    }
    let good = rng.below(2) == 0;
    row.push(if good {
        draw(rng, POSITIVE, positive)
    } else {
        draw(rng, NEGATIVE, negative)
    });
    good != negated
}

/// `n` reviews of one to three clauses and their labels (the last clause's sentiment).
fn corpus(n: usize, seed: u64) -> Result<(RaggedTensor<i32>, Array2<f32>), stratic::Error> {
    let mut rng = Xorshift(seed);
    let mut rows = Vec::with_capacity(n);
    let mut labels = Array2::zeros((n, 1));
    for i in 0..n {
        let mut row = Vec::new();
        let mut label = false;
        for c in 0..1 + rng.below(3) {
            if c > 0 {
                row.push(BUT);
            }
            label = clause(&mut rng, &mut row);
        }
        labels[[i, 0]] = if label { 1.0 } else { 0.0 };
        rows.push(row);
    }
    Ok((RaggedTensor::from_rows(&rows)?, labels))
}

fn accuracy(p: &Array2<f32>, y: &Array2<f32>) -> f32 {
    let right = p
        .iter()
        .zip(y)
        .filter(|(p, y)| (**p > 0.5) == (**y > 0.5))
        .count();
    right as f32 / y.len().max(1) as f32
}

fn main() -> Result<(), stratic::Error> {
    let (x, y) = corpus(4_000, 0x9e37_79b9_7f4a_7c15)?;
    let (test_x, test_y) = corpus(1_000, 0x2545_f491_4f6c_dd1d)?;
    println!(
        "{} synthetic reviews of {} to {} tokens, {} tokens in all (no padding)",
        x.n_rows(),
        x.row_lengths().min().unwrap_or(0),
        x.row_lengths().max().unwrap_or(0),
        x.flat_values().len()
    );
    let options = FitOptions::default()
        .epochs(12)
        .batch_size(32)
        .seed(1)
        .verbose(0);

    let mut lstm =
        SentimentLstm::with_seed(7).compile(Adam::new(0.01), Loss::binary_crossentropy());
    let history = lstm.fit(&x, y.view(), &options)?;
    let lstm_accuracy = accuracy(&lstm.predict(&test_x)?, &test_y);

    let mut bag = BagOfWords::with_seed(7).compile(Adam::new(0.01), Loss::binary_crossentropy());
    bag.fit(&x, y.view(), &options)?;
    let bag_accuracy = accuracy(&bag.predict(&test_x)?, &test_y);

    let losses = history.loss();
    println!(
        "LSTM training loss {:.3} -> {:.3} over {} epochs",
        losses.first().copied().unwrap_or(f32::NAN),
        losses.last().copied().unwrap_or(f32::NAN),
        losses.len()
    );
    println!("bag-of-words baseline test accuracy: {bag_accuracy:.3}");
    println!("test accuracy: {lstm_accuracy:.3}");
    Ok(())
}
