"""Foundation benchmarks: recording cost from Python, reverse-sweep speed, memory.

    python benchmarks/bench_foundation.py [--sweep-nodes 10000000] [--repeat 7]

Prints one table per measurement with tapegrad beside plain Python floats run
in the same process; quote the ratios and medians (the machine is shared).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np

import tapegrad as tg
from dag import make_program, record_dag


def timed(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def muladd_floats(n):
    s, x, y = 0.5, 0.25, 0.999
    for _ in range(n):
        s = s * y + x
    return s


def muladd_tape(n):
    tape = tg.Tape()
    s, x, y = tape.var(0.5), tape.var(0.25), tape.var(0.999)
    for _ in range(n):
        s = s * y + x
    return tape


def seed_floats(x):
    a = x * x
    b = math.exp(a)
    c = a + b
    return math.sqrt(c) + math.cos(c)


def seed_vars(x):
    a = x * x
    b = tg.exp(a)
    c = a + b
    return tg.sqrt(c) + tg.cos(c)


def row(name, times, per, base=None):
    med = statistics.median(times)
    ratio = f"{med / base:6.2f}x" if base else "   1.00x"
    return f"| {name:<34} | {min(times) / per * 1e9:9.1f} | {med / per * 1e9:9.1f} | {ratio} |", med


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--loop", type=int, default=1_000_000, help="multiply-add iterations")
    p.add_argument("--sweep-nodes", type=int, default=10_000_000)
    p.add_argument("--repeat", type=int, default=7)
    a = p.parse_args()
    n, r = a.loop, a.repeat

    print(f"tapegrad {tg.__version__}, numpy {np.__version__}\n")
    print(f"## Recording from Python: s = s*y + x, {n:,} iterations (2 ops each)\n")
    print("| variant | min ns/op | median ns/op | ratio to floats |\n|---|---|---|---|")
    line, base = row("plain Python floats", timed(lambda: muladd_floats(n), r), 2 * n)
    print(line)
    line, _ = row("tapegrad Var (record)", timed(lambda: muladd_tape(n), r), 2 * n, base)
    print(line)

    m = 200_000
    print(f"\n## Recording the worked example f(x) = sqrt(x²+exp(x²)) + cos(x²+exp(x²)), {m:,} calls (6 ops each)\n")
    print("| variant | min ns/op | median ns/op | ratio to floats |\n|---|---|---|---|")

    def floats():
        for i in range(m):
            seed_floats(0.5)

    def vars_():
        with tg.Tape() as tape:
            x = tape.var(0.5)
            for i in range(m):
                seed_vars(x)

    line, base = row("plain Python floats (math)", timed(floats, r), 6 * m)
    print(line)
    line, _ = row("tapegrad Var (record)", timed(vars_, r), 6 * m, base)
    print(line)

    N = a.sweep_nodes
    print(f"\n## Reverse sweep of a random DAG, {N:,} nodes (+ - * sin exp tanh, parents among the last 32)\n")
    tape = tg.Tape()
    program = make_program(N)  # the DAG's shape, decided on plain floats before the clock starts
    t0 = time.perf_counter()
    out, inputs = record_dag(tape, program)
    rec = time.perf_counter() - t0
    slots = inputs.slots()
    tape_bytes = tape.nbytes
    sweeps = timed(lambda: tape._gradient(out.index, slots, tape.generation), r)
    nodes = tape.num_nodes
    print("| measure | value |\n|---|---|")
    print(f"| nodes recorded | {nodes:,} |")
    print(f"| record from Python, ns/node | {rec / nodes * 1e9:.1f} |")
    print(f"| sweep, min ns/node | {min(sweeps) / nodes * 1e9:.2f} |")
    print(f"| sweep, median ns/node | {statistics.median(sweeps) / nodes * 1e9:.2f} |")
    print(f"| tape bytes held per node (before any sweep) | {tape_bytes / nodes:.2f} |")
    print(f"| adjoint workspace bytes per node (after a sweep) | {(tape.nbytes - tape_bytes) / nodes:.2f} |")
    print("\nTargets (issue 2): record <= 4x plain floats; sweep <= 2 ns/node; <= 34 B/node held + 8 for the adjoint.")


if __name__ == "__main__":
    main()
