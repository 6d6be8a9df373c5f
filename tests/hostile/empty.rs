//! Zero samples: a typed error, not a made-up loss of 0.

use stratic::prelude::*;
use stratic::Error;

use super::{data, quiet, same_bits, snapshot, Repro};

#[test]
fn zero_samples_are_refused_everywhere() {
    let x = Array2::<f32>::zeros((0, 4));
    let y = Array2::<f32>::zeros((0, 1));
    let mut model = Repro::with_seed(1).compile(Adam::default(), Loss::mse());
    let before = snapshot(model.model());
    let call = |r: Result<(), Error>| match r {
        Err(Error::NoSamples { call }) => call,
        other => panic!("expected NoSamples, got {other:?}"),
    };
    assert_eq!(
        call(model.fit(x.view(), y.view(), &quiet()).map(drop)),
        "fit"
    );
    assert_eq!(
        call(model.evaluate(x.view(), y.view(), 8).map(drop)),
        "evaluate"
    );
    assert_eq!(
        call(model.train_on_batch(x.view(), y.view()).map(drop)),
        "train_on_batch"
    );
    let (xt, yt) = data();
    assert_eq!(
        call(
            model
                .fit_with(xt.view(), yt.view(), &quiet())
                .validation_data(x.view(), y.view())
                .run()
                .map(drop)
        ),
        "validation_data"
    );
    assert!(same_bits(&before, &snapshot(model.model())));
    // The message says what happened.
    let e = model.evaluate(x.view(), y.view(), 8).unwrap_err();
    assert!(e.to_string().contains("no samples"), "{e}");
}
