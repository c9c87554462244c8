"""Helpers shared by the array functions (_views, _copies, _reductions, _products)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._array import VarArray, var_view
from ._var import Var

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
