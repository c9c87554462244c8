"""Dense layers on the tape: tapegrad.nn.dense as one entry, against the same
network written with scalar Var ops, finite differences and numpy."""

import threading

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _core, nn
from tapegrad.numpy import _products

ACTS = nn.ACTIVATIONS
SCALAR_ACT = {"identity": lambda z: z, "tanh": tg.tanh, "sigmoid": tg.sigmoid, "relu": tg.relu,
              "softplus": tg.softplus}


def scalar_mlp(params, X, act):
    """The MLP of tapegrad.nn.mlp, one scalar Var op at a time (no array entry)."""
    rows = [[X[i, k] for k in range(X.shape[1])] for i in range(X.shape[0])]
    for n, layer in enumerate(params):
        W, b = layer["W"], layer["b"]
        f = SCALAR_ACT["identity" if n == len(params) - 1 else act]
        new = []
        for row in rows:
            out = []
            for j in range(W.shape[1]):
                z = b[j]
                for k in range(W.shape[0]):
                    z = z + row[k] * W[k, j]
                out.append(f(z))
            new.append(out)
        rows = new
    return rows


def scalar_mse(rows, y):
    total = 0.0
    for i, row in enumerate(rows):
        for j, p in enumerate(row):
            d = p - y[i, j]
            total = total + d * d
    return total / y.size


@pytest.mark.parametrize("act", ACTS)
def test_mlp_gradient_equals_the_scalar_var_network(rng, act):
    model = nn.MLP([3, 5, 4, 2], activation=act, seed=7)
    params = [{"W": layer["W"], "b": rng.normal(size=layer["b"].shape) * 0.3} for layer in model.params]
    X, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    value, grads = tg.value_and_grad(lambda p: nn.mse(model(p, X), y))(params)
    want_value, want = tg.value_and_grad(lambda p: scalar_mse(scalar_mlp(p, X, act), y))(params)
    assert abs(value - want_value) <= 1e-12
    for layer, want_layer in zip(grads, want):
        for k in ("W", "b"):
            np.testing.assert_allclose(layer[k], want_layer[k], rtol=0, atol=1e-12)
    # X differentiated too: dX = dZ W^T flows back through every layer
    gX = tg.grad(lambda X: nn.mse(model(params, X), y))(X)
    want_gX = tg.grad(lambda X: scalar_mse(scalar_mlp(params, X, act), y))(X)
    np.testing.assert_allclose(gX, want_gX, rtol=0, atol=1e-12)


@pytest.mark.parametrize("act", ACTS)
def test_check_grads_in_every_argument(rng, act):
    X, W, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), rng.normal(size=5)
    if act == "relu":  # keep central differences away from the kink
        X, W = np.abs(X) + 0.1, np.abs(W) + 0.1
    tg.check_grads(lambda X, W, b: nn.dense(X, W, b, act), X, W, b)
    tg.check_grads(lambda X: nn.dense(X, W, b, act), X)
    tg.check_grads(lambda W: nn.dense(X, W, b, act), W)
    tg.check_grads(lambda b: nn.dense(X, W, b, act), b)
    tg.check_grads(lambda X, W: nn.dense(X, W, None, act), X, W)


def test_dense_is_one_entry_of_batch_times_n_out_slots(rng):
    X, W, b = rng.normal(size=(8, 3)), rng.normal(size=(3, 4)), rng.normal(size=4)
    with tg.Tape() as tape:
        w, c = tape.vars(W), tape.vars(b)
        before = tape.num_nodes
        y = nn.dense(X, w, c, "tanh")
        assert isinstance(y, tg.VarArray) and y.shape == (8, 4)
        assert tape.num_nodes - before == 8 * 4
        assert _core._entry_counts(tape)["dense"] == 1
        np.testing.assert_allclose(y.value, np.tanh(X @ W + b), rtol=1e-14)


def test_shapes_that_do_not_match_raise_naming_both(rng):
    X, W = rng.normal(size=(4, 3)), rng.normal(size=(2, 5))
    with tg.Tape() as tape:
        w = tape.vars(W)
        with pytest.raises(ValueError, match=r"X of shape \(4, 3\) does not fit W of shape \(2, 5\)"):
            nn.dense(X, w)
        with pytest.raises(ValueError, match=r"b of shape \(4,\) does not fit W of shape \(2, 5\)"):
            nn.dense(rng.normal(size=(1, 2)), w, np.zeros(4))
        with pytest.raises(ValueError, match=r"X must be 2-D .* got shape \(3,\)"):
            nn.dense(np.ones(3), w)
        with pytest.raises(ValueError, match="unknown activation 'gelu'"):
            nn.dense(np.ones((1, 2)), w, None, "gelu")


def test_non_contiguous_and_fortran_inputs_equal_c_order(rng):
    X, W, b = rng.normal(size=(5, 3)), rng.normal(size=(3, 4)), rng.normal(size=4)

    def f(X, W, b):
        return (nn.dense(X, W, b, "sigmoid") ** 2).sum()

    want_value, want = tg.value_and_grad(f, argnums=(0, 1, 2))(X, W, b)
    big = np.zeros((10, 9))
    big[::2, 1::3] = X
    for Xv in (np.asfortranarray(X), big[::2, 1::3], X[::-1].copy()[::-1]):
        for Wv in (np.asfortranarray(W), W.T.copy().T):
            value, grads = tg.value_and_grad(f, argnums=(0, 1, 2))(Xv, Wv, b)
            assert abs(value - want_value) <= 1e-13
            for g, w in zip(grads, want):
                np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-15)
        # constant (ndarray) X in any layout
        np.testing.assert_allclose(tg.grad(lambda W: f(Xv, W, b))(W), want[1], rtol=1e-13, atol=1e-15)


def test_strided_vararray_views_equal_c_order(rng):
    """Operands that are views of slots: transposed, sliced, reversed, broadcast bias."""
    A, W, b = rng.normal(size=(6, 8)), rng.normal(size=(4, 3)), rng.normal(size=3)

    def via_views(A, Wt, b):
        X = A[::2, 1::2]          # 3 x 4, strides (16, 2) in slots
        return nn.dense(X, Wt.T, b[::-1], "tanh")  # W as the transpose of a (3, 4) array

    def via_copies(A, Wt, b):
        X = A[::2, 1::2]
        return nn.dense(X * 1.0, (Wt.T) * 1.0, b[::-1] * 1.0, "tanh")

    Wt = W.T.copy()
    got = tg.jacobian(via_views, argnums=(0, 1, 2))(A, Wt, b)
    want = tg.jacobian(via_copies, argnums=(0, 1, 2))(A, Wt, b)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-15)
    tg.check_grads(via_views, A, Wt, b)


def test_ndarray_x_is_a_constant_and_vararray_x_gets_its_gradient(rng):
    X, W = rng.normal(size=(3, 2)), rng.normal(size=(2, 2))
    gW = tg.grad(lambda W: nn.dense(X, W).sum())(W)
    np.testing.assert_allclose(gW, X.T @ np.ones((3, 2)), rtol=1e-14)
    gX, gW2 = tg.grad(lambda X, W: nn.dense(X, W).sum(), argnums=(0, 1))(X, W)
    np.testing.assert_allclose(gX, np.ones((3, 2)) @ W.T, rtol=1e-14)
    np.testing.assert_allclose(gW2, gW, rtol=1e-14)


def test_same_array_as_x_and_w(rng):
    A = rng.normal(size=(3, 3))
    g = tg.grad(lambda A: nn.dense(A, A, None, "tanh").sum())(A)
    dZ = 1 - np.tanh(A @ A) ** 2
    np.testing.assert_allclose(g, dZ @ A.T + A.T @ dZ, rtol=1e-13)


def test_sweep_starting_inside_a_dense_entry(rng):
    """The gradient of one output element: only it is seeded, the rest of the entry is not swept."""
    X, W, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), rng.normal(size=5)
    with tg.Tape() as tape:
        x, w, c = tape.vars(X), tape.vars(W), tape.vars(b)
        y = nn.dense(x, w, c, "tanh")
        tape.gradient((y * y).sum(), [x])  # leaves nonzero adjoints past y[1, 2] in the tape's workspace
        gx, gw, gc = tape.gradient(y[1, 2], [x, w, c])
    dz = 1 - np.tanh(X[1] @ W[:, 2] + b[2]) ** 2
    want_gx = np.zeros_like(X)
    want_gx[1] = dz * W[:, 2]
    want_gw = np.zeros_like(W)
    want_gw[:, 2] = dz * X[1]
    np.testing.assert_allclose(gx, want_gx, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(gw, want_gw, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(gc, np.eye(5)[2] * dz, rtol=1e-13, atol=1e-16)


def test_jacobian_of_a_dense_layer(rng):
    X, W = rng.normal(size=(2, 3)), rng.normal(size=(3, 2))
    J = tg.jacobian(lambda W: nn.dense(X, W, None, "relu"))(W)
    Z = X @ W
    want = np.einsum("ik,jl->ijkl", X, np.eye(2)) * (Z > 0)[:, :, None, None]
    np.testing.assert_allclose(J, want, rtol=1e-14)


def test_outputs_off_the_path_pass_nothing_even_through_inf(rng):
    X = rng.normal(size=(2, 2))
    W = np.array([[np.inf, 1.0], [1.0, 2.0]])
    g = tg.grad(lambda X: nn.dense(X, W)[:, 1].sum())(X)  # column 0 (through the inf) is not used
    np.testing.assert_array_equal(g, np.tile(W[:, 1], (2, 1)))


def test_empty_batch(rng):
    W = rng.normal(size=(3, 2))
    value, g = tg.value_and_grad(lambda W: nn.dense(np.zeros((0, 3)), W, np.ones(2), "tanh").sum())(W)
    assert value == 0.0 and g.shape == (3, 2) and np.all(g == 0)


def test_gradients_stay_right_when_threads_sweep_concurrently(rng):
    model = nn.MLP([8, 32, 1], seed=2)
    X, y = rng.normal(size=(64, 8)), rng.normal(size=(64, 1))
    step = tg.value_and_grad(lambda p: nn.mse(model(p, X), y))
    want = step(model.params)[1]
    errors = []

    def work():
        for _ in range(20):
            g = step(model.params)[1]
            errors.append(max(float(np.max(np.abs(a[k] - b[k]))) for a, b in zip(g, want) for k in ("W", "b")))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 60 and max(errors) == 0.0


def test_large_matmul_runs_on_the_dense_kernel(rng, monkeypatch):
    calls = []
    real = _products.record_dense
    monkeypatch.setattr(_products, "record_dense", lambda *a: calls.append(a) or real(*a))
    A, B = rng.normal(size=(40, 30)), rng.normal(size=(30, 20))
    gA, gB = tg.grad(lambda A, B: ((A @ B) ** 2).sum(), argnums=(0, 1))(A, B)
    assert len(calls) == 1  # 40 * 30 * 20 multiply-adds: BLAS
    C = A @ B
    np.testing.assert_allclose(gA, 2 * C @ B.T, rtol=1e-13)
    np.testing.assert_allclose(gB, 2 * A.T @ C, rtol=1e-13)
    tg.grad(lambda a: (a @ np.ones(3)).sum())(np.ones((2, 3)))  # 6 multiply-adds: the matmul entry
    assert len(calls) == 1
    tg.check_grads(lambda A, v: A @ v, A, rng.normal(size=30))  # matrix @ vector above the threshold


def test_dense_on_ndarrays_only_is_numpy(rng):
    X, W, b = rng.normal(size=(3, 2)), rng.normal(size=(2, 4)), rng.normal(size=4)
    y = nn.dense(X, W, b, "softplus")
    assert isinstance(y, np.ndarray)
    np.testing.assert_allclose(y, np.logaddexp(0, X @ W + b), rtol=1e-14)


def test_bad_operands_raise_named_errors(rng):
    with tg.Tape() as t1, tg.Tape() as t2:
        x, w = t1.vars(rng.normal(size=(2, 3))), t2.vars(rng.normal(size=(3, 1)))
        with pytest.raises(tg.TapeMismatchError):
            nn.dense(x, w)
        with pytest.raises(ValueError, match="b must be an array, not a scalar Var"):
            nn.dense(x, t1.vars(np.ones((3, 1))), t1.var(1.0))
        with pytest.raises(TypeError, match="real array"):
            nn.dense(np.array([["a", "b", "c"]]), t1.vars(np.ones((3, 1))))
        with pytest.raises(ValueError, match=r"W must be 2-D .* got shape \(3, 1, 1\)"):
            nn.dense(x, t1.vars(np.ones((3, 1, 1))))
    stale = x
    with pytest.raises(tg.StaleVarError):
        nn.dense(np.ones((1, 2)), stale)


def test_integer_inputs_become_float64(rng):
    W = rng.normal(size=(2, 2))
    g = tg.grad(lambda W: nn.dense(np.array([[1, 2]]), W, np.array([0, 1])).sum())(W)
    np.testing.assert_allclose(g, np.array([[1.0, 1.0], [2.0, 2.0]]))
