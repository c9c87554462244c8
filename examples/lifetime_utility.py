"""A household's consumption plan: the gradient of lifetime utility, and the optimum it leads to.

A household with wealth W lives T periods and values a consumption path c_0..c_{T-1} by

    U(c) = sum over t of beta^t * u(c_t),   u(c) = c^(1 - sigma) / (1 - sigma)   (CRRA)

subject to the budget  sum over t of c_t / (1 + r)^t = W. The gradient dU/dc_t =
beta^t * c_t^(-sigma) is what the Euler equation is made of; tapegrad computes it
from the plain Python loop for U, and scipy's SLSQP uses it to find the optimal plan.
Theory says the optimum grows at the rate (beta (1 + r))^(1/sigma) per period:

    c_t = c_0 * (beta * (1 + r))^(t / sigma),  with c_0 fixed by the budget.

The script checks tapegrad's gradient against the formula above, solves the problem
numerically and compares the plan with the closed form.

    python examples/lifetime_utility.py           # T = 60
    python examples/lifetime_utility.py --small   # T = 10 (what the test suite runs)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

import tapegrad as tg

BETA, R, SIGMA, WEALTH = 0.96, 0.03, 2.0, 100.0


def lifetime_utility(c: Sequence[float] | tg.VarArray) -> float | tg.Var:
    """U(c) for floats or tapegrad Vars."""
    total: float | tg.Var = 0.0
    for t in range(len(c)):
        total = total + BETA ** t * c[t] ** (1 - SIGMA) / (1 - SIGMA)
    return total


def closed_form_plan(T: int) -> npt.NDArray[np.float64]:
    growth = (BETA * (1 + R)) ** (np.arange(T) / SIGMA)
    discount = (1 + R) ** -np.arange(T)
    return WEALTH / float(np.sum(growth * discount)) * growth


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--small", action="store_true", help="T = 10 periods, as the test suite runs it")
    args = p.parse_args(argv)
    T = 10 if args.small else 60
    discount = (1 + R) ** -np.arange(T)

    # 1. The gradient of U at an even plan, against beta^t c_t^(-sigma).
    even = np.full(T, WEALTH / discount.sum())
    value, grad = tg.value_and_grad(lifetime_utility)(even)
    by_formula = BETA ** np.arange(T) * even ** -SIGMA
    gap = float(np.max(np.abs(grad - by_formula) / by_formula))
    print(f"T = {T}; at the even plan c_t = {even[0]:.3f}: U = {value:.6f}")
    print(f"dU/dc_t for t = 0, 1, 2: {grad[:3].round(6).tolist()}; largest relative gap to beta^t c_t^-sigma: {gap:.1e}")

    # 2. Maximise U subject to the budget (minimise -U), with tapegrad's gradient.
    neg_value_and_grad = tg.value_and_grad(lambda c: -lifetime_utility(c))
    res = minimize(neg_value_and_grad, even, jac=True, method="SLSQP",
                   bounds=[(1e-6, None)] * T,
                   constraints=[{"type": "eq", "fun": lambda c: discount @ c - WEALTH, "jac": lambda c: discount}],
                   options={"ftol": 1e-14, "maxiter": 500})
    exact = closed_form_plan(T)
    worst = float(np.max(np.abs(res.x - exact) / exact))
    print(f"\nSLSQP: {res.message} after {res.nit} iterations, {res.nfev} evaluations of U and its gradient")
    print(f"{'t':>3} {'optimal c_t (SLSQP)':>20} {'closed form':>12}")
    for t in sorted({0, 1, T // 2, T - 1}):
        print(f"{t:>3} {res.x[t]:>20.5f} {exact[t]:>12.5f}")
    print(f"largest relative difference from the closed form: {worst:.1e}")

    # The example checks itself, so the test suite notices if it ever stops being true.
    if gap > 1e-13 or not res.success or worst > 1e-4:
        sys.exit(f"checks failed: gradient gap {gap:.1e}, success {res.success}, plan gap {worst:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
