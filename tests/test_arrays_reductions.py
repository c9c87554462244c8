"""Every reduction with every axis and keepdims: values against numpy (and
scipy for logsumexp), derivatives against central differences."""

import itertools

import numpy as np
import pytest

import tapegrad as tg

scipy_special = pytest.importorskip("scipy.special")

SHAPE = (2, 3, 4)
AXES = [None, 0, 1, 2, -1, (0, 1), (0, 2), (1, 2), (0, 1, 2), ()]

# name -> (tapegrad function, numpy's value, axis values it takes)
REDUCTIONS = {
    "sum": (tg.sum, np.sum, AXES),
    "mean": (tg.mean, np.mean, AXES),
    "prod": (tg.prod, np.prod, AXES),
    "max": (tg.max, np.max, AXES),
    "min": (tg.min, np.min, AXES),
    "logsumexp": (tg.logsumexp, scipy_special.logsumexp, AXES),
    # numpy's norm takes one axis (vector norm) or two (Frobenius)
    "norm": (tg.norm, np.linalg.norm, [None, 0, 1, -1, (0, 1), (1, 2), (0, 2)]),
}
CASES = [(name, axis, keepdims) for name, (_, _, axes) in REDUCTIONS.items() for axis in axes
         for keepdims in (False, True)]


@pytest.mark.parametrize("name,axis,keepdims", CASES, ids=lambda v: str(v))
def test_reduction(name, axis, keepdims, rng):
    f, reference, _ = REDUCTIONS[name]
    x = rng.uniform(0.5, 1.5, SHAPE) * rng.choice([-1, 1], SHAPE)  # no ties, no zeros
    want = reference(x, axis=axis, keepdims=keepdims)
    with tg.Tape() as tape:
        xs = tape.vars(x)
        n0 = tape.num_nodes
        y = f(xs, axis=axis, keepdims=keepdims)
        assert np.shape(getattr(y, "value", y)) == np.shape(want)
        np.testing.assert_allclose(getattr(y, "value", y), want, rtol=1e-13)
        if np.shape(want) == ():
            assert isinstance(y, tg.Var)
        if axis != ():
            assert tape.num_nodes == n0 + max(np.size(want), 1), "one entry, one slot per output"
    tg.check_grads(lambda v: f(v, axis=axis, keepdims=keepdims), x)


@pytest.mark.parametrize("name", ["sum", "mean", "prod", "max", "min"])
def test_reduction_methods_match_functions(name, rng):
    x = rng.normal(size=(3, 4))
    with tg.Tape() as tape:
        xs = tape.vars(x)
        for axis in (None, 0, 1):
            a = getattr(xs, name)(axis=axis)
            b = getattr(tg, name)(xs, axis=axis)
            np.testing.assert_array_equal(np.asarray(getattr(a, "value", a)), np.asarray(getattr(b, "value", b)))
            np.testing.assert_allclose(getattr(a, "value", a), getattr(np, name)(x, axis=axis), rtol=1e-13)


def test_reductions_of_views(rng):
    """Strided, transposed and reversed views reduce like the arrays numpy sees."""
    x = rng.normal(size=(4, 6))
    views = [lambda a: a[::2, 1::2], lambda a: a.T, lambda a: a[::-1, ::-1], lambda a: a[1:, :].T[::2]]
    for view in views:
        for axis in (None, 0, 1):
            with tg.Tape() as tape:
                np.testing.assert_allclose(tg.sum(view(tape.vars(x)), axis=axis).value if axis is not None
                                           else tg.sum(view(tape.vars(x))).value,
                                           np.sum(view(x), axis=axis), rtol=1e-13)
            tg.check_grads(lambda v: tg.logsumexp(view(v), axis=axis), x)


def test_max_ties_share_the_derivative():
    g = tg.grad(lambda v: tg.max(v))(np.array([1.0, 3.0, 3.0, 2.0]))
    np.testing.assert_array_equal(g, [0.0, 0.5, 0.5, 0.0])
    g = tg.grad(lambda v: tg.min(v, axis=0).sum())(np.array([[1.0, 2.0], [1.0, 0.0]]))
    np.testing.assert_array_equal(g, [[0.5, 0.0], [0.5, 1.0]])


def test_prod_is_exact_with_zeros():
    g = tg.grad(lambda v: tg.prod(v))(np.array([2.0, 0.0, 3.0]))
    np.testing.assert_array_equal(g, [0.0, 6.0, 0.0])
    g = tg.grad(lambda v: tg.prod(v))(np.array([0.0, 0.0, 3.0]))
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0])


def test_logsumexp_and_softmax_are_stable():
    x = np.array([1000.0, 1000.0, -1000.0])
    v, g = tg.value_and_grad(lambda a: tg.logsumexp(a))(x)
    assert v == pytest.approx(1000.0 + np.log(2.0))
    np.testing.assert_allclose(g, [0.5, 0.5, 0.0])
    p = tg.jacobian(lambda a: tg.softmax(a))(x)
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(tg.softmax(x), [0.5, 0.5, 0.0])


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_softmax(axis, rng):
    x = rng.normal(size=(3, 4))
    ax = -1 if axis is None else axis
    e = np.exp(x - x.max(axis=ax, keepdims=True))
    with tg.Tape() as tape:
        got = tg.softmax(tape.vars(x), axis=ax).value
    np.testing.assert_allclose(got, e / e.sum(axis=ax, keepdims=True), rtol=1e-13)
    tg.check_grads(lambda v: tg.softmax(v, axis=ax), x)


@pytest.mark.parametrize("axis", [None, 0, 1, 2, -2])
def test_cumsum(axis, rng):
    x = rng.normal(size=SHAPE)
    with tg.Tape() as tape:
        np.testing.assert_allclose(tg.cumsum(tape.vars(x), axis=axis).value, np.cumsum(x, axis=axis), rtol=1e-13)
    tg.check_grads(lambda v: tg.cumsum(v, axis=axis), x)


@pytest.mark.parametrize("ord", [None, 1, 2, np.inf, -np.inf, 3])
def test_vector_norms(ord, rng):
    x = rng.normal(size=5)
    with tg.Tape() as tape:
        assert tg.norm(tape.vars(x), ord=ord).value == pytest.approx(np.linalg.norm(x, ord=ord), rel=1e-13)
    tg.check_grads(lambda v: tg.norm(v, ord=ord), x)


def test_norm_at_zero_has_derivative_zero_is_scaled_and_rejects_matrix_norms():
    np.testing.assert_array_equal(tg.grad(lambda v: tg.norm(v))(np.zeros(3)), np.zeros(3))
    assert tg.value_and_grad(lambda v: tg.norm(v))(np.array([3e200, 4e200]))[0] == pytest.approx(5e200)
    with tg.Tape() as tape:
        with pytest.raises(TypeError, match="Frobenius"):
            tg.norm(tape.vars(np.ones((2, 2))), ord=2)


def test_empty_reductions():
    v, g = tg.value_and_grad(lambda a: tg.sum(a) + tg.prod(a))(np.zeros(0))
    assert v == 1.0 and g.shape == (0,)
    with tg.Tape() as tape:
        with pytest.raises(ValueError, match="zero-size array to reduction operation maximum"):
            tg.max(tape.vars(np.zeros((0, 2))), axis=0)
        assert tg.max(tape.vars(np.zeros((2, 0))), axis=0).shape == (0,)


def test_axis_errors_are_numpys():
    with tg.Tape() as tape:
        x = tape.vars(np.ones((2, 3)))
        with pytest.raises(np.exceptions.AxisError if hasattr(np, "exceptions") else np.AxisError):
            tg.sum(x, axis=2)
        with pytest.raises(ValueError, match="duplicate"):
            tg.sum(x, axis=(0, 0))


def test_all_axis_combinations_of_sum_keep_shapes(rng):
    x = rng.normal(size=(2, 1, 3))
    for r in range(4):
        for axis in itertools.combinations(range(3), r):
            with tg.Tape() as tape:
                y = tg.sum(tape.vars(x), axis=axis, keepdims=True)
                assert np.shape(y.value) == np.sum(x, axis=axis, keepdims=True).shape
