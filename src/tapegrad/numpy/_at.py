"""``x.at[index]``: JAX's functional update of a VarArray, the differentiable
replacement for ``x[index] = v`` (VarArrays are immutable: their elements are
tape nodes).

``x.at[i].set(v)`` is one gather entry: numpy's own assignment is run on the
array of x's slot numbers (and, beside it, on the array of constants), so
numpy's indexing, broadcasting and errors hold exactly, and a repeated index
keeps the last value, as in numpy. The combining updates (``add``,
``multiply``, ...) apply *every* occurrence of a repeated index, as
``numpy.add.at`` and JAX do: the indexed elements are gathered, combined
elementwise with v, and set back -- once per level of repetition, so an index
without repeats costs one such round.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .._array import VarArray, common_tape, record_gather
from .._var import Var, maximum, minimum
from ._copies import broadcast_to
from ._helpers import _sources


def _concrete_index(index: Any) -> Any:
    """An index with Vars/VarArrays replaced by their values (where an index
    comes from is piecewise constant: a zero derivative is right)."""
    if isinstance(index, tuple):
        return tuple(_concrete_index(i) for i in index)
    if isinstance(index, Var):
        return int(index)
    if isinstance(index, VarArray):
        value = index.value
        return value.astype(np.int64) if value.dtype.kind == "f" and np.all(value == np.round(value)) else value
    return index


def _set(x: VarArray, index: Any, values: Any) -> VarArray:
    owner = common_tape(x, values)
    slots, consts = _sources(x)
    new_slots, new_consts = _sources(values)
    slots[index] = new_slots  # numpy's assignment: broadcasting, a repeated index keeps the last value
    consts[index] = new_consts
    updated: VarArray = record_gather(owner, slots, consts, x.shape)
    return updated


def _occurrence(positions: np.ndarray) -> np.ndarray:
    """For each flat position, how many times it occurred before (0 for its first occurrence)."""
    order = np.argsort(positions, kind="stable")
    ordered = positions[order]
    first = np.ones(ordered.size, dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    run_start = np.maximum.accumulate(np.where(first, np.arange(ordered.size), 0))
    rank = np.empty(ordered.size, dtype=np.int64)
    rank[order] = np.arange(ordered.size) - run_start
    return rank


def _broadcast_values(values: Any, shape: tuple[int, ...]) -> Any:
    """values broadcast to the indexed shape as numpy's assignment does
    (leading length-1 axes beyond the target's are dropped): a scalar stays
    one, anything else becomes a flat array of the indexed elements' count."""
    vshape = np.shape(values.value if isinstance(values, (Var, VarArray)) else values)
    while len(vshape) > len(shape) and vshape[0] == 1:
        values, vshape = values[0], vshape[1:]
    try:
        fits = np.broadcast_shapes(vshape, shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"could not broadcast input array from shape {vshape} into shape {shape}")
    if vshape == ():  # one number for every indexed element
        if isinstance(values, VarArray):
            return values[()]
        return values if isinstance(values, Var) else float(np.asarray(values, dtype=np.float64))
    if isinstance(values, VarArray):
        return broadcast_to(values, shape).reshape(-1)
    return np.broadcast_to(np.asarray(values, dtype=np.float64), shape).reshape(-1)


def _combine(x: VarArray, index: Any, values: Any, op: Callable[[Any, Any], Any]) -> VarArray:
    targets = np.arange(x.size).reshape(x.shape)[index]  # numpy's indexing and its errors
    values = _broadcast_values(values, targets.shape)
    positions = targets.reshape(-1)
    if positions.size == 0:
        return x
    per_element = not isinstance(values, (Var, float))
    rank = _occurrence(positions)
    levels = int(rank.max()) + 1
    out = x
    for level in range(levels):
        chosen = slice(None) if levels == 1 else rank == level
        at = positions[chosen]
        flat = out.reshape(-1)
        out = _set(flat, at, op(flat[at], values[chosen] if per_element else values)).reshape(x.shape)
    return out


class IndexedUpdate:
    """``x.at[index]``: the update methods of one index of one VarArray."""

    __slots__ = ("_array", "_index")

    def __init__(self, array: VarArray, index: Any) -> None:
        self._array, self._index = array, _concrete_index(index)

    def get(self) -> Any:
        """x[index]."""
        return self._array[self._index]

    def set(self, values: Any) -> VarArray:
        """x with x[index] = values (a repeated index keeps the last value, as numpy)."""
        return _set(self._array, self._index, values)

    def add(self, values: Any) -> VarArray:
        """x with x[index] += values, every occurrence of a repeated index added (numpy.add.at)."""
        return _combine(self._array, self._index, values, lambda a, b: a + b)

    def multiply(self, values: Any) -> VarArray:
        """x with x[index] *= values, every occurrence of a repeated index applied."""
        return _combine(self._array, self._index, values, lambda a, b: a * b)

    def divide(self, values: Any) -> VarArray:
        """x with x[index] /= values, every occurrence of a repeated index applied."""
        return _combine(self._array, self._index, values, lambda a, b: a / b)

    def power(self, values: Any) -> VarArray:
        """x with x[index] **= values, every occurrence of a repeated index applied."""
        return _combine(self._array, self._index, values, lambda a, b: a ** b)

    def min(self, values: Any) -> VarArray:
        """x with x[index] = minimum(x[index], values)."""
        return _combine(self._array, self._index, values, minimum)

    def max(self, values: Any) -> VarArray:
        """x with x[index] = maximum(x[index], values)."""
        return _combine(self._array, self._index, values, maximum)

    def __repr__(self) -> str:
        return f"<VarArray.at[{self._index!r}] of shape {self._array.shape}>"


class AtIndexer:
    """``x.at``: index it (``x.at[i]``) to get the update methods."""

    __slots__ = ("_array",)

    def __init__(self, array: VarArray) -> None:
        self._array = array

    def __getitem__(self, index: Any) -> IndexedUpdate:
        return IndexedUpdate(self._array, index)

    def __repr__(self) -> str:
        return f"<VarArray.at of shape {self._array.shape}>"
