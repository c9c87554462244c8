"""The talk's worked example, end to end, against the hand-derived derivative."""

import math

import pytest

import tapegrad as tg


def f(x):
    a = x ** 2
    b = tg.exp(a)
    c = a + b
    d = tg.sqrt(c)
    e = tg.cos(c)
    return d + e


def f_exact(x):
    c = x * x + math.exp(x * x)
    return math.sqrt(c) + math.cos(c)


def df_exact(x):
    c = x * x + math.exp(x * x)
    return (0.5 / math.sqrt(c) - math.sin(c)) * (1 + math.exp(x * x)) * 2 * x


@pytest.mark.parametrize("x", [-1.3, -0.5, 0.0, 0.25, 0.5, 1.0, 1.7])
def test_value_and_derivative(x):
    value, d = tg.value_and_grad(f)(x)
    assert value == pytest.approx(f_exact(x), rel=1e-12, abs=1e-300)
    assert d == pytest.approx(df_exact(x), rel=1e-12, abs=1e-300)
    assert tg.grad(f)(x) == d
    assert isinstance(d, float)


def test_adjoints_of_the_intermediates():
    """Each intermediate's adjoint df/dv equals the hand-derived one."""
    x0 = 0.5
    with tg.Tape() as tape:
        x = tape.var(x0)
        a = x ** 2
        b = tg.exp(a)
        c = a + b
        d = tg.sqrt(c)
        e = tg.cos(c)
        out = d + e
        got = tape.gradient(out, [a, b, c, d, e, x])
        assert tape.num_nodes == 8 + 7  # the 8 sink slots, x, a..f: one node per op, no constants
    av = x0 * x0
    bv = math.exp(av)
    cv = av + bv
    fc = 0.5 / math.sqrt(cv) - math.sin(cv)
    want = [fc * (1 + bv), fc, fc, 1.0, 1.0, fc * (1 + bv) * 2 * x0]
    assert got == pytest.approx(want, rel=1e-13)
