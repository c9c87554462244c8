"""dot, matmul/@, outer and vdot: vector.vector, matrix.vector, vector.matrix
and matrix.matrix, with constants on either side, against numpy."""

import numpy as np
import pytest

import tapegrad as tg

SHAPES = {  # (a, b): numpy's matmul takes all of these
    "vv": ((4,), (4,)),
    "mv": ((3, 4), (4,)),
    "vm": ((4,), (4, 2)),
    "mm": ((3, 4), (4, 2)),
    "1x1": ((1, 1), (1, 1)),
    "k=0": ((2, 0), (0, 3)),
}


@pytest.mark.parametrize("case", SHAPES, ids=str)
@pytest.mark.parametrize("fn", ["matmul", "@", "dot", "np.dot", "np.matmul"])
@pytest.mark.parametrize("variable", ["both", "a", "b"])
def test_products(case, fn, variable, rng):
    sa, sb = SHAPES[case]
    a, b = rng.normal(size=sa), rng.normal(size=sb)
    f = {"matmul": tg.matmul, "@": lambda p, q: p @ q, "dot": tg.dot, "np.dot": np.dot,
         "np.matmul": np.matmul}[fn]
    want = np.matmul(a, b)
    with tg.Tape() as tape:
        va, vb = tape.vars(a), tape.vars(b)
        args = {"both": (va, vb), "a": (va, b), "b": (a, vb)}[variable]
        n0 = tape.num_nodes
        y = f(*args)
        np.testing.assert_allclose(getattr(y, "value", y), want, rtol=1e-13, atol=1e-15)
        assert isinstance(y, tg.Var) if want.ndim == 0 else y.shape == want.shape
        assert tape.num_nodes == n0 + want.size  # one matmul entry
    if a.size and b.size:
        if variable == "both":
            tg.check_grads(lambda p, q: f(p, q), a, b)
        elif variable == "a":
            tg.check_grads(lambda p: f(p, b), a)
        else:
            tg.check_grads(lambda q: f(a, q), b)


def test_matmul_of_views(rng):
    """Transposed and strided operands, and x @ x.T (one operand twice)."""
    x = rng.normal(size=(3, 5))
    for f in (lambda v: v @ v.T, lambda v: v[:, ::2].T @ v[::-1, 1:4], lambda v: v.T @ v[:, 2]):
        with tg.Tape() as tape:
            np.testing.assert_allclose(f(tape.vars(x)).value, f(x), rtol=1e-13)
        tg.check_grads(f, x)


def test_dot_of_scalars_and_nd_by_vector(rng):
    x, v = rng.normal(size=(2, 3, 4)), rng.normal(size=4)
    with tg.Tape() as tape:
        s = tape.var(2.0)
        np.testing.assert_allclose(tg.dot(s, tape.vars(v)).value, 2.0 * v)
        np.testing.assert_allclose(tg.dot(tape.vars(x), v).value, np.dot(x, v), rtol=1e-13)
    tg.check_grads(lambda p, q: tg.dot(p, q), x, v)
    tg.check_grads(lambda p, q: tg.outer(p, q), v, v[:3])
    tg.check_grads(lambda p, q: tg.vdot(p, q), x[0], x[1])


def test_product_errors_are_numpys():
    with tg.Tape() as tape:
        a, b = tape.vars(np.ones((2, 3))), tape.vars(np.ones(4))
        with pytest.raises(ValueError, match="matmul: Input operand 1 has a mismatch in its core dimension 0"):
            a @ b
        with pytest.raises(ValueError, match=r"shapes \(2, 3\) and \(4,\) not aligned"):
            tg.dot(a, b)
        with pytest.raises(ValueError, match="does not have enough dimensions"):
            tg.matmul(tape.var(1.0), b)
        with pytest.raises(TypeError, match="stacks of matrices"):
            tg.matmul(tape.vars(np.ones((2, 2, 2))), a.T)


def test_linear_model_gradient_matches_hand_derivation(rng):
    W, x, y = rng.normal(size=(3, 5)), rng.normal(size=5), rng.normal(size=3)

    def loss(w):
        r = w @ x - y
        return (r * r).sum()

    np.testing.assert_allclose(tg.grad(loss)(W), 2 * np.outer(W @ x - y, x), rtol=1e-12)
