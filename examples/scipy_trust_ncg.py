"""Minimise the Rosenbrock function with scipy's trust-region Newton-CG,
using a compiled tape for the value, the gradient and Hessian-vector products.

    python examples/scipy_trust_ncg.py [n]

The function is an ordinary Python loop over scalars. tapegrad records it
once; every evaluation scipy asks for is then a replay in C++: no Python runs
per call except the thin wrapper.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from scipy.optimize import minimize

import tapegrad as tg


def rosen(x: tg.VarArray) -> tg.Var:
    s: tg.Var | float = 0.0
    for i in range(len(x) - 1):
        s = s + 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2
    assert isinstance(s, tg.Var)
    return s


def main(n: int = 100) -> None:
    x0 = np.full(n, -1.2)
    x0[1::2] = 1.0
    t0 = time.perf_counter()
    cf = tg.compile(rosen, x0)
    t1 = time.perf_counter()
    result = minimize(cf.value_and_grad, x0, jac=True, hessp=cf.hvp, method="trust-ncg")
    t2 = time.perf_counter()
    print(f"n = {n}: recorded {cf.num_nodes} nodes in {1e3 * (t1 - t0):.1f} ms")
    print(f"trust-ncg: {result.message} after {result.nit} iterations, {result.nfev} values, "
          f"{result.njev} gradients, {result.nhev} Hessian-vector products, {1e3 * (t2 - t1):.1f} ms")
    print(f"f = {result.fun:.3e}, max |x - 1| = {np.abs(result.x - 1).max():.3e}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
