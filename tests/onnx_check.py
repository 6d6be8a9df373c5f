#!/usr/bin/env python3
"""Checks stratic's ONNX files with the ONNX project's own checker and with ONNX Runtime.

    STRATIC_ONNX_DUMP=/tmp/stratic-onnx cargo test -p stratic-onnx-check
    python3 tests/onnx_check.py /tmp/stratic-onnx

The tract tests write every model they check as NAME.onnx beside NAME.json (its inputs by name
and what `predict` returned). Each file must pass `onnx.checker.check_model(full_check=True)`
(which runs ONNX's shape inference too) and, run by ONNX Runtime, agree with `predict` within
1e-5. Without onnx or onnxruntime installed (`pip install onnx onnxruntime`), the script says
so and exits 0 (1 with `--require`, as .ci/run calls it).
"""

import json
import pathlib
import sys

TOLERANCE = 1e-5


def main(argv):
    try:
        import numpy as np
        import onnx
        import onnxruntime as ort
    except ImportError as e:
        print(f"onnx_check: skipped, {e.name} is not installed (pip install onnx onnxruntime)")
        # CI passes --require: there, a missing runtime is a failure, not a skip.
        return 1 if "--require" in argv else 0
    argv = [a for a in argv if a != "--require"]
    directory = pathlib.Path(argv[1] if len(argv) > 1 else "/tmp/stratic-onnx")
    files = sorted(directory.glob("*.onnx"))
    if not files:
        print(f"onnx_check: no .onnx files in {directory}", file=sys.stderr)
        return 1
    failed = 0
    for path in files:
        case = json.loads(path.with_suffix(".json").read_text())
        model = onnx.load(str(path))
        try:
            onnx.checker.check_model(model, full_check=True)
        except Exception as e:  # the checker raises several kinds
            print(f"FAIL {path.name}: onnx.checker: {e}")
            failed += 1
            continue
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        # Ids are int32 or int64 inputs (their Keras dtype names are numpy's); the rest float32.
        dtypes = case.get("dtypes", {})
        feeds = {k: np.asarray(v, dtype=dtypes.get(k, "float32"))
                 for k, v in case["inputs"].items()}
        got = session.run(None, feeds)
        worst = 0.0
        per_output = []
        names = [o.name for o in session.get_outputs()]
        for name, g, w in zip(names, got, case["outputs"]):
            w = np.asarray(w, dtype=np.float32)
            if g.shape != w.shape:
                diff = float("inf")
            else:
                diff = float(np.max(np.abs(g - w))) if g.size else 0.0
            per_output.append(f"{name} {diff:.2e}")
            worst = max(worst, diff)
        ok = len(got) == len(case["outputs"]) and worst <= TOLERANCE
        failed += not ok
        status = "ok  " if ok else "FAIL"
        print(f"{status} {path.name}: onnx.checker passed; onnxruntime {ort.__version__} "
              f"agrees with predict within {worst:.2e}")
        if len(per_output) > 1:
            print("       per output: " + ", ".join(per_output))
    print(f"onnx_check: {len(files) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
