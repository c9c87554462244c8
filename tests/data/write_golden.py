"""Write golden saved tapes with the tapegrad that is installed (tests/test_file_format.py
loads them with today's code).

Run it with the build that writes the format wanted, e.g. for format 1 a worktree of the
last commit that wrote it, in its own venv:

    git worktree add --detach /work/wt/old-v1b c8773a0
    python -m venv --system-site-packages /venv-old && . /venv-old/bin/activate
    cd /work/wt/old-v1b && pip install --no-build-isolation -e .
    python tests/data/write_golden.py TAG      # from any checkout: this file is self-contained

Each case gives `format<V>_<TAG>_<name>.tape` and a JSON beside it: the function's
source, its example arguments, the inputs tried and what that build computed there
(value and gradient; or the error a changed branch raised), and the build's commit.
"""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys

import numpy as np
import tapegrad as tg

HERE = os.path.dirname(os.path.abspath(__file__))

# name: (source, example args, inputs, needs array entries, compile options)
CASES = {
    # scalar ops, the reproducer of the op-table shift
    "unary_chain": ("lambda x: tg.tanh(tg.sqrt(tg.sin(x)))", [0.7], [[0.7], [1.1], [0.3]], False, {}),
    # binary ops, with constants on either side
    "binary": ("lambda x, y: tg.hypot(x, y) * 2.0 + x / y - tg.maximum(x, 3.0 - y) + x ** 2 + tg.arctan2(y, x)",
               [0.4, 1.3], [[0.4, 1.3], [1.5, 0.8], [-0.7, 2.0]], False, {}),
    "many_unary": ("lambda x: tg.exp(x) + tg.log1p(x) + tg.cbrt(x) + tg.erf(x) + tg.sigmoid(x) + tg.softplus(x)"
                   " + tg.arcsinh(x) + tg.cos(x) * tg.sinh(x) + tg.floor(x) + abs(x) - x",
                   [0.6], [[0.6], [2.2], [0.05]], False, {}),
    # a comparison: the recorded branch is checked at every call
    "branch": ("lambda x: x * x * 3.0 if x > 0.5 else tg.exp(x)", [1.0], [[1.0], [2.5], [0.2]], False, {}),
    "branch_debug": ("lambda x: x * x * 3.0 if x > 0.5 else tg.exp(x)", [1.0], [[1.0], [0.2]], False,
                     {"debug": True}),
    # array entries of every kind (format 2 on)
    "elementwise": ("lambda x: tg.sum(tg.sin(x) * 2.0 + x * x)", [[0.1, 0.5, 0.9, 1.3]],
                    [[[0.1, 0.5, 0.9, 1.3]], [[-1.0, 0.0, 2.0, 0.3]]], True, {"fusion": False}),
    "fused": ("lambda x: tg.sum(tg.sin(x) * 2.0 + x * x)", [[0.1, 0.5, 0.9, 1.3]],
              [[[0.1, 0.5, 0.9, 1.3]], [[-1.0, 0.0, 2.0, 0.3]]], True, {}),
    "reduce": ("lambda x: tg.max(x) + tg.sum(x) * tg.prod(x)", [[0.1, 0.5, 0.9, 1.3]],
               [[[0.1, 0.5, 0.9, 1.3]], [[2.0, 0.5, 0.9, 1.3]]], True, {}),
    "gather_cumsum": ("lambda x: tg.sum(tg.cumsum(x)[[3, 0, 1]] * np.array([1.0, 2.0, 3.0]))",
                      [[0.1, 0.5, 0.9, 1.3]], [[[0.1, 0.5, 0.9, 1.3]], [[-1.0, 4.0, 0.0, 2.0]]], True, {}),
    "matmul": ("lambda x: tg.sum((x.reshape(2, 2) @ np.array([[1.0, -2.0], [0.5, 3.0]])) ** 2)",
               [[0.1, 0.5, 0.9, 1.3]], [[[0.1, 0.5, 0.9, 1.3]], [[-1.0, 4.0, 0.0, 2.0]]], True, {}),
    "dense": ("lambda x: tg.sum(tg.nn.dense(x.reshape(2, 2), np.array([[1.0, -2.0, 0.3], [0.5, 3.0, 1.0]]),"
              " np.array([0.1, 0.2, 0.3]), 'tanh'))",
              [[0.1, 0.5, 0.9, 1.3]], [[[0.1, 0.5, 0.9, 1.3]], [[-1.0, 4.0, 0.0, 2.0]]], True, {}),
}


def arg(a):
    return np.array(a, dtype=float) if isinstance(a, list) else float(a)


def plain(v):
    return np.asarray(v, dtype=float).tolist()


def main(tag: str) -> None:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                            cwd=os.path.dirname(tg.__file__)).stdout.strip()
    for name, (source, example, inputs, arrays, options) in CASES.items():
        options = dict(options)
        fusion = options.pop("fusion", True)
        f = eval(source, {"tg": tg, "np": np})
        set_fusion = getattr(getattr(tg, "_array", None), "_set_fusion", None)
        if not fusion and set_fusion is None:
            print(f"skip {name}: this build has no fusion switch")
            continue
        if not fusion:
            set_fusion(False)
        try:
            cf = tg.compile(f, *map(arg, example), **options)
        except Exception as e:  # an older build without array entries in compile
            if arrays:
                print(f"skip {name}: {type(e).__name__}: {e}")
                continue
            raise
        finally:
            if not fusion:
                set_fusion(True)
        data = cf.to_bytes()
        version = struct.unpack("<I", data[8:12])[0]
        results = []
        for x in inputs:
            args = [arg(a) for a in x]
            try:
                value, grad = cf.value_and_grad(*args)
                results.append({"input": x, "value": plain(value),
                                "grad": [plain(g) for g in (grad if len(args) > 1 else (grad,))]})
            except ValueError as e:
                results.append({"input": x, "error": type(e).__name__, "message": str(e)})
        stem = f"format{version}_{tag}_{name}"
        with open(os.path.join(HERE, stem + ".tape"), "wb") as fh:
            fh.write(data)
        with open(os.path.join(HERE, stem + ".json"), "w") as fh:
            json.dump({"format": version, "written_by": commit, "source": source, "example_args": example,
                       "compile_options": options, "fusion": fusion, "results": results}, fh, indent=1)
            fh.write("\n")
        print("wrote", stem)


if __name__ == "__main__":
    main(sys.argv[1])
