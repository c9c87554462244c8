"""Timing helper shared by the stand-alone bench_*.py scripts."""

from __future__ import annotations

import time
from collections.abc import Callable


def per_call(fn: Callable[[], object], min_seconds: float = 0.005) -> float:
    """Seconds per call of fn, timing enough calls to last about min_seconds."""
    calls = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_seconds:
            return elapsed / calls
        calls *= 2 if elapsed < min_seconds / 4 else 1 + int(min_seconds / max(elapsed, 1e-9))
