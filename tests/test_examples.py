"""Every script in examples/ runs (small sizes) and passes its own checks, so none can rot."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# script -> (arguments for a quick run, modules it needs, a line its output must contain)
CASES = {
    "seed_example.py": ([], [], "df/dx worked out on paper:    -1.360431078598279"),
    "many_variables.py": (["--small"], [], "numerical differences cost about n + 1 evaluations"),
    "logit_mle.py": (["--small"], ["scipy"], "BFGS with"),
    "lifetime_utility.py": (["--small"], ["scipy"], "largest relative difference from the closed form"),
    "quickstart.py": ([], [], "f(0.5) = 1.27532042141574, f'(0.5) = -1.36043107859828"),
    "thread_pool.py": ([], [], "200 gradients on 4 threads"),
}


SMOKE_TESTED_ELSEWHERE = {"train_mlp.py": "tests/test_train_mlp_example.py",
                          "scipy_trust_ncg.py": "tests/test_compile_scipy.py"}


def test_every_example_is_in_the_table():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted([*CASES, *SMOKE_TESTED_ELSEWHERE])


@pytest.mark.parametrize("script", sorted(CASES))
def test_example_runs(script, tmp_path):
    args, needs, expected = CASES[script]
    for module in needs:
        pytest.importorskip(module)
    res = subprocess.run([sys.executable, str(EXAMPLES / script), *args], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr  # each example exits non-zero when its checks fail
    assert expected in res.stdout
