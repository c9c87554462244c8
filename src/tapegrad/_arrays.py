"""numpy's array functions for Vars and VarArrays: reductions, products,
copies and views.

Each function records at most a few entries through the primitives of
_array.pyx (mostly one); on constants alone it is numpy's own function. Views
(reshape, transpose, squeeze, expand_dims) add no node. Every function that
moves elements without arithmetic (indexing, concatenate, stack, where, clip,
flip, ...) is one *gather*: it runs numpy's own function on the array of slot
numbers and, in parallel, on the array of constant values, and records the
result's slots, so numpy's semantics (and its error messages) hold exactly.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

from ._array import (VarArray, elementwise, record_cumsum, record_gather, record_matmul, record_reduce, tape_of,
                     var_view)
from ._var import Var

try:
    AxisError = np.exceptions.AxisError
except AttributeError:  # numpy < 1.25
    AxisError = np.AxisError

ArrayLike = Any  # a VarArray, Var, ndarray, nested list or number

__all__ = ["broadcast_to", "clip", "concatenate", "cumsum", "diag", "diagonal", "dot", "expand_dims", "flip",
           "hstack", "logsumexp", "matmul", "max", "mean", "min", "moveaxis", "norm", "outer", "prod", "ravel",
           "repeat", "reshape", "roll", "softmax", "sort", "squeeze", "stack", "sum", "swapaxes", "take", "tile",
           "transpose", "tril", "triu", "vdot", "vstack", "where"]

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


# ---- views (no node) -----------------------------------------------------------------------


def transpose(a: ArrayLike, axes: Sequence[int] | None = None) -> Any:
    """numpy.transpose: a view with permuted axes (reversed when axes is None)."""
    if not isinstance(a, VarArray):
        return a if isinstance(a, Var) else np.transpose(a, axes)
    nd = a.ndim
    perm = tuple(range(nd))[::-1] if axes is None else tuple(int(x) % nd if -nd <= int(x) < nd else nd for x in axes)
    if sorted(perm) != list(range(nd)):
        raise ValueError("axes don't match array")
    first, shape, strides = a._view()
    return a._restrided(tuple(shape[p] for p in perm), tuple(strides[p] for p in perm))


def swapaxes(a: ArrayLike, axis1: int, axis2: int) -> Any:
    """numpy.swapaxes (a view)."""
    if not isinstance(a, VarArray):
        return np.swapaxes(a, axis1, axis2)
    i, j = _axes(axis1, a.ndim)[0], _axes(axis2, a.ndim)[0]
    perm = list(range(a.ndim))
    perm[i], perm[j] = perm[j], perm[i]
    return transpose(a, perm)


def moveaxis(a: VarArray, source: int, destination: int) -> VarArray:
    """numpy.moveaxis for one axis (a view)."""
    src, dst = _axes(source, a.ndim)[0], _axes(destination, a.ndim)[0]
    perm = [d for d in range(a.ndim) if d != src]
    perm.insert(dst, src)
    return transpose(a, perm)


def squeeze(a: ArrayLike, axis: Any = None) -> Any:
    """numpy.squeeze: drop axes of length 1 (a view)."""
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
    """numpy.expand_dims: insert axes of length 1 (a view)."""
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


def _reshape_strides(shape: tuple, strides: tuple, new: tuple) -> tuple | None:
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


def _target_shape(size: int, newshape: Any) -> tuple:
    new = [int(d) for d in (newshape if isinstance(newshape, (tuple, list)) else (newshape,))]
    if new.count(-1) > 1:
        raise ValueError("can only specify one unknown dimension")
    if -1 in new:
        rest = math.prod(d for d in new if d != -1)
        if rest == 0 or size % rest:
            raise ValueError(f"cannot reshape array of size {size} into shape {tuple(newshape)}")
        new[new.index(-1)] = size // rest
    if math.prod(new) != size or builtins.min(new, default=0) < 0:
        raise ValueError(f"cannot reshape array of size {size} into shape {tuple(newshape)}")
    return tuple(new)


def reshape(a: ArrayLike, newshape: Any, order: str = "C") -> Any:
    """numpy.reshape: a view when the elements allow it (always for a
    contiguous array), else a copy (one gather), as numpy decides."""
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
    return _gather_like(np.reshape, a, new)


def ravel(a: ArrayLike, order: str = "C") -> Any:
    """numpy.ravel: a 1-D view (a copy when the elements are not evenly spaced)."""
    return reshape(a, -1, order=order) if isinstance(a, _TRACED) else np.ravel(a, order=order)


# ---- copies: one gather entry ----------------------------------------------------------


def _sources(x: Any) -> tuple[np.ndarray, np.ndarray]:
    """(slot numbers, constants) of an operand: a slot 0 (a sink) marks a constant."""
    if isinstance(x, VarArray):
        return x.slots().astype(np.int64), np.zeros(x.shape)
    if isinstance(x, Var):
        return np.array(x.index, dtype=np.int64), np.array(0.0)
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
    return _record(tape_of(a), fn(src, *args, **kwargs), fn(consts, *args, **kwargs))


def _gather_seq(fn: Callable[..., Any], arrays: Sequence[Any], *args: Any, **kwargs: Any) -> Any:
    """fn applied to a sequence of operands (concatenate, stack, ...)."""
    owner = tape_of(*arrays)
    if owner is None:
        return fn([np.asarray(x) for x in arrays], *args, **kwargs)
    pairs = [_sources(x) for x in arrays]
    src = fn([p[0] for p in pairs], *args, **kwargs)
    return _record(owner, src, fn([p[1] for p in pairs], *args, **kwargs))


def take_slots(a: VarArray, key: Any) -> Any:
    """Advanced (fancy or boolean) indexing: numpy's indexing of the slot array, one gather."""
    src = a.slots().astype(np.int64)[key]
    return _record(a.tape, src, np.zeros(np.shape(src)))


def concatenate(arrays: Sequence[ArrayLike], axis: int | None = 0, out: Any = None, **kw: Any) -> Any:
    """numpy.concatenate (one gather entry)."""
    _no_extras("concatenate", out=out, **kw)
    return _gather_seq(np.concatenate, arrays, axis=axis)


def stack(arrays: Sequence[ArrayLike], axis: int = 0, out: Any = None, **kw: Any) -> Any:
    """numpy.stack (one gather entry)."""
    _no_extras("stack", out=out, **kw)
    return _gather_seq(np.stack, arrays, axis=axis)


def hstack(tup: Sequence[ArrayLike], **kw: Any) -> Any:
    """numpy.hstack (one gather entry)."""
    _no_extras("hstack", **kw)
    return _gather_seq(np.hstack, tup)


def vstack(tup: Sequence[ArrayLike], **kw: Any) -> Any:
    """numpy.vstack (one gather entry)."""
    _no_extras("vstack", **kw)
    return _gather_seq(np.vstack, tup)


def _moving(name: str) -> Callable[..., Any]:
    """A numpy function that only moves elements of its first argument, as one gather."""
    fn = getattr(np, name)

    def moved(a: ArrayLike, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(a, _TRACED):
            return fn(a, *args, **kwargs)
        return _gather_like(fn, a, *args, **kwargs)

    moved.__name__ = moved.__qualname__ = name
    moved.__doc__ = f"numpy.{name} on Vars and VarArrays (one gather entry: it only moves elements)."
    return moved


flip = _moving("flip")
roll = _moving("roll")
repeat = _moving("repeat")
tile = _moving("tile")
broadcast_to = _moving("broadcast_to")
take = _moving("take")
diag = _moving("diag")
diagonal = _moving("diagonal")
triu = _moving("triu")
tril = _moving("tril")


def sort(a: ArrayLike, axis: int | None = -1, **kw: Any) -> Any:
    """numpy.sort: the elements in order of their values (one gather; the
    gradient follows each element to its sorted place)."""
    if not isinstance(a, _TRACED):
        return np.sort(a, axis=axis, **kw)
    a = _as_array(a)
    if axis is None:
        a, axis = ravel(a), 0
    order = np.argsort(a.value, axis=axis, kind="stable")
    src = np.take_along_axis(a.slots().astype(np.int64), order, axis=axis)
    return _record(a.tape, src, np.zeros(src.shape))


def _choose(pick: np.ndarray, choices: Sequence[Any]) -> Any:
    """Element j from choices[pick[j]] (all broadcast together): one gather."""
    owner = tape_of(*choices)
    pairs = [_sources(c) for c in choices]
    shape = np.broadcast_shapes(pick.shape, *(p[0].shape for p in pairs))
    pick = np.broadcast_to(pick, shape)
    src = np.choose(pick, [np.broadcast_to(p[0], shape) for p in pairs])
    consts = np.choose(pick, [np.broadcast_to(p[1], shape) for p in pairs])
    return _record(owner, src, consts)


def _values(x: Any) -> Any:
    return x.value if isinstance(x, _TRACED) else x


def where(condition: ArrayLike, x: ArrayLike = None, y: ArrayLike = None) -> Any:
    """numpy.where: x where condition holds, else y (one gather; the
    gradient goes to the chosen operand only, so a NaN or inf partial in the
    branch not taken never reaches it)."""
    if x is None and y is None:
        return np.where(_values(condition))
    if x is None or y is None:
        raise ValueError("either both or neither of x and y should be given")
    cond = np.asarray(_values(condition)).astype(bool)
    if not _traced(x, y):
        return np.where(cond, x, y)
    return _choose(np.where(cond, 0, 1), (x, y))


def clip(a: ArrayLike, a_min: ArrayLike = None, a_max: ArrayLike = None, out: Any = None, **kw: Any) -> Any:
    """numpy.clip: minimum(maximum(a, a_min), a_max), one gather. The
    derivative with respect to a is 1 on [a_min, a_max] (bounds included) and 0
    outside, where it goes to the bound instead (if the bound is a Var)."""
    _no_extras("clip", out=out, **kw)
    if not _traced(a, a_min, a_max):
        return np.clip(a, a_min, a_max)
    if a_min is None and a_max is None:
        return a
    av = np.asarray(_values(a), dtype=float)
    lo = -np.inf if a_min is None else np.asarray(_values(a_min), dtype=float)
    hi = np.inf if a_max is None else np.asarray(_values(a_max), dtype=float)
    pick = np.where(np.maximum(av, lo) > hi, 2, np.where(av < lo, 1, 0))
    return _choose(pick, (a, -np.inf if a_min is None else a_min, np.inf if a_max is None else a_max))


# ---- reductions -----------------------------------------------------------------------------


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
    first, shape, strides = a._view()
    count = math.prod(shape[d] for d in axes)
    if count == 0 and how in ("max", "min") and math.prod(shape[d] for d in kept):
        raise ValueError(f"zero-size array to reduction operation {'maximum' if how == 'max' else 'minimum'} "
                         "which has no identity")
    scale = (1.0 / count if count else math.nan) if mean else 1.0
    out = record_reduce(transpose(a, kept + list(axes)), len(kept), how, scale)
    if keepdims:
        out = expand_dims(out, axes) if axes else out
    return out


def sum(a: ArrayLike, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
        **kw: Any) -> Any:
    """numpy.sum (one reduce entry). A full sum gives a Var.

    >>> import tapegrad as tg
    >>> tg.grad(lambda x: tg.sum(x * x))([1.0, 2.0])
    [2.0, 4.0]
    """
    _no_extras("sum", out=out, dtype=dtype, **kw)
    return _reduce("sum", "sum", a, axis, keepdims, np.sum)


def mean(a: ArrayLike, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
         **kw: Any) -> Any:
    """numpy.mean (one reduce entry)."""
    _no_extras("mean", out=out, dtype=dtype, **kw)
    return _reduce("mean", "sum", a, axis, keepdims, np.mean, mean=True)


def prod(a: ArrayLike, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
         **kw: Any) -> Any:
    """numpy.prod (one reduce entry; exact derivative also where elements are 0)."""
    _no_extras("prod", out=out, dtype=dtype, **kw)
    return _reduce("prod", "prod", a, axis, keepdims, np.prod)


def max(a: ArrayLike, axis: Any = None, out: Any = None, keepdims: bool = False, **kw: Any) -> Any:
    """numpy.max (one reduce entry; ties share the derivative evenly)."""
    _no_extras("max", out=out, **kw)
    return _reduce("max", "max", a, axis, keepdims, np.max)


def min(a: ArrayLike, axis: Any = None, out: Any = None, keepdims: bool = False, **kw: Any) -> Any:
    """numpy.min (one reduce entry; ties share the derivative evenly)."""
    _no_extras("min", out=out, **kw)
    return _reduce("min", "min", a, axis, keepdims, np.min)


def _logsumexp_numpy(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    a = np.asarray(a, dtype=float)
    m = np.max(a, axis=axis, keepdims=True) if a.size else np.zeros((1,) * a.ndim)
    m = np.where(np.isfinite(m), m, 0.0)
    r = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return r if keepdims else (np.squeeze(r, axis=axis) if axis is not None else r.reshape(()))[()]


def logsumexp(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Any:
    """log(sum(exp(a))) along axis, without overflow (one reduce entry; its
    derivative is the softmax).

    >>> import tapegrad as tg
    >>> round(tg.logsumexp([1000.0, 1000.0]), 6)
    1000.693147
    """
    return _reduce("logsumexp", "logsumexp", a, axis, keepdims, _logsumexp_numpy)


def softmax(a: ArrayLike, axis: Any = -1) -> Any:
    """exp(a) / sum(exp(a)) along axis, computed as exp(a - logsumexp(a)) (stable)."""
    if not isinstance(a, _TRACED):
        a = np.asarray(a, dtype=float)
        return np.exp(a - _logsumexp_numpy(a, axis=axis, keepdims=True))
    return elementwise("exp", (elementwise("subtract", (a, logsumexp(a, axis=axis, keepdims=True))),))


def norm(x: ArrayLike, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """numpy.linalg.norm for vector norms (ord None/2, 1, inf, -inf, p) and the
    Frobenius norm ('fro', or None over two axes). The 2-norm is one reduce
    entry, scaled against overflow; its derivative at 0 is taken as 0."""
    if not isinstance(x, _TRACED):
        return np.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims)
    x = _as_array(x)
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
    p = float(ord)
    return elementwise("power", (sum(elementwise("power", (magnitude, p)), axis=axis, keepdims=keepdims), 1.0 / p))


def cumsum(a: ArrayLike, axis: int | None = None, dtype: Any = None, out: Any = None) -> Any:
    """numpy.cumsum (one entry; the flattened array when axis is None)."""
    _no_extras("cumsum", out=out, dtype=dtype)
    if not isinstance(a, _TRACED):
        return np.cumsum(a, axis=axis)
    a = _as_array(a)
    if axis is None:
        a, axis = ravel(a), 0
    (ax,) = _axes(axis, a.ndim)
    return moveaxis(record_cumsum(moveaxis(a, ax, -1)), -1, ax)


# ---- products ------------------------------------------------------------------------------


def _ndim(x: Any) -> int:
    return x.ndim if isinstance(x, VarArray) else 0 if isinstance(x, Var) else np.ndim(x)


def _shape(x: Any) -> tuple:
    return x.shape if isinstance(x, VarArray) else () if isinstance(x, Var) else np.shape(x)


def _as_matrix(x: Any, row: bool) -> Any:
    """A 2-D operand for the matmul entry: a vector becomes one row (row=True) or one column."""
    if isinstance(x, VarArray):
        return (expand_dims(x, 0) if row else expand_dims(x, 1)) if x.ndim == 1 else x
    c = np.asarray(x, dtype=np.float64)
    return (c[None, :] if row else c[:, None]) if c.ndim == 1 else c


_SIGNATURE = "(n?,k),(k,m?)->(n?,m?)"


def matmul(a: ArrayLike, b: ArrayLike, out: Any = None, **kw: Any) -> Any:
    """numpy.matmul / the @ operator for vectors and matrices (one matmul entry):
    vector @ vector is a Var, matrix @ vector a vector, matrix @ matrix a matrix."""
    _no_extras("matmul", out=out, **kw)
    if not _traced(a, b):
        return np.matmul(a, b)
    na, nb = _ndim(a), _ndim(b)
    for i, n in enumerate((na, nb)):
        if n == 0:
            raise ValueError(f"matmul: Input operand {i} does not have enough dimensions (has 0, gufunc core "
                             f"with signature {_SIGNATURE} requires 1)")
    if na > 2 or nb > 2:
        raise TypeError(f"tapegrad.matmul takes vectors and matrices; stacks of matrices (shapes "
                        f"{_shape(a)} and {_shape(b)}) are not supported: loop over the stack and tapegrad.stack")
    A, B = _as_matrix(a, row=True), _as_matrix(b, row=False)
    k_a, k_b = _shape(A)[1], _shape(B)[0]
    if k_a != k_b:
        raise ValueError(f"matmul: Input operand 1 has a mismatch in its core dimension 0, with gufunc "
                         f"signature {_SIGNATURE} (size {k_b} is different from {k_a})")
    c = record_matmul(A, B)
    if na == 1 and nb == 1:
        return c[0, 0]
    if na == 1:
        return c[0]
    if nb == 1:
        return c[:, 0]
    return c


def dot(a: ArrayLike, b: ArrayLike, out: Any = None) -> Any:
    """numpy.dot for scalars (a product), vectors and matrices, and N-D · 1-D
    (a sum over the last axis)."""
    _no_extras("dot", out=out)
    if not _traced(a, b):
        return np.dot(a, b)
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        return elementwise("multiply", (a, b))
    if na <= 2 and nb <= 2:
        sa, sb = _shape(a), _shape(b)
        ka, kb = sa[-1], sb[0]
        if ka != kb:
            raise ValueError(f"shapes {sa} and {sb} not aligned: {ka} (dim {na - 1}) != {kb} (dim 0)")
        return matmul(a, b)
    if nb == 1:
        sa = _shape(a)
        flat = reshape(a, (-1, sa[-1])) if isinstance(a, VarArray) else np.reshape(a, (-1, sa[-1]))
        return reshape(matmul(flat, b), sa[:-1])
    raise TypeError(f"tapegrad.dot supports N-D · 1-D and up to 2-D · 2-D, not shapes {_shape(a)} · {_shape(b)}; "
                    "use tapegrad.matmul on 2-D slices")


def vdot(a: ArrayLike, b: ArrayLike) -> Any:
    """numpy.vdot for real arrays: the dot product of the flattened arrays."""
    return dot(ravel(a), ravel(b))


def outer(a: ArrayLike, b: ArrayLike, out: Any = None) -> Any:
    """numpy.outer: a (flattened) as a column times b (flattened) as a row."""
    _no_extras("outer", out=out)
    if not _traced(a, b):
        return np.outer(a, b)
    return elementwise("multiply", (expand_dims(ravel(a), 1), expand_dims(ravel(b), 0)))


# ---- shape queries ----------------------------------------------------------------------------


def shape(a: ArrayLike) -> tuple:
    """numpy.shape."""
    return _shape(a)


def ndim(a: ArrayLike) -> int:
    """numpy.ndim."""
    return _ndim(a)


def size(a: ArrayLike, axis: int | None = None) -> int:
    """numpy.size."""
    s = _shape(a)
    return math.prod(s) if axis is None else s[axis]
