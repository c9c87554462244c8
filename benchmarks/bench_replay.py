"""Compiled tapes: replay speed, side by side with CasADi (when installed).

    python benchmarks/bench_replay.py [--rounds 25] [--n 1000] [--batch 10000]

Measures, in one run and interleaved round by round (the machine is shared,
so every figure is a median over rounds of a few milliseconds each, and every
ratio is taken within a round, between measurements made back to back):

  * Rosenbrock with n = 1000 written as a scalar Python loop, recorded once:
    time per value_and_grad call, per value-only call, and setup time
    (recording + compile); CasADi SX: building the expression graph and the
    Function, and calling it (value and gradient in one Function).
  * the worked example f(x) = sqrt(x² + exp(x²)) + cos(x² + exp(x²)): one
    batched call at B = 10⁴ points (ns per point), and a single-point call.

JAX and PyTorch are not installed here; their figures in the last column are
the issue's, quoted as reference, not measured by this script.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np

import tapegrad as tg
from timing import per_call

try:
    import casadi
except ImportError:  # optional peer
    casadi = None


def rosen(x):
    s = 0.0
    for i in range(len(x) - 1):
        s = s + 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2
    return s


def seed(x, exp=tg.exp, sqrt=tg.sqrt, cos=tg.cos):
    a = x ** 2
    b = exp(a)
    c = a + b
    return sqrt(c) + cos(c)


def cpu_per_call(fn: Callable[[], object], calls: int) -> float:
    """CPU seconds (all of this process's threads together) per call of fn: what
    threads cost in work, whatever else the shared machine runs meanwhile."""
    t0 = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - t0) / calls


def once(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


class Rounds:
    """Measurements taken round by round; medians and within-round ratios."""

    def __init__(self) -> None:
        self.data: dict[str, list[float]] = {}

    def add(self, name: str, seconds: float) -> None:
        self.data.setdefault(name, []).append(seconds)

    def median(self, name: str) -> float:
        return statistics.median(self.data[name])

    def ratio(self, a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(self.data[a], self.data[b]))

    def has(self, name: str) -> bool:
        return name in self.data


def casadi_setup(n: int):
    x = casadi.SX.sym("x", n)
    f = rosen([x[i] for i in range(n)])
    return casadi.Function("rosen", [x], [f, casadi.gradient(f, x)])


def casadi_seed():
    x = casadi.SX.sym("x")
    return casadi.Function("seed", [x], [seed(x, casadi.exp, casadi.sqrt, casadi.cos)])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=25)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--batch", type=int, default=10_000)
    a = p.parse_args()

    rng = np.random.default_rng(0)
    x0 = np.full(a.n, 0.5)
    xs = rng.uniform(-1, 1, a.n)
    X = rng.uniform(-1, 1, a.batch)
    X10 = rng.uniform(-1, 1, 10 * a.batch)  # threads at ten times the batch
    cf = tg.compile(rosen, x0)
    cs = tg.compile(seed, 0.5)
    if casadi is not None:
        F = casadi_setup(a.n)
        xd = casadi.DM(xs)
        S = casadi_seed()
        S_map = S.map(a.batch)
        Xrow = casadi.DM(X.reshape(1, -1))
        # Same numbers (CasADi's SX VM and our replay both evaluate libm).
        v, g = F(xd)
        tv, tgr = cf.value_and_grad(xs)
        assert abs(float(v) - tv) <= 1e-9 * abs(tv) and np.allclose(np.asarray(g).ravel(), tgr, rtol=1e-9)
        assert np.allclose(np.asarray(S_map(Xrow)).ravel(), cs(X), rtol=1e-12)

    r = Rounds()
    for _ in range(a.rounds):
        r.add("setup", once(lambda: tg.compile(rosen, x0)))
        r.add("value", per_call(lambda: cf(xs)))
        r.add("vg", per_call(lambda: cf.value_and_grad(xs)))
        r.add("batch value", per_call(lambda: cs(X)) / a.batch)
        r.add("batch vg", per_call(lambda: cs.value_and_grad(X)) / a.batch)
        r.add("batch vg 2 threads", per_call(lambda: cs.value_and_grad(X, threads=2)) / a.batch)
        r.add("batch vg cpu", cpu_per_call(lambda: cs.value_and_grad(X), 20) / a.batch)
        r.add("batch vg 2 threads cpu", cpu_per_call(lambda: cs.value_and_grad(X, threads=2), 20) / a.batch)
        r.add("big vg", per_call(lambda: cs.value_and_grad(X10)) / X10.size)
        r.add("big vg 2 threads", per_call(lambda: cs.value_and_grad(X10, threads=2)) / X10.size)
        r.add("single value", per_call(lambda: cs(0.3)))
        r.add("single vg", per_call(lambda: cs.value_and_grad(0.3)))
        if casadi is not None:
            r.add("casadi vg", per_call(lambda: F(xd)))
            r.add("vg again", per_call(lambda: cf.value_and_grad(xs)))  # beside CasADi's, for the ratio
            if len(r.data.get("casadi setup", [])) < 5:  # 0.2-0.5 s each: five are enough
                r.add("casadi setup", once(lambda: casadi_setup(a.n)))
            r.add("casadi batch value", per_call(lambda: S_map(Xrow)) / a.batch)
            r.add("casadi single value", per_call(lambda: S(0.3)))
    r.add("eager vg", per_call(lambda: tg.value_and_grad(rosen)(xs), min_seconds=0.2))

    us, ms, ns = 1e6, 1e3, 1e9
    have = casadi is not None

    def peer(name: str, scale: float, unit: str) -> str:
        return f"{r.median(name) * scale:.3g} {unit}" if have else "not installed"

    rows = [
        (f"Rosenbrock n={a.n}: value_and_grad per call", f"{r.median('vg') * us:.3g} us",
         peer("casadi vg", us, "us"), "SX 55 us, C JIT 43 us; jax.jit 1.9 ms; torch.compile 0.56 ms",
         "<= CasADi SX"),
        ("  setup: record + compile", f"{r.median('setup') * ms:.3g} ms", peer("casadi setup", ms, "ms"),
         "SX 112 ms, C JIT 9 s; jax.jit 19 s; torch.compile 112 s", "<= 5 ms"),
        ("  replay value only, per call", f"{r.median('value') * us:.3g} us", "", "", ""),
        ("  gradient / value (back to back)", f"{r.ratio('vg', 'value'):.2f}x", "", "", "<= 3x"),
        ("  eager tg.value_and_grad (records each call)", f"{r.median('eager vg') * us:.3g} us", "", "", ""),
        (f"seed example, batch B={a.batch}: value", f"{r.median('batch value') * ns:.3g} ns/point",
         peer("casadi batch value", ns, "ns/point") + (" (map)" if have else ""), "", "<= 30 ns/point"),
        ("  value_and_grad", f"{r.median('batch vg') * ns:.3g} ns/point", "", "", ""),
        ("  value_and_grad, threads=2", f"{r.median('batch vg 2 threads') * ns:.3g} ns/point", "", "", ""),
        ("  threads=1 time / threads=2 time (same round)", f"{r.ratio('batch vg', 'batch vg 2 threads'):.2f}x",
         "", "", "> 1 with a free core"),
        ("  CPU time per point (all threads), 1 / 2 threads",
         f"{r.median('batch vg cpu') * ns:.3g} / {r.median('batch vg 2 threads cpu') * ns:.3g} ns", "", "", ""),
        (f"  B={10 * a.batch}: threads=1 time / threads=2 time", f"{r.ratio('big vg', 'big vg 2 threads'):.2f}x",
         "", "", "> 1 with a free core"),
        ("seed example, single call: value", f"{r.median('single value') * ns:.0f} ns",
         peer("casadi single value", ns, "ns"), "CasADi 9.3 us; jax.jit 14 us", "<= 1 us"),
        ("  value_and_grad", f"{r.median('single vg') * ns:.0f} ns", "", "", "<= 1 us"),
    ]
    if have:
        rows.insert(6, ("  CasADi map time / tapegrad time (same round)",
                        f"{r.ratio('casadi batch value', 'batch value'):.2f}x", "", "", ""))
        rows.append(("  CasADi time / tapegrad time (same round)",
                     f"{r.ratio('casadi single value', 'single value'):.2f}x", "", "", ""))
        rows.insert(1, ("  CasADi SX time / tapegrad time (back to back)", f"{r.ratio('casadi vg', 'vg again'):.2f}x",
                        "", "", "> 1"))
    head = ("measure", "tapegrad", f"CasADi {casadi.__version__} SX (this run)" if have else "CasADi (this run)",
            "issue's reference figures (not run here)", "target")
    widths = [max(len(str(row[k])) for row in rows + [head]) for k in range(5)]
    fmt = " | ".join(f"{{:<{w}}}" for w in widths)
    print(f"Compiled tapes, medians of {a.rounds} interleaved rounds ({cf.num_nodes} nodes for Rosenbrock); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end\n")
    print(fmt.format(*head))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(fmt.format(*row))


if __name__ == "__main__":
    main()
