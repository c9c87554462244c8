"""The README's first example, typed: gradients of plain Python functions.

    python examples/quickstart.py
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

import tapegrad as tg


def f(x: tg.Var) -> tg.Var:
    """The worked example f(x) = sqrt(x² + exp(x²)) + cos(x² + exp(x²))."""
    a = x**2
    b = tg.exp(a)
    c = a + b
    return tg.sqrt(c) + tg.cos(c)


def rosen(x: tg.VarArray) -> tg.Var:
    """Rosenbrock's function, as an ordinary Python loop over the elements."""
    s: tg.Var = x[0] * 0.0
    for i in range(len(x) - 1):
        s = s + 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2
    return s


def main() -> None:
    value, slope = tg.value_and_grad(f)(0.5)
    print(f"f(0.5) = {value:.15g}, f'(0.5) = {slope:.15g}")

    g: npt.NDArray[np.float64] = tg.grad(rosen)(np.full(1000, 0.5))
    print(f"rosenbrock gradient: shape {g.shape}, first entries {g[:3]}")

    with tg.Tape() as tape:  # the explicit way: record, then sweep
        x = tape.var(0.5)
        y = f(x)
        print(f"tape: {tape.num_nodes} nodes, dy/dx = {tape.gradient(y, x):.15g}")


if __name__ == "__main__":
    main()
