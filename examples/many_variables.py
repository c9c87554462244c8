"""Four ways to get the gradient of a function of n variables, and what each costs as n grows.

The function is the extended Rosenbrock function, written as a plain Python loop:

    f(x) = sum over i < n-1 of 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2

- manual:    the gradient derived by hand (rosen_grad_by_hand below); fast, but
             someone has to derive, code and maintain it.
- numerical: forward differences perturb one variable at a time: n + 1 evaluations
             of f, so the cost grows like n x cost(f); and the error is ~1e-8.
- symbolic:  sympy differentiates the n-term expression once per variable and
             compiles the result; that one-off cost grows quickly with n.
- automatic: tapegrad records one evaluation of f and sweeps the tape once, for
             all n partial derivatives: a constant multiple of cost(f), whatever n.

For each n the script prints the time per gradient, as a multiple of one evaluation
of f (measured side by side, medians), and each method's largest relative difference
from the hand-derived gradient. Run:

    python examples/many_variables.py            # n = 10, 100, 1000
    python examples/many_variables.py --small    # n = 5, 20 (what the test suite runs)

sympy is optional (the symbolic column is skipped without it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import overload

import numpy as np
import numpy.typing as npt

import tapegrad as tg


@overload
def rosen(x: Sequence[float]) -> float: ...
@overload
def rosen(x: tg.VarArray) -> tg.Var: ...
def rosen(x: Sequence[float] | tg.VarArray) -> float | tg.Var:
    """f on anything that supports + - * **: floats, tapegrad Vars, sympy symbols."""
    s: float | tg.Var = 0.0
    for i in range(len(x) - 1):
        s = s + 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2
    return s


def rosen_grad_by_hand(x: Sequence[float]) -> list[float]:
    """The manual method: ∂f/∂x[i] worked out on paper."""
    g = [0.0] * len(x)
    for i in range(len(x) - 1):
        r = x[i + 1] - x[i] ** 2
        g[i] += -400 * x[i] * r - 2 * (1 - x[i])
        g[i + 1] += 200 * r
    return g


def forward_differences(f: Callable[[list[float]], float], x: Sequence[float], h: float = 1.5e-8) -> list[float]:
    """The numerical method: n + 1 evaluations of f."""
    x = list(x)
    fx = f(x)
    g = []
    for i in range(len(x)):
        xi = x[i]
        x[i] = xi + h
        g.append((f(x) - fx) / h)
        x[i] = xi
    return g


def symbolic_gradient(n: int) -> tuple[Callable[[list[float]], list[float]], float]:
    """The symbolic method: differentiate once (returns the compiled gradient and the seconds it took)."""
    import sympy

    t0 = time.perf_counter()
    xs = sympy.symbols(f"x0:{n}")
    expr = rosen(xs)
    compiled = sympy.lambdify([xs], [sympy.diff(expr, v) for v in xs], modules="math")
    return compiled, time.perf_counter() - t0


def seconds_per_call(fn: Callable[[], object], target: float = 0.02, repeats: int = 3) -> float:
    """Median seconds per call of fn(), over `repeats` loops of at least `target` seconds."""
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - t0 >= target:
            break
        n *= 4
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - t0) / n)
    return statistics.median(samples)


def max_rel_diff(g: npt.ArrayLike, ref: npt.ArrayLike) -> float:
    g, ref = np.asarray(g, dtype=float), np.asarray(ref, dtype=float)
    return float(np.max(np.abs(g - ref)) / np.max(np.abs(ref)))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--small", action="store_true", help="small sizes only (n = 5, 20), as the test suite runs it")
    args = p.parse_args(argv)
    sizes = (5, 20) if args.small else (10, 100, 1000)
    symbolic_up_to = 100  # sympy needs seconds at n = 100 and grows roughly like n^2
    try:
        import sympy  # noqa: F401
        have_sympy = True
    except ImportError:
        have_sympy = False
        print("(sympy is not installed: the symbolic column is skipped; pip install sympy)")

    grad = tg.grad(rosen)
    print("time per gradient as a multiple of one evaluation of f (and the largest relative")
    print("difference from the hand-derived gradient); one evaluation of f is the first column\n")
    print(f"{'n':>5}  {'f(x) once':>10}  {'manual':>16}  {'numerical (fwd)':>18}  {'symbolic':>18}  "
          f"{'automatic':>18}  symbolic: one-off diff+compile")
    worst: dict[str, float] = {}
    for n in sizes:
        x = list(np.random.default_rng(n).uniform(-1, 1, n))
        xa = np.array(x)
        ref = rosen_grad_by_hand(x)
        t_f = seconds_per_call(lambda: rosen(x))
        cells: dict[str, tuple[float, float]] = {}
        for method, fn in (("manual", lambda: rosen_grad_by_hand(x)),
                           ("numerical", lambda: forward_differences(rosen, x)),
                           ("automatic", lambda: grad(xa))):
            cells[method] = (seconds_per_call(fn) / t_f, max_rel_diff(fn(), ref))
        once = ""
        if have_sympy and n <= symbolic_up_to:
            compiled, once_s = symbolic_gradient(n)
            cells["symbolic"] = (seconds_per_call(lambda: compiled(x)) / t_f, max_rel_diff(compiled(x), ref))
            once = f"{once_s * 1e3:.0f} ms"
        elif have_sympy:
            once = f"skipped above n = {symbolic_up_to}"

        def cell(method: str) -> str:
            if method not in cells:
                return "-"
            ratio, diff = cells[method]
            worst[method] = max(worst.get(method, 0.0), diff)
            return f"{ratio:7.1f}x ({diff:.0e})"

        print(f"{n:>5}  {t_f * 1e6:>8.1f}µs  {cell('manual'):>16}  {cell('numerical'):>18}  "
              f"{cell('symbolic'):>18}  {cell('automatic'):>18}  {once}")

    print("\nnumerical differences cost about n + 1 evaluations of f; reverse mode's cost stays a few")
    print("evaluations whatever n, and agrees with the hand-derived gradient to rounding.")
    # The example checks itself, so the test suite notices if it ever stops being true.
    if worst["automatic"] > 1e-13 or worst["numerical"] > 1e-5 or worst.get("symbolic", 0.0) > 1e-13:
        sys.exit(f"unexpected differences from the hand-derived gradient: {worst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
