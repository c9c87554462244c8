"""python -m tapegrad: the talk's worked example, computed and explained.

f(x) = √(x² + exp(x²)) + cos(x² + exp(x²)), split into the intermediate
variables a = x², b = exp(a), c = a + b, d = √c, e = cos c, f = d + e.
Prints their values, the reverse sweep's adjoints with the chain rule behind
each, and f'(x) by four methods (manual, numerical, symbolic, automatic) with
their errors and times; writes the computational graph (DOT, and a picture
with Graphviz) and a plot of the finite-difference error against the step h
(with matplotlib). sympy, matplotlib and graphviz are optional.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tapegrad._demo import run
from tapegrad._paths import get_cmake_dir, get_include


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tapegrad", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--x", type=float, default=0.5, help="the point x at which to differentiate (default 0.5)")
    p.add_argument("--out", type=Path, default=Path("tapegrad-demo"),
                   help="folder for graph.dot, graph.png and fd_error.png (default ./tapegrad-demo)")
    p.add_argument("--no-files", action="store_true", help="print only; write no files")
    p.add_argument("--cmakedir", action="store_true", help="print the CMake package dir (for -Dtapegrad_DIR) and exit")
    p.add_argument("--includedir", action="store_true", help="print the C++ header dir and exit")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.cmakedir or args.includedir:
        print(get_cmake_dir() if args.cmakedir else get_include())
        return 0
    return run(args.x, None if args.no_files else args.out)


if __name__ == "__main__":
    sys.exit(main())
