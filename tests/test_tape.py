"""The Tape and its Vars: graph shapes, memory, and every error a user can hit."""

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tapegrad as tg


def test_shared_subexpression():
    with tg.Tape() as tape:
        x = tape.var(1.5)
        s = tg.sin(x)
        y = s * s + s * 3.0 + s  # s used four times
        assert tape.gradient(y, x) == pytest.approx((2 * math.sin(1.5) + 4) * math.cos(1.5), rel=1e-14)


def test_long_chain_has_no_recursion():
    n = 1_000_000
    with tg.Tape() as tape:
        x = tape.var(0.0)
        y = x
        for _ in range(n):
            y = y * 1.0 + 1e-6
        assert tape.num_nodes >= n
        assert y.value == pytest.approx(1.0)
        assert tape.gradient(y, x) == 1.0


def test_sum_of_many_terms():
    n = 100_000
    vals = np.linspace(-1, 1, n)
    with tg.Tape() as tape:
        xs = tape.vars(vals)
        s = 0.0
        for v in xs:
            s = s + v * v
        g = tape.gradient(s, xs)
    np.testing.assert_allclose(g, 2 * vals, rtol=1e-15)


def test_gradient_shapes_and_types():
    with tg.Tape() as tape:
        x = tape.var(2.0)
        m = tape.vars(np.arange(6.0).reshape(2, 3))
        y = x * m[1, 2] + m[0, 0] ** 2
        gx = tape.gradient(y, x)
        gm = tape.gradient(y, m)
        both = tape.gradient(y, [x, m])
        assert isinstance(gx, float) and gx == 5.0
        assert gm.shape == (2, 3) and gm.dtype == np.float64
        np.testing.assert_array_equal(gm, [[0, 0, 0], [0, 0, 2.0]])
        assert both[0] == gx and np.array_equal(both[1], gm)
        assert tape.gradient(7.0, x) == 0.0  # a constant output depends on nothing


def test_var_array_is_a_view():
    with tg.Tape() as tape:
        a = tape.vars([[1, 2, 3], [4, 5, 6]])
        n = tape.num_nodes
        assert a.shape == (2, 3) and a.ndim == 2 and a.size == 6 and len(a) == 2
        assert a.value.dtype == np.float64  # integers became float64
        row = a[1]
        assert isinstance(row, tg.VarArray) and row.shape == (3,)
        assert isinstance(a[1, 2], tg.Var) and a[1, 2].value == 6.0
        assert a[-1, -1].value == 6.0
        np.testing.assert_array_equal(a[:, 1].value, [2, 5])
        np.testing.assert_array_equal(a[::-1, ::2].value, [[4, 6], [1, 3]])
        assert [v.value for v in a[0]] == [1, 2, 3]
        assert tape.num_nodes == n, "indexing and slicing add no nodes"
        assert "VarArray" in repr(a) and "shape=(2, 3)" in repr(a)
        with pytest.raises(IndexError):
            a[2, 0]
        with pytest.raises(IndexError):
            a[0, 0, 0]


def test_var_behaves_like_a_float():
    with tg.Tape() as tape:
        v = tape.var(2.5)
        assert float(v) == 2.5 and v.value == 2.5 and int(v) == 2
        assert repr(v) == "Var(2.5)"
        assert (v < 3) is True and (v >= 2.5) is True and (v == 2.5) is True and (3 > v) is True
        assert +v is v
        assert bool(v) and not bool(v * 0)
        assert v.tape is tape and isinstance(v.index, int)
        assert math.floor(v).value == 2.0 and math.ceil(v).value == 3.0 and round(v).value == 2.0


def test_reset_keeps_memory():
    tape = tg.Tape()
    xs = tape.vars(np.ones(50_000))
    y = xs[0]
    for v in xs:
        y = y + v
    tape.gradient(y, xs)
    held = tape.nbytes
    assert held >= tape.num_nodes * 33
    tape.reset()
    assert tape.num_nodes == 8 and tape.nbytes == held
    xs = tape.vars(np.ones(50_000))
    assert tape.nbytes == held


# ---- errors ------------------------------------------------------------------------

def test_mixing_two_tapes_raises():
    t1, t2 = tg.Tape(), tg.Tape()
    a, b = t1.var(1.0), t2.var(2.0)
    with pytest.raises(tg.TapeMismatchError, match="two different tapes"):
        a + b
    with pytest.raises(tg.TapeMismatchError):
        tg.arctan2(a, b)
    with pytest.raises(tg.TapeMismatchError):
        t1.gradient(a * 2, b)


def test_stale_var_raises():
    tape = tg.Tape()
    x = tape.var(1.0)
    tape.reset()
    with pytest.raises(tg.StaleVarError, match="reset"):
        x * 2
    with pytest.raises(tg.StaleVarError):
        tg.exp(x)
    with pytest.raises(tg.StaleVarError):
        x.value
    assert "stale" in repr(x)
    with tg.Tape() as t:
        y = t.var(1.0)
    with pytest.raises(tg.StaleVarError):
        y + 1


def test_var_escaping_grad_is_stale():
    leaked = []

    def f(x):
        leaked.append(x)
        return x * x

    tg.grad(f)(1.0)
    with pytest.raises(tg.StaleVarError):
        leaked[0] + 1


@pytest.mark.parametrize("bad", ["s", 1j, None, b"x", np.complex128(1)])
def test_unsupported_operands_raise_type_error(bad):
    with tg.Tape() as tape:
        v = tape.var(1.0)
        with pytest.raises(TypeError, match="tapegrad"):
            v + bad
        with pytest.raises(TypeError, match="tapegrad"):
            bad * v
        with pytest.raises(TypeError):
            tg.exp(bad)
        with pytest.raises(TypeError):
            tg.hypot(v, bad)


def test_unsupported_objects_defer_to_python():
    with tg.Tape() as tape:
        v = tape.var(1.0)
        with pytest.raises(TypeError):
            v + object()
        with pytest.raises(TypeError, match="does not support"):
            tg.sin({1.0})
        assert isinstance(v + [1, 2], tg.VarArray)  # lists are arrays, as in numpy (issue 3)


def test_vars_cannot_be_constructed_or_pickled():
    import pickle
    with pytest.raises(TypeError, match="tape.var"):
        tg.Var()
    with tg.Tape() as tape:
        with pytest.raises(TypeError, match="pickle"):
            pickle.dumps(tape.var(1.0))


def test_nan_and_inf_follow_ieee():
    with tg.Tape() as tape:
        x = tape.var(float("nan"))
        y = tg.exp(x) * 2 + 1
        assert math.isnan(y.value) and math.isnan(tape.gradient(y, x))
        z = tape.var(float("inf"))
        w = tg.exp(-z)
        assert w.value == 0.0 and tape.gradient(w, z) == 0.0 * 0.0 or math.isnan(tape.gradient(w, z))
        u = tape.var(0.0)
        assert tg.log(u).value == -math.inf and tape.gradient(tg.log(u), u) == math.inf
        assert math.isnan(tg.sqrt(tape.var(-1.0)).value)


def test_full_tape_raises_overflow_error():
    tape = tg.Tape(limit=1000)
    with pytest.raises(OverflowError, match="tape is full"):
        x = tape.var(1.0)
        for _ in range(2000):
            x = x + 1.0
    tape.reset()
    assert tape.var(2.0).value == 2.0  # still usable after a reset
    assert tg.Tape().limit == tg.max_nodes == 2**32 - 1


def test_out_of_memory_raises_memory_error():
    """Recording past the address-space limit is a MemoryError, not a crash."""
    code = textwrap.dedent("""
        import resource, numpy as np, tapegrad as tg
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        tape = tg.Tape()
        chunk = np.zeros(1 << 22)
        try:
            for _ in range(1000):
                tape.vars(chunk)
        except MemoryError:
            print("MemoryError", tape.num_nodes)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("MemoryError")
