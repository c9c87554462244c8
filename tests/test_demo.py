"""`python -m tapegrad`: the talk's example end to end, with and without the optional packages."""

import math
import re
import subprocess
import sys
import textwrap

import pytest

OPTIONAL = ("sympy", "mpmath", "matplotlib", "graphviz")

# Runs the demo with the optional packages made unimportable, as on a machine
# with only the base install.
BLOCKED_RUN = textwrap.dedent("""
    import importlib.abc, runpy, sys
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {blocked!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by the test)")
    sys.meta_path.insert(0, Block())
    for name in list(sys.modules):
        if name.split(".")[0] in {blocked!r}:
            del sys.modules[name]
    sys.argv = ["tapegrad", *{argv!r}]
    runpy.run_module("tapegrad", run_name="__main__")
""")


def run_demo(tmp_path, *argv, block=()):
    code = BLOCKED_RUN.format(blocked=set(block), argv=list(argv))
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)


def printed_adjoints(stdout):
    """The sweep table's last column: {variable: ∂f/∂variable}."""
    found = re.findall(r"^\s+∂f/∂(\w+) = .* = (\S+)$", stdout, flags=re.M)
    return {name: float(value) for name, value in found}


def adjoints_by_hand(x):
    """Each intermediate's ∂f/∂v, from the chain rule on paper."""
    a = x * x
    b = math.exp(a)
    c = a + b
    dc = 0.5 / math.sqrt(c) - math.sin(c)  # ∂f/∂c = ∂f/∂d·1/(2√c) + ∂f/∂e·(−sin c)
    da = dc * 1 + dc * b                   # a feeds c directly and through b = exp(a)
    return {"f": 1.0, "e": 1.0, "d": 1.0, "c": dc, "b": dc, "a": da, "x": da * 2 * x}


def test_demo_prints_the_hand_derived_adjoints_and_writes_pictures(tmp_path):
    res = run_demo(tmp_path, "--out", "pics")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    got = printed_adjoints(out)
    want = adjoints_by_hand(0.5)
    assert list(got) == ["f", "e", "d", "c", "b", "a", "x"]  # the order the sweep computes them
    assert got == pytest.approx(want, rel=1e-14)
    # the intermediates with their values
    for line in ("a = x²", "b = exp(a)", "c = a + b", "d = √c", "e = cos(c)", "f = d + e"):
        assert line in out
    assert re.search(r"^\s+a = x²\s+= 0\.25$", out, flags=re.M)
    # the four methods, each with a value, an error and a time
    methods = re.findall(r"^\s+(manual|numerical|symbolic|automatic)\b.*?(-?\d\.\d+(?:e-?\d+)?)\s+(\d\.\de[+-]\d\d)\s+"
                         r"[\d.]+ (?:ns|µs|ms)", out, flags=re.M)
    assert [m[0] for m in methods].count("numerical") == 2
    kinds = {m[0] for m in methods}
    if _importable("sympy"):
        assert kinds == {"manual", "numerical", "symbolic", "automatic"}
    exact = want["x"]
    for kind, value, error in methods:
        assert float(value) == pytest.approx(exact, rel=1e-4)
        assert float(error) <= (1e-6 if kind == "numerical" else 1e-14)
    pics = tmp_path / "pics"
    dot = (pics / "graph.dot").read_text(encoding="utf-8")
    assert dot.startswith("digraph") and dot.count(" -> ") == 8
    assert "pics/graph.dot" in out
    for name, package in (("graph.png", "graphviz"), ("fd_error.png", "matplotlib")):
        if _importable(package) and (package != "graphviz" or _has_dot()):
            assert (pics / name).read_bytes()[:4] == b"\x89PNG"
            assert f"pics/{name}" in out


def test_demo_runs_with_only_the_base_install(tmp_path):
    res = run_demo(tmp_path, "--out", "pics", block=OPTIONAL)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert printed_adjoints(out) == pytest.approx(adjoints_by_hand(0.5), rel=1e-14)
    assert "install sympy (pip install sympy)" in out
    assert "install matplotlib (pip install matplotlib)" in out
    assert "pip install graphviz" in out and "apt-get install graphviz" in out
    assert "double precision" in out  # the reference without mpmath
    assert "sympy.diff, lambdified" not in out
    assert (tmp_path / "pics" / "graph.dot").exists()  # DOT text needs no optional package
    assert not (tmp_path / "pics" / "graph.png").exists()
    assert not (tmp_path / "pics" / "fd_error.png").exists()


def test_demo_at_another_point_writes_nothing_with_no_files(tmp_path):
    res = run_demo(tmp_path, "--x", "-1.3", "--no-files")
    assert res.returncode == 0, res.stderr
    assert printed_adjoints(res.stdout) == pytest.approx(adjoints_by_hand(-1.3), rel=1e-13)
    assert "at x = -1.3" in res.stdout
    assert list(tmp_path.iterdir()) == []


def test_demo_help_documents_the_options(tmp_path):
    res = subprocess.run([sys.executable, "-m", "tapegrad", "--help"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0
    for option in ("--x", "--out", "--no-files"):
        assert option in res.stdout
    bad = subprocess.run([sys.executable, "-m", "tapegrad", "--x", "half"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and "invalid float value" in bad.stderr


def test_hand_derived_formula_matches_sympy():
    """The demo's 'manual' row and its reference rest on hand_derived: check it symbolically."""
    sympy = pytest.importorskip("sympy")
    from tapegrad._demo import hand_derived

    x = sympy.Symbol("x")
    c = x ** 2 + sympy.exp(x ** 2)
    assert sympy.simplify(sympy.diff(sympy.sqrt(c) + sympy.cos(c), x) - hand_derived(x, sympy)) == 0
    assert hand_derived(0.5) == pytest.approx(adjoints_by_hand(0.5)["x"], rel=1e-15)


def _importable(name):
    try:
        __import__(name)
        return True
    except ImportError:
        return False


def _has_dot():
    import shutil

    return shutil.which("dot") is not None


def test_demo_says_what_to_do_when_it_cannot_write(tmp_path):
    (tmp_path / "taken").write_text("a file, not a folder")
    res = run_demo(tmp_path, "--out", "taken")
    assert res.returncode == 1
    assert "could not write the pictures into taken" in res.stderr and "--no-files" in res.stderr
    assert "Traceback" not in res.stderr
