"""The seed talk's worked example, by hand with a tape.

    f(x) = sqrt(x^2 + exp(x^2)) + cos(x^2 + exp(x^2))

is split into intermediate variables a = x^2, b = exp(a), c = a + b, d = sqrt(c),
e = cos(c), f = d + e. Recording f on a tapegrad.Tape appends one node per
variable; tapegrad.name gives the nodes the talk's names. The script

- prints the tape as a table (tape.nodes(f)): each node's op, parents, local
  partials, value, and adjoint df/dnode from one reverse sweep,
- checks the reverse sweep's df/dx against the derivative worked out on paper,
- writes the computational graph as seed_graph.dot, and draws seed_graph.svg
  when Graphviz is installed (pip install graphviz; apt-get install graphviz).

    python examples/seed_example.py [--x 0.5]

`python -m tapegrad` tells the same story at length, with numerical and
symbolic differentiation alongside.
"""

from __future__ import annotations

import argparse
import math
import sys

import tapegrad as tg


def f(x: tg.Var) -> tg.Var:
    a = tg.name(x ** 2, "a")
    b = tg.name(tg.exp(a), "b")
    c = tg.name(a + b, "c")
    d = tg.name(tg.sqrt(c), "d")
    e = tg.name(tg.cos(c), "e")
    return tg.name(d + e, "f")


def df_by_hand(x: float) -> float:
    """The chain rule on paper: df/dx = (1/(2 sqrt(c)) - sin(c)) * (1 + exp(x^2)) * 2x."""
    c = x * x + math.exp(x * x)
    return (0.5 / math.sqrt(c) - math.sin(c)) * (1 + math.exp(x * x)) * 2 * x


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--x", type=float, default=0.5, help="the point (default 0.5)")
    args = p.parse_args(argv)

    with tg.Tape() as tape:
        x = tg.name(tape.var(args.x), "x")
        out = f(x)
        print(f"The tape of f at x = {args.x} (sink slots 0-7 not shown):\n")
        print(tape.nodes(out))
        dfdx = tape.gradient(out, x)
        dot = tape.to_dot(out)

    by_hand = df_by_hand(args.x)
    print(f"\ndf/dx from the reverse sweep: {dfdx!r}")
    print(f"df/dx worked out on paper:    {by_hand!r}")
    print(f"\nwrote {dot.render('seed_graph.dot')}", end="")
    try:
        print(f" and {dot.render('seed_graph.svg')}")
    except tg.GraphvizUnavailableError:
        print(" (install Graphviz to draw it: pip install graphviz; apt-get install graphviz)")

    if abs(dfdx - by_hand) > 1e-14 * max(1.0, abs(by_hand)):
        sys.exit("the reverse sweep disagrees with the hand-derived derivative")
    return 0


if __name__ == "__main__":
    sys.exit(main())
