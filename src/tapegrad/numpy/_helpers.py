"""Helpers shared by the array functions (_views, _copies, _reductions, _products),
and the *gather* primitive below views and copies: a function that only moves
elements runs numpy's own function on the array of slot numbers and, in
parallel, on the array of constants, and records one gather entry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

from .._array import VarArray, common_tape, record_gather, var_view
from .._var import MASKED_ARRAY, Var

AxisError: type[Exception] = getattr(getattr(np, "exceptions", np), "AxisError")  # numpy.exceptions: >= 1.25

ArrayLike = Any  # a VarArray, Var, ndarray, nested list or number

_TRACED = (Var, VarArray)


def _traced(*xs: Any) -> bool:
    return any(isinstance(x, _TRACED) for x in xs)


def _no_extras(name: str, out: Any = None, dtype: Any = None, where: Any = True, **rest: Any) -> None:
    """Refuse numpy keyword arguments that would silently change the meaning."""
    if out is not None:
        raise TypeError(f"tapegrad.{name}: out= is not supported (VarArrays are immutable); use the return value")
    if dtype is not None and np.dtype(dtype) != np.float64:
        raise TypeError(f"tapegrad.{name}: dtype={dtype} is not supported; tape values are float64")
    if where is not True:
        raise TypeError(f"tapegrad.{name}: where= is not supported; use tapegrad.where on the operand first")
    if rest:
        raise TypeError(f"tapegrad.{name}: unsupported argument(s) {', '.join(sorted(rest))}")


def _as_array(x: VarArray | Var) -> VarArray:
    return var_view(x, ()) if isinstance(x, Var) else x


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """Normalised, sorted axes; numpy's AxisError for out-of-range ones."""
    if axis is None:
        return tuple(range(ndim))
    items = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in items:
        a = int(a)
        if not -ndim <= a < ndim:
            raise AxisError(a, ndim)
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError("duplicate value in 'axis'")
    return tuple(sorted(out))


def _ndim(x: Any) -> int:
    return x.ndim if isinstance(x, VarArray) else 0 if isinstance(x, Var) else np.ndim(x)


def _shape(x: Any) -> tuple[Any, ...]:
    return x.shape if isinstance(x, VarArray) else () if isinstance(x, Var) else np.shape(x)


def _values(x: Any) -> Any:
    return x.value if isinstance(x, _TRACED) else x


# ---- the gather primitive ----------------------------------------------------------

def _sources(x: Any) -> tuple[np.ndarray, np.ndarray]:
    """(slot numbers, constants) of an operand: a slot 0 (a sink) marks a constant."""
    if isinstance(x, VarArray):
        return x.slots().astype(np.int64), np.zeros(x.shape)
    if isinstance(x, Var):
        return np.array(x.index, dtype=np.int64), np.array(0.0)
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(MASKED_ARRAY)
    c = np.asarray(x)
    if c.dtype.kind not in "fiub":
        raise TypeError(f"tapegrad takes real numbers, Vars and arrays, not arrays of dtype {c.dtype}")
    c = c.astype(np.float64)
    return np.zeros(c.shape, dtype=np.int64), c


def _record(owner: Any, src: np.ndarray, consts: np.ndarray) -> Any:
    return record_gather(owner, src, consts, tuple(np.shape(src)))


def _gather_like(fn: Callable[..., Any], a: Any, *args: Any, **kwargs: Any) -> Any:
    """fn (a numpy function that only moves elements) applied to one operand."""
    src, consts = _sources(a)
    return _record(common_tape(a), fn(src, *args, **kwargs), fn(consts, *args, **kwargs))


def _gather_seq(fn: Callable[..., Any], arrays: Sequence[Any], *args: Any, **kwargs: Any) -> Any:
    """fn applied to a sequence of operands (concatenate, stack, ...)."""
    owner = common_tape(*arrays)
    if owner is None:
        return fn([np.asarray(x) for x in arrays], *args, **kwargs)
    pairs = [_sources(x) for x in arrays]
    src = fn([p[0] for p in pairs], *args, **kwargs)
    return _record(owner, src, fn([p[1] for p in pairs], *args, **kwargs))


def take_slots(a: VarArray, key: Any) -> Any:
    """Advanced (fancy or boolean) indexing: numpy's indexing of the slot array, one gather."""
    src = a.slots().astype(np.int64)[key]
    return _record(a.tape, src, np.zeros(np.shape(src)))
