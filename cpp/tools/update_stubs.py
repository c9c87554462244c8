"""Refresh the type stubs of tapegrad's compiled modules, then check them.

    pip install --no-build-isolation .  &&  python cpp/tools/update_stubs.py [--check]

1. src/tapegrad/_core.pyi (pybind11) is regenerated whole by pybind11-stubgen
   from the installed module (pip install pybind11-stubgen), with the types of
   module attributes the bindings declare (m.attr_with_type_hint<T>).
2. src/tapegrad/_var.pyi and _array.pyi (Cython) are hand-typed, except their
   blocks generated from ops.def (cpp/tools/gen_ops.py --stubs, --array-stubs),
   which are rewritten.
3. mypy's stubtest compares both stubs with the installed modules, exactly as
   tests/test_stubs.py does. For anything a stub lacks it prints what mypy's
   stubgen guesses from the runtime, as a starting point to type by hand.

--check changes no file: it only runs step 3 (the test's check).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "src" / "tapegrad"
MODULES = ("tapegrad._core", "tapegrad._var", "tapegrad._array")
CORE_HEADER = ("# Generated from the installed tapegrad._core by pybind11-stubgen through\n"
               "# cpp/tools/update_stubs.py. Do not edit: change the bindings' signatures and docstrings.\n")


def stubtest_command() -> list[str]:
    """stubtest of the committed stubs (src/, through MYPYPATH) against the installed modules,
    with the project's mypy settings (pyproject.toml: its optional untyped imports)."""
    return [sys.executable, "-m", "mypy.stubtest", "--mypy-config-file", str(ROOT / "pyproject.toml"), *MODULES]


def stubtest_env() -> dict[str, str]:
    return {**os.environ, "MYPYPATH": str(ROOT / "src")}


def regenerate_core() -> None:
    if importlib.util.find_spec("pybind11_stubgen") is None:
        raise SystemExit("pybind11-stubgen is not installed: pip install pybind11-stubgen")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pybind11_stubgen", "tapegrad._core", "-o", tmp,
                        "--numpy-array-use-type-var"], check=True)
        text = (Path(tmp) / "tapegrad" / "_core.pyi").read_text()
    core = importlib.import_module("tapegrad._core")
    text = with_declared_attribute_types(text, getattr(core, "__annotations__", {}))
    (PKG / "_core.pyi").write_text(CORE_HEADER + for_stubtest(text))
    print(f"updated {PKG / '_core.pyi'}")


def with_declared_attribute_types(text: str, annotations: dict[str, str]) -> str:
    """Module attributes typed as the bindings declare them: pybind11's
    attr_with_type_hint<T> records T in the module's __annotations__, which
    pybind11-stubgen (3.0) ignores, writing the bare runtime class (`tuple`)."""
    for name, annotation in annotations.items():
        text, found = re.subn(rf"^{re.escape(name)}: [^=\n]+=", f"{name}: {annotation} =", text, flags=re.M)
        if found != 1:
            raise SystemExit(f"update_stubs: no attribute line for {name} in the generated _core.pyi")
    return text


def for_stubtest(text: str) -> str:
    """Facts of pybind11 modules that pybind11-stubgen leaves out and stubtest
    checks: a pybind11 module has no __all__; its classes' metaclass is
    pybind11_builtins.pybind11_type (declared privately, since it has no stub),
    except for exceptions made by py::register_exception, which are plain
    Python classes; and a class bound without a constructor still has
    pybind11's __init__(*args, **kwargs), which raises TypeError."""
    text = re.sub(r"^__all__: list\[str\] = \[.*\]\n", "", text, flags=re.M)

    def declare(m: re.Match[str]) -> str:
        if m[2] and re.search(r"(Error|Exception)\b", m[2]):
            return m[0]
        return f"class {m[1]}(" + (f"{m[2]}, " if m[2] else "") + "metaclass=_pybind11_type):"

    text = re.sub(r"^class (\w+)(?:\((.*)\))?:", declare, text, flags=re.M)
    blocks = re.split(r"(?m)^(?=class )", text)
    for k, block in enumerate(blocks):
        if "metaclass=_pybind11_type" in block.split("\n", 1)[0] and "def __init__" not in block:
            head, _, body = block.partition("\n")
            doc = re.match(r'(\s*"""(?:.|\n)*?"""\n)?', body)
            cut = doc.end() if doc else 0
            blocks[k] = (head + "\n" + body[:cut]
                         + "    def __init__(self, *args: typing.Any, **kwargs: typing.Any) -> None:\n"
                         + '        """Not constructible from Python: raises TypeError."""\n' + body[cut:])
    text = "".join(blocks)
    first_class = text.find("\nclass ")
    meta = "\nclass _pybind11_type(type):\n    \"\"\"pybind11_builtins.pybind11_type: the metaclass of pybind11 classes.\"\"\"\n"
    return text[:first_class] + meta + text[first_class:] if first_class >= 0 else text


def regenerate_var_ops() -> None:
    gen = ROOT / "cpp" / "tools" / "gen_ops.py"
    ops_def = ROOT / "cpp" / "include" / "tapegrad" / "ops.def"
    subprocess.run([sys.executable, str(gen), str(ops_def), "--stubs", str(PKG / "_var.pyi"),
                    "--array-stubs", str(PKG / "_array.pyi")], check=True)


def stubgen_guesses(missing: list[str]) -> None:
    """Print mypy stubgen's (untyped) stub lines for the names stubtest says are missing."""
    with tempfile.TemporaryDirectory() as tmp:
        # (mypy.stubgen is compiled: it runs through its main(), not with -m)
        args = [sys.executable, "-c", "import sys; from mypy.stubgen import main; main(sys.argv[1:])",
                "-o", tmp, "--include-private"]
        for m in MODULES:
            args += ["-m", m]
        subprocess.run(args, check=True, capture_output=True)
        for name in missing:
            module = next(m for m in MODULES if name.startswith(m + "."))
            path = Path(tmp, *module.split(".")).with_suffix(".pyi")
            text = path.read_text()
            node: ast.AST | None = ast.parse(text)
            for part in name[len(module) + 1:].split("."):
                if node is not None:
                    node = next((n for n in ast.iter_child_nodes(node) if getattr(n, "name", None) == part
                                 or (isinstance(n, ast.AnnAssign) and getattr(n.target, "id", None) == part)),
                                None)
            guess = ast.get_source_segment(text, node) if node is not None else "(stubgen has nothing)"
            print(f"\n{name}: stubgen guesses\n    " + str(guess).replace("\n", "\n    "))


def check() -> int:
    out = subprocess.run(stubtest_command(), env=stubtest_env(), capture_output=True, text=True)
    print(out.stdout + out.stderr)
    if out.returncode:
        missing = re.findall(r"^error: (\S+) is not present in stub", out.stdout, re.M)
        if missing:
            print("Type these in src/tapegrad/_var.pyi or _array.pyi (or fix the bindings for _core):")
            stubgen_guesses(missing)
    return out.returncode


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="only run stubtest; change no file")
    if not p.parse_args().check:
        regenerate_core()
        regenerate_var_ops()
    return check()


if __name__ == "__main__":
    sys.exit(main())
