"""Views of VarArrays (no node): transpose, swapaxes, moveaxis, squeeze,
expand_dims, reshape and ravel (a copy only where numpy would copy too)."""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from .._array import VarArray
from .._var import Var
from ._helpers import _TRACED, ArrayLike, _as_array, _axes, _gather_like

__all__ = ["transpose", "swapaxes", "moveaxis", "squeeze", "expand_dims", "reshape", "ravel"]


def transpose(a: ArrayLike, axes: Sequence[int] | None = None) -> Any:
    """numpy.transpose: a view with permuted axes (reversed when axes is None).

    >>> import numpy as np, tapegrad as tg
    >>> tg.jacobian(lambda x: tg.transpose(x)[0])(np.ones((2, 2)))[1]
    array([[0., 0.],
           [1., 0.]])
    """
    if not isinstance(a, VarArray):
        return a if isinstance(a, Var) else np.transpose(a, axes)
    nd = a.ndim
    perm: Sequence[int]
    if axes is None:
        perm = range(nd - 1, -1, -1)
    else:
        perm = [int(x) % nd if -nd <= int(x) < nd else nd for x in axes]
        if sorted(perm) != list(range(nd)):
            raise ValueError("axes don't match array")
    first, shape, strides = a._view()
    return a._restrided(tuple(shape[p] for p in perm), tuple(strides[p] for p in perm))


def swapaxes(a: ArrayLike, axis1: int, axis2: int) -> Any:
    """numpy.swapaxes (a view).

    >>> import numpy as np, tapegrad as tg
    >>> tg.grad(lambda x: (tg.swapaxes(x, 0, 1)[0] * [1.0, 2.0]).sum())(np.zeros((2, 2)))
    array([[1., 0.],
           [2., 0.]])
    """
    if not isinstance(a, VarArray):
        return np.swapaxes(a, axis1, axis2)
    i, j = _axes(axis1, a.ndim)[0], _axes(axis2, a.ndim)[0]
    perm = list(range(a.ndim))
    perm[i], perm[j] = perm[j], perm[i]
    return transpose(a, perm)


def moveaxis(a: VarArray, source: int, destination: int) -> VarArray:
    """numpy.moveaxis for one axis (a view).

    >>> import numpy as np, tapegrad as tg
    >>> with tg.Tape() as tape:
    ...     tg.moveaxis(tape.vars(np.zeros((2, 3, 4))), 0, -1).shape
    (3, 4, 2)
    """
    src, dst = _axes(source, a.ndim)[0], _axes(destination, a.ndim)[0]
    perm = [d for d in range(a.ndim) if d != src]
    perm.insert(dst, src)
    return a.transpose(perm)


def squeeze(a: ArrayLike, axis: Any = None) -> Any:
    """numpy.squeeze: drop axes of length 1 (a view).

    >>> import numpy as np, tapegrad as tg
    >>> tg.grad(lambda x: tg.squeeze(x)[1] * 3.0)(np.ones((1, 2)))
    array([[0., 3.]])
    """
    if not isinstance(a, VarArray):
        return a if isinstance(a, Var) else np.squeeze(a, axis)
    first, shape, strides = a._view()
    drop = [d for d in range(a.ndim) if shape[d] == 1] if axis is None else _axes(axis, a.ndim)
    for d in drop:
        if shape[d] != 1:
            raise ValueError("cannot select an axis to squeeze out which has size not equal to one")
    keep = [d for d in range(a.ndim) if d not in drop]
    return a._restrided(tuple(shape[d] for d in keep), tuple(strides[d] for d in keep))


def expand_dims(a: ArrayLike, axis: Any) -> Any:
    """numpy.expand_dims: insert axes of length 1 (a view).

    >>> import numpy as np, tapegrad as tg
    >>> tg.grad(lambda x: tg.expand_dims(x, 1)[1, 0] * 2.0)(np.ones(2))
    array([0., 2.])
    """
    if not isinstance(a, _TRACED):
        return np.expand_dims(a, axis)
    a = _as_array(a)
    first, shape, strides = a._view()
    n = a.ndim + (len(axis) if isinstance(axis, (tuple, list)) else 1)
    new = _axes(axis, n)
    shape, strides = list(shape), list(strides)
    for d in new:
        shape.insert(d, 1)
        strides.insert(d, 0)
    return a._restrided(tuple(shape), tuple(strides))


def _reshape_strides(shape: tuple[Any, ...], strides: tuple[Any, ...], new: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """Strides that show the same elements in the new shape (C order), or None
    when only a copy can (numpy's rule: groups of old axes that map onto groups
    of new axes must each be contiguous among themselves)."""
    old = [(d, s) for d, s in zip(shape, strides) if d != 1]
    if math.prod(new) == 0 or not old:
        return tuple(0 for _ in new)
    out = [0] * len(new)
    oi = ni = 0
    while oi < len(old) and ni < len(new):
        oj, nj = oi + 1, ni + 1
        op, np_ = old[oi][0], new[ni]
        while op != np_:
            if np_ < op:
                np_ *= new[nj]
                nj += 1
            else:
                op *= old[oj][0]
                oj += 1
        for k in range(oi, oj - 1):
            if old[k][1] != old[k + 1][0] * old[k + 1][1]:
                return None
        out[nj - 1] = old[oj - 1][1]
        for k in range(nj - 1, ni, -1):
            out[k - 1] = out[k] * new[k]
        oi, ni = oj, nj
    return tuple(out)


def _target_shape(size: int, newshape: Any) -> tuple[Any, ...]:
    new = [int(d) for d in (newshape if isinstance(newshape, (tuple, list)) else (newshape,))]
    wanted = tuple(new)
    if new.count(-1) > 1:
        raise ValueError("can only specify one unknown dimension")
    if -1 in new:
        rest = math.prod(d for d in new if d != -1)
        if rest == 0 or size % rest:
            raise ValueError(f"cannot reshape array of size {size} into shape {wanted}")
        new[new.index(-1)] = size // rest
    if math.prod(new) != size or builtins.min(new, default=0) < 0:
        raise ValueError(f"cannot reshape array of size {size} into shape {wanted}")
    return tuple(new)


def reshape(a: ArrayLike, newshape: Any, order: Literal["C", "F", "A"] = "C") -> Any:
    """numpy.reshape: a view when the elements allow it (always for a
    contiguous array), else a copy (one gather), as numpy decides.

    >>> import numpy as np, tapegrad as tg
    >>> with tg.Tape() as tape:
    ...     x = tape.vars(np.arange(6.0))
    ...     n = tape.num_nodes
    ...     y = tg.reshape(x, (2, 3))
    ...     y.shape, tape.num_nodes == n
    ((2, 3), True)
    """
    if not isinstance(a, _TRACED):
        return np.reshape(a, newshape, order=order)
    a = _as_array(a)
    if order == "F":
        new = _target_shape(a.size, newshape)
        return transpose(reshape(transpose(a), new[::-1]))
    if order not in ("C", "A"):
        raise ValueError(f"order must be 'C', 'F' or 'A', not {order!r}")
    new = _target_shape(a.size, newshape)
    first, shape, strides = a._view()
    view = _reshape_strides(shape, strides, new)
    if view is not None:
        return a._restrided(new, view)
    return _gather_like(np.reshape, a, new)  # a copy: one gather


def ravel(a: ArrayLike, order: Literal["C", "F", "A"] = "C") -> Any:
    """numpy.ravel: a 1-D view (a copy when the elements are not evenly spaced).

    >>> import numpy as np, tapegrad as tg
    >>> tg.grad(lambda x: tg.ravel(x)[3] * 5.0)(np.ones((2, 2)))
    array([[0., 0.],
           [0., 5.]])
    """
    return reshape(a, -1, order=order) if isinstance(a, _TRACED) else np.ravel(a, order=order)
