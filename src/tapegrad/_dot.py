"""The computational graph as a picture: Graphviz DOT text of a tape.

One DOT node per tape node (its formula in terms of its parents' names, its
value and, after a sweep, its adjoint), one edge per parent labelled with the
local partial d(child)/d(parent): the seed talk's picture, drawn from the tape.
Writing the text needs nothing; drawing it needs Graphviz (see Dot.render).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ._graph import Named, Node, NodeTable, nodes, opcode_arity
from ._var import FIRST_NODE, Var

if TYPE_CHECKING:  # (_tape imports this module)
    from ._tape import Tape

DEFAULT_MAX_NODES = 500

# Ops written as operators; every other op is written as a call, name(args).
_INFIX = {"add": "+", "subtract": "−", "multiply": "×", "divide": "/", "power": "^"}
_PREFIX = {"negative": "−{}", "square": "{}²", "abs": "|{}|", "sqrt": "√{}"}
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")

_INSTALL = ("Drawing a graph needs Graphviz, the Python package and its programs:\n"
            "  pip install graphviz\n"
            "  apt-get install graphviz   (macOS: brew install graphviz; conda: conda install graphviz)\n"
            "The DOT text needs neither: str(dot), or dot.render('graph.dot').")


class GraphvizUnavailableError(RuntimeError):
    """Graphviz (the Python package or the ``dot`` program) is not installed."""


def _num(x: float) -> str:
    return f"{x:.6g}"


def _operand(x: float) -> str:
    return f"({_num(x)})" if x < 0 else _num(x)


def formula(node: Node, label: Callable[[int], str]) -> str:
    """The node's op applied to its operands, e.g. ``a + b``, ``exp(a)``,
    ``x × 2`` (a folded constant); ``label`` names a parent by tape index."""
    arity = opcode_arity(node.opcode)
    base = node.op.removesuffix("_vc").removesuffix("_cv")
    if arity == "none":
        return node.op  # "input"
    if arity in ("binary_vc", "binary_cv"):
        var, const = label(node.parents[0]) if node.parents else "?", _operand(node.constant or 0.0)
        if base == "power" and arity == "binary_vc" and node.constant is not None and node.constant.is_integer() \
                and abs(node.constant) < 10:  # x ** 2 reads as x²
            return var + str(int(node.constant)).translate(_SUPERSCRIPT)
        a, b = (var, const) if arity == "binary_vc" else (const, var)
    elif arity == "binary" and len(node.parents) == 2:
        a, b = (label(p) for p in node.parents)
    elif arity == "unary" and len(node.parents) == 1:
        a = label(node.parents[0])
        return _PREFIX[base].format(a) if base in _PREFIX else f"{base}({a})"
    else:  # an entry this build does not know how to read: show what it points at
        return f"{node.op}({', '.join(label(p) for p in node.parents)})"
    return f"{a} {_INFIX[base]} {b}" if base in _INFIX else f"{base}({a}, {b})"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class Dot(str):
    """Graphviz DOT text (a ``str``) that can draw itself.

    >>> import tapegrad as tg
    >>> dot = tg.graph(lambda x: tg.sin(x) * 2.0, 1.0)
    >>> dot.startswith("digraph")
    True

    ``dot.render("graph.svg")`` draws it (any format Graphviz knows, from the
    suffix; ``.dot``/``.gv`` write the text itself and need no Graphviz).
    """

    def pipe(self, format: str = "svg") -> bytes:
        """The drawing as bytes in ``format`` (svg, png, pdf, ...)."""
        try:
            import graphviz  # optional; untyped (see [tool.mypy] in pyproject.toml)
        except ImportError:
            raise GraphvizUnavailableError("the graphviz Python package is not installed. " + _INSTALL) from None
        try:
            drawing: bytes = graphviz.Source(str(self)).pipe(format=format)
        except graphviz.ExecutableNotFound:
            raise GraphvizUnavailableError("Graphviz's dot program was not found on PATH. " + _INSTALL) from None
        return drawing

    def render(self, path: str | Path) -> Path:
        """Write the graph to ``path``, in the format its suffix names; returns the path."""
        path = Path(path)
        fmt = path.suffix.lstrip(".").lower()
        if not fmt:
            raise ValueError(f"render({str(path)!r}): give the file a suffix naming the format, e.g. graph.svg")
        if fmt in ("dot", "gv"):
            path.write_text(str(self), encoding="utf-8")
        else:
            path.write_bytes(self.pipe(fmt))
        return path

    def _repr_svg_(self) -> str | None:  # Jupyter shows the picture when Graphviz is there
        try:
            return self.pipe("svg").decode("utf-8")
        except GraphvizUnavailableError:
            return None


def to_dot(tape: Tape, output: Var | None = None, names: Mapping[str, Named] | None = None,
           max_nodes: int = DEFAULT_MAX_NODES) -> Dot:
    """The tape's computational graph as Graphviz DOT text.

    With ``output`` (a Var of this tape), one reverse sweep runs from it, the
    output is marked and every node shows its adjoint d(output)/d(node).
    ``names`` maps names to Vars (or VarArrays) and adds to those given with
    ``tapegrad.name``; other nodes are called ``v<index>``. Tapes of more than
    ``max_nodes`` nodes are refused (Graphviz gets slow and the picture
    unreadable); raise it deliberately, or read the tape with ``tape.nodes()``.

    >>> import tapegrad as tg
    >>> with tg.Tape() as tape:
    ...     x = tape.var(0.5)
    ...     y = tg.exp(x) * 2.0
    ...     print(tape.to_dot(y, names={"x": x, "y": y}).count("->"))
    2
    """
    shown = tape.num_nodes - FIRST_NODE
    if shown > max_nodes:
        raise ValueError(f"the tape has {shown} nodes, more than max_nodes={max_nodes}; a picture that large is "
                         f"unreadable and slow to lay out. Draw a smaller case (fewer variables), pass "
                         f"max_nodes={shown} to draw it anyway, or read it as a table with tape.nodes().")
    table = nodes(tape, output, names)
    return dot_of_table(table, output.index if output is not None else -1)


def dot_of_table(table: NodeTable, out: int = -1) -> Dot:
    """The DOT text of a node table; ``out`` is the output's tape index (-1: none)."""
    label_of = {r.index: (r.name or f"v{r.index}") for r in table}

    def label(i: int) -> str:
        return label_of.get(i, f"v{i}")

    out_name = label(out) if out >= 0 else ""
    lines = ["digraph tape {", "  rankdir=LR;", '  graph [fontname="Helvetica"];',
             '  node [fontname="Helvetica", fontsize=11];', '  edge [fontname="Helvetica", fontsize=9];']
    edges = []
    for r in table:
        text = [f"{label(r.index)} = {formula(r, label)}" if r.op != "input" else f"{label(r.index)} (input)",
                f"value {_num(r.value)}"]
        if out >= 0:
            text.append(f"∂{out_name}/∂{label(r.index)} = {_num(r.adjoint)}")
        if r.op == "input":
            style = 'shape=box, style=filled, fillcolor="#dbe9f6"'
        elif opcode_arity(r.opcode) == "unknown":
            style = "shape=box, style=dashed"
        else:
            style = "shape=ellipse"
        if r.index == out:
            style = 'shape=ellipse, style=filled, fillcolor="#f8d7da", peripheries=2'
        lines.append(f"  n{r.index} [label={_quote(chr(10).join(text))}, {style}];")
        for p, d in zip(r.parents, r.partials):
            edges.append(f"  n{p} -> n{r.index} [label={_quote(_num(d))}];")
    lines += edges
    legend = "edge: local partial ∂child/∂parent"
    if out >= 0:
        legend += f";  node: value and adjoint ∂{out_name}/∂node"
    lines += [f"  label={_quote(legend)};", "  fontsize=10;", "}"]
    return Dot("\n".join(lines) + "\n")
