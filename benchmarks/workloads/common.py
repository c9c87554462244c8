"""What a workload is, and how one call-style measurement is taken.

A workload has variants (one per tool and style). A variant's `make(size)`
runs in a fresh child process and returns `step`, a function of no arguments
that computes the value and the gradient (or only the value, for the
baselines) and returns plain numbers: ``(value, gradient)``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

ROLES = ("baseline", "hand", "ad")  # value only (ratio denominator); hand-written gradient; automatic


@dataclass(frozen=True)
class Variant:
    label: str                              # row name, e.g. "torch (eager)"
    tool: str                               # key of peers.TOOLS
    make: Callable[[int], Any]              # size -> step() (call workloads) or a DAG adapter (W3)
    role: str = "ad"
    feature: Callable[[], str | None] | None = None  # None if the tapegrad feature exists, else why not
    note: str = ""                          # printed under the table


@dataclass
class Workload:
    key: str                                # "W1"
    title: str
    size_name: str                          # "n", "N", "H"
    sizes: tuple[int, ...]                  # default
    quick_sizes: tuple[int, ...]
    ops: Callable[[int], float]             # elementary operations per call, for ns/op
    op_name: str                            # what one "op" is
    variants: list[Variant]
    reference: Callable[[int], tuple[float, np.ndarray]] | None  # size -> (value, gradient)
    tapegrad_ref: tuple[str, ...]           # labels the ratio-to-tapegrad bars divide by (first that ran)
    kind: str = "call"                      # "call" or "dag"
    timeout_factor: float = 1.0             # this workload's children may run this many times --timeout
    large_sizes: tuple[int, ...] = ()
    notes: list[str] = field(default_factory=list)
    # environment variables removed from every child of this workload, for all tools alike
    env_unset: tuple[str, ...] = ()

    def variant(self, label: str) -> Variant:
        for v in self.variants:
            if v.label == label:
                return v
        raise KeyError(f"{self.key} has no variant {label!r}; it has {[v.label for v in self.variants]}")


def flatten(g: Any) -> np.ndarray:
    """A gradient (float, array, nested lists/tuples/dicts of them) as one flat float64 array."""
    if isinstance(g, dict):
        return flatten([g[k] for k in sorted(g)])
    try:
        return np.ravel(np.asarray(g, dtype=np.float64))
    except (ValueError, TypeError):
        return np.concatenate([flatten(p) for p in g]) if len(g) else np.empty(0)


def rel_err(got: Any, want: np.ndarray | float) -> float:
    """max |got - want| / max |want|: the gradient error printed in the tables."""
    g, w = flatten(got), flatten(want)
    if g.shape != w.shape:
        return float("inf")
    scale = float(np.max(np.abs(w))) if w.size else 1.0
    return float(np.max(np.abs(g - w))) / (scale if scale > 0 else 1.0) if w.size else 0.0


def measure_calls(make: Callable[[], Callable[[], Any]], budget: float, repeat: int) -> dict[str, Any]:
    """Time `step` after building it.

    setup = make() + the first call (make() compiles, for jit compilers; eager
    tools warm up in the first call). Then `repeat` samples, each the mean of k back-to-back calls with k
    chosen so a sample lasts about budget/repeat; stop early once the budget is
    spent (with at least 3 samples, or 1 when a single call is longer than the
    budget; a first call longer than 5 budgets is that sample, a shorter one is
    a warm-up: JAX, for one, compiles every primitive at its first use on a new
    shape). Python's garbage collector stays on, as in user code.
    """
    t0 = time.perf_counter()
    step = make()
    t1 = time.perf_counter()
    out = step()
    t2 = time.perf_counter()
    if t2 - t1 > 5 * budget:  # a call this long needs no warm-up call: it is the first sample
        single, times = t2 - t1, [t2 - t1]
    else:
        out = step()
        single = time.perf_counter() - t2
        times = []
    k = max(1, int(budget / repeat / max(single, 1e-9)))
    min_samples = 1 if single > budget else 3
    deadline = t1 + budget
    if k == 1 and not times:
        times = [single]
    while len(times) < repeat:
        if len(times) >= min_samples and time.perf_counter() > deadline:
            break
        s0 = time.perf_counter()
        for _ in range(k):
            out = step()
        times.append((time.perf_counter() - s0) / k)
    return {"times": times, "calls_per_sample": k, "build": t1 - t0, "first_call": t2 - t1,
            "setup": t2 - t0, "result": out}
