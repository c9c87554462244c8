"""grad / value_and_grad on pytrees with argnums and has_aux; jacobian, vjp
and check_grads."""

from collections import namedtuple

import numpy as np
import pytest

import tapegrad as tg

Params = namedtuple("Params", "w b")


def test_grad_of_a_pytree_has_its_structure(rng):
    params = {"layers": [(rng.normal(size=(3, 2)), rng.normal(size=2)), (rng.normal(size=2), 0.5)],
              "scale": 2.0, "note": None}

    def loss(p, x):
        (w1, b1), (w2, b2) = p["layers"]
        h = tg.tanh(x @ w1 + b1)
        return p["scale"] * ((h @ w2 + b2) ** 2).sum()

    x = rng.normal(size=(4, 3))
    value, g = tg.value_and_grad(loss)(params, x)
    assert value == pytest.approx(loss(params, x), rel=1e-13)
    assert set(g) == {"layers", "scale", "note"} and g["note"] is None
    (gw1, gb1), (gw2, gb2) = g["layers"]
    assert gw1.shape == (3, 2) and gb1.shape == (2,) and gw2.shape == (2,)
    assert isinstance(gb2, float) and isinstance(g["scale"], float) and gw1.dtype == np.float64
    assert g["scale"] == pytest.approx(value / 2.0)
    tg.check_grads(lambda p: loss(p, x), params)


def test_argnums_tuple_namedtuple_and_integer_inputs(rng):
    def f(p, x, k):
        return k * (p.w * x).sum() + p.b

    p, x = Params(np.arange(3), 1.5), np.array([1.0, 2.0, 3.0])
    gp, gx = tg.grad(f, argnums=(0, 1))(p, x, 2.0)
    assert isinstance(gp, Params) and gp.w.dtype == np.float64  # integer arrays became float64
    np.testing.assert_array_equal(gp.w, 2 * x)
    assert gp.b == 1.0
    np.testing.assert_array_equal(gx, [0.0, 2.0, 4.0])
    assert tg.grad(f, argnums=2)(p, x, 2.0) == pytest.approx(8.0)
    assert tg.grad(f, argnums=-1)(p, x, 2.0) == pytest.approx(8.0)


def test_zero_dimensional_array_inputs_keep_their_shape():
    # np.asarray(0.7) is an array of shape (): its gradient is one too (not shape (1,), not a float).
    x = np.asarray(0.7)
    g = tg.grad(lambda v: v * tg.sin(v))(x)
    assert isinstance(g, np.ndarray) and g.shape == ()
    assert g == pytest.approx(np.sin(0.7) + 0.7 * np.cos(0.7), rel=1e-15)
    _, gp = tg.value_and_grad(lambda p: p["a"] * p["b"])({"a": np.asarray(2.0), "b": 3.0})
    assert isinstance(gp["a"], np.ndarray) and gp["a"].shape == () and gp["a"] == 3.0
    assert isinstance(gp["b"], float) and gp["b"] == 2.0
    assert tg.jacobian(lambda v: v * v)(x).shape == ()


def test_has_aux_leaves_the_tape(rng):
    def f(x):
        y = tg.exp(x)
        return y.sum(), {"y": y, "first": y[0], "n": 3}

    x = rng.normal(size=3)
    (value, aux), g = tg.value_and_grad(f, has_aux=True)(x)
    assert isinstance(aux["y"], np.ndarray) and isinstance(aux["first"], float) and aux["n"] == 3
    np.testing.assert_allclose(aux["y"], np.exp(x))
    np.testing.assert_allclose(g, np.exp(x))
    g2, aux2 = tg.grad(f, has_aux=True)(x)
    np.testing.assert_array_equal(g2, g)


def test_grad_needs_a_scalar_output():
    with pytest.raises(TypeError, match="scalar.*jacobian"):
        tg.grad(lambda x: x * 2.0)(np.ones(3))
    assert tg.grad(lambda x: (x * 2.0).sum(axis=0))(np.ones(1)).shape == (1,)  # a shape-() result is fine


def fd_jacobian(f, x, h=1e-6):
    x = np.asarray(x, dtype=float)
    cols = []
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = h
        cols.append((np.asarray(f(x + e.reshape(x.shape))) - np.asarray(f(x - e.reshape(x.shape)))) / (2 * h))
    return np.stack(cols, axis=-1).reshape(np.shape(f(x)) + x.shape)


@pytest.mark.parametrize("name,f,x", [
    ("softmax of a matrix", lambda x: tg.softmax(x @ np.arange(6.0).reshape(2, 3) / 5), np.array([[0.1, -0.3],
                                                                                                   [0.7, 0.2]])),
    ("elementwise", lambda x: tg.sin(x) * x, np.array([0.3, 1.1, -0.4])),
    ("scalar output", lambda x: tg.logsumexp(x), np.array([0.3, 1.1])),
    ("scalar input", lambda x: tg.stack([x, x ** 2, tg.exp(x)]), 0.7),
    ("list of Vars", lambda x: [x[0] * x[1], x[1] ** 3, 2.0], np.array([1.5, -0.5])),
    ("cumsum", lambda x: tg.cumsum(x * x), np.array([0.2, 0.4, 0.6, 0.8])),
])
def test_jacobian_against_finite_differences(name, f, x):
    J = tg.jacobian(f)(x)
    want = fd_jacobian(lambda v: np.asarray(f(v), dtype=float), x)
    assert isinstance(J, np.ndarray) and J.shape == want.shape
    np.testing.assert_allclose(J, want, rtol=1e-6, atol=1e-8)


def test_jacobian_of_several_arguments(rng):
    a, b = rng.normal(size=3), rng.normal(size=(2, 3))
    Ja, Jb = tg.jacobian(lambda p, q: q @ p, argnums=(0, 1))(a, b)
    np.testing.assert_allclose(Ja, b)
    assert Jb.shape == (2, 2, 3)
    np.testing.assert_allclose(Jb[1, 1], a)
    np.testing.assert_array_equal(Jb[0, 1], 0.0)


def test_vjp(rng):
    x, w = rng.normal(size=4), rng.normal(size=(3, 4))

    def f(v, m):
        return {"y": tg.tanh(m @ v), "s": (v * v).sum()}

    out, pullback = tg.vjp(f, x, w)
    np.testing.assert_allclose(out["y"], np.tanh(w @ x))
    assert isinstance(out["s"], float)
    u = {"y": rng.normal(size=3), "s": 2.0}
    gx, gw = pullback(u)
    J = tg.jacobian(lambda v: tg.tanh(w @ v))(x)
    np.testing.assert_allclose(gx, J.T @ u["y"] + 2.0 * 2 * x, rtol=1e-12)
    assert gw.shape == w.shape
    gx2, _ = pullback(u)  # a pullback can be called again
    np.testing.assert_array_equal(gx, gx2)
    with pytest.raises(ValueError, match="shape"):
        pullback({"y": np.ones(2), "s": 1.0})


def test_check_grads_catches_a_wrong_derivative():
    def wrong(x):  # records 2x on the tape but computes 3x on plain floats
        return x * (2.0 if isinstance(x, tg.VarArray) else 3.0)

    with pytest.raises(tg.GradientCheckError, match="central differences"):
        tg.check_grads(wrong, np.array([1.0, 2.0]))
    tg.check_grads(lambda x: x * 2.0, np.array([1.0, 2.0]))


def test_repeated_calls_reuse_the_pooled_tape(rng):
    f = tg.value_and_grad(lambda x: (tg.exp(x) * x).sum())
    x = rng.normal(size=1000)
    first = f(x)
    for _ in range(10):
        v, g = f(x)
        assert v == first[0]
        np.testing.assert_array_equal(g, first[1])


def test_threads_record_and_sweep_large_arrays(rng):
    """Entries of 2**16+ elements compute without the GIL: grads in several
    threads stay exact, and a sweep of one tape can run while another thread
    records a large entry on it (the storage lock orders them)."""
    import threading

    x = rng.uniform(0.5, 1.5, 70_000)
    want = np.cos(x) * x + np.sin(x)
    f = tg.grad(lambda v: (tg.sin(v) * v).sum())
    results, errors = [], []

    def work():
        try:
            for _ in range(3):
                results.append(f(x))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    with tg.Tape() as tape:  # meanwhile: one tape, sweeps in one thread, recording in another
        v = tape.vars(x)
        y = (v * v).sum()
        sweeps = []
        sweeper = threading.Thread(target=lambda: sweeps.extend(tape.gradient(y, v) for _ in range(5)))
        sweeper.start()
        for _ in range(5):
            tg.exp(v)
        sweeper.join()
        for g in sweeps:
            np.testing.assert_array_equal(g, 2 * x)
    for t in threads:
        t.join()
    assert not errors and len(results) == 9
    for g in results:
        np.testing.assert_allclose(g, want, rtol=1e-13)
