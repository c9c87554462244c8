"""The Python face of the C++ tape: making inputs and asking for gradients."""

from __future__ import annotations

from typing import Any, Union

import numpy as np
import numpy.typing as npt

from . import _core, _dot, _graph
from ._array import VarArray, _new_vars, _slots_of
from ._var import Var, _new_var, _slot_of

# A list or tuple gives a list of gradients (other sequences are not taken apart).
Wrt = Union[Var, VarArray, list[Union[Var, VarArray]], tuple[Union[Var, VarArray], ...]]


def _real_number(value: Any) -> float:
    """`value` as a float, for a real number (int, float, bool, a numpy real
    scalar or 0-d array); TypeError for anything else, which float() would
    convert or reject less clearly (a str such as "1.0" would be parsed)."""
    if isinstance(value, (int, float, np.integer, np.floating, np.bool_)):
        return float(value)
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "fiub":
        return float(value)
    if isinstance(value, (Var, VarArray)):
        raise TypeError("tape.var takes a number, not a Var: use the Var itself, or v.value for its number")
    hint = " (use tape.vars for arrays)" if isinstance(value, (list, tuple, np.ndarray)) else ""
    raise TypeError(f"tape.var takes a real number, not {type(value).__name__}{hint}")


class Tape(_core.Tape):
    """A tape: flat C++ arrays holding one node per elementary operation.

    >>> import tapegrad as tg
    >>> with tg.Tape() as tape:
    ...     x = tape.var(0.5)
    ...     y = x * x + tg.sin(x)
    ...     round(tape.gradient(y, x), 6)
    1.877583

    Leaving the ``with`` block resets the tape: its Vars become stale and the
    memory is kept for the next recording.
    """

    # Source line of each comparison, noted only under tapegrad.compile(debug=True).
    _sites: list[str]
    # Whether array comparisons are recorded as guards: only while compile
    # records (eager gradients never replay, and a guard per element costs).
    _guard_arrays: bool = False
    # Whether a transform (grad, jacobian, vjp, compile, ...) is recording f
    # on this tape: float() of its Vars is then a ConcretizationError.
    _strict: bool = False

    def var(self, value: float) -> Var:
        """Record an independent variable holding ``value``.

        >>> import tapegrad as tg
        >>> tape = tg.Tape()
        >>> x = tape.var(3.0)
        >>> tape.gradient(x * x, x)
        6.0
        """
        if type(value) is not float:
            value = _real_number(value)
        return _new_var(self, value)

    def vars(self, values: npt.ArrayLike) -> VarArray:
        """Record one independent variable per element of ``values`` (any
        shape; integers become float64) and return them as a VarArray.

        >>> import tapegrad as tg
        >>> tape = tg.Tape()
        >>> xs = tape.vars([[1.0, 2.0], [3.0, 4.0]])
        >>> tape.gradient(xs[0, 1] * xs[1, 0], xs)
        array([[0., 3.],
               [2., 0.]])
        """
        arr = np.asarray(values, dtype=np.float64)
        return _new_vars(self, arr)

    def gradient(self, y: Var | float, wrt: Wrt) -> Any:
        """Derivative of the scalar ``y`` with respect to ``wrt``.

        ``wrt`` is a Var (gives a float), a VarArray (an ndarray of its shape),
        or a list/tuple of them (a list of those). One reverse sweep serves all.

        >>> import tapegrad as tg
        >>> tape = tg.Tape()
        >>> x, y = tape.var(2.0), tape.var(5.0)
        >>> tape.gradient(x * y + x, [x, y])
        [6.0, 2.0]
        """
        generation = self.generation  # first: a Tape never initialised raises TypeError here
        items = list(wrt) if isinstance(wrt, (list, tuple)) else [wrt]
        slots = []
        for w in items:
            if isinstance(w, Var):
                slots.append(np.array([_slot_of(w, self)], dtype=np.uint32))
            elif isinstance(w, VarArray):
                slots.append(_slots_of(w, self).reshape(-1))
            else:
                raise TypeError(f"gradient(y, wrt): wrt must be Vars or VarArrays of this tape, "
                                f"not {type(w).__name__}")
        flat = np.concatenate(slots) if slots else np.empty(0, dtype=np.uint32)
        if isinstance(y, Var):
            g = self._gradient(_slot_of(y, self), flat, generation)
        elif isinstance(y, (int, float, np.integer, np.floating)):
            g = np.zeros(flat.size)  # a constant does not depend on anything
        else:
            raise TypeError(f"gradient(y, wrt): y must be a scalar Var (or a number), not {type(y).__name__}; "
                            "for a vector output use tapegrad.jacobian or reduce it first")
        out: list[Any] = []
        start = 0
        for w, s in zip(items, slots):
            part = g[start:start + s.size]
            start += s.size
            out.append(float(part[0]) if isinstance(w, Var) else part.reshape(w.shape))
        return out if isinstance(wrt, (list, tuple)) else out[0]

    # Reading the tape: rows (tape.nodes(y)) and the graph (tape.to_dot(y)); see _graph.py, _dot.py.
    nodes = _graph.nodes
    to_dot = _dot.to_dot

    def __enter__(self) -> Tape:
        return self

    def __exit__(self, *exc: object) -> None:
        self.reset()

    def __repr__(self) -> str:
        return f"<tapegrad.Tape: {self.num_nodes} nodes, {self.nbytes} bytes>"
