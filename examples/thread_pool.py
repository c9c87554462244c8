"""Gradients in a thread pool: each thread records on its own tapes.

tapegrad.grad borrows a tape from a pool that belongs to the calling thread,
so tasks never share a tape; the reverse sweeps run without the GIL.

    python examples/thread_pool.py
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import tapegrad as tg


def loss(w: tg.Var) -> tg.Var:
    """A smooth scalar function of one parameter."""
    s = w * 0.0
    for k in range(1, 50):
        s = s + tg.sin(w * k) / k
    return s


def slope_at(w: float) -> tuple[float, float]:
    """(d loss / dw by tapegrad, the same by hand) at w."""
    by_hand = sum(math.cos(w * k) for k in range(1, 50))
    return tg.grad(loss)(w), by_hand


def main() -> None:
    points = [i / 100 for i in range(200)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(slope_at, points))
    worst = max(abs(auto - hand) for auto, hand in results)
    print(f"{len(results)} gradients on 4 threads; largest difference to the hand-derived slope: {worst:.1e}")


if __name__ == "__main__":
    main()
