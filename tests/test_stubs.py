"""The typed Python API: the stubs of the compiled modules match them (stubtest),
and mypy --strict passes on examples/, on a typed user of the public API and on
the package itself, while still rejecting misuse. Refresh the stubs after a
change of the compiled modules with `python cpp/tools/update_stubs.py`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TYPING = ROOT / "tests" / "typing"

pytest.importorskip("mypy")


def mypy(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(ROOT / ".mypy_cache"), *args],
                          cwd=ROOT, capture_output=True, text=True, env=env)


def test_stubs_match_the_compiled_modules():
    # The same check as `python cpp/tools/update_stubs.py --check`: stubtest of
    # src/tapegrad/_core.pyi, _var.pyi and _array.pyi against the installed modules.
    out = subprocess.run([sys.executable, str(ROOT / "cpp" / "tools" / "update_stubs.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Success" in out.stdout


def test_generated_stub_blocks_match_ops_def():
    gen = ROOT / "cpp" / "tools" / "gen_ops.py"
    ops_def = ROOT / "cpp" / "include" / "tapegrad" / "ops.def"
    out = subprocess.run([sys.executable, str(gen), str(ops_def), "--stubs", str(ROOT / "src" / "tapegrad" / "_var.pyi"),
                          "--array-stubs", str(ROOT / "src" / "tapegrad" / "_array.pyi"), "--check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_mypy_strict_passes_on_examples_and_a_typed_user():
    out = mypy("--strict", "examples", str(TYPING / "public_api.py"))
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict_passes_on_the_package_sources():
    out = mypy("--strict", "-p", "tapegrad", env={**os.environ, "MYPYPATH": str(ROOT / "src")})
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_rejects_misuse_of_the_api():
    misuse = TYPING / "misuse.py"
    out = mypy("--strict", str(misuse))
    reported: dict[int, list[str]] = {}
    for m in re.finditer(r"^.*misuse\.py:(\d+): error: (.*)$", out.stdout, re.M):
        reported.setdefault(int(m[1]), []).append(m[2])
    expected = {n: m[1] for n, line in enumerate(misuse.read_text().splitlines(), 1)
                if (m := re.search(r"# error: (.*)$", line))}
    assert len(expected) >= 8
    for line, text in expected.items():
        assert any(text in r for r in reported.get(line, [])), f"line {line}: no error {text!r}; mypy said {reported}"
    assert set(reported) == set(expected), out.stdout
