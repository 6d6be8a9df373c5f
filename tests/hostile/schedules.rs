//! Learning-rate schedules: refused where they are built, and each step's value checked
//! before it is applied.

use stratic::ndarray::s;
use stratic::prelude::*;
use stratic::Error;

use super::{data, quiet, same_bits, snapshot, Repro};

/// A user's schedule: `good` for the first `steps` steps, then `bad`.
struct Spike {
    steps: u64,
    good: f32,
    bad: f32,
}

impl LearningRateSchedule for Spike {
    fn learning_rate(&self, step: u64) -> f32 {
        if step < self.steps {
            self.good
        } else {
            self.bad
        }
    }
}

#[test]
fn exponential_decay_is_checked_where_it_is_built() {
    for (lr, steps, rate, name) in [
        (f32::NAN, 10, 0.5, "initial_learning_rate"),
        (-0.1, 10, 0.5, "initial_learning_rate"),
        (0.1, 0, 0.5, "decay_steps"),
        (0.1, 10, f32::INFINITY, "decay_rate"),
        (0.1, 10, -2.0, "decay_rate"),
    ] {
        match ExponentialDecay::new(lr, steps, rate) {
            Err(Error::InvalidArgument { name: n, .. }) => assert_eq!(n, name),
            other => panic!("({lr}, {steps}, {rate}): expected InvalidArgument, got {other:?}"),
        }
    }
}

#[test]
fn a_bad_scheduled_rate_stops_training_before_it_is_applied() {
    let (x, y) = data();
    for bad in [f32::NAN, -0.1, f32::INFINITY] {
        // Two good steps, then the bad value: the weights are those after two steps.
        let mut model = Repro::with_seed(3)
            .compile(SGD::new(0.5), Loss::mse())
            .learning_rate_schedule(Spike {
                steps: 2,
                good: 0.01,
                bad,
            });
        let err = model
            .fit(x.view(), y.view(), &quiet().epochs(5))
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidArgument { name: "learning_rate", message } if message.contains("step 2")),
            "{bad}: {err:?}"
        );
        let mut twin = Repro::with_seed(3).compile(SGD::new(0.01), Loss::mse());
        twin.fit(x.slice(s![..16, ..]), y.slice(s![..16, ..]), &quiet())
            .unwrap();
        assert!(
            same_bits(&snapshot(model.model()), &snapshot(twin.model())),
            "{bad}"
        );
        // train_on_batch checks it too, and changes nothing.
        let before = snapshot(model.model());
        assert!(model.train_on_batch(x.view(), y.view()).is_err());
        assert!(same_bits(&before, &snapshot(model.model())));
    }
}
