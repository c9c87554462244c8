"""Every ```python block of README.md and docs/*.md runs as written.

Each block runs alone, in a fresh namespace, in a temporary working directory
(blocks may write files such as graph.svg), so a block that needs a name it
does not define fails here rather than in a reader's hands. Blocks that are
not meant to run use other fence languages (bash, cpp, cython, text).
A block that imports an optional package, or draws with Graphviz, is skipped
where that is not installed.
"""

from __future__ import annotations

import linecache
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)
OPTIONAL = ("graphviz", "matplotlib", "scipy", "sympy", "sklearn")
IMPORTS = re.compile(r"^\s*(?:import|from)\s+(" + "|".join(OPTIONAL) + r")\b", re.MULTILINE)


def blocks():
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            line = text.count("\n", 0, m.start()) + 2  # the first line of code
            name = f"{page.relative_to(ROOT).as_posix()}:{line}"
            yield pytest.param(name, m.group(1), id=name)


BLOCKS = list(blocks())


def test_the_pages_have_python_blocks():
    assert len(BLOCKS) >= 10
    assert any(name.startswith("README.md:") for name, _ in (p.values for p in BLOCKS))


def test_every_fence_names_a_language_this_test_knows():
    # A block fenced ``` or ```py would silently escape this test: name it python, or bash/cpp/cython/text.
    for page in PAGES:
        fences = re.findall(r"^```(\S*)", page.read_text(encoding="utf-8"), re.MULTILINE)
        openings = fences[0::2]
        assert set(openings) <= {"python", "bash", "cpp", "cython", "text"}, (page.name, openings)


def needs(code: str) -> None:
    """Skip the block where what it needs is not installed."""
    for module in sorted(set(IMPORTS.findall(code))):
        pytest.importorskip(module)
    if ".render(" in code:  # drawing needs the graphviz package and Graphviz's dot program
        pytest.importorskip("graphviz")
        if shutil.which("dot") is None:
            pytest.skip("Graphviz's dot program is not installed")


@pytest.mark.parametrize(("name", "code"), BLOCKS)
def test_python_block_runs(name, code, tmp_path, monkeypatch):
    needs(code)
    monkeypatch.chdir(tmp_path)
    # Registered with linecache, so tracebacks and inspect (compile(debug=True)) see the source.
    filename = f"<{name}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    try:
        exec(compile(code, filename, "exec"), {"__name__": "__docs__"})  # noqa: S102  (running the block is the test)
    finally:
        linecache.cache.pop(filename, None)
