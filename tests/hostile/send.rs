//! `model!` types cross threads: a generated model, and its compiled form with a schedule,
//! are `Send + Sync` (checked at compile time), and train in a worker thread. The runtime's
//! own types are asserted in core/tests/send_sync.rs.

use stratic::prelude::*;

use super::{data, quiet, Repro, SparseRepro, TwoInputs};

fn send_sync<T: Send + Sync>() {}

#[test]
fn generated_models_and_their_compiled_forms_are_send_and_sync() {
    send_sync::<Repro>();
    send_sync::<SparseRepro>();
    send_sync::<TwoInputs>();
    send_sync::<Compiled<Repro, Adam>>();
    send_sync::<Compiled<SparseRepro, RMSprop>>();
    send_sync::<Compiled<TwoInputs, SGD>>();
}

#[test]
fn fit_runs_in_a_worker_thread() {
    let (x, y) = data();
    let mut model = Repro::with_seed(2)
        .compile(Adam::new(0.01), Loss::mse())
        .learning_rate_schedule(ExponentialDecay::new(0.01, 8, 0.9).unwrap());
    let first = model.evaluate(x.view(), y.view(), 32).unwrap().loss;
    let worker = std::thread::spawn(move || {
        model.fit(x.view(), y.view(), &quiet().epochs(30)).unwrap();
        let loss = model.evaluate(x.view(), y.view(), 32).unwrap().loss;
        (model, loss)
    });
    let (model, loss) = worker.join().expect("the worker finished");
    assert!(loss < first, "{first} -> {loss}");
    assert!(model.optimizer().learning_rate() < 0.01);
}
