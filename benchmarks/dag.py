"""The random DAG of the large-graph benchmarks, recorded from Python.

Ops + - * sin exp tanh over parents drawn among the last 32 nodes, 100 inputs,
fixed seed; a result outside [-2, 2] is squashed by one more tanh node so that
values stay in range at any size. Shared by bench_foundation.py and run.py.
"""

from __future__ import annotations

import numpy as np

import tapegrad as tg

WINDOW = 32
N_INPUTS = 100


def record_dag(tape: tg.Tape, n_nodes: int, seed: int = 0) -> tuple[tg.Var, tg.VarArray]:
    """Record about n_nodes nodes on `tape`; return (output, inputs)."""
    rng = np.random.default_rng(seed)
    inputs = tape.vars(rng.uniform(-2, 2, N_INPUTS))
    ring = list(inputs)[-WINDOW:]
    steps = n_nodes - N_INPUTS
    ops = rng.integers(0, 6, steps).tolist()
    pa = rng.integers(1, WINDOW + 1, steps).tolist()
    pb = rng.integers(1, WINDOW + 1, steps).tolist()
    sin, exp, tanh = tg.sin, tg.exp, tg.tanh
    head = 0  # ring[head] is the oldest of the last WINDOW nodes
    count = N_INPUTS
    k = 0
    while count < n_nodes:
        a = ring[(head - pa[k]) % WINDOW]
        op = ops[k]
        if op == 0:
            v = a + ring[(head - pb[k]) % WINDOW]
        elif op == 1:
            v = a - ring[(head - pb[k]) % WINDOW]
        elif op == 2:
            v = a * ring[(head - pb[k]) % WINDOW]
        elif op == 3:
            v = sin(a)
        elif op == 4:
            v = exp(a)
        else:
            v = tanh(a)
        count += 1
        if not -2.0 <= v.value <= 2.0:
            v = tanh(v)
            count += 1
        ring[head] = v
        head = (head + 1) % WINDOW
        k = (k + 1) % steps
    return ring[(head - 1) % WINDOW], inputs
