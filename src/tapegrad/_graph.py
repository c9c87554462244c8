"""Reading a tape as data: names for its nodes, and its nodes as a table.

Names live in one dict per tape (node index -> name), kept on the Python Tape
object, so naming costs nothing on the recording path. A reset() makes a new
recording whose indices mean other things, so the dict is keyed by the tape's
generation and starts empty after a reset.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, NamedTuple, TypeVar, Union

import numpy as np

from . import _core
from ._array import VarArray, _slots_of
from ._var import FIRST_NODE, Var, _slot_of

if TYPE_CHECKING:  # (_tape imports this module)
    from ._tape import Tape

# (name, arity) by opcode, from the C++ enum itself (one source of truth).
OPCODES: list[tuple[str, str]] = [(op, arity) for op, arity in _core._opcodes()]
_EDGE_ROWS = 25  # a long table prints this many rows from each end


def opcode_name(code: int) -> str:
    """The opcode's name, or ``"opcode N"`` for one this build does not know
    (a newer kind of entry): readers of a tape must never crash on it."""
    return OPCODES[code][0] if code < len(OPCODES) else f"opcode {code}"


def opcode_arity(code: int) -> str:
    """none, unary, binary, binary_vc, binary_cv, or unknown."""
    return OPCODES[code][1] if code < len(OPCODES) else "unknown"


# Every byte value names something, so a table never fails on an opcode it does not know.
_OP_NAMES = np.array([opcode_name(c) for c in range(256)], dtype=object)


def _names_of(tape: Tape) -> dict[int, str]:
    """The tape's node-index -> name dict for its current recording."""
    # (getattr/setattr: an attribute that only this module knows about)
    held: tuple[int, dict[int, str]] | None = getattr(tape, "_tapegrad_names", None)
    if held is None or held[0] != tape.generation:
        held = (tape.generation, {})
        setattr(tape, "_tapegrad_names", held)
    return held[1]


Named = Union[Var, VarArray]
_Named = TypeVar("_Named", bound=Named)  # name() returns what it is given


def name(v: _Named, label: str) -> _Named:
    """Give a recorded value a name for ``tape.nodes()`` and ``tape.to_dot()``;
    returns ``v``, so it can wrap an expression. A VarArray's elements are
    named ``label[i]`` (``label[i, j]`` for 2-d, ...).

    >>> import tapegrad as tg
    >>> with tg.Tape() as tape:
    ...     x = tg.name(tape.var(0.5), "x")
    ...     a = tg.name(x ** 2, "a")
    ...     [row.name for row in tape.nodes()]
    ['x', 'a']
    """
    if not isinstance(label, str) or not label:
        raise TypeError(f"tapegrad.name(v, label): label must be a non-empty str, not {label!r}")
    if isinstance(v, Var):
        names = _names_of(v.tape)
        names[_slot_of(v, v.tape)] = label
    elif isinstance(v, VarArray):
        names = _names_of(v.tape)
        slots = _slots_of(v, v.tape)
        for idx in np.ndindex(*slots.shape):
            names[int(slots[idx])] = f"{label}[{', '.join(map(str, idx))}]"
    else:
        raise TypeError(f"tapegrad.name(v, label): v must be a Var or a VarArray, not {type(v).__name__}")
    return v


def names_for(tape: Tape, names: Mapping[str, Named] | None) -> dict[int, str]:
    """The names to show: those given with tapegrad.name, then ``names`` (a
    mapping name -> Var or VarArray of this tape), which wins on a clash."""
    out = dict(_names_of(tape))
    for label, v in (names or {}).items():
        if isinstance(v, Var):
            out[_slot_of(v, tape)] = label
        elif isinstance(v, VarArray):
            slots = _slots_of(v, tape)
            for idx in np.ndindex(*slots.shape):
                out[int(slots[idx])] = f"{label}[{', '.join(map(str, idx))}]"
        else:
            raise TypeError(f"names maps a name to a Var or VarArray of this tape; {label!r} maps to "
                            f"a {type(v).__name__}")
    return out


class Node(NamedTuple):
    """One node of a tape, as ``tape.nodes()`` gives it."""

    index: int  # type: ignore[assignment]  # position on the tape (what Var.index returns); shadows tuple.index on purpose
    op: str                  # opcode name; a constant variant ends in _vc / _cv
    opcode: int              # the byte on the tape (op names it)
    name: str                # given with tapegrad.name or names=, else ""
    parents: tuple[int, ...]  # indices of the nodes it reads (sinks left out)
    partials: tuple[float, ...]  # d(this)/d(parent), one per parent
    constant: float | None   # the folded constant operand of a *_vc / *_cv op
    value: float
    adjoint: float           # d(output)/d(this) from the sweep; nan without output


class NodeTable:
    """The nodes of a tape (sinks left out) as columns and as rows.

    Columns are numpy arrays copied from the tape, one entry per node:
    ``index, opcode, parent_a, parent_b, partial_a, partial_b, value,
    adjoint`` (the raw fields; a unary op's unused parent is a sink, index < 8,
    and a *_vc / *_cv op keeps its constant in ``partial_b``), plus ``op`` and
    ``name`` (arrays of str). Iterating gives :class:`Node` rows with parents
    and partials already interpreted; ``print(table)`` shows them (the first
    and last rows of a long table).

    >>> import tapegrad as tg
    >>> with tg.Tape() as tape:
    ...     x = tape.var(3.0)
    ...     y = x * 2.0
    ...     t = tape.nodes(y)
    >>> t.op.tolist(), t.adjoint.tolist()
    (['input', 'multiply_vc'], [2.0, 1.0])
    """

    def __init__(self, columns: Mapping[str, np.ndarray], adjoint: np.ndarray, names: Mapping[int, str]) -> None:
        keep = slice(FIRST_NODE, None)
        self.opcode: np.ndarray = columns["opcode"][keep]
        self.index: np.ndarray = np.arange(FIRST_NODE, FIRST_NODE + self.opcode.size, dtype=np.int64)
        self.parent_a: np.ndarray = columns["parent_a"][keep]
        self.parent_b: np.ndarray = columns["parent_b"][keep]
        self.partial_a: np.ndarray = columns["partial_a"][keep]
        self.partial_b: np.ndarray = columns["partial_b"][keep]
        self.value: np.ndarray = columns["value"][keep]
        self.adjoint: np.ndarray = adjoint[keep]
        self.op: np.ndarray = _OP_NAMES[self.opcode]  # object arrays of str: vectorised, fast on big tapes
        self.name: np.ndarray = np.full(self.opcode.size, "", dtype=object)
        for i, label in names.items():
            if FIRST_NODE <= i < FIRST_NODE + self.opcode.size:
                self.name[i - FIRST_NODE] = label

    def __len__(self) -> int:
        return int(self.opcode.size)

    def __getitem__(self, k: int) -> Node:
        """Row ``k`` of the table (``k`` counts rows, not tape indices)."""
        if not -len(self) <= k < len(self):
            raise IndexError(f"row {k} of a table of {len(self)} nodes")
        k %= len(self)
        code = int(self.opcode[k])
        arity = opcode_arity(code)
        pa, pb = int(self.parent_a[k]), int(self.parent_b[k])
        da, db = float(self.partial_a[k]), float(self.partial_b[k])
        parents: list[int] = []
        partials: list[float] = []
        constant = None
        if arity in ("binary_vc", "binary_cv"):
            constant = db
        index = int(self.index[k])
        for p, d in ((pa, da), (pb, db)) if constant is None else ((pa, da),):
            # A sink holds no value: not a parent to show. A parent at or after
            # its child is no parent either (an entry this build cannot read).
            if FIRST_NODE <= p < index:
                parents.append(p)
                partials.append(d)
        return Node(index, str(self.op[k]), code, str(self.name[k]), tuple(parents), tuple(partials),
                    constant, float(self.value[k]), float(self.adjoint[k]))

    def __iter__(self) -> Iterator[Node]:
        return (self[k] for k in range(len(self)))

    def as_dict(self) -> dict[str, np.ndarray]:
        """The columns as a dict (e.g. for ``pandas.DataFrame(table.as_dict())``)."""
        return {"index": self.index, "name": self.name, "op": self.op, "parent_a": self.parent_a,
                "parent_b": self.parent_b, "partial_a": self.partial_a, "partial_b": self.partial_b,
                "value": self.value, "adjoint": self.adjoint}

    def __str__(self) -> str:
        n = len(self)
        shown = list(range(n)) if n <= 2 * _EDGE_ROWS + 10 else [*range(_EDGE_ROWS), *range(n - _EDGE_ROWS, n)]
        rows = [self[k] for k in shown]
        ops = [r.op if r.constant is None else f"{r.op}({r.constant:.6g})" for r in rows]
        wn = max([4, *(len(r.name) for r in rows)])
        wo = max([2, *(len(o) for o in ops)])
        lines = [f"{'index':>6}  {'name':<{wn}}  {'op':<{wo}}  {'parents':<13} {'partials':<22} {'value':>13} "
                 f"{'adjoint':>13}"]
        for k, r, op in zip(shown, rows, ops):
            if k == n - _EDGE_ROWS and len(shown) < n:
                lines.append(f"{'...':>6}  ({n - len(shown)} more rows; the columns hold them all)")
            lines.append(f"{r.index:>6}  {r.name:<{wn}}  {op:<{wo}}  {','.join(map(str, r.parents)):<13} "
                         f"{','.join(f'{d:.6g}' for d in r.partials):<22} {r.value:>13.6g} {r.adjoint:>13.6g}")
        return "\n".join(lines)

    __repr__ = __str__


def nodes(tape: Tape, output: Var | None = None, names: Mapping[str, Named] | None = None) -> NodeTable:
    """The tape's nodes as a :class:`NodeTable`; with ``output`` (a Var of this
    tape) one reverse sweep fills the adjoint column with d(output)/d(node)
    (0 for nodes recorded after it), else it is nan. ``names`` maps names to
    Vars (or VarArrays) and adds to those given with ``tapegrad.name``.

    >>> import tapegrad as tg
    >>> with tg.Tape() as tape:
    ...     x = tape.var(2.0)
    ...     y = tg.name(x * x, "y")
    ...     [(r.name, r.op, r.value, r.adjoint) for r in tape.nodes(y, names={"x": x})]
    [('x', 'input', 2.0, 4.0), ('y', 'multiply', 4.0, 1.0)]
    """
    columns = tape._nodes()
    n = columns["opcode"].size
    adjoint = np.full(n, np.nan)
    if output is not None:
        if not isinstance(output, Var):
            raise TypeError(f"output must be a Var of this tape (the value to differentiate), "
                            f"not {type(output).__name__}")
        out = _slot_of(output, tape)
        adjoint[:] = 0.0
        adjoint[:out + 1] = tape._adjoints(out, tape.generation)
    return NodeTable(columns, adjoint, names_for(tape, names))
