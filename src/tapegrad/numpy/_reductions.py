"""Reductions (one reduce entry each): sum, mean, prod, max, min,
logsumexp and norm, with numpy's axis and keepdims; softmax and cumsum."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from .._array import elementwise, record_cumsum, record_reduce
from .._var import Var
from ._copies import where
from ._helpers import _TRACED, ArrayLike, AxisError, _as_array, _axes, _no_extras
from ._views import expand_dims, moveaxis, ravel, squeeze

__all__ = ["sum", "mean", "prod", "max", "min", "logsumexp", "softmax", "norm", "cumsum"]


def _reduce(name: str, how: str, a: ArrayLike, axis: Any, keepdims: bool,
            numpy_fn: Callable[..., Any], mean: bool = False) -> Any:
    if not isinstance(a, _TRACED):
        return numpy_fn(a, axis=axis, keepdims=keepdims)
    if isinstance(a, Var):  # a 0-d array: reducing it over no axis keeps it
        if axis not in (None, ()):
            raise AxisError(axis if isinstance(axis, int) else axis[0], 0)
        return elementwise("abs", (a,)) if how == "norm" else a
    axes = _axes(axis, a.ndim)
    kept = [d for d in range(a.ndim) if d not in axes]
    shape = a.shape  # (not a._view(): that would put a pending array on the tape, and a sum fuses with it)
    count: int = math.prod(shape[d] for d in axes)
    if count == 0 and how in ("max", "min") and math.prod(shape[d] for d in kept) != 0:
        raise ValueError(f"zero-size array to reduction operation {'maximum' if how == 'max' else 'minimum'} "
                         "which has no identity")
    scale = (1.0 / count if count else math.nan) if mean else 1.0
    order = kept + list(axes)
    moved = kept and order != sorted(order)  # (a full reduction needs no order)
    out = record_reduce(a, len(kept), how, scale, tuple(order) if moved else None)
    if keepdims:
        out = expand_dims(out, axes) if axes else out
    return out


def sum(a: ArrayLike, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
        **kw: Any) -> Any:
    """numpy.sum (one reduce entry). A full sum gives a Var.

    >>> import numpy as np, tapegrad as tg
    >>> tg.grad(lambda x: tg.sum(x * x, axis=0))(np.array([1.0, 2.0]))
    array([2., 4.])
    """
    _no_extras("sum", out=out, dtype=dtype, **kw)
    return _reduce("sum", "sum", a, axis, keepdims, np.sum)


def mean(a: ArrayLike, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
         **kw: Any) -> Any:
    """numpy.mean (one reduce entry).

    >>> import numpy as np, tapegrad as tg
    >>> tg.grad(lambda x: tg.mean(x))(np.ones(4))
    array([0.25, 0.25, 0.25, 0.25])
    """
    _no_extras("mean", out=out, dtype=dtype, **kw)
    return _reduce("mean", "sum", a, axis, keepdims, np.mean, mean=True)


def prod(a: ArrayLike, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
         **kw: Any) -> Any:
    """numpy.prod (one reduce entry; exact derivative also where elements are 0).

    >>> import numpy as np, tapegrad as tg
    >>> tg.grad(lambda v: tg.prod(v))(np.array([2.0, 3.0, 0.0]))
    array([0., 0., 6.])
    """
    _no_extras("prod", out=out, dtype=dtype, **kw)
    return _reduce("prod", "prod", a, axis, keepdims, np.prod)


def max(a: ArrayLike, axis: Any = None, out: Any = None, keepdims: bool = False, **kw: Any) -> Any:
    """numpy.max (one reduce entry; ties share the derivative evenly).

    >>> import numpy as np, tapegrad as tg
    >>> tg.grad(lambda v: tg.max(v))(np.array([1.0, 3.0, 3.0]))
    array([0. , 0.5, 0.5])
    """
    _no_extras("max", out=out, **kw)
    return _reduce("max", "max", a, axis, keepdims, np.max)


def min(a: ArrayLike, axis: Any = None, out: Any = None, keepdims: bool = False, **kw: Any) -> Any:
    """numpy.min (one reduce entry; ties share the derivative evenly).

    >>> import numpy as np, tapegrad as tg
    >>> tg.grad(lambda v: tg.min(v))(np.array([2.0, 1.0, 3.0]))
    array([0., 1., 0.])
    """
    _no_extras("min", out=out, **kw)
    return _reduce("min", "min", a, axis, keepdims, np.min)


def _logsumexp_numpy(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    a = np.asarray(a, dtype=float)
    m = _finite_max(a, axis)
    r = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return r if keepdims else (np.squeeze(r, axis=axis) if axis is not None else r.reshape(()))[()]


def logsumexp(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Any:
    """log(sum(exp(a))) along axis, without overflow (one reduce entry; its
    derivative is the softmax).

    >>> import tapegrad as tg
    >>> round(float(tg.logsumexp([1000.0, 1000.0])), 6)
    1000.693147
    """
    return _reduce("logsumexp", "logsumexp", a, axis, keepdims, _logsumexp_numpy)


def softmax(a: ArrayLike, axis: Any = -1) -> Any:
    """exp(a) / sum(exp(a)) along axis, computed from the max-shifted
    z = a - max(a) as exp(z - logsumexp(z)): exact at every magnitude (the
    shift cancels in the value and in the derivative).

    >>> import tapegrad as tg
    >>> tg.softmax([1e16, 1e16])
    array([0.5, 0.5])
    """
    if not isinstance(a, _TRACED):
        a = np.asarray(a, dtype=float)
        z = a - _finite_max(a, axis)
        return np.exp(z - _logsumexp_numpy(z, axis=axis, keepdims=True))
    # (not exp(a - logsumexp(a)): next to a large max, logsumexp(a) = max + log(s)
    # rounds log(s) away, and [1e16, 1e16] gave [1, 1])
    z = elementwise("subtract", (a, max(a, axis=axis, keepdims=True)))
    return elementwise("exp", (elementwise("subtract", (z, logsumexp(z, axis=axis, keepdims=True))),))


def _finite_max(a: np.ndarray, axis: Any) -> Any:
    """The max along axis (kept), or 0 where it is not finite (no shift)."""
    m = np.max(a, axis=axis, keepdims=True) if a.size else np.zeros((1,) * a.ndim)
    return np.where(np.isfinite(m), m, 0.0)


def norm(x: ArrayLike, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """numpy.linalg.norm for vector norms (ord None/2, 1, inf, -inf, p) and the
    Frobenius norm ('fro', or None over two axes). The 2-norm is one reduce
    entry, scaled against overflow; its derivative at 0 is taken as 0.

    >>> import numpy as np, tapegrad as tg
    >>> tg.grad(lambda v: tg.norm(v))(np.array([3.0, 4.0]))
    array([0.6, 0.8])
    """
    if not isinstance(x, _TRACED):
        return np.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims)
    x = _as_array(x)
    if axis is None and ord is None:  # numpy: the 2-norm of the flattened array
        return _reduce("norm", "norm", x, None, keepdims, np.linalg.norm)
    if axis is None and x.ndim > 2:
        raise ValueError("Improper number of dimensions to norm.")
    axes = _axes(axis, x.ndim)
    matrix = len(axes) == 2
    if len(axes) > 2 or (matrix and ord not in (None, "fro")) or (not matrix and ord == "fro"):
        raise TypeError(f"tapegrad.norm supports vector norms and the Frobenius norm, not ord={ord!r} "
                        f"over {len(axes)} axes (numpy's matrix norms other than 'fro' need an SVD)")
    if ord in (None, 2, "fro"):
        return _reduce("norm", "norm", x, axis if axis is not None else None, keepdims, np.linalg.norm)
    magnitude = elementwise("abs", (x,))
    if ord == np.inf:
        return max(magnitude, axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return min(magnitude, axis=axis, keepdims=keepdims)
    if ord == 1:
        return sum(magnitude, axis=axis, keepdims=keepdims)
    return _p_norm(magnitude, float(ord), axis, keepdims)


def _p_norm(magnitude: Any, p: float, axis: Any, keepdims: bool) -> Any:
    """(sum |x|^p)^(1/p), scaled by the largest magnitude (no overflow or
    underflow), and 0 with derivative 0 where every element is 0 -- the
    subgradient of the 2-norm and abs there (unscaled, inf * 0 gave NaN)."""
    big = max(magnitude, axis=axis, keepdims=True)
    nonzero = big > 0
    scale = where(nonzero, big, 1.0)
    scaled = sum(elementwise("power", (magnitude / scale, p)), axis=axis, keepdims=True)
    out = where(nonzero, elementwise("power", (scaled, 1.0 / p)) * scale, 0.0)
    if keepdims:
        return out
    axes = _axes(axis, magnitude.ndim)
    return squeeze(out, axis=axes) if axes else out


def cumsum(a: ArrayLike, axis: int | None = None, dtype: Any = None, out: Any = None) -> Any:
    """numpy.cumsum (one entry; the flattened array when axis is None).

    >>> import numpy as np, tapegrad as tg
    >>> tg.grad(lambda v: tg.cumsum(v).sum())(np.ones(3))
    array([3., 2., 1.])
    """
    _no_extras("cumsum", out=out, dtype=dtype)
    if not isinstance(a, _TRACED):
        return np.cumsum(a, axis=axis)
    a = _as_array(a)
    if axis is None:
        a, axis = ravel(a), 0
    (ax,) = _axes(axis, a.ndim)
    return moveaxis(record_cumsum(moveaxis(a, ax, -1)), -1, ax)
