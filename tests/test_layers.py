"""The package's layers import only downward: no import inside a function
(except optional packages), no import circle among the modules, and every
module imports alone in a fresh interpreter."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "tapegrad"
OPTIONAL = {"graphviz", "matplotlib", "matplotlib.pyplot"}  # imported where they are used, if installed


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        parts = path.relative_to(PKG.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _resolve(module: str, node: ast.ImportFrom) -> list[str]:
    """The tapegrad modules an `from ... import ...` names."""
    if node.level:
        base = module.split(".")
        if not _modules()[module].name == "__init__.py":
            base = base[:-1]
        base = base[: len(base) - node.level + 1]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    names = [f"{prefix}.{a.name}" for a in node.names]
    return [prefix] + names


def _imports(module: str, path: Path) -> tuple[set[str], list[str]]:
    """(the tapegrad modules imported at module level, imports made inside functions)."""
    tree = ast.parse(path.read_text())
    known = set(_modules()) | {"tapegrad._core", "tapegrad._var", "tapegrad._array"}
    top, inner = set(), []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        targets = [a.name for a in node.names] if isinstance(node, ast.Import) else _resolve(module, node)
        nested = any(isinstance(p, (ast.FunctionDef, ast.AsyncFunctionDef)) for p in _parents(tree, node))
        if nested:
            inner += [t for t in targets if t not in OPTIONAL and not t.startswith(tuple(f"{o}." for o in OPTIONAL))]
        elif not _under_type_checking(tree, node):
            # (a module's own packages are imported before it anyway: not an edge)
            top |= {t for t in targets if t in known and t != module and not module.startswith(t + ".")}
    return top, inner


def _parents(tree: ast.AST, target: ast.AST) -> list[ast.AST]:
    path: list[ast.AST] = []

    def walk(node: ast.AST, stack: list[ast.AST]) -> bool:
        if node is target:
            path.extend(stack)
            return True
        return any(walk(c, stack + [node]) for c in ast.iter_child_nodes(node))

    walk(tree, [])
    return path


def _under_type_checking(tree: ast.AST, node: ast.AST) -> bool:
    return any(isinstance(p, ast.If) and ast.unparse(p.test) == "TYPE_CHECKING" for p in _parents(tree, node))


GRAPH = {m: _imports(m, p) for m, p in _modules().items()}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_import_inside_a_function(module):
    assert GRAPH[module][1] == [], f"{module} imports {GRAPH[module][1]} inside a function"


def test_the_compiled_modules_import_nothing_above_them():
    """_var and _array get what they need from above through install_methods."""
    for pyx in ("_var.pyx", "_array.pyx", "_entries.pxi", "_operands.pxi", "_fusion.pxi"):
        text = (PKG / pyx).read_text()
        for line in text.splitlines():
            if line.startswith((" ", "\t")) and line.strip().startswith(("import ", "from ")) and " cimport " not in line:
                pytest.fail(f"{pyx}: an import inside a function: {line.strip()}")
        imports = [line for line in text.splitlines() if line.lstrip().startswith(("import ", "from "))]
        for above in ("tapegrad.numpy", "tapegrad._api", "tapegrad._compile", "tapegrad._tape", "tapegrad.nn"):
            assert not any(above in line for line in imports), f"{pyx} imports {above}"


def _order() -> list[str]:
    """The modules in an order where each comes after everything it imports
    (raises if the imports form a circle)."""
    done: list[str] = []
    state: dict[str, str] = {}

    def visit(m: str, chain: list[str]) -> None:
        if state.get(m) == "done":
            return
        if state.get(m) == "open":
            raise AssertionError("import circle: " + " -> ".join(chain + [m]))
        state[m] = "open"
        for dep in sorted(GRAPH.get(m, (set(), []))[0]):
            if dep != "tapegrad" and dep in GRAPH:
                visit(dep, chain + [m])
        state[m] = "done"
        done.append(m)

    for m in sorted(GRAPH):
        if m != "tapegrad":
            visit(m, [])
    return done


def _below(module: str) -> set[str]:
    """Everything `module` imports, directly or through others."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        for dep in GRAPH[todo.pop()][0]:
            if dep in GRAPH and dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def test_no_import_circle():
    _order()  # raises on a circle
    # the layers: the tape below the numpy layer, both below recording and compiled tapes, all below the transforms
    assert "tapegrad.numpy" not in _below("tapegrad._tape")
    assert "tapegrad._tape" in _below("tapegrad._api")
    assert not {"tapegrad._api", "tapegrad._compile", "tapegrad.nn"} & _below("tapegrad.numpy")
    assert {"tapegrad._recording", "tapegrad._compile", "tapegrad._dot"} <= _below("tapegrad._api")
    assert "tapegrad._api" not in _below("tapegrad._compile")


def test_each_module_imports_alone_in_dependency_order():
    script = "import subprocess, sys\n" + "\n".join(
        f"assert subprocess.run([sys.executable, '-c', 'import {m}']).returncode == 0, '{m}'" for m in _order())
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
