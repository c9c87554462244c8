"""python -m tapegrad: the talk's worked example, computed and explained.

f(x) = sqrt(x² + exp(x²)) + cos(x² + exp(x²)), split into the intermediate
variables a = x², b = exp(a), c = a + b, d = √c, e = cos c, f = d + e.
"""

from __future__ import annotations

import argparse
import math
import sys

import tapegrad as tg


def seed_example(x: tg.Var) -> dict[str, tg.Var]:
    """Record the worked example on x and return its intermediates by name."""
    a = x ** 2
    b = tg.exp(a)
    c = a + b
    d = tg.sqrt(c)
    e = tg.cos(c)
    f = d + e
    return {"x": x, "a": a, "b": b, "c": c, "d": d, "e": e, "f": f}


def hand_derived(x: float) -> float:
    """df/dx by the chain rule on paper: (1/(2√c) − sin c) · (1 + e^{x²}) · 2x."""
    c = x * x + math.exp(x * x)
    return (0.5 / math.sqrt(c) - math.sin(c)) * (1 + math.exp(x * x)) * 2 * x


FORMULAS = {"x": "input", "a": "x²", "b": "exp(a)", "c": "a + b", "d": "√c", "e": "cos c", "f": "d + e"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tapegrad", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--x", type=float, default=0.5, help="the point x at which to differentiate (default 0.5)")
    p.add_argument("--cmakedir", action="store_true", help="print the CMake package dir (for -Dtapegrad_DIR) and exit")
    p.add_argument("--includedir", action="store_true", help="print the C++ header dir and exit")
    args = p.parse_args(argv)
    if args.cmakedir or args.includedir:
        print(tg.get_cmake_dir() if args.cmakedir else tg.get_include())
        return 0

    with tg.Tape() as tape:
        v = seed_example(tape.var(args.x))
        names = list(v)
        adjoints = tape.gradient(v["f"], [v[n] for n in names])
        print(f"The worked example at x = {args.x}\n")
        print(f"{'var':<4} {'formula':<8} {'value':>22} {'adjoint ∂f/∂var':>22}")
        # The reverse sweep visits the variables from the output back to the input.
        for name, adj in reversed(list(zip(names, adjoints))):
            print(f"{name:<4} {FORMULAS[name]:<8} {v[name].value:>22.15g} {adj:>22.15g}")
        auto = adjoints[0]
    manual = hand_derived(args.x)
    print(f"\ndf/dx by tapegrad (reverse mode): {auto:.17g}")
    print(f"df/dx derived by hand:            {manual:.17g}")
    rel = abs(auto - manual) / max(abs(manual), 1e-300)
    print(f"relative difference:              {rel:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
