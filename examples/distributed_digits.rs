//! A digits classifier trained data-parallel: `mpirun -np 2 target/release/examples/distributed_digits`
//! trains one model on two processes (on one machine or several), each on its shard of the
//! training set, and rank 0 prints the test accuracy. Without `mpirun` it trains alone.
//!
//! The data is `examples/data/digits.csv` (UCI optical digits, CC BY 4.0; see
//! `examples/data/README.md`): 1,797 8x8 images, the last 20 % held out for the test.
//!
//! ```python
//! model = keras.Sequential([keras.Input(shape=(64,)),
//!                           keras.layers.Dense(64, activation="relu"),
//!                           keras.layers.Dense(10)])
//! model.compile(keras.optimizers.Adam(0.003),
//!               keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
//! with strategy.scope(): model.fit(x, y, epochs=40, batch_size=64)
//! ```
//!
//! Needs the `mpi` feature: `cargo build --release --features mpi --example distributed_digits`.

use stratic::distributed::{shard, Mpi};
use stratic::prelude::*;

model! {
    /// 64 pixels in, a logit per digit out.
    pub struct Digits {
        input(shape = [64]) -> dense(64, activation = relu) -> dense(10)
    }
}

const DIGITS: &str = include_str!("data/digits.csv");

/// The images, scaled to [0, 1], and their labels. The file is in no particular order by
/// class, but rows are interleaved (row `i` goes to `1000 i mod 1797`, a permutation as the
/// two are coprime) so that the test tail is a fair sample of writers.
pub fn load() -> Result<(Array2<f32>, Array1<f32>), Error> {
    let bad = |line: usize, what: &str| Error::InvalidArgument {
        name: "digits.csv",
        message: format!("line {}: {what}", line + 1),
    };
    let rows: Vec<&str> = DIGITS.lines().filter(|l| !l.is_empty()).collect();
    let n = rows.len();
    let mut x = Array2::<f32>::zeros((n, 64));
    let mut y = Array1::<f32>::zeros(n);
    for (i, line) in rows.iter().enumerate() {
        let to = (1000 * i) % n;
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != 65 {
            return Err(bad(i, "expected 65 fields"));
        }
        for (j, f) in fields[..64].iter().enumerate() {
            let v: f32 = f.parse().map_err(|_| bad(i, "not a number"))?;
            x[[to, j]] = v / 16.0;
        }
        y[to] = fields[64].parse().map_err(|_| bad(i, "not a label"))?;
    }
    Ok((x, y))
}

fn main() -> Result<(), Error> {
    let world = Mpi::init()?;
    let (x, y) = load()?;
    let split = x.nrows() * 4 / 5;
    let (train_x, test_x) = x.view().split_at(Axis(0), split);
    let (train_y, test_y) = y.view().split_at(Axis(0), split);
    let (xs, ys) = (shard(train_x, &world), shard(train_y, &world));
    let mut model = Digits::with_seed(7)
        .compile(
            Adam::new(0.003),
            Loss::SparseCategoricalCrossentropy { from_logits: true },
        )
        .metrics(&[Metric::Accuracy]);
    let options = FitOptions::default()
        .epochs(40)
        .batch_size(64)
        .seed(7)
        .verbose(2)
        .distributed(&world);
    let history = model.fit(xs.view(), ys.view(), &options)?;
    // Every rank holds the same weights; each could evaluate, rank 0 reports.
    let test = model.evaluate(test_x, test_y, 256)?;
    if world.is_root() {
        let accuracy = test.get("accuracy").unwrap_or(0.0);
        println!(
            "{} ranks, {} training samples each (about), final training loss {:.4}",
            world.size(),
            xs.nrows(),
            history.loss().last().copied().unwrap_or(f32::NAN)
        );
        println!("test accuracy: {accuracy:.4} on {} digits", test_x.nrows());
        if accuracy < 0.9 {
            return Err(Error::InvalidArgument {
                name: "test accuracy",
                message: format!("{accuracy} is below 0.9: the model did not learn"),
            });
        }
    }
    Ok(())
}
