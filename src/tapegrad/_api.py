"""The functional API: grad and value_and_grad of ordinary Python functions."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._tape import Tape
from ._var import Var, VarArray

# One pool of reusable tapes per thread: a grad call borrows a tape, records,
# sweeps, resets it and gives it back, so repeated calls allocate nothing and
# threads never share a tape. A nested grad call simply borrows a second tape.
_local = threading.local()


def _borrow() -> Tape:
    pool = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = []
    return pool.pop() if pool else Tape()


def _give_back(tape: Tape) -> None:
    tape.reset()
    _local.pool.append(tape)


def _watch(tape: Tape, x: Any, position: int) -> Var | VarArray:
    """Record argument `x` as independent variables."""
    if isinstance(x, (float, int, np.floating, np.integer)) and not isinstance(x, bool):
        return tape.var(float(x))
    if isinstance(x, (np.ndarray, list, tuple)):
        arr = np.asarray(x)
        if arr.dtype.kind not in "fiu":
            raise TypeError(f"argument {position} has dtype {arr.dtype}; tapegrad differentiates real numbers")
        return tape.vars(arr.astype(np.float64, copy=False))
    raise TypeError(f"cannot differentiate with respect to argument {position} of type {type(x).__name__}: "
                    "pass a float or a numpy array")


def _scalar_output(out: Any) -> Var | float:
    if isinstance(out, Var):
        return out
    if isinstance(out, (float, int, np.floating, np.integer)) and not isinstance(out, bool):
        return float(out)
    shape = getattr(out, "shape", None)
    if shape is not None and shape == ():
        return _scalar_output(out[()])
    what = f"an array of shape {shape}" if shape is not None else f"a {type(out).__name__}"
    raise TypeError(f"grad needs f to return a scalar, but it returned {what}; "
                    "use tapegrad.jacobian for vector outputs, or reduce the output (e.g. .sum())")


def _argnums(argnums: int | Sequence[int]) -> tuple[int, ...]:
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
                   has_aux: bool = False) -> Callable[..., tuple[Any, Any]]:
    """Return a function computing ``(f(*args), gradient)`` in one recording.

    >>> import tapegrad as tg
    >>> tg.value_and_grad(lambda x: x * tg.exp(x))(0.0)
    (0.0, 1.0)

    The gradient is a float for a float argument and an ndarray of the same
    shape for an array argument; with a tuple ``argnums``, a tuple of those.
    With ``has_aux=True``, f returns ``(value, aux)`` and the result is
    ``((value, aux), gradient)``.
    """
    nums = _argnums(argnums)

    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        tape = _borrow()
        try:
            call_args = list(args)
            wrt = []
            for i in nums:
                if i >= len(call_args):
                    raise TypeError(f"argnums={argnums} but f was called with {len(call_args)} positional arguments")
                call_args[i] = _watch(tape, call_args[i], i)
                wrt.append(call_args[i])
            out = f(*call_args, **kwargs)
            aux = None
            if has_aux:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise TypeError("with has_aux=True, f must return a pair (value, aux)")
                out, aux = out
            y = _scalar_output(out)
            grads = tape.gradient(y, wrt)
            value = float(y)
            if has_aux:
                aux = _leave_tape(aux)
        finally:
            _give_back(tape)
        g = grads[0] if isinstance(argnums, int) else tuple(grads)
        return ((value, aux), g) if has_aux else (value, g)

    return wrapped


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
         has_aux: bool = False) -> Callable[..., Any]:
    """Return a function computing the gradient of the scalar function ``f``.

    >>> import tapegrad as tg
    >>> tg.grad(lambda x: x ** 3)(2.0)
    12.0

    ``argnums`` chooses the argument(s) to differentiate with respect to.
    """
    vg = value_and_grad(f, argnums, has_aux)

    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapped


def _leave_tape(x: Any) -> Any:
    """Replace Vars in an aux output by their values (the tape is reset after the call)."""
    if isinstance(x, Var):
        return x.value
    if isinstance(x, VarArray):
        return x.value
    if isinstance(x, (list, tuple)):
        return type(x)(_leave_tape(v) for v in x)
    if isinstance(x, dict):
        return {k: _leave_tape(v) for k, v in x.items()}
    return x
