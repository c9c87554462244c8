"""grad and value_and_grad on floats and arrays."""

import numpy as np
import pytest

import tapegrad as tg


def rosen(x):
    s = 0.0
    for i in range(len(x) - 1):
        s = s + 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s


def rosen_grad(x):
    g = np.zeros_like(x)
    g[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return g


def test_grad_of_float_is_float():
    d = tg.grad(lambda x: x ** 3 + 2 * x)(2.0)
    assert isinstance(d, float) and d == 14.0
    assert tg.grad(lambda x: x * x)(3) == 6.0  # an int argument


def test_rosenbrock_scalar_loop():
    g = tg.grad(rosen)(np.ones(1000))
    assert g.shape == (1000,) and g.dtype == np.float64
    np.testing.assert_array_equal(g, 0.0)  # the minimum
    x = np.random.default_rng(0).uniform(-2, 2, 200)
    np.testing.assert_allclose(tg.grad(rosen)(x), rosen_grad(x), rtol=1e-13, atol=1e-11)
    v, g = tg.value_and_grad(rosen)(x)
    assert v == pytest.approx(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2), rel=1e-13)


def test_argnums_and_kwargs():
    def f(x, y, scale=1.0):
        return scale * (x * y[0] + y[1] ** 2)

    gx = tg.grad(f)(2.0, np.array([3.0, 4.0]), scale=2.0)
    assert gx == 6.0
    gy = tg.grad(f, argnums=1)(2.0, np.array([3.0, 4.0]))
    np.testing.assert_array_equal(gy, [2.0, 8.0])
    gx, gy = tg.grad(f, argnums=(0, 1))(2.0, [3.0, 4.0])
    assert gx == 3.0 and list(gy) == [2.0, 8.0]
    with pytest.raises(TypeError, match="argnums"):
        tg.grad(f, argnums=3)(1.0, [1.0, 2.0])


def test_has_aux():
    def f(x):
        y = x * x
        return y, {"y": y, "note": "hi"}

    (v, aux), g = tg.value_and_grad(f, has_aux=True)(3.0)
    assert v == 9.0 and g == 6.0 and aux == {"y": 9.0, "note": "hi"}
    g, aux = tg.grad(f, has_aux=True)(3.0)
    assert g == 6.0 and aux["y"] == 9.0


def test_constant_output_has_zero_gradient():
    assert tg.grad(lambda x: 3.0)(1.0) == 0.0
    np.testing.assert_array_equal(tg.grad(lambda x: 1)(np.ones(3)), np.zeros(3))


def test_empty_array():
    g = tg.grad(lambda x: sum(x, 0.0))(np.zeros(0))
    assert g.shape == (0,)


def test_non_scalar_output_raises():
    with tg.Tape() as tape:
        pass
    with pytest.raises(TypeError, match="scalar"):
        tg.grad(lambda x: x)(np.ones(3))
    with pytest.raises(TypeError, match="scalar"):
        tg.grad(lambda x: [x, x])(1.0)
    with pytest.raises(TypeError, match="scalar"):
        tg.grad(lambda x: "s")(1.0)


def test_bad_arguments_raise():
    with pytest.raises(TypeError, match="argument 0"):
        tg.grad(lambda x: x)("a")
    with pytest.raises(TypeError, match="dtype"):
        tg.grad(lambda x: x[0])(np.array([1j]))


def test_nested_grad_calls_use_separate_tapes():
    def inner(y):
        return y * y

    def outer(x):
        slope = tg.grad(inner)(3.0)  # a grad call while recording another
        return x * slope

    assert tg.grad(outer)(1.0) == 6.0


def test_repeated_calls_reuse_memory():
    f = tg.grad(rosen)
    x = np.linspace(-1, 1, 100)
    first = f(x)
    for _ in range(20):
        np.testing.assert_array_equal(f(x), first)
