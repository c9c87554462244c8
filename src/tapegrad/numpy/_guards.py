"""Array comparisons recorded as guards, so compiled replay can re-check them.

``va > 0`` gives a bool ndarray computed from values -- and a choice made with
it (``tg.where(x > 0, a, b)``, ``x[x > 0]``) is baked into the tape. Like a
scalar comparison (``Var.__gt__``, Tape::comparisons_), every element of an
array comparison is recorded as one comparison (kind, operand slots or a
constant, outcome); replay re-checks each and raises BranchChangedError naming
the element that flipped (``compile(retrace=True)`` records again instead).
Selections the front end computes from values (clip's pick, sort's order)
record the comparisons they rest on the same way. Only a tape that
tapegrad.compile is recording keeps them (Tape._guard_arrays).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _core
from .._array import VarArray, common_tape
from .._var import (
    EQUAL,
    GREATER,
    GREATER_EQUAL,
    LESS,
    LESS_EQUAL,
    NOT_EQUAL,
    Var,
    _caller_site,
)

# Tape::Compare codes (numbered in C++: tape.hpp), the numpy ufunc computing
# each, and each code with its operands swapped.
_UFUNCS = {LESS: np.less, LESS_EQUAL: np.less_equal, GREATER: np.greater, GREATER_EQUAL: np.greater_equal,
           EQUAL: np.equal, NOT_EQUAL: np.not_equal}
_FLIPPED = {LESS: GREATER, LESS_EQUAL: GREATER_EQUAL, GREATER: LESS, GREATER_EQUAL: LESS_EQUAL, EQUAL: EQUAL,
            NOT_EQUAL: NOT_EQUAL}
BY_UFUNC_NAME = {f.__name__: kind for kind, f in _UFUNCS.items()}  # "less" -> LESS, ...


def _operand(x: Any) -> tuple[np.ndarray, np.ndarray]:
    """(slots, constants): slot 0 marks a constant element."""
    if isinstance(x, VarArray):
        return x.slots().astype(np.int64), np.zeros(x.shape)
    if isinstance(x, Var):
        return np.array(x.index, dtype=np.int64), np.array(0.0)
    c = np.asarray(x, dtype=np.float64)
    return np.zeros(c.shape, dtype=np.int64), c


def _values(x: Any) -> Any:
    return x.value if isinstance(x, (Var, VarArray)) else x


def _wanted(owner: Any) -> bool:
    """Guards are kept only on a tape that compile is recording: an eager
    gradient never replays, and a guard per element would cost it time and memory."""
    return bool(getattr(owner, "_guard_arrays", False))


def compare(kind: int, a: Any, b: Any) -> Any:
    """``a <kind> b`` elementwise on values (numpy's result), each element
    recorded on the operands' tape as a comparison.

    >>> import numpy as np, tapegrad as tg
    >>> from tapegrad.numpy._guards import compare, GREATER
    >>> x = tg.Tape().vars([-1.0, 2.0])
    >>> compare(GREATER, x, 0.0)
    array([False,  True])
    """
    result = _UFUNCS[kind](_values(a), _values(b))
    traced = [x for x in (a, b) if isinstance(x, (Var, VarArray))]
    if not traced:
        return result
    owner = common_tape(traced[0])
    if not _wanted(owner):
        return result
    # An operand on another tape is a constant here (as in Var comparisons).
    a, b = (x if not isinstance(x, (Var, VarArray)) or common_tape(x) is owner else _values(x) for x in (a, b))
    try:
        np.asarray(_values(b), dtype=np.float64), np.asarray(_values(a), dtype=np.float64)
    except (TypeError, ValueError):  # compared with something that is not a number (va == None): nothing to guard
        return result
    record(owner, kind, a, b, np.asarray(result))
    return result


def record(owner: Any, kind: int, a: Any, b: Any, outcome: np.ndarray) -> None:
    """Record ``a <kind> b`` == outcome for every element (a, b broadcast to
    outcome's shape). Elements where both sides are constants need no guard.

    >>> import numpy as np, tapegrad as tg
    >>> from tapegrad.numpy._guards import record, LESS
    >>> t = tg.Tape(); x = t.vars([1.0, 3.0])
    >>> record(t, LESS, x, 2.0, np.array([True, False]))
    """
    if not _wanted(owner):
        return
    shape = np.shape(outcome)
    sa, ca = (np.broadcast_to(v, shape).reshape(-1) for v in _operand(a))
    sb, cb = (np.broadcast_to(v, shape).reshape(-1) for v in _operand(b))
    out = np.broadcast_to(outcome, shape).reshape(-1).astype(bool)
    keep = (sa != 0) | (sb != 0)
    if not keep.all():
        sa, ca, sb, cb, out = sa[keep], ca[keep], sb[keep], cb[keep], out[keep]
    if out.size == 0:
        return
    # The left operand must be a slot: a constant on the left swaps sides.
    swap = sa == 0
    kinds = np.where(swap, _FLIPPED[kind], np.uint8(kind)).astype(np.uint8)
    left = np.where(swap, sb, sa).astype(np.uint32)
    right = np.where(swap, sa, sb).astype(np.uint32)
    constants = np.where(swap, ca, cb)
    if _core._record_comparisons(owner, kinds, left, right, constants, out):
        owner._sites.extend([_caller_site()] * out.size)


def record_order(owner: Any, slots: np.ndarray, axis: int) -> None:
    """Guard a sorted order: the values at ``slots`` are non-decreasing along
    ``axis`` (recorded as ``slots[k] <= slots[k+1]``).

    >>> import numpy as np, tapegrad as tg
    >>> t = tg.Tape(); x = t.vars([1.0, 2.0])
    >>> record_order(t, x.slots(), 0)
    """
    if not _wanted(owner):
        return
    s = np.moveaxis(np.asarray(slots, dtype=np.int64), axis, -1)
    if s.shape[-1] < 2:
        return
    lo, hi = s[..., :-1].reshape(-1), s[..., 1:].reshape(-1)
    n = lo.size
    if _core._record_comparisons(owner, np.full(n, LESS_EQUAL, np.uint8), lo.astype(np.uint32),
                                 hi.astype(np.uint32), np.zeros(n), np.ones(n, bool)):
        owner._sites.extend([_caller_site()] * n)
