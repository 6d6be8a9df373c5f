"""Loads the weights `save_keras_weights` wrote into Keras itself and compares predictions.

Run after `STRATIC_KERAS_OUT=DIR cargo test --test keras_save`:

    KERAS_BACKEND=jax python3 tests/keras_check.py DIR

For each fixture model, Keras opens the fixture's .keras file (the architecture), then
`model.load_weights(DIR/<name>.stratic.weights.h5)` (our file), predicts the fixture's inputs
and must agree with stratic's own predictions (DIR/<name>.stratic.json) within 1e-5.
Needs keras >= 3 with a backend, h5py and numpy; it is not part of `cargo test`.
"""

import json
import pathlib
import sys

import keras
import numpy as np

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "keras-files-layers"


def inputs(name, case):
    if name == "bag":
        rows = case["rows"]
        # Keras' bag model takes padded ids; its pooling is masked by the fixture's design.
        return None, rows
    if name == "lstm_text":
        # Dense int32 ids, as stratic's `input(shape = [7], dtype = i32)` takes them.
        return [np.asarray(x, dtype=np.int32) for x in case["inputs"]], None
    return [np.asarray(x, dtype=np.float32) for x in case["inputs"]], None


def main(out):
    out = pathlib.Path(out)
    failures = 0
    for name in ["cnn", "two_heads", "bag", "lstm_text"]:
        ours = json.loads((out / f"{name}.stratic.json").read_text())
        case = json.loads((FIXTURES / f"{name}.json").read_text())
        model = keras.saving.load_model(FIXTURES / f"{name}.keras", compile=False)
        model.load_weights(out / f"{name}.stratic.weights.h5")
        xs, rows = inputs(name, case)
        if rows is not None:
            # One row at a time: each its own length, no padding to mask.
            preds = [
                np.concatenate(
                    [np.asarray(model.predict(np.asarray([r], dtype=np.int32), verbose=0)) for r in rows]
                )
            ]
        else:
            preds = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
            preds = preds if isinstance(preds, (list, tuple)) else [preds]
        for i, (p, o) in enumerate(zip(preds, ours)):
            want = np.asarray(o["values"], dtype=np.float32).reshape(o["shape"])
            err = float(np.max(np.abs(np.asarray(p) - want)))
            ok = err <= 1e-5
            failures += not ok
            print(f"{name} output {i}: max abs difference {err:.2e} {'ok' if ok else 'FAILED'}")
    # Our own .keras archives: Keras builds the model from our config.json.
    for name in ["cnn", "two_heads", "lstm_text"]:
        ours = json.loads((out / f"{name}.stratic.json").read_text())
        case = json.loads((FIXTURES / f"{name}.json").read_text())
        model = keras.saving.load_model(out / f"{name}.stratic.keras", compile=False)
        xs, _ = inputs(name, case)
        preds = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
        preds = preds if isinstance(preds, (list, tuple)) else [preds]
        for i, (p, o) in enumerate(zip(preds, ours)):
            want = np.asarray(o["values"], dtype=np.float32).reshape(o["shape"])
            err = float(np.max(np.abs(np.asarray(p) - want)))
            ok = err <= 1e-5
            failures += not ok
            print(f"{name}.keras (ours) output {i}: max abs difference {err:.2e} {'ok' if ok else 'FAILED'}")
    # Models the fixtures do not cover: their inputs are recorded after their outputs.
    for name in ["mixed", "bidi"]:
        ours = json.loads((out / f"{name}.stratic.json").read_text())
        model = keras.saving.load_model(out / f"{name}.stratic.keras", compile=False)
        x = np.asarray(ours[1]["values"], dtype=np.float32).reshape(ours[1]["shape"])
        want = np.asarray(ours[0]["values"], dtype=np.float32).reshape(ours[0]["shape"])
        err = float(np.max(np.abs(np.asarray(model.predict(x, verbose=0)) - want)))
        failures += err > 1e-5
        print(f"{name}.keras (ours): max abs difference {err:.2e} {'ok' if err <= 1e-5 else 'FAILED'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main(sys.argv[1])
