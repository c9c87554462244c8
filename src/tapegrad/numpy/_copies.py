"""Copies: every function that moves elements without arithmetic is one
*gather* entry. It runs numpy's own function on the array of slot numbers and,
in parallel, on the array of constant values, and records the result's slots,
so numpy's semantics (and its error messages) hold exactly."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

from .._array import common_tape
from .._var import GREATER, LESS, NOT_EQUAL
from . import _guards
from ._helpers import (
    _TRACED,
    ArrayLike,
    _as_array,
    _gather_like,
    _gather_seq,
    _no_extras,
    _record,
    _sources,
    _traced,
    _values,
)
from ._views import ravel

__all__ = ["concatenate", "stack", "hstack", "vstack", "flip", "roll", "repeat", "tile", "broadcast_to", "take",
           "diag", "diagonal", "triu", "tril", "sort", "where", "clip"]


def concatenate(arrays: Sequence[ArrayLike], axis: int | None = 0, out: Any = None, **kw: Any) -> Any:
    """numpy.concatenate (one gather entry).

    >>> import numpy as np, tapegrad as tg
    >>> tg.grad(lambda x: tg.concatenate([x, 2 * x, [1.0]]).sum())(np.ones(2))
    array([3., 3.])
    """
    _no_extras("concatenate", out=out, **kw)
    return _gather_seq(np.concatenate, arrays, axis=axis)


def stack(arrays: Sequence[ArrayLike], axis: int = 0, out: Any = None, **kw: Any) -> Any:
    """numpy.stack (one gather entry).

    >>> import numpy as np, tapegrad as tg
    >>> tg.grad(lambda x: tg.stack([x, 2 * x])[1].sum())(np.ones(2))
    array([2., 2.])
    """
    _no_extras("stack", out=out, **kw)
    return _gather_seq(np.stack, arrays, axis=axis)


def hstack(tup: Sequence[ArrayLike], **kw: Any) -> Any:
    """numpy.hstack (one gather entry).

    >>> import numpy as np, tapegrad as tg
    >>> tg.grad(lambda x: tg.hstack([x, x ** 2]).sum())(np.array([1.0, 2.0]))
    array([3., 5.])
    """
    _no_extras("hstack", **kw)
    return _gather_seq(np.hstack, tup)


def vstack(tup: Sequence[ArrayLike], **kw: Any) -> Any:
    """numpy.vstack (one gather entry).

    >>> import numpy as np, tapegrad as tg
    >>> tg.grad(lambda x: tg.vstack([x, 3 * x])[:, 0].sum())(np.ones(2))
    array([4., 0.])
    """
    _no_extras("vstack", **kw)
    return _gather_seq(np.vstack, tup)


def _moving(name: str, example: str) -> Callable[..., Any]:
    """A numpy function that only moves elements of its first argument, as one
    gather; `example` is its doctest (after the import line)."""
    fn = getattr(np, name)

    def moved(a: ArrayLike, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(a, _TRACED):
            return fn(a, *args, **kwargs)
        return _gather_like(fn, a, *args, **kwargs)

    moved.__name__ = moved.__qualname__ = name
    moved.__doc__ = (f"numpy.{name} on Vars and VarArrays (one gather entry: it only moves elements).\n\n"
                     f">>> import numpy as np, tapegrad as tg\n{textwrap.dedent(example).strip()}\n")
    return moved


flip = _moving("flip", """
    >>> tg.grad(lambda x: tg.flip(x)[0])(np.array([1.0, 2.0, 3.0]))
    array([0., 0., 1.])""")
roll = _moving("roll", """
    >>> tg.grad(lambda x: tg.roll(x, 1)[0])(np.array([1.0, 2.0, 3.0]))
    array([0., 0., 1.])""")
repeat = _moving("repeat", """
    >>> tg.grad(lambda x: tg.repeat(x, 3).sum())(np.ones(2))
    array([3., 3.])""")
tile = _moving("tile", """
    >>> tg.grad(lambda x: (tg.tile(x, 2) * [1.0, 2.0, 3.0, 4.0]).sum())(np.ones(2))
    array([4., 6.])""")
broadcast_to = _moving("broadcast_to", """
    >>> tg.grad(lambda x: tg.broadcast_to(x, (3, 2)).sum())(np.ones(2))
    array([3., 3.])""")
take = _moving("take", """
    >>> tg.grad(lambda x: tg.take(x, [0, 0, 2]).sum())(np.ones(3))
    array([2., 0., 1.])""")
diag = _moving("diag", """
    >>> tg.grad(lambda x: tg.diag(x).sum())(np.ones((2, 2)))
    array([[1., 0.],
           [0., 1.]])""")
diagonal = _moving("diagonal", """
    >>> tg.grad(lambda x: (tg.diagonal(x) * [1.0, 2.0]).sum())(np.ones((2, 2)))
    array([[1., 0.],
           [0., 2.]])""")
triu = _moving("triu", """
    >>> tg.grad(lambda x: tg.triu(x).sum())(np.ones((2, 2)))
    array([[1., 1.],
           [0., 1.]])""")
tril = _moving("tril", """
    >>> tg.grad(lambda x: tg.tril(x).sum())(np.ones((2, 2)))
    array([[1., 0.],
           [1., 1.]])""")

def sort(a: ArrayLike, axis: int | None = -1, **kw: Any) -> Any:
    """numpy.sort: the elements in order of their values (one gather; the
    gradient follows each element to its sorted place).

    >>> import numpy as np, tapegrad as tg
    >>> tg.grad(lambda x: tg.sort(x)[0])(np.array([3.0, 1.0, 2.0]))
    array([0., 1., 0.])
    """
    if not isinstance(a, _TRACED):
        return np.sort(a, axis=axis, **kw)
    a = _as_array(a)
    if axis is None:
        a, axis = ravel(a), 0
    order = np.argsort(a.value, axis=axis, kind="stable")
    src = np.take_along_axis(a.slots().astype(np.int64), order, axis=axis)
    _guards.record_order(a.tape, src, axis)  # the order is read from values: compiled replay re-checks it
    return _record(a.tape, src, np.zeros(src.shape))


def _choose(pick: np.ndarray, choices: Sequence[Any]) -> Any:
    """Element j from choices[pick[j]] (all broadcast together): one gather."""
    owner = common_tape(*choices)
    pairs = [_sources(c) for c in choices]
    shape = np.broadcast_shapes(pick.shape, *(p[0].shape for p in pairs))
    pick = np.broadcast_to(pick, shape)
    src = np.choose(pick, [np.broadcast_to(p[0], shape) for p in pairs])
    consts = np.choose(pick, [np.broadcast_to(p[1], shape) for p in pairs])
    return _record(owner, src, consts)


def where(condition: ArrayLike, x: ArrayLike = None, y: ArrayLike = None) -> Any:
    """numpy.where: x where condition holds, else y (one gather; the
    gradient goes to the chosen operand only, so a NaN or inf partial in the
    branch not taken never reaches it).

    >>> import numpy as np, tapegrad as tg
    >>> x = np.array([0.0, 1.0])
    >>> tg.grad(lambda v: tg.where(x > 0, tg.log(v), 0.0).sum())(x)
    array([0., 1.])
    """
    if x is None and y is None:
        return np.where(_values(condition))
    if x is None or y is None:
        raise ValueError("either both or neither of x and y should be given")
    if isinstance(condition, _TRACED):  # a truth value read from values: recorded for compiled replay
        condition = _guards.compare(NOT_EQUAL, condition, 0.0)
    cond = np.asarray(condition).astype(bool)
    if not _traced(x, y):
        return np.where(cond, x, y)
    return _choose(np.where(cond, 0, 1), (x, y))


def clip(a: ArrayLike, a_min: ArrayLike = None, a_max: ArrayLike = None, out: Any = None, **kw: Any) -> Any:
    """numpy.clip: minimum(maximum(a, a_min), a_max), one gather. The
    derivative with respect to a is 1 on [a_min, a_max] (bounds included) and 0
    outside, where it goes to the bound instead (if the bound is a Var).

    >>> import numpy as np, tapegrad as tg
    >>> tg.grad(lambda v: tg.clip(v, 0.0, 1.0).sum())(np.array([-1.0, 0.5, 2.0]))
    array([0., 1., 0.])
    """
    _no_extras("clip", out=out, **kw)
    if not _traced(a, a_min, a_max):
        return np.clip(a, a_min, a_max)
    if a_min is None and a_max is None:
        return a
    av = np.asarray(_values(a), dtype=float)
    lo = -np.inf if a_min is None else np.asarray(_values(a_min), dtype=float)
    hi = np.inf if a_max is None else np.asarray(_values(a_max), dtype=float)
    pick = np.where(np.maximum(av, lo) > hi, 2, np.where(av < lo, 1, 0))
    # The pick is read from values: record the comparisons it rests on, so
    # that compiled replay raises BranchChangedError when a point crosses a bound.
    if a_min is not None:
        _guards.compare(LESS, a, a_min)
    if a_max is not None:
        _guards.compare(GREATER, a, a_max)
    return _choose(pick, (a, -np.inf if a_min is None else a_min, np.inf if a_max is None else a_max))
