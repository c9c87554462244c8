"""Files generated from the op table stay in sync with it."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GEN = ROOT / "cpp" / "tools" / "gen_ops.py"
OPS_DEF = ROOT / "cpp" / "include" / "tapegrad" / "ops.def"


def run_gen(*args):
    return subprocess.run([sys.executable, str(GEN), str(OPS_DEF), *args], capture_output=True, text=True)


def test_readme_op_table_is_generated_from_ops_def():
    out = run_gen("--readme", str(ROOT / "docs" / "ops.md"), "--check")
    assert out.returncode == 0, out.stderr


def test_readme_lists_every_op():
    import tapegrad as tg
    readme = (ROOT / "docs" / "ops.md").read_text()
    for row in tg.op_table():
        assert f"`tapegrad.{row['name']}`" in readme


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in readme and "<!-- test-command -->" in ci
