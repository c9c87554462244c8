"""The random DAG of the large-graph benchmarks: one definition for every tool.

Ops + - * sin exp tanh over parents drawn among the last 32 nodes, 100 inputs,
fixed seed; a result outside [-2, 2] is squashed by one more tanh node so that
values stay in range at any size.

The DAG is made once as a *program* (numpy arrays: op, parent offsets, squash
flag) by evaluating it on plain floats, and then every tool runs the same
program with its own sin/exp/tanh (`run_program`). Deciding the squashes up
front means a symbolic tool (CasADi) runs the very same graph as the others,
and no tool's timing includes a value check it would not otherwise make.

    prog = make_program(10**6)                       # about 1 s per 10**6 nodes
    out = run_program(prog, tape.vars(prog.inputs), tg.sin, tg.exp, tg.tanh)

Shared by bench_foundation.py and run.py (workload W3).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

WINDOW = 32
N_INPUTS = 100
OPS = ("add", "sub", "mul", "sin", "exp", "tanh")
_CHUNK = 1 << 16  # steps converted to Python lists at a time (keeps memory O(chunk))


@dataclass(frozen=True)
class DagProgram:
    """A recorded DAG: `n_nodes` nodes in all (inputs and squash nodes included)."""

    inputs: np.ndarray  # (N_INPUTS,) float64 input values
    op: np.ndarray      # (steps,) uint8 index into OPS
    pa: np.ndarray      # (steps,) uint8 in 1..WINDOW: first parent is the node pa steps back in the ring
    pb: np.ndarray      # (steps,) uint8 second parent (binary ops only)
    squash: np.ndarray  # (steps,) bool: append tanh(v) because v left [-2, 2]
    n_nodes: int

    def save(self, path: str) -> None:
        np.savez(path, inputs=self.inputs, op=self.op, pa=self.pa, pb=self.pb, squash=self.squash,
                 n_nodes=self.n_nodes)

    @staticmethod
    def load(path: str) -> DagProgram:
        with np.load(path) as f:
            return DagProgram(f["inputs"], f["op"], f["pa"], f["pb"], f["squash"], int(f["n_nodes"]))


def make_program(n_nodes: int, seed: int = 0, cache_dir: str | None = None) -> DagProgram:
    """The DAG of about `n_nodes` nodes (exactly, or one more when the last step squashes).

    With `cache_dir`, the program is stored there and loaded on the next call.
    """
    if n_nodes <= N_INPUTS:
        raise ValueError(f"the DAG needs more than {N_INPUTS} nodes (its inputs), got {n_nodes}")
    path = os.path.join(cache_dir, f"dag_{n_nodes}_{seed}.npz") if cache_dir else None
    if path and os.path.exists(path):
        return DagProgram.load(path)
    rng = np.random.default_rng(seed)
    inputs = rng.uniform(-2, 2, N_INPUTS)
    ring = inputs[-WINDOW:].tolist()
    parts: dict[str, list[np.ndarray]] = {"op": [], "pa": [], "pb": [], "squash": []}
    count, step = N_INPUTS, 0
    sin, exp, tanh = math.sin, math.exp, math.tanh
    while count < n_nodes:
        m = min(_CHUNK, n_nodes - count)  # at least one node per step
        op = rng.integers(0, len(OPS), m, dtype=np.uint8)
        pa = rng.integers(1, WINDOW + 1, m, dtype=np.uint8)
        pb = rng.integers(1, WINDOW + 1, m, dtype=np.uint8)
        squash = np.zeros(m, dtype=bool)
        ia, ib, head = _ring_indices(step, pa, pb)
        used = 0
        for k, (o, i, j, h) in enumerate(zip(op.tolist(), ia, ib, head)):
            if count >= n_nodes:
                break
            a = ring[i]
            if o == 0:
                v = a + ring[j]
            elif o == 1:
                v = a - ring[j]
            elif o == 2:
                v = a * ring[j]
            elif o == 3:
                v = sin(a)
            elif o == 4:
                v = exp(a)
            else:
                v = tanh(a)
            count += 1
            if not -2.0 <= v <= 2.0:
                v = tanh(v)
                squash[k] = True
                count += 1
            ring[h] = v
            used = k + 1
        for name, arr in (("op", op), ("pa", pa), ("pb", pb), ("squash", squash)):
            parts[name].append(arr[:used])
        step += used
    prog = DagProgram(inputs, *(np.concatenate(parts[k]) for k in ("op", "pa", "pb", "squash")), n_nodes=count)
    if path:
        os.makedirs(cache_dir, exist_ok=True)
        prog.save(path)
    return prog


def _ring_indices(step: int, pa: np.ndarray, pb: np.ndarray) -> tuple[list[int], list[int], list[int]]:
    """Ring positions of both parents and of the result, for steps step, step+1, ...

    The ring starts as the last WINDOW inputs and step k overwrites slot k % WINDOW
    (the oldest), so the node d steps back from step k sits at (k - d) % WINDOW.
    """
    k = np.arange(step, step + pa.size, dtype=np.int64)
    return (((k - pa) % WINDOW).tolist(), ((k - pb) % WINDOW).tolist(), (k % WINDOW).tolist())


def run_program(prog: DagProgram, inputs: Any, sin: Callable, exp: Callable, tanh: Callable) -> Any:
    """Evaluate the DAG on `inputs` (a sequence of N_INPUTS numbers of any tool's
    type) with that tool's sin/exp/tanh; return the last node."""
    ring = list(inputs)[-WINDOW:]
    v = ring[-1]
    steps = prog.op.size
    for start in range(0, steps, _CHUNK):
        stop = min(start + _CHUNK, steps)
        ia, ib, head = _ring_indices(start, prog.pa[start:stop], prog.pb[start:stop])
        for o, i, j, h, s in zip(prog.op[start:stop].tolist(), ia, ib, head, prog.squash[start:stop].tolist()):
            if o == 0:
                v = ring[i] + ring[j]
            elif o == 1:
                v = ring[i] - ring[j]
            elif o == 2:
                v = ring[i] * ring[j]
            elif o == 3:
                v = sin(ring[i])
            elif o == 4:
                v = exp(ring[i])
            else:
                v = tanh(ring[i])
            if s:
                v = tanh(v)
            ring[h] = v
    return v


class _Dual:
    """A value with a vector of tangents (forward mode): the reference gradient."""

    __slots__ = ("v", "t")

    def __init__(self, v: float, t: np.ndarray) -> None:
        self.v, self.t = v, t

    def __add__(self, o: _Dual) -> _Dual:
        return _Dual(self.v + o.v, self.t + o.t)

    def __sub__(self, o: _Dual) -> _Dual:
        return _Dual(self.v - o.v, self.t - o.t)

    def __mul__(self, o: _Dual) -> _Dual:
        return _Dual(self.v * o.v, o.v * self.t + self.v * o.t)


def _dual_sin(a: _Dual) -> _Dual:
    return _Dual(math.sin(a.v), math.cos(a.v) * a.t)


def _dual_exp(a: _Dual) -> _Dual:
    y = math.exp(a.v)
    return _Dual(y, y * a.t)


def _dual_tanh(a: _Dual) -> _Dual:
    y = math.tanh(a.v)
    return _Dual(y, (1.0 - y * y) * a.t)


def reference_gradient(prog: DagProgram) -> tuple[float, np.ndarray]:
    """Value and gradient of the DAG's output by forward mode (one tangent per
    input, carried along in pure Python): a method independent of any tape."""
    eye = np.eye(N_INPUTS)
    out = run_program(prog, [_Dual(float(x), eye[k]) for k, x in enumerate(prog.inputs)],
                      _dual_sin, _dual_exp, _dual_tanh)
    return out.v, out.t


def record_dag(tape: Any, n_nodes: int | DagProgram, seed: int = 0) -> tuple[Any, Any]:
    """Record the DAG on a tapegrad tape; return (output Var, input VarArray)."""
    import tapegrad as tg

    prog = n_nodes if isinstance(n_nodes, DagProgram) else make_program(n_nodes, seed)
    inputs = tape.vars(prog.inputs)
    return run_program(prog, inputs, tg.sin, tg.exp, tg.tanh), inputs
