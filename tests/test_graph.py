"""The tape as a table (tape.nodes) and as a picture (tape.to_dot, tapegrad.graph)."""

import json
import math
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import tapegrad as tg
from tapegrad._dot import dot_of_table
from tapegrad._graph import NodeTable

SINKS = 8
NODE = re.compile(r'^  (n\d+) \[label="((?:[^"\\]|\\.)*)", (.*)\];$')
EDGE = re.compile(r'^  (n\d+) -> (n\d+) \[label="((?:[^"\\]|\\.)*)"\];$')
ATTRIBUTE = re.compile(r'^  (rankdir=LR|fontsize=\d+|label="(?:[^"\\]|\\.)*"|(graph|node|edge) \[[^\]]*\]);$')


def parse_dot(text):
    """A strict reader of the DOT subset to_dot writes: every line must be a
    header, an attribute, a node or an edge. Returns ({id: (label lines, style)},
    [(tail, head, label)])."""
    lines = text.splitlines()
    assert lines[0] == "digraph tape {" and lines[-1] == "}"
    nodes, edges = {}, []
    for line in lines[1:-1]:
        if m := NODE.match(line):
            assert m[1] not in nodes, f"node {m[1]} declared twice"
            nodes[m[1]] = (m[2].replace('\\"', '"').split("\\n"), m[3])
        elif m := EDGE.match(line):
            edges.append((m[1], m[2], m[3]))
        else:
            assert ATTRIBUTE.match(line), f"unexpected DOT line: {line!r}"
    for tail, head, _ in edges:
        assert tail in nodes and head in nodes, "an edge must join two declared nodes"
        assert int(tail[1:]) < int(head[1:]), "edges run from a parent to a later child"
    return nodes, edges


def parents_on_tape(tape):
    """Count of real parents from the raw columns: a sink is no parent, and a
    constant variant's second slot holds its constant."""
    cols = tape._nodes()
    names = [op for op, _ in tg._graph.OPCODES]
    count = 0
    for i in range(SINKS, cols["opcode"].size):
        op = names[cols["opcode"][i]]
        slots = [cols["parent_a"][i]] if op.endswith(("_vc", "_cv")) else [cols["parent_a"][i], cols["parent_b"][i]]
        count += sum(int(p) >= SINKS for p in slots)
    return count


def seed(x):
    """The talk's example, each intermediate named; returns them by name."""
    v = {"x": tg.name(x, "x")}
    v["a"] = tg.name(x ** 2, "a")
    v["b"] = tg.name(tg.exp(v["a"]), "b")
    v["c"] = tg.name(v["a"] + v["b"], "c")
    v["d"] = tg.name(tg.sqrt(v["c"]), "d")
    v["e"] = tg.name(tg.cos(v["c"]), "e")
    v["f"] = tg.name(v["d"] + v["e"], "f")
    return v


def test_seed_graph_structure():
    with tg.Tape() as tape:
        v = seed(tape.var(0.5))
        dot = tape.to_dot(v["f"])
        nodes, edges = parse_dot(dot)
        assert len(nodes) == tape.num_nodes - SINKS == 7
        assert len(edges) == parents_on_tape(tape) == 8
        first = {n: lines[0].split(" ")[0] for n, (lines, _) in nodes.items()}
        named_edges = {(first[t], first[h]) for t, h, _ in edges}
        assert named_edges == {("x", "a"), ("a", "b"), ("a", "c"), ("b", "c"), ("c", "d"), ("c", "e"),
                               ("d", "f"), ("e", "f")}
        by_name = {first[n]: (lines, style) for n, (lines, style) in nodes.items()}
        assert by_name["x"][0][0] == "x (input)" and "fillcolor" in by_name["x"][1]
        assert by_name["f"][0][0] == "f = d + e" and "peripheries=2" in by_name["f"][1]  # the output
        assert [by_name[n][0][0] for n in "abcde"] == ["a = x²", "b = exp(a)", "c = a + b", "d = √c", "e = cos(c)"]
        # every node shows its value and its adjoint from the sweep
        g = dict(zip(v, tape.gradient(v["f"], list(v.values()))))
        for n in v:
            assert by_name[n][0][1] == f"value {v[n].value:.6g}"
            assert by_name[n][0][2] == f"∂f/∂{n} = {g[n]:.6g}"
        # each edge carries the local partial d(child)/d(parent)
        labels = {(first[t], first[h]): float(lab) for t, h, lab in edges}
        cv = 0.25 + math.exp(0.25)
        assert labels[("c", "d")] == pytest.approx(0.5 / math.sqrt(cv), rel=1e-5)
        assert labels[("c", "e")] == pytest.approx(-math.sin(cv), rel=1e-5)
        assert labels[("a", "b")] == pytest.approx(math.exp(0.25), rel=1e-5)
        assert labels[("x", "a")] == 1.0 and labels[("d", "f")] == 1.0


def test_constants_fold_into_their_op_and_repeated_parents_give_two_edges():
    with tg.Tape() as tape:
        x = tg.name(tape.var(3.0), "x")
        y = tg.name(x * 2.0, "y")
        z = tg.name(1.0 - y, "z")
        w = tg.name(x * x, "w")
        m = tg.name(tg.maximum(z, 0.5), "m")
        out = tg.name(m + w, "out")
        nodes, edges = parse_dot(tape.to_dot(out))
        assert len(nodes) == tape.num_nodes - SINKS == 6  # no node for any constant
        assert len(edges) == parents_on_tape(tape) == 7
        heads = [lines[0] for lines, _ in nodes.values()]
        assert "y = x × 2" in heads and "z = 1 − y" in heads and "m = maximum(z, 0.5)" in heads
        assert "w = x × x" in heads
        w_edges = [e for e in edges if e[1] == f"n{w.index}"]
        assert [float(lab) for _, _, lab in w_edges] == [3.0, 3.0]  # d(a*b)/da = b, d/db = a: together 2x


def test_unnamed_nodes_and_no_output():
    with tg.Tape() as tape:
        x = tape.var(1.0)
        tg.sin(x)
        nodes, edges = parse_dot(tape.to_dot())
        heads = sorted(lines[0] for lines, _ in nodes.values())
        assert heads == [f"v{x.index} (input)", f"v{x.index + 1} = sin(v{x.index})"]
        assert not any("∂" in line for lines, _ in nodes.values() for line in lines)  # no sweep, no adjoints
        assert not any("peripheries" in style for _, style in nodes.values())


def test_unknown_opcode_draws_a_generic_box():
    """Entries this build does not know (a newer kind of node) draw as a dashed
    box with their parents, and bogus parent indices draw no edge."""
    n = SINKS + 3
    cols = {
        "opcode": np.array([0] * SINKS + [1, 250, 250], dtype=np.uint8),
        "parent_a": np.array(list(range(SINKS)) + [0, 8, 9], dtype=np.uint32),
        "parent_b": np.array(list(range(SINKS)) + [0, 1, 4000], dtype=np.uint32),  # 4000: not a node
        "partial_a": np.zeros(n), "partial_b": np.zeros(n), "value": np.arange(n, dtype=float),
    }
    table = NodeTable(cols, np.full(n, np.nan), {8: "x"})
    nodes, edges = parse_dot(dot_of_table(table))
    assert nodes["n9"][0][0] == "v9 = opcode 250(x)" and "dashed" in nodes["n9"][1]
    assert nodes["n10"][0][0] == "v10 = opcode 250(v9)"
    assert [(t, h) for t, h, _ in edges] == [("n8", "n9"), ("n9", "n10")]
    assert [r.op for r in table] == ["input", "opcode 250", "opcode 250"]


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot program to parse DOT for real")
def test_graphviz_parses_the_dot():
    with tg.Tape() as tape:
        x = tape.vars(np.array([0.5, 1.5]))
        tg.name(x, "x")
        y = tg.exp(x[0]) * x[1] + 2.0 * x[1] - x[0] / x[1]
        tg.name(y, 'a "quoted" \\ name')  # quotes and backslashes must be escaped
        dot = tape.to_dot(y)
        want_nodes, want_edges = tape.num_nodes - SINKS, parents_on_tape(tape)
    out = subprocess.run(["dot", "-Tjson"], input=dot.encode(), capture_output=True, check=True)
    layout = json.loads(out.stdout)
    assert len(layout["objects"]) == want_nodes
    assert len(layout["edges"]) == want_edges
    assert {o["name"] for o in layout["objects"]} == {f"n{i}" for i in range(SINKS, SINKS + want_nodes)}
    # Graphviz keeps a label's escapes as written: the backslash stays doubled
    assert any(o["label"].startswith(r'a "quoted" \\ name = ') for o in layout["objects"])


def test_nodes_rows_match_the_tape_and_the_gradient():
    with tg.Tape() as tape:
        x = tape.var(0.7)
        y = tape.var(-1.2)
        s = x * y
        t = tg.sin(s) + y ** 3
        u = t / 2.0
        table = tape.nodes(u, names={"x": x, "y": y})
        rows = list(table)
        assert len(table) == tape.num_nodes - SINKS == len(rows)
        assert [r.index for r in rows] == list(range(SINKS, tape.num_nodes))
        assert [r.op for r in rows] == ["input", "input", "multiply", "sin", "power_vc", "add", "divide_vc"]
        assert [r.name for r in rows][:3] == ["x", "y", ""]
        assert rows[2].parents == (x.index, y.index) and rows[2].partials == (-1.2, 0.7)
        assert rows[3].parents == (s.index,) and rows[3].partials[0] == pytest.approx(math.cos(0.7 * -1.2))
        assert rows[4].constant == 3.0 and rows[4].parents == (y.index,)
        assert rows[6].constant == 2.0 and rows[6].partials == (0.5,)
        assert [r.value for r in rows] == [v.value for v in (x, y, s)] + [rows[3].value, (-1.2) ** 3, t.value, u.value]
        want = tape.gradient(u, [x, y, s, t, u])
        got = [table.adjoint[v.index - SINKS] for v in (x, y, s, t, u)]
        assert got == pytest.approx(want, rel=1e-15)
        assert rows[0].adjoint == want[0]
        # the raw columns are the tape's own arrays, copied
        assert table.parent_a[2] == x.index and table.partial_b[6] == 2.0
        assert np.isnan(tape.nodes().adjoint).all()  # no output: no sweep
        text = str(table)
        assert text.splitlines()[0].split() == ["index", "name", "op", "parents", "partials", "value", "adjoint"]
        assert "divide_vc(2)" in text and len(text.splitlines()) == 1 + len(table)


def test_nodes_after_the_output_have_adjoint_zero():
    with tg.Tape() as tape:
        x = tape.var(2.0)
        y = x * x
        z = tg.exp(x)  # recorded after y: y does not depend on it
        table = tape.nodes(y)
        assert table.adjoint.tolist() == [4.0, 1.0, 0.0]
        assert z.value == pytest.approx(math.exp(2.0))


def test_names_belong_to_one_recording():
    tape = tg.Tape()
    x = tg.name(tape.var(1.0), "x")
    assert tape.nodes()[0].name == "x"
    tape.reset()
    y = tape.var(2.0)  # the same slot as x had
    assert y.index == x.index and tape.nodes()[0].name == ""
    with pytest.raises(tg.StaleVarError):
        tg.name(x, "old")
    with pytest.raises(TypeError, match="non-empty str"):
        tg.name(y, "")
    with pytest.raises(TypeError, match="Var or a VarArray"):
        tg.name(1.0, "one")
    other = tg.Tape()
    z = other.var(3.0)
    with pytest.raises(tg.TapeMismatchError):
        tape.nodes(names={"z": z})
    with pytest.raises(tg.TapeMismatchError):
        tape.to_dot(z)
    with pytest.raises(TypeError, match="Var or VarArray"):
        tape.nodes(names={"n": 1.0})
    with pytest.raises(TypeError, match="output must be a Var"):
        tape.nodes(3.0)


def test_graph_records_f_and_names_its_arguments():
    def f(price, quantity):
        revenue = tg.name(price * quantity[0] + price * quantity[1], "revenue")
        return tg.log(revenue)

    dot = tg.graph(f, 2.0, np.array([1.0, 3.0]))
    nodes, edges = parse_dot(dot)
    heads = {lines[0] for lines, _ in nodes.values()}
    assert {"price (input)", "quantity[0] (input)", "quantity[1] (input)"} <= heads
    assert "v14 = log(revenue)" in heads
    assert len(nodes) == 7 and len(edges) == 7
    # the output's adjoints: d log(p(q0+q1)) / dp = 1/p
    price = [lines for lines, _ in nodes.values() if lines[0] == "price (input)"][0]
    assert price[2] == "∂v14/∂price = 0.5"
    constant = tg.graph(lambda x: 3.0, 1.0)  # nothing depends on x: no output to mark
    only = parse_dot(constant)[0]
    assert list(only) == ["n8"] and only["n8"][0] == ["x (input)", "value 1"] and "peripheries" not in constant
    with pytest.raises(TypeError, match="scalar"):
        tg.graph(lambda x: x, np.ones(2))


def test_large_graphs_are_refused_with_a_message():
    with tg.Tape() as tape:
        xs = tape.vars(np.ones(30))
        s = 0.0
        for v in xs:
            s = s + v * v
        with pytest.raises(ValueError, match=r"90 nodes, more than max_nodes=50.*tape.nodes\(\)"):
            tape.to_dot(s, max_nodes=50)
        nodes, edges = parse_dot(tape.to_dot(s, max_nodes=90))
        assert len(nodes) == 90 and len(edges) == parents_on_tape(tape) == 30 * 2 + 1 + 29 * 2


def test_render_writes_dot_text_without_graphviz(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz now fails
    dot = tg.graph(lambda x: tg.exp(x), 1.0)
    path = dot.render(tmp_path / "g.dot")
    assert path.read_text(encoding="utf-8") == dot
    with pytest.raises(tg.GraphvizUnavailableError, match=r"(?s)pip install graphviz.*apt-get install graphviz"):
        dot.render(tmp_path / "g.png")
    assert not (tmp_path / "g.png").exists()
    assert dot._repr_svg_() is None
    with pytest.raises(ValueError, match="suffix"):
        dot.render(tmp_path / "g")


def test_render_without_the_dot_program(tmp_path, monkeypatch):
    pytest.importorskip("graphviz")
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot program on PATH
    with pytest.raises(tg.GraphvizUnavailableError, match="(?s)dot program was not found.*apt-get install graphviz"):
        tg.graph(lambda x: tg.exp(x), 1.0).render(tmp_path / "g.svg")


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot program")
def test_render_draws_png_and_svg(tmp_path):
    pytest.importorskip("graphviz")
    dot = tg.graph(lambda x: tg.sqrt(x * x + 1.0), 0.5)
    png = dot.render(tmp_path / "g.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = dot.render(tmp_path / "g.svg").read_text(encoding="utf-8")
    assert "<svg" in svg and "sqrt" in svg.replace("√", "sqrt")
    assert dot._repr_svg_().startswith("<?xml") or "<svg" in dot._repr_svg_()


@pytest.mark.parametrize("module", ["tapegrad._graph", "tapegrad._dot"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0


def test_adjoints_on_a_tape_with_infinite_partials():
    """A non-finite partial off the output's path must not turn other adjoints into nan."""
    with tg.Tape() as tape:
        x = tape.var(0.0)
        dead = tg.sqrt(x)  # partial 0.5/0 = inf, but f does not use it
        f = x * 3.0
        table = tape.nodes(f)
        assert table.adjoint.tolist() == [3.0, 0.0, 1.0]
        assert math.isinf(table.partial_a[dead.index - SINKS])
