"""numpy code on Vars and VarArrays records on the tape; numpy functions
tapegrad does not implement raise a TypeError naming them."""

import numpy as np
import pytest

import tapegrad as tg

ROWS = tg.op_table()
# op-table rows that numpy also has as a ufunc (under the same name or numpy's spelling)
NUMPY_SPELLING = {"abs": "absolute", "round": "rint"}
UFUNC_ROWS = [r for r in ROWS if isinstance(getattr(np, NUMPY_SPELLING.get(r["name"], r["name"]), None), np.ufunc)]


@pytest.mark.parametrize("row", UFUNC_ROWS, ids=lambda r: r["name"])
def test_numpy_ufuncs_record_the_op(row, rng):
    ufunc = getattr(np, NUMPY_SPELLING.get(row["name"], row["name"]))
    args = [rng.uniform(*row["domain"][i], size=3) for i in range(row["arity"])]
    with tg.Tape() as tape:
        vs = [tape.vars(a) for a in args]
        y = ufunc(*vs)
        assert isinstance(y, tg.VarArray)
        np.testing.assert_array_equal(y.value, getattr(tg, row["name"])(*vs).value)
        s = ufunc(*[tape.var(a[0]) for a in args])  # on Vars: a Var
        assert isinstance(s, tg.Var) and s.value == y.value[0]
        mixed = ufunc(*([args[0]] + vs[1:])) if row["arity"] == 2 else None  # ndarray first: numpy defers to us
        if mixed is not None:
            assert isinstance(mixed, tg.VarArray)


def test_numpy_functions_dispatch(rng):
    x, m = rng.normal(size=4), rng.normal(size=(3, 4))
    with tg.Tape() as tape:
        v, M = tape.vars(x), tape.vars(m)
        checks = [
            (np.sum(M, axis=0), np.sum(m, axis=0)), (np.mean(M), np.mean(m)), (np.prod(v), np.prod(x)),
            (np.max(M, axis=1), np.max(m, axis=1)), (np.amin(v), np.amin(x)), (np.dot(M, v), np.dot(m, x)),
            (np.where(x > 0, v, 0.0), np.where(x > 0, x, 0.0)), (np.concatenate([v, x]), np.concatenate([x, x])),
            (np.linalg.norm(M, axis=1), np.linalg.norm(m, axis=1)), (np.cumsum(v), np.cumsum(x)),
            (np.clip(v, -0.5, 0.5), np.clip(x, -0.5, 0.5)), (np.add.reduce(M, axis=1), m.sum(axis=1)),
            (np.add.accumulate(v), np.cumsum(x)), (np.maximum.reduce(v), x.max()), (np.round(v, 1), np.round(x, 1)),
            (np.outer(v, v), np.outer(x, x)), (np.exp(M) @ v, np.exp(m) @ x), (-np.abs(v), -np.abs(x)),
        ]
        for got, want in checks:
            np.testing.assert_allclose(got.value, want, rtol=1e-13, atol=1e-15)
        assert np.shape(M) == (3, 4) and np.ndim(M) == 2 and np.size(M) == 12
        assert (np.isnan(v) == np.isnan(x)).all() and (np.less(v, 0) == (x < 0)).all()


def test_existing_numpy_code_runs_unchanged(rng):
    def mlp_loss(w1, w2, x, y):  # written for numpy, nothing tapegrad-specific
        h = np.tanh(x @ w1)
        logits = h @ w2
        z = logits - np.max(logits, axis=1, keepdims=True)
        logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
        return -np.mean(np.sum(logp * y, axis=1))

    w1, w2 = rng.normal(size=(4, 5)), rng.normal(size=(5, 3))
    x, y = rng.normal(size=(6, 4)), np.eye(3)[rng.integers(0, 3, 6)]
    value, (g1, g2) = tg.value_and_grad(mlp_loss, argnums=(0, 1))(w1, w2, x, y)
    assert value == pytest.approx(mlp_loss(w1, w2, x, y), rel=1e-13)
    assert g1.shape == w1.shape and g2.shape == w2.shape
    tg.check_grads(lambda a, b: mlp_loss(a, b, x, y), w1, w2)


@pytest.mark.parametrize("call,name", [
    (lambda v: np.fft.fft(v), "numpy.fft.fft"),
    (lambda v: np.median(v), "numpy.median"),
    (lambda v: np.logaddexp(v, v), "numpy.logaddexp"),
    (lambda v: np.add.outer(v, v), "numpy.add.outer"),
    (lambda v: np.linalg.inv(v.reshape(2, 2)), "numpy.linalg.inv"),
    (lambda v: np.exp(v[0]) + np.median(v), "numpy.median"),
])
def test_unsupported_numpy_functions_raise_naming_them(call, name):
    with tg.Tape() as tape:
        v = tape.vars(np.arange(1.0, 5.0))
        with pytest.raises(TypeError, match=name.replace(".", r"\.")):
            call(v)


def test_leaving_the_tape_needs_value():
    with tg.Tape() as tape:
        v = tape.vars(np.ones(3))
        for convert in (np.asarray, np.array, lambda a: np.ascontiguousarray(a), lambda a: a.__array__()):
            with pytest.raises(TypeError, match=r"use va\.value"):
                convert(v)
        with pytest.raises(TypeError, match="out="):
            np.exp(v, out=np.empty(3))
        np.testing.assert_array_equal(np.asarray(v.value), np.ones(3))


def test_vars_in_object_arrays_still_work():
    """Hand-built object arrays of Vars: numpy's object loops call the Var methods."""
    with tg.Tape() as tape:
        a, b = tape.var(0.5), tape.var(2.0)
        objs = np.array([a, b], dtype=object)
        y = np.exp(objs) * b + np.sin(objs)  # Var methods, element by element
        total = np.sum(y * objs)
        assert isinstance(total, tg.Var)
        want = (np.exp(0.5) * 2 + np.sin(0.5)) * 0.5 + (np.exp(2.0) * 2 + np.sin(2.0)) * 2.0
        assert total.value == pytest.approx(want)
        ga = tape.gradient(total, a)
        assert ga == pytest.approx((np.exp(0.5) * 2 + np.cos(0.5)) * 0.5 + np.exp(0.5) * 2 + np.sin(0.5))
        mixed = tg.exp(objs)  # tapegrad functions take object arrays too
        assert isinstance(mixed[0], tg.Var) and mixed[1].value == pytest.approx(np.exp(2.0))
        v = tape.vars([1.0, 2.0])
        both = v * objs
        assert both.dtype == object and both[1].value == 4.0


def test_ufuncs_on_vars_and_numbers_take_the_scalar_path():
    with tg.Tape() as tape:
        v = tape.var(0.5)
        n0 = tape.num_nodes
        for y in (np.exp(v), np.float64(2.0) * v, v * np.float64(2.0), np.maximum(v, 1.0)):
            assert isinstance(y, tg.Var)
        assert tape.num_nodes == n0 + 4 and tg._core._entry_counts(tape)["elementwise"] == 0
