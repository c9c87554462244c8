"""Compiled replay of array tapes vs eager tapegrad, side by side in one run.

    python benchmarks/bench_replay_arrays.py [--rounds 11] [--quick]

Each round times, back to back, eager ``tg.value_and_grad(f)(x)`` (record the
tape in Python, sweep) and the compiled ``cf.value_and_grad(x)`` (replay the
recorded array entries in C++: no Python at all per call), for:

  * the numpy-style extended Rosenbrock
    ``(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2).sum()`` at n = 10^4 and 10^6;
  * the issue-5 MLP training step 64 -> H -> H -> 1, tanh, batch 256, MSE,
    gradient with respect to all weights and biases, at H = 32 and 256.

Figures are medians over rounds, and the ratio eager / compiled is the median
of within-round ratios (the machine is shared). OPENBLAS_NUM_THREADS defaults
to 1 here (one thread, as issue 5 asks). Setup is the median of three
tg.compile calls after one eager call (a process's first recording also pages
in the tape's memory, which is not what compile costs). Both results are checked
against each other before timing. One thread (threads=1) throughout.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

# One BLAS thread, as issue 5's training-step benchmark (set before numpy loads
# OpenBLAS); on a shared 2-core machine two threads make every GEMM time erratic.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import tapegrad as tg  # noqa: E402
from timing import per_call  # noqa: E402


def rosenbrock(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def mlp_case(hidden: int, rng: np.random.Generator):
    model = tg.nn.MLP([64, hidden, hidden, 1], activation="tanh", seed=0)
    X = rng.normal(size=(256, 64))
    y = rng.normal(size=(256, 1))
    leaves = [p for layer in model.params for p in (layer["W"], layer["b"])]

    def loss(*flat):
        params = [{"W": flat[2 * k], "b": flat[2 * k + 1]} for k in range(len(flat) // 2)]
        return tg.nn.mse(tg.nn.mlp(params, X), y)

    return loss, leaves


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=11)
    p.add_argument("--quick", action="store_true", help="small sizes and 2 rounds (a smoke test)")
    args = p.parse_args()
    rng = np.random.default_rng(0)
    rounds = 2 if args.quick else args.rounds
    min_seconds = 0.002 if args.quick else 0.05

    cases: list[tuple[str, Callable[..., object], list[np.ndarray]]] = []
    for n in ((1000,) if args.quick else (10_000, 1_000_000)):
        cases.append((f"Rosenbrock numpy-style, n = {n:,}", rosenbrock, [rng.normal(size=n)]))
    for h in ((32,) if args.quick else (32, 256)):
        loss, leaves = mlp_case(h, rng)
        cases.append((f"MLP step 64-{h}-{h}-1 tanh, B = 256", loss, leaves))

    print(f"tapegrad {tg.__version__}: compiled replay vs eager value_and_grad, {rounds} rounds, one thread "
          f"(OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']})\n")
    print(f"| case | setup (record + compile) | eager value_and_grad | compiled value_and_grad | eager / compiled |")
    print("|---|---:|---:|---:|---:|")
    for name, f, xs in cases:
        argnums = tuple(range(len(xs)))
        eager = tg.value_and_grad(f, argnums=argnums)
        v_e, g_e = eager(*xs)  # first: the tape's memory is then paged in for both
        setups = []
        for _ in range(3):
            t0 = time.perf_counter()
            cf = tg.compile(f, *xs)
            setups.append(time.perf_counter() - t0)
        setup = statistics.median(setups)
        v_c, g_c = cf.value_and_grad(*xs)
        g_c = g_c if isinstance(g_c, tuple) else (g_c,)
        err = max(float(np.max(np.abs(a - b))) for a, b in zip(g_e, g_c))
        assert abs(float(v_e) - v_c) <= 1e-9 * max(1.0, abs(v_c)) and err <= 1e-9 * max(1.0, abs(v_c)), (name, err)
        times_e, times_c = [], []
        for _ in range(rounds):
            times_e.append(per_call(lambda: eager(*xs), min_seconds))
            times_c.append(per_call(lambda: cf.value_and_grad(*xs), min_seconds))
        ratio = statistics.median(e / c for e, c in zip(times_e, times_c))
        fmt = lambda s: f"{s * 1e3:.3f} ms" if s >= 1e-3 else f"{s * 1e6:.1f} us"  # noqa: E731
        print(f"| {name} | {fmt(setup)} | {fmt(statistics.median(times_e))} | "
              f"{fmt(statistics.median(times_c))} | {ratio:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
