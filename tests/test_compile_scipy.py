"""scipy.optimize with a compiled tape: value_and_grad as fun with jac=True,
hvp as hessp (scipy is optional: the test is skipped without it)."""

import runpy
from pathlib import Path

import numpy as np
import pytest

import tapegrad as tg

optimize = pytest.importorskip("scipy.optimize")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "scipy_trust_ncg.py"


def rosen(x):
    s = 0.0
    for i in range(len(x) - 1):
        s = s + 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2
    return s


def test_trust_ncg_with_value_and_grad_and_hvp():
    x0 = np.full(30, -1.2)
    x0[1::2] = 1.0
    cf = tg.compile(rosen, x0)
    value, grad = cf.value_and_grad(x0)
    hv = cf.hvp(x0, x0)
    for out in (grad, hv):  # what scipy wants back
        assert out.dtype == np.float64 and out.flags.c_contiguous and out.shape == (30,)
    assert isinstance(value, float)
    result = optimize.minimize(cf.value_and_grad, x0, jac=True, hessp=cf.hvp, method="trust-ncg",
                               options={"gtol": 1e-10})
    assert result.success, result.message
    np.testing.assert_allclose(result.x, np.ones(30), atol=1e-9)
    assert result.nhev > 0  # the Hessian-vector products were used
    # The same optimisation with scipy's own derivatives lands in the same place.
    ref = optimize.minimize(optimize.rosen, x0, jac=optimize.rosen_der, hessp=optimize.rosen_hess_prod,
                            method="trust-ncg", options={"gtol": 1e-10})
    np.testing.assert_allclose(result.x, ref.x, atol=1e-9)


def test_the_example_runs(capsys):
    runpy.run_path(str(EXAMPLE), run_name="example").get("main")(20)
    out = capsys.readouterr().out
    assert "trust-ncg" in out and "max |x - 1|" in out
    worst = float(out.rsplit("max |x - 1| = ", 1)[1].split()[0])
    assert worst < 1e-3  # scipy's default gtol=1e-5
