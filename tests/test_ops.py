"""One table-driven test over every row of the op table (ops.def): values
against the plain-number evaluation, partials against central differences, in
every operand position, with Var and number operands."""

import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _var

ROWS = tg.op_table()
UNARY = [r for r in ROWS if r["arity"] == 1]
BINARY = [r for r in ROWS if r["arity"] == 2]
STEP_OPS = {"floor", "ceil", "round", "sign"}  # derivative 0, jumps at integers


def points(lo, hi, rng, n=6):
    return rng.uniform(lo, hi, n)


def central_difference(f, x, h=1e-6):
    h = h * max(1.0, abs(x))
    return (f(x + h) - f(x - h)) / (2 * h)


def away_from_jumps(name, x):
    return name not in STEP_OPS or abs(x - round(x)) > 1e-3


def test_python_functions_are_the_op_table():
    assert set(_var.UNARY_OPS) == {r["name"] for r in UNARY}
    assert set(_var.BINARY_OPS) == {r["name"] for r in BINARY}
    for r in ROWS:
        assert callable(getattr(tg, r["name"]))
        assert r["doc"] and r["domain"]


@pytest.mark.parametrize("row", UNARY, ids=lambda r: r["name"])
def test_unary(row, rng):
    f = getattr(tg, row["name"])
    lo, hi = row["domain"][0]
    for x in points(lo, hi, rng):
        if not away_from_jumps(row["name"], x):
            continue
        with tg.Tape() as tape:
            v = tape.var(x)
            y = f(v)
            assert isinstance(y, tg.Var)
            assert y.value == f(float(x))  # recording computes exactly the number path
            d = tape.gradient(y, v)
        assert d == pytest.approx(central_difference(f, x), rel=1e-6, abs=1e-7), (row["name"], x)


@pytest.mark.parametrize("row", BINARY, ids=lambda r: r["name"])
def test_binary(row, rng):
    f = getattr(tg, row["name"])
    (alo, ahi), (blo, bhi) = row["domain"]
    for a, b in zip(points(alo, ahi, rng), points(blo, bhi, rng)):
        da_fd = central_difference(lambda t: f(t, b), a)
        db_fd = central_difference(lambda t: f(a, t), b)
        with tg.Tape() as tape:
            va, vb = tape.var(a), tape.var(b)
            n0 = tape.num_nodes
            both, left, right = f(va, vb), f(va, b), f(a, vb)
            assert tape.num_nodes == n0 + 3, "a constant operand must not become a node"
            for y in (both, left, right):
                assert y.value == f(float(a), float(b))
            da, db = tape.gradient(both, [va, vb])
            assert tape.gradient(left, vb) == 0.0
            da_left = tape.gradient(left, va)
            db_right = tape.gradient(right, vb)
        for got in (da, da_left):
            assert got == pytest.approx(da_fd, rel=1e-6, abs=1e-7), (row["name"], a, b)
        for got in (db, db_right):
            assert got == pytest.approx(db_fd, rel=1e-6, abs=1e-7), (row["name"], a, b)


OPERATORS = {
    "__add__": lambda a, b: a + b, "__sub__": lambda a, b: a - b, "__mul__": lambda a, b: a * b,
    "__truediv__": lambda a, b: a / b, "__pow__": lambda a, b: a ** b,
    "__neg__": lambda a: -a, "__abs__": abs, "__floor__": math.floor, "__ceil__": math.ceil, "__round__": round,
}


@pytest.mark.parametrize("row", [r for r in ROWS if r["py"]], ids=lambda r: r["py"])
def test_python_spelling_records_the_same_op(row, rng):
    """`a * b`, `2 * a`, `-a`, `round(a)` ... record exactly what tg.<name> records."""
    spelled = OPERATORS[row["py"]]
    f = getattr(tg, row["name"])
    lo, hi = row["domain"][0]
    x = points(lo, hi, rng, 1)[0]
    with tg.Tape() as tape:
        v = tape.var(x)
        if row["arity"] == 1:
            pairs = [(spelled(v), f(v))]
        else:
            blo, bhi = row["domain"][1]
            c = points(blo, bhi, rng, 1)[0]
            w = tape.var(c)
            pairs = [(spelled(v, w), f(v, w)), (spelled(v, c), f(v, c)), (spelled(c, v), f(c, v))]
        for got, want in pairs:  # assert_equal: NaN (e.g. a negative base ** x) equals NaN
            np.testing.assert_equal(got.value, want.value)
            np.testing.assert_equal(tape.gradient(got, v), tape.gradient(want, v))


def test_numbers_in_give_floats():
    assert tg.exp(0.0) == 1.0 and isinstance(tg.exp(0), float)
    assert tg.arctan2(1.0, 1.0) == pytest.approx(math.pi / 4)
    assert tg.maximum(np.float32(2.0), 3) == 3.0
    assert tg.sigmoid(-800.0) == 0.0 and tg.sigmoid(800.0) == 1.0  # no overflow
    assert tg.softplus(800.0) == 800.0


def test_numpy_scalars_and_bools_are_constants():
    with tg.Tape() as tape:
        v = tape.var(2.0)
        n0 = tape.num_nodes
        for c in (np.float64(3.0), np.float32(3.0), np.int64(3), 3, True, np.array(3.0)):
            y = v * c
            assert y.value == 2.0 * float(c)
        assert tape.num_nodes == n0 + 6


@pytest.mark.parametrize("x,want", [(0.0, 0.0), (-1.5, -1.0), (2.0, 1.0)])
def test_kink_conventions(x, want):
    with tg.Tape() as tape:
        v = tape.var(x)
        assert tape.gradient(abs(v), v) == want
        assert tape.gradient(tg.relu(v), v) == (1.0 if x > 0 else 0.0)
        a, b = tape.var(x), tape.var(x)
        ga, gb = tape.gradient(tg.maximum(a, b), [a, b])
        assert ga == gb == 0.5  # a tie splits the derivative
        ga, gb = tape.gradient(tg.minimum(a, b), [a, b])
        assert ga == gb == 0.5


def test_power_special_cases():
    with tg.Tape() as tape:
        x = tape.var(0.0)
        assert tape.gradient(x ** 2, x) == 0.0
        assert tape.gradient(x ** 0, x) == 0.0  # 0**0 = 1 everywhere
        assert tape.gradient(x ** 1, x) == 1.0
        y = tape.var(-2.0)
        assert (y ** 3).value == -8.0
        assert tape.gradient(y ** 3, y) == 12.0  # negative base, constant exponent
        assert tape.gradient(y ** 2, y) == -4.0
        e = tape.var(2.0)
        assert tape.gradient(0.0 ** e, e) == 0.0
        assert math.isnan(tape.gradient(y ** e, e))  # (-2)**b is not real for non-integer b
