"""The benchmark script cannot rot: `benchmarks/run.py --quick` runs here, and every
tapegrad variant it runs must match its workload's reference gradient."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "benchmarks")
WORKLOADS = ("W1", "W2-loop", "W2-numpy", "W3", "W4", "W5")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    p = subprocess.run([sys.executable, os.path.join(BENCH, "run.py"), "--quick", "--no-plots", "--out", str(out)],
                       capture_output=True, text=True, timeout=600, cwd=ROOT)
    with open(out / "results.json") as f:
        return p, json.load(f), (out / "results.md").read_text()


def test_quick_run_succeeds_and_prints_every_workload(quick_run):
    p, _, md = quick_run
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "## Environment" in p.stdout
    for key in WORKLOADS:
        assert f"### {key}: " in p.stdout and f"#### {key}: " in md


def test_every_tapegrad_variant_ran_with_the_right_gradient_or_says_why_not(quick_run):
    _, data, _ = quick_run
    rows = data["rows"]
    tapegrad = [r for r in rows if r["tool"] == "tapegrad"]
    assert tapegrad
    for r in tapegrad:
        if r["status"] == "skipped":
            # only a feature that is not in this build may keep a tapegrad variant from running
            assert r["size"] == 0 and ("not in this build" in r["reason"] or "has no" in r["reason"]), r
        else:
            assert r["status"] == "ok", r
            assert r["data"]["grad_err"] <= data["gradient_tolerance"], r
            assert r["data"]["times"] if "times" in r["data"] else r["data"]["sweep_times"]
    ran = {r["workload"] for r in tapegrad if r["status"] == "ok"}
    assert {"W1", "W2-loop", "W3", "W4", "W5"} <= ran  # these need no unmerged feature


def test_quick_run_leaves_peers_out_with_a_reason(quick_run):
    _, data, _ = quick_run
    peers = [r for r in data["rows"] if r["tool"] not in ("tapegrad", "python", "numpy")]
    assert peers and all(r["status"] == "skipped" and r["reason"] for r in peers)


def test_dag_reference_gradient_is_an_independent_check():
    sys.path.insert(0, BENCH)
    try:
        import tapegrad as tg
        from dag import make_program, reference_gradient, run_program
    finally:
        sys.path.remove(BENCH)
    prog = make_program(600, seed=3)
    assert prog.n_nodes in (600, 601)
    value, grad = reference_gradient(prog)
    tape = tg.Tape()
    x = tape.vars(prog.inputs)
    out = run_program(prog, x, tg.sin, tg.exp, tg.tanh)
    assert tape.num_nodes - 8 == prog.n_nodes  # the program counts every node the tape records
    np.testing.assert_allclose(out.value, value, rtol=1e-13)
    np.testing.assert_allclose(tape.gradient(out, x), grad, rtol=1e-10, atol=1e-14 * np.abs(grad).max())
    # and the reference itself agrees with central differences along a random direction
    d = np.random.default_rng(0).standard_normal(prog.inputs.size)
    h = 1e-6

    def f(inputs):
        import math
        return run_program(prog, list(inputs), math.sin, math.exp, math.tanh)

    fd = (f(prog.inputs + h * d) - f(prog.inputs - h * d)) / (2 * h)
    assert abs(fd - grad @ d) <= 1e-6 * max(1.0, abs(fd))
