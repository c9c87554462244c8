"""The dense-layer kernel and its BLAS on plain ndarrays, against numpy."""

import math

import numpy as np
import pytest

from tapegrad import _blas, _core

ACTS = _core.dense_activations


def reference(z, act):
    return {
        "identity": lambda: z,
        "tanh": lambda: np.tanh(z),
        "sigmoid": lambda: 1 / (1 + np.exp(-z)),
        "relu": lambda: np.maximum(z, 0.0),
        "softplus": lambda: np.logaddexp(0.0, z),
    }[act]()


def reference_derivative(z, act):
    y = reference(z, act)
    return {
        "identity": lambda: np.ones_like(z),
        "tanh": lambda: 1 - y * y,
        "sigmoid": lambda: y * (1 - y),
        "relu": lambda: (z > 0).astype(float),
        "softplus": lambda: 1 / (1 + np.exp(-z)),
    }[act]()


@pytest.fixture(scope="module", autouse=True)
def blas():
    _blas.load()


def layouts(a):
    """The same matrix as C order, Fortran order, a strided slice, a transposed copy's
    transpose, and reversed rows reversed back (negative strides)."""
    big = np.zeros((a.shape[0] * 2, a.shape[1] * 3))
    big[::2, 1::3] = a
    rev = a[::-1].copy()[::-1]
    return {"C": a, "F": np.asfortranarray(a), "slice": big[::2, 1::3], "T": a.T.copy().T, "negative": rev}


def test_blas_is_openblas_from_the_wheel():
    info = _blas.info()
    assert info["library"].startswith("libscipy_openblas")
    assert "OpenBLAS" in info["config"] and info["corename"]


@pytest.mark.parametrize("shape", [(5, 3, 4), (1, 7, 1), (6, 1, 2), (0, 3, 2), (3, 0, 2), (2, 3, 0)])
def test_gemm_matches_numpy_for_every_layout(rng, shape):
    m, k, n = shape
    a, b = rng.normal(size=(m, k)), rng.normal(size=(k, n))
    for la, av in layouts(a).items():
        for lb, bv in layouts(b).items():
            np.testing.assert_allclose(_core._gemm(av, bv), a @ b, rtol=1e-13, atol=1e-13, err_msg=f"{la} @ {lb}")


def test_gemm_takes_broadcast_zero_strides(rng):
    a = np.broadcast_to(rng.normal(size=(1, 4)), (3, 4))
    b = rng.normal(size=(4, 2))
    np.testing.assert_allclose(_core._gemm(a, b), np.asarray(a) @ b, rtol=1e-13)


@pytest.mark.parametrize("act", ACTS)
def test_forward_and_backward_match_numpy(rng, act):
    X, W, b = rng.normal(size=(9, 4)), rng.normal(size=(4, 5)), rng.normal(size=5)
    Z = X @ W + b
    Y = _core._dense_forward(X, W, b, act)
    np.testing.assert_allclose(Y, reference(Z, act), rtol=1e-14, atol=1e-15)
    dY = rng.normal(size=Y.shape)
    dX, dW, db = _core._dense_backward(X, W, Y, dY, act, True)
    dZ = dY * reference_derivative(Z, act)
    np.testing.assert_allclose(dX, dZ @ W.T, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dW, X.T @ dZ, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(db, dZ.sum(axis=0), rtol=1e-12, atol=1e-14)


def test_backward_without_dx_does_no_dx_work(rng):
    X, W = rng.normal(size=(3, 2)), rng.normal(size=(2, 4))
    Y = _core._dense_forward(X, W, None, "tanh")
    dX, dW, db = _core._dense_backward(X, W, Y, np.ones_like(Y), "tanh", False)
    assert dX is None and dW.shape == (2, 4) and db.shape == (4,)


@pytest.mark.parametrize("act", ACTS)
def test_non_contiguous_and_fortran_inputs_equal_c_order(rng, act):
    X, W, b = rng.normal(size=(6, 3)), rng.normal(size=(3, 4)), rng.normal(size=4)
    want = _core._dense_forward(X, W, b, act)
    dY = rng.normal(size=want.shape)
    want_grads = _core._dense_backward(X, W, want, dY, act, True)
    for lx, xv in layouts(X).items():
        for lw, wv in layouts(W).items():
            got = _core._dense_forward(xv, wv, b[::-1].copy()[::-1], act)
            np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15, err_msg=f"X {lx}, W {lw}")
            for g, w in zip(_core._dense_backward(xv, wv, got, dY, act, True), want_grads):
                np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-15, err_msg=f"X {lx}, W {lw}")


def test_an_entry_with_zero_adjoint_passes_nothing_back_even_through_inf():
    X, W = np.ones((2, 2)), np.array([[np.inf, 1.0], [1.0, 1.0]])
    Y = _core._dense_forward(X, W, None, "identity")
    dX, dW, db = _core._dense_backward(X, W, Y, np.zeros_like(Y), "identity", True)
    assert np.all(dX == 0) and np.all(dW == 0) and np.all(db == 0)


@pytest.mark.parametrize("act", ACTS)
def test_outputs_with_zero_adjoint_pass_exactly_zero_through_inf_and_nan(act):
    """As on the scalar tape: 0 * inf contributes 0, a nonzero adjoint meets the inf."""
    X = np.array([[1.0, 2.0], [np.nan, 1.0], [0.5, -1.0]])
    W = np.array([[np.inf, 1.0, 0.5], [1.0, 2.0, -1.0]])
    Y = _core._dense_forward(X, W, np.zeros(3), act)
    dY = np.zeros_like(Y)
    dY[2, 1] = 1.5  # only output (2, 1) is on the path; its column of W and row of X are finite
    dX, dW, db = _core._dense_backward(X, W, Y, dY, act, True)
    dz = 1.5 * reference_derivative(np.array([0.5 * 1.0 - 1.0 * 2.0]), act)[0]
    want_dX = np.zeros_like(X)
    want_dX[2] = dz * W[:, 1]
    want_dW = np.zeros_like(W)
    want_dW[:, 1] = dz * X[2]
    want_db = np.array([0.0, dz, 0.0])
    np.testing.assert_allclose(dX, want_dX, rtol=1e-14)
    np.testing.assert_allclose(dW, want_dW, rtol=1e-14)
    np.testing.assert_allclose(db, want_db, rtol=1e-14)
    dY[0, 0] = 1.0  # now an inf weight is on the path
    dX, dW, db = _core._dense_backward(X, W, Y, dY, act, True)
    if act in ("tanh", "sigmoid"):  # saturated at z = inf: derivative 0, nothing passes
        np.testing.assert_allclose(dX, want_dX, rtol=1e-14)
    else:  # derivative 1 at z = inf: the inf weight reaches dX, as it would on the scalar tape
        assert dX[0, 0] == np.inf


def test_fast_tanh_is_within_4_ulp_of_libm(rng):
    x = np.concatenate([
        rng.uniform(-25, 25, 200_000),
        np.sign(rng.uniform(-1, 1, 200_000)) * 10.0 ** rng.uniform(-30, 1.5, 200_000),
        [0.0, 1e-310, -1e-310, 5e-324, 0.17, 0.35, 0.3466, 19.0, 20.0, 20.5, 1e300],
    ])
    got = _core._activation(x, "tanh")
    want = np.array([math.tanh(v) for v in x])
    ulp = np.spacing(np.abs(want))
    assert np.max(np.abs(got - want) / ulp) <= 4
    assert np.all(np.signbit(got) == np.signbit(want))


def test_fast_tanh_special_values():
    got = _core._activation(np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 40.0, -40.0]), "tanh")
    assert got[0] == 0 and not np.signbit(got[0]) and np.signbit(got[1])
    assert got[2] == 1 and got[3] == -1 and np.isnan(got[4]) and got[5] == 1 and got[6] == -1


@pytest.mark.parametrize("act", ACTS)
def test_activation_loops_match_reference(rng, act):
    z = rng.normal(scale=5, size=1001)
    np.testing.assert_allclose(_core._activation(z, act), reference(z, act), rtol=1e-14, atol=1e-300)


def test_shape_errors_and_unknown_activation(rng):
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(2, 5\)"):
        _core._dense_forward(rng.normal(size=(4, 3)), rng.normal(size=(2, 5)), None, "tanh")
    with pytest.raises(ValueError, match="unknown activation 'gelu'.*tanh"):
        _core._dense_forward(np.ones((1, 1)), np.ones((1, 1)), None, "gelu")
    with pytest.raises(ValueError, match="2-D"):
        _core._gemm(np.ones(3), np.ones((3, 1)))
