"""Recording for the transforms: the pool of reusable tapes, arguments made
tape inputs (the leaves of pytrees), argnums, and the outputs' slots. Shared
by the transforms (_api.py) and compiled tapes (_compile.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._array import VarArray, _new_vars
from ._pytree import (
    flatten,
    is_unregistered_container,
    unflatten,
    unregistered_container_error,
)
from ._tape import Tape
from ._var import MASKED_ARRAY, Var, _new_var

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


# ---- inputs: the leaves of the differentiated arguments become tape inputs ---------------


def _watch_leaf(tape: Tape, x: Any, position: int) -> Var | VarArray:
    if isinstance(x, (float, int, np.floating, np.integer)) and not isinstance(x, (bool, np.bool_)):
        return _new_var(tape, float(x))
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(f"argument {position}: {MASKED_ARRAY}")
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "fiu":
            raise TypeError(f"argument {position} has dtype {x.dtype}; tapegrad differentiates real numbers "
                            "(integer arrays become float64)")
        return _new_vars(tape, x)
    if isinstance(x, complex):
        raise TypeError(f"argument {position} has dtype complex; tapegrad differentiates real numbers")
    if is_unregistered_container(x):
        raise unregistered_container_error(x, f"argument {position}")
    raise TypeError(f"cannot differentiate with respect to argument {position} of type {type(x).__name__}: "
                    "pass floats, numpy arrays, or tuples/lists/dicts of them")


def _watch(tape: Tape, arg: Any, position: int) -> tuple[Any, list[Var | VarArray], Any]:
    """Record the leaves of pytree `arg` as inputs: (arg on the tape, its leaves, its structure)."""
    if type(arg) in (np.ndarray, float):  # the common single leaf, without walking a tree
        leaf = _watch_leaf(tape, arg, position)
        return leaf, [leaf], None
    leaves, tree = flatten(arg)
    watched = [_watch_leaf(tape, x, position) for x in leaves]
    return unflatten(tree, watched), watched, tree


def _views(leaves: Sequence[Var | VarArray]) -> list[tuple[Any, ...]]:
    """Where each watched leaf lives on the tape, for _core._pullback."""
    return [(x.index, (), ()) if isinstance(x, Var) else x._view() for x in leaves]


def _split(flat: np.ndarray, leaves: Sequence[Var | VarArray], tree: Any, lead: tuple[Any, ...] = ()) -> Any:
    """Cut one pullback row (or a block of rows, shape lead + (total,)) into the
    gradient pytree: a float (or an array of shape lead) per number leaf, an
    array of shape lead + leaf shape per array leaf."""
    if tree is None:  # a single leaf (see _watch)
        x = leaves[0]
        if isinstance(x, VarArray):
            return flat.reshape(lead + x.shape)
        return float(flat[..., 0]) if not lead else flat[..., 0]
    parts, at = [], 0
    for x in leaves:
        shape = () if isinstance(x, Var) else x.shape
        size = 1 if isinstance(x, Var) else x.size
        block = flat[..., at:at + size].reshape(lead + shape)
        at += size
        parts.append(float(block) if not lead and isinstance(x, Var) else block)
    return unflatten(tree, parts)


def _argnums(argnums: Any) -> tuple[int, ...]:
    """argnums as a tuple of ints, checked when the transform is made: an int or
    a non-empty sequence of distinct ints (negative ones count from the end)."""
    def one(i: Any) -> int:
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"argnums must be an int or a tuple of ints (positions of f's arguments), "
                            f"not {i!r} of type {type(i).__name__}")
        return int(i)

    if isinstance(argnums, (int, np.integer)) and not isinstance(argnums, (bool, np.bool_)):
        return (int(argnums),)
    if not isinstance(argnums, (tuple, list)):
        one(argnums)  # raises with the message above
    nums = tuple(one(i) for i in argnums)
    if not nums:
        raise ValueError("argnums is empty: name at least one argument to differentiate with respect to")
    if len(set(nums)) != len(nums):
        raise ValueError(f"argnums={tuple(argnums)!r} names an argument twice; name each argument once")
    return nums


def _checked(argnums: Any) -> int | tuple[int, ...]:
    """A valid argnums as an int (one argument) or a tuple of ints."""
    nums = _argnums(argnums)
    return nums[0] if isinstance(argnums, (int, np.integer)) else nums


def _positions(nums: tuple[int, ...], argnums: Any, nargs: int) -> list[int]:
    """The argnums as positions among the nargs arguments of one call."""
    if any(not -nargs <= i < nargs for i in nums):
        raise TypeError(f"argnums={argnums!r} needs at least {max(i if i >= 0 else -i - 1 for i in nums) + 1} "
                        f"positional arguments, but f was called with {nargs}")
    positions = [i % nargs for i in nums]
    if len(set(positions)) != len(positions):
        raise ValueError(f"argnums={argnums!r} names argument {positions[0]} twice (counting negative positions "
                         f"from the end of the {nargs} arguments)")
    return positions


def _call(tape: Tape, f: Callable[..., Any], argnums: int | Sequence[int], args: tuple[Any, ...],
          kwargs: dict[str, Any]) -> tuple[Any, list[tuple[list[Var | VarArray], Any]]]:
    """Call f with the argnums arguments recorded: (output, [(leaves, tree) per argnum])."""
    call_args = list(args)
    watched = []
    for i in _positions(_argnums(argnums), argnums, len(call_args)):
        call_args[i], leaves, tree = _watch(tape, call_args[i], i)
        watched.append((leaves, tree))
    return _strictly(tape, f, call_args, kwargs), watched


def _strictly(tape: Tape, f: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
    """f(*args, **kwargs) with float() of the tape's Vars an error (ConcretizationError):
    a number that leaves the tape while f records would silently carry no derivative."""
    tape._strict = True
    try:
        return f(*args, **kwargs)
    finally:
        tape._strict = False


def _leave_tape(x: Any) -> Any:
    """A pytree with Vars and VarArrays replaced by their values (the tape is reset after the call)."""
    leaves, tree = flatten(x)
    return unflatten(tree, [v.value if isinstance(v, (Var, VarArray)) else v for v in leaves])


# ---- outputs --------------------------------------------------------------------------------


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


def _output_slots(out: Any) -> tuple[np.ndarray, np.ndarray, tuple[Any, ...], np.ndarray]:
    """The output as (slots of its Var elements, their positions in the flat
    output, its shape, its values); constant elements have no slot."""
    if isinstance(out, VarArray):
        return out.slots().reshape(-1), np.arange(out.size), out.shape, out.value
    if isinstance(out, Var):
        return np.array([out.index], np.uint32), np.array([0]), (), np.array(out.value)
    arr = np.asarray(out, dtype=object) if not isinstance(out, np.ndarray) else out
    if arr.dtype != object:
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"f returned an array of dtype {arr.dtype}; tapegrad differentiates real numbers")
        return np.empty(0, np.uint32), np.empty(0, np.int64), arr.shape, arr.astype(float)
    flat = arr.reshape(-1)
    where = [i for i, v in enumerate(flat) if isinstance(v, Var)]
    if any(isinstance(v, VarArray) for v in flat):
        raise TypeError("f returned a nested list of VarArrays; combine them with tapegrad.stack first")
    values = np.array([v.value if isinstance(v, Var) else float(v) for v in flat]).reshape(arr.shape)
    slots = np.array([flat[i].index for i in where], dtype=np.uint32)
    return slots, np.array(where, dtype=np.int64), arr.shape, values
