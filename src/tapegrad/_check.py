"""check_grads: reverse-mode derivatives against central differences."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ._api import vjp
from ._pytree import (
    flatten,
    is_unregistered_container,
    unflatten,
    unregistered_container_error,
)


class GradientCheckError(AssertionError):
    """tapegrad's derivative of a function disagrees with central differences."""


def _as_floats(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def check_grads(f: Callable[..., Any], *args: Any, eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-7,
                directions: int = 3, seed: int = 0) -> None:
    """Check tapegrad's derivatives of f at args against central differences.

    Along each of `directions` random directions v in the space of all
    arguments (numbers, arrays and pytrees of them) and random output
    weights u, compare u . (J v) from one reverse sweep (vjp) with
    u . (f(x + eps v) - f(x - eps v)) / (2 eps). f may return a number, an
    array or a pytree of them, and is also called on plain floats. Raises
    GradientCheckError with both numbers when they differ by more than
    atol + rtol * max(|each|); returns None when they agree.

    >>> import numpy as np, tapegrad as tg
    >>> tg.check_grads(lambda x: tg.sin(x) * x, np.array([0.3, 1.2]))
    """
    rng = np.random.default_rng(seed)
    leaves, tree = flatten(args)
    for v in leaves:  # refused as grad refuses it, before numpy's own message about it
        if is_unregistered_container(v):
            raise unregistered_container_error(v, "an argument of check_grads")
    x = [_as_floats(v) for v in leaves]
    out, pullback = vjp(f, *unflatten(tree, [v.copy() for v in x]))
    out_leaves, out_tree = flatten(out)
    for k in range(directions):
        v = [rng.standard_normal(a.shape) for a in x]
        u = [rng.standard_normal(np.shape(o)) for o in out_leaves]
        ct = unflatten(out_tree, [ui if np.ndim(o) else float(ui) for ui, o in zip(u, out_leaves)])
        grads = flatten(pullback(ct))[0]
        reverse = sum(float(np.vdot(_as_floats(g), d)) for g, d in zip(grads, v))

        def weighted(sign: float) -> float:
            shifted = unflatten(tree, [a + sign * eps * d for a, d in zip(x, v)])
            values = flatten(f(*shifted))[0]
            if len(values) != len(u):
                raise GradientCheckError("f returned outputs of another structure at a shifted point")
            return sum(float(np.vdot(ui, _as_floats(getattr(o, "value", o)))) for ui, o in zip(u, values))

        central = (weighted(1.0) - weighted(-1.0)) / (2 * eps)
        tolerance = atol + rtol * max(abs(reverse), abs(central))
        if not abs(reverse - central) <= tolerance:
            raise GradientCheckError(
                f"derivative of {getattr(f, '__name__', 'f')} along random direction {k}: reverse mode gives "
                f"{reverse!r}, central differences {central!r} (difference {abs(reverse - central):.3g} > "
                f"tolerance {tolerance:.3g}; eps={eps}, rtol={rtol}, atol={atol})")
