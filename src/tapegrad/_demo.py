"""The talk's worked example, computed and explained (``python -m tapegrad``).

f(x) = √(x² + exp(x²)) + cos(x² + exp(x²)) is split into intermediate variables
a = x², b = exp(a), c = a + b, d = √c, e = cos c, f = d + e. The demo records
it, prints the variables and the reverse sweep's adjoints with the chain rule
behind each, compares f'(x) by four methods (manual, numerical, symbolic,
automatic), and draws the graph and the finite-difference error plot when
Graphviz and matplotlib are installed. Only numpy and tapegrad are required:
sympy (symbolic derivative, and mpmath for a 40-digit reference), matplotlib
and graphviz are optional, and each missing one is named with how to get it.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad._dot import formula

FUNCTION = "f(x) = √(x² + exp(x²)) + cos(x² + exp(x²))"
EPS = sys.float_info.epsilon


def seed_example(x: tg.Var) -> dict[str, tg.Var]:
    """The talk's intermediates a..f of f at the Var x, by name."""
    a = x ** 2
    b = tg.exp(a)
    c = a + b
    d = tg.sqrt(c)
    e = tg.cos(c)
    f = d + e
    return {"x": x, "a": a, "b": b, "c": c, "d": d, "e": e, "f": f}


def f_plain(x: float) -> float:
    """f on floats with the math module: all that numerical differentiation needs."""
    c = x * x + math.exp(x * x)
    return math.sqrt(c) + math.cos(c)


def f_tapegrad(x: tg.Var) -> tg.Var:
    """f as tapegrad differentiates it."""
    return seed_example(x)["f"]


def hand_derived(x: Any, m: Any = math) -> Any:
    """f'(x) by the chain rule on paper: (1/(2√c) − sin c) · (1 + e^{x²}) · 2x
    with c = x² + e^{x²}; ``m`` is math, or mpmath for many digits."""
    ex2 = m.exp(x * x)
    c = x * x + ex2
    return (1 / (2 * m.sqrt(c)) - m.sin(c)) * (1 + ex2) * 2 * x


def time_per_call(fn: Callable[[], Any], target: float = 0.01, repeats: int = 5) -> float:
    """Median seconds per call of ``fn()``, over ``repeats`` loops of ≥ ``target`` s each."""
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


def forward_difference(f: Callable[[float], float], x: float, h: float) -> float:
    return (f(x + h) - f(x)) / h


def central_difference(f: Callable[[float], float], x: float, h: float) -> float:
    return (f(x + h) - f(x - h)) / (2 * h)


def best_steps(x: float) -> tuple[float, float]:
    """The usual steps balancing truncation against round-off: √ε·s for forward
    and ∛ε·s for central differences, s = max(1, |x|)."""
    s = max(1.0, abs(x))
    return math.sqrt(EPS) * s, EPS ** (1 / 3) * s


def _fmt_time(seconds: float) -> str:
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    return f"{seconds * 1e3:.2f} ms"


def _optional(module: str) -> Any:
    """The module, or None when it is not installed (the demo then says so)."""
    try:
        return __import__(module)
    except ImportError:
        return None


def exact_derivative(x: float) -> tuple[float, str]:
    """The reference f'(x) and where it comes from: the hand-derived formula in
    40-digit arithmetic with mpmath, else in double precision."""
    mpmath = _optional("mpmath")
    if mpmath is None:
        return hand_derived(x), ("the hand-derived formula in double precision; install sympy (it brings "
                                 "mpmath) for a 40-digit reference")
    with mpmath.workdps(40):
        return float(hand_derived(mpmath.mpf(x), mpmath)), "the hand-derived formula in 40-digit mpmath arithmetic"


def print_variables(table: tg.NodeTable, label: Callable[[int], str]) -> None:
    print("1. The function split into intermediate variables (one tape node each)")
    for r in table:
        rhs = "input" if r.op == "input" else formula(r, label)
        print(f"     {label(r.index)} = {rhs:<8} = {r.value!r}")


def print_sweep(table: tg.NodeTable, label: Callable[[int], str], out: int) -> None:
    """Each adjoint as the talk writes it: the sum over children j of ∂f/∂j · ∂j/∂v."""
    f = label(out)
    print("\n2. The reverse sweep: each variable's adjoint ∂f/∂v, in the order the sweep computes them")
    print(f"   It starts from ∂{f}/∂{f} = 1; every other adjoint is the sum over the variable's children j")
    print(f"   of ∂{f}/∂j · ∂j/∂v (∂j/∂v is the local partial the tape stored when j was recorded).")
    rows = {r.index: r for r in table}
    children: dict[int, list[tuple[int, float]]] = {i: [] for i in rows}
    for r in table:
        for p, d in zip(r.parents, r.partials):
            children[p].append((r.index, d))
    lines = []
    for i in sorted((i for i in rows if i <= out), reverse=True):
        v = label(i)
        if i == out:
            lines.append((f"∂{f}/∂{v}", "the seed", "1", rows[i].adjoint))
            continue
        terms = children[i]
        symbolic = " + ".join(f"∂{f}/∂{label(j)}·∂{label(j)}/∂{v}" for j, _ in terms) or "no path to the output"
        numeric = " + ".join(f"{_paren(rows[j].adjoint)} × {_paren(d)}" for j, d in terms) or "0"
        lines.append((f"∂{f}/∂{v}", symbolic, numeric, rows[i].adjoint))
    w1 = max(len(s) for _, s, _, _ in lines)
    w2 = max(len(n) for _, _, n, _ in lines)
    for lhs, symbolic, numeric, adj in lines:
        print(f"     {lhs} = {symbolic:<{w1}} = {numeric:<{w2}} = {adj!r}")


def _paren(x: float) -> str:
    return f"({x:.6g})" if x < 0 else f"{x:.6g}"


def compare_methods(x: float) -> tuple[list[tuple[str, float, float, str]], str]:
    """f'(x) by each method: (method, value, seconds per evaluation, note)."""
    h_fwd, h_ctr = best_steps(x)
    rows = [
        ("manual: the chain rule on paper", hand_derived(x), time_per_call(lambda: hand_derived(x)), ""),
        (f"numerical: forward difference, h = {h_fwd:.1e}", forward_difference(f_plain, x, h_fwd),
         time_per_call(lambda: forward_difference(f_plain, x, h_fwd)), ""),
        (f"numerical: central difference, h = {h_ctr:.1e}", central_difference(f_plain, x, h_ctr),
         time_per_call(lambda: central_difference(f_plain, x, h_ctr)), ""),
    ]
    sympy = _optional("sympy")
    symbolic_note = "symbolic: not shown — install sympy (pip install sympy) to compare sympy.diff"
    if sympy is not None:
        X = sympy.Symbol("x")
        t0 = time.perf_counter()
        c = X ** 2 + sympy.exp(X ** 2)
        derivative = sympy.diff(sympy.sqrt(c) + sympy.cos(c), X)
        fn = sympy.lambdify(X, derivative, modules="math")
        once = time.perf_counter() - t0
        rows.append(("symbolic: sympy.diff, lambdified", float(fn(x)), time_per_call(lambda: fn(x)),
                     f"+ {_fmt_time(once)} once, to differentiate and compile"))
        symbolic_note = f"sympy's f'(x) = {sympy.sstr(derivative)}"
    grad = tg.grad(f_tapegrad)
    rows.append(("automatic: tapegrad.grad (reverse mode)", grad(x), time_per_call(lambda: grad(x)),
                 "records the tape and sweeps, every call"))
    return rows, symbolic_note


def fd_errors(x: float, exact: float, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """|error| of forward and central differences at each step h."""
    fwd = np.array([abs(forward_difference(f_plain, x, h) - exact) for h in steps])
    ctr = np.array([abs(central_difference(f_plain, x, h) - exact) for h in steps])
    return fwd, ctr


def print_methods(x: float, exact: float, source: str) -> float:
    rows, symbolic_note = compare_methods(x)
    print(f"\n3. f'({x}) by four methods, each against the exact value {exact!r}")
    print(f"   (the exact value is {source})")
    w = max(len(r[0]) for r in rows)
    print(f"     {'method':<{w}}  {'f′(x)':>22}  {'error':>8}  {'time per evaluation':>19}")
    for method, value, seconds, note in rows:
        print(f"     {method:<{w}}  {value!r:>22}  {abs(value - exact):>8.1e}  {_fmt_time(seconds):>19}  {note}".rstrip())
    print(f"   {symbolic_note}")
    print("   Times are medians of 5 loops on this machine; each method evaluates f′ at one point.")
    steps = 10.0 ** -np.arange(1, 16, 2)
    fwd, ctr = fd_errors(x, exact, steps)
    print("\n   Error of the difference quotients against the step h: truncation error shrinks with h")
    print("   (∝ h forward, ∝ h² central) until round-off, ∝ ε/h, takes over:")
    print(f"     {'h':>7}  {'forward':>9}  {'central':>9}")
    for h, a, b in zip(steps, fwd, ctr):
        print(f"     {h:>7.0e}  {a:>9.1e}  {b:>9.1e}")
    return rows[-1][1]


def plot_fd_error(x: float, exact: float, auto_error: float, path: Path) -> str:
    """Log–log plot of the finite-difference error against h; the note to print."""
    if _optional("matplotlib") is None:
        return "fd_error.png not drawn: install matplotlib (pip install matplotlib) for the error plot"
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    steps = np.logspace(-16, 0, 161)
    fwd, ctr = fd_errors(x, exact, steps)
    floor = 1e-17  # an error of exactly 0 cannot sit on a log axis: it is drawn here
    h_fwd, h_ctr = best_steps(x)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.loglog(steps, np.maximum(fwd, floor), label="forward difference (f(x+h) − f(x)) / h")
    ax.loglog(steps, np.maximum(ctr, floor), label="central difference (f(x+h) − f(x−h)) / 2h")
    ax.axhline(max(auto_error, floor), color="k", ls=":", label=f"automatic (tapegrad): error {auto_error:.1e}")
    for h, name in ((h_fwd, "√ε"), (h_ctr, "∛ε")):
        ax.axvline(h, color="grey", lw=0.8, ls="--")
        ax.text(h, 1e1, f" h = {name}", color="grey", fontsize=8, va="top")
    ax.text(1e-14, 1e-7, "round-off\n∝ ε / h", fontsize=9, ha="center")
    ax.text(3e-2, 1e-9, "truncation\n∝ h, h²", fontsize=9, ha="center")
    ax.set_xlabel("step h")
    ax.set_ylabel(f"|error of f′({x})|")
    ax.set_ylim(1e-22, 1e2)  # room below the curves for the legend
    ax.set_title(f"Finite differences of {FUNCTION}")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return f"{path}  the error of finite differences against the step h (log–log)"


def draw_graph(dot: tg.Dot, folder: Path) -> list[str]:
    """Write the DOT text, and the picture when Graphviz is there; the notes to print."""
    notes = [f"{dot.render(folder / 'graph.dot')}  the computational graph as Graphviz DOT text"]
    try:
        notes.append(f"{dot.render(folder / 'graph.png')}  the computational graph, drawn by Graphviz")
    except tg.GraphvizUnavailableError as e:
        notes.append(f"graph.png not drawn: {e}".replace("\n", "\n   "))
    return notes


def run(x0: float, out: Path | None) -> int:
    """The whole demo at x = x0, writing pictures into ``out`` (None: nothing written)."""
    print(f"tapegrad: the worked example {FUNCTION}, at x = {x0}\n")
    with tg.Tape() as tape:
        v = seed_example(tape.var(x0))
        table = tape.nodes(v["f"], names=v)
        names = {r.index: r.name for r in table}

        def label(i: int) -> str:
            return names.get(i) or f"v{i}"

        print_variables(table, label)
        print_sweep(table, label, v["f"].index)
        dot = tape.to_dot(v["f"], names=v) if out is not None else None
    exact, source = exact_derivative(x0)
    auto = print_methods(x0, exact, source)
    print("\n4. Pictures")
    if out is None or dot is None:  # (dot is None exactly when out is)
        print("   none written (--no-files)")
        return 0
    try:
        out.mkdir(parents=True, exist_ok=True)
        notes = [*draw_graph(dot, out), plot_fd_error(x0, exact, abs(auto - exact), out / "fd_error.png")]
    except OSError as e:
        print(f"   could not write the pictures into {out}: {e}. Choose another folder with --out DIR, "
              "or --no-files.", file=sys.stderr)
        return 1
    for note in notes:
        print(f"   {note}")
    return 0
