"""Every op-table row applied elementwise to arrays, table-driven from
tg.op_table(): values against the scalar path element by element, derivatives
against central differences (tg.check_grads), with numpy broadcasting between
VarArrays, ndarrays, Vars and numbers."""

import numpy as np
import pytest

import tapegrad as tg

ROWS = tg.op_table()
UNARY = [r for r in ROWS if r["arity"] == 1]
BINARY = [r for r in ROWS if r["arity"] == 2]
STEP_OPS = {"floor", "ceil", "round", "sign"}  # derivative 0, jumps at integers (and 0)


def sample(domain, shape, rng, name=""):
    lo, hi = domain
    x = rng.uniform(lo, hi, shape)
    if name in STEP_OPS:  # keep central differences away from the jumps
        x = np.where(np.abs(x - np.round(x)) < 0.05, x + 0.1, x)
    return x


def scalar_path(name, *args):
    """The op on plain floats, element by element (the foundation's scalar path)."""
    f = getattr(tg, name)
    return np.vectorize(lambda *xs: f(*[float(v) for v in xs]), otypes=[float])(*args)


@pytest.mark.parametrize("row", UNARY, ids=lambda r: r["name"])
def test_unary_on_arrays(row, rng):
    name = row["name"]
    f = getattr(tg, name)
    x = sample(row["domain"][0], (2, 3), rng, name)
    with tg.Tape() as tape:
        xs = tape.vars(x)
        n0 = tape.num_nodes
        y = f(xs)
        assert isinstance(y, tg.VarArray) and y.shape == (2, 3)
        assert tape.num_nodes == n0, "pending (fusion): nothing is recorded until the array is needed"
        np.testing.assert_array_equal(y.value, scalar_path(name, x))
        assert tape.num_nodes == n0 + 6, "materialised: one slot per element, no extra nodes"
        method = getattr(xs, name, None)
        if method is not None:  # the ufunc-named method records the same op
            np.testing.assert_array_equal(method().value, y.value)
    np.testing.assert_array_equal(f(x), scalar_path(name, x))  # constants alone give numbers
    tg.check_grads(lambda v: f(v), x)


# (shape of a, shape of b): numpy broadcasting in every direction
SHAPES = [((4,), (4,)), ((2, 3), (3,)), ((3,), (2, 3)), ((2, 1), (1, 3)), ((2, 3), ()), ((), (3,))]
# which operands are differentiable: "v" a VarArray (or Var for shape ()), "c" a constant
KINDS = ["vv", "vc", "cv"]


@pytest.mark.parametrize("row", BINARY, ids=lambda r: r["name"])
@pytest.mark.parametrize("shapes", SHAPES, ids=str)
@pytest.mark.parametrize("kind", KINDS)
def test_binary_on_arrays_with_broadcasting(row, shapes, kind, rng):
    name = row["name"]
    f = getattr(tg, name)
    a = sample(row["domain"][0], shapes[0], rng)
    b = sample(row["domain"][1], shapes[1], rng)
    want = scalar_path(name, a, b)
    with tg.Tape() as tape:
        va = tape.var(a) if a.shape == () else tape.vars(a)
        vb = tape.var(b) if b.shape == () else tape.vars(b)
        args = {"vv": (va, vb), "vc": (va, b), "cv": (a, vb)}[kind]
        if kind != "vv":  # a constant operand is a plain number when it has no shape
            args = tuple(float(x) if isinstance(x, np.ndarray) and x.shape == () else x for x in args)
        n0 = tape.num_nodes
        y = f(*args)
        assert tape.num_nodes == n0, "pending (fusion): nothing is recorded until the array is needed"
        np.testing.assert_array_equal(np.asarray(getattr(y, "value", y)), want)
        assert tape.num_nodes == n0 + max(want.size, 1), "materialised: one slot per element"
    if kind == "vv":
        tg.check_grads(lambda p, q: f(p, q), a, b)
    elif kind == "vc":
        tg.check_grads(lambda p: f(p, b), a)
    else:
        tg.check_grads(lambda q: f(a, q), b)


OPERATORS = {
    "__add__": lambda a, b: a + b, "__sub__": lambda a, b: a - b, "__mul__": lambda a, b: a * b,
    "__truediv__": lambda a, b: a / b, "__pow__": lambda a, b: a ** b,
    "__neg__": lambda a: -a, "__abs__": abs,
}


@pytest.mark.parametrize("row", [r for r in ROWS if r["py"] in OPERATORS], ids=lambda r: r["py"])
def test_operators_record_the_named_op(row, rng):
    """`a * b`, `2 * a`, `a * 2`, `-a` on arrays equal tg.<name> in value and gradient."""
    spelled, f = OPERATORS[row["py"]], getattr(tg, row["name"])
    x = sample(row["domain"][0], (3,), rng)
    with tg.Tape() as tape:
        v = tape.vars(x)
        if row["arity"] == 1:
            pairs = [(spelled(v), f(v))]
        else:
            c = sample(row["domain"][1], (3,), rng)
            w = tape.vars(c)
            pairs = [(spelled(v, w), f(v, w)), (spelled(v, c), f(v, c)), (spelled(c, v), f(c, v)),
                     (spelled(v, 1.5), f(v, 1.5)), (spelled(1.5 if row["name"] != "power" else 0.7, v),
                                                     f(1.5 if row["name"] != "power" else 0.7, v))]
        for got, want in pairs:
            np.testing.assert_array_equal(got.value, want.value)
            np.testing.assert_array_equal(tape.gradient(got.sum(), v), tape.gradient(want.sum(), v))


def test_square_is_what_x_squared_records(rng):
    x = rng.normal(size=5)
    with tg.Tape() as tape:
        v = tape.vars(x)
        np.testing.assert_array_equal((v ** 2).value, tg.square(v).value)
        np.testing.assert_array_equal(tape.gradient((v ** 2).sum(), v), 2 * x)


def test_comparisons_give_bool_arrays(rng):
    x, y = rng.normal(size=4), rng.normal(size=4)
    with tg.Tape() as tape:
        a, b = tape.vars(x), tape.vars(y)
        n0 = tape.num_nodes
        for got, want in [(a < b, x < y), (a <= 0, x <= 0), (a > y, x > y), (a >= b, x >= y),
                          (a == a, np.ones(4, bool)), (a != b, x != y), (0.0 < a, 0 < x)]:
            assert isinstance(got, np.ndarray) and got.dtype == bool
            np.testing.assert_array_equal(got, want)
        assert tape.num_nodes == n0, "comparisons record nothing"


def test_var_mixes_with_arrays(rng):
    x = rng.normal(size=3)
    with tg.Tape() as tape:
        s, v = tape.var(2.0), tape.vars(x)
        for y in (s * v, v * s, s + np.ones(3), np.ones(3) * s, tg.maximum(s, v), s * [1.0, 2.0, 3.0]):
            assert isinstance(y, tg.VarArray) and y.shape == (3,)
        y = (s * v).sum() + (s * np.arange(3.0)).sum()
        assert tape.gradient(y, s) == pytest.approx(x.sum() + 3.0)
        np.testing.assert_allclose(tape.gradient(y, v), [2.0] * 3)


def test_broadcast_mismatch_has_numpy_message():
    with tg.Tape() as tape:
        a, b = tape.vars(np.ones(3)), tape.vars(np.ones(4))
        with pytest.raises(ValueError, match=r"operands could not be broadcast together with shapes \(3,\) \(4,\)"):
            a + b
        with pytest.raises(ValueError, match="could not be broadcast"):
            a * np.ones((2, 2))


def test_large_entry_releases_the_gil_and_stays_exact(rng):
    """Entries of 2**16 elements and more compute without the GIL (same numbers)."""
    x = rng.uniform(0.1, 2.0, 70_000)
    with tg.Tape() as tape:
        v = tape.vars(x)
        y = tg.log(v) * v
        np.testing.assert_array_equal(y.value, scalar_path("log", x) * x)  # glibc's log, as the scalar path
        np.testing.assert_allclose(tape.gradient(y.sum(), v), np.log(x) + 1, rtol=1e-13, atol=1e-15)


def test_dead_branch_with_infinite_partial_gives_zero(rng):
    """where(x > 0, log(x), 0) at x = 0: log's partial is inf, but the branch is
    not taken, so the gradient is exactly 0 (not NaN)."""
    x = np.array([0.0, 1.0, 2.0])
    g = tg.grad(lambda v: tg.where(v.value > 0, tg.log(v), 0.0).sum())(x)
    np.testing.assert_array_equal(g, [0.0, 1.0, 0.5])
