"""x.at[index].set/add/multiply/...: JAX's functional update on VarArrays,
with numpy's indexing and broadcasting, values equal to numpy's, exact
derivatives (central differences), and compiled replay."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import tapegrad as tg

RNG = np.random.default_rng(7)
X = RNG.uniform(0.5, 1.5, (4, 3))

INDICES: dict[str, Any] = {
    "int": 1,
    "negative int": -1,
    "tuple of ints": (2, 1),
    "slice": slice(1, 3),
    "step slice": (slice(None), slice(None, None, 2)),
    "ellipsis": (Ellipsis, 0),
    "newaxis": (None, 1),
    "int array": np.array([0, 2]),
    "repeated int array": np.array([0, 2, 0, 0]),
    "2-d int array": (np.array([[0, 1], [1, 3]]), np.array([[2, 0], [0, 1]])),
    "boolean mask": X > 1.0,
    "boolean row mask": np.array([True, False, True, False]),
    "mixed": (np.array([3, 0, 3]), slice(0, 2)),
}


def _numpy_update(method: str, x: np.ndarray, index: Any, v: Any) -> np.ndarray:
    out = x.copy()
    if method == "set":
        out[index] = v
    else:
        ufunc = {"add": np.add, "multiply": np.multiply, "divide": np.divide, "power": np.power,
                 "min": np.minimum, "max": np.maximum}[method]
        ufunc.at(out, index, v)
    return out


def _values_for(index: Any, scalar: bool) -> Any:
    shape = np.empty(X.shape)[index].shape
    return 0.7 if scalar else RNG.uniform(0.5, 1.5, shape)


@pytest.mark.parametrize("method", ["set", "add", "multiply", "divide", "power", "min", "max"])
@pytest.mark.parametrize("case", sorted(INDICES))
@pytest.mark.parametrize("scalar", [True, False], ids=["scalar", "array"])
def test_values_match_numpy_and_derivatives_match_differences(method: str, case: str, scalar: bool) -> None:
    index = INDICES[case]
    v = _values_for(index, scalar)

    def f(x: Any, w: Any) -> Any:
        return (getattr(x.at[index], method)(w) * np.arange(1.0, 13.0).reshape(4, 3)).sum()

    expected = _numpy_update(method, X, index, v)
    with tg.Tape() as tape:
        x, w = tape.vars(X), tape.vars(np.asarray(v))
        got = getattr(x.at[index], method)(w if not scalar else w.reshape(()))
        np.testing.assert_allclose(got.value, expected, rtol=1e-13)
    _check_against_differences(f, X, np.asarray(v))


def _check_against_differences(f: Callable[..., Any], x: np.ndarray, w: np.ndarray, eps: float = 1e-6) -> None:
    """Reverse-mode derivatives along random directions against central
    differences of f's value (f needs VarArrays: .at is theirs, so the value
    comes from a recording too)."""
    value = tg.value_and_grad(f, argnums=(0, 1))
    _, (gx, gw) = value(x, w)
    for _ in range(3):
        dx, dw = RNG.standard_normal(x.shape), RNG.standard_normal(w.shape)
        central = (value(x + eps * dx, w + eps * dw)[0] - value(x - eps * dx, w - eps * dw)[0]) / (2 * eps)
        reverse = float(np.vdot(gx, dx) + np.vdot(gw, dw))
        assert reverse == pytest.approx(central, rel=1e-6, abs=1e-6)


def test_set_with_a_repeated_index_keeps_the_last_value_as_numpy() -> None:
    with tg.Tape() as tape:
        x = tape.vars(np.zeros(3))
        y = x.at[np.array([1, 1])].set(np.array([5.0, 7.0]))
        np.testing.assert_array_equal(y.value, [0.0, 7.0, 0.0])


def test_add_with_repeats_accumulates_and_its_gradient_counts_them() -> None:
    idx = np.array([0, 2, 0, 0])

    def f(v: Any) -> Any:
        base = v[:3] * 0.0
        return (base.at[idx].add(v) ** 2).sum()

    v = np.array([1.0, 2.0, 3.0, 4.0])
    # out[0] = v0 + v2 + v3 = 8, out[2] = v1 = 2: d/dv = 2 * out at the target of each v.
    np.testing.assert_allclose(tg.grad(f)(v), [16.0, 4.0, 16.0, 16.0])


def test_the_update_gets_the_gradient_of_the_replaced_elements_zero() -> None:
    g = tg.grad(lambda x: x.at[1:].set(0.0).sum() + 0.0)(np.ones(3))
    np.testing.assert_array_equal(g, [1.0, 0.0, 0.0])


def test_var_values_and_var_indices() -> None:
    def f(x: Any) -> Any:
        return x.at[x[2]].set(x[0] * x[1]).sum()  # index 2.0 from a Var: a piecewise-constant choice

    x = np.array([2.0, 3.0, 1.0])
    np.testing.assert_allclose(tg.grad(f)(x), [1.0 + 3.0, 2.0, 1.0])


def test_get() -> None:
    with tg.Tape() as tape:
        x = tape.vars(X)
        np.testing.assert_array_equal(x.at[1, ::2].get().value, X[1, ::2])


def test_errors_are_numpys() -> None:
    with tg.Tape() as tape:
        x = tape.vars(X)
        with pytest.raises(IndexError):
            x.at[7].set(1.0)
        with pytest.raises(ValueError, match="broadcast"):
            x.at[0].set(np.ones(5))
        with pytest.raises(ValueError, match="broadcast"):
            x.at[0].add(np.ones(5))
        with pytest.raises(tg.TapeMismatchError):
            x.at[0].set(tg.Tape().var(1.0))


def test_one_gather_entry_for_set() -> None:
    with tg.Tape() as tape:
        x = tape.vars(np.arange(6.0))
        before = tape.num_nodes
        y = x.at[np.array([1, 4])].set(7.0)
        assert tape.num_nodes == before + 6  # one entry: a slot per element of the result, no per-element nodes
        assert y.shape == (6,)


@pytest.mark.parametrize("method", ["set", "add", "multiply"])
def test_compiled_replay(method: str) -> None:
    idx = np.array([0, 2, 2])

    def f(x: Any) -> Any:
        y = getattr(x.at[idx], method)(x[1:4] ** 2)
        return tg.sin(y).sum()

    x0 = np.array([0.3, 0.5, 0.7, 0.9])
    cf = tg.compile(f, x0)
    for x in (x0, np.array([1.1, -0.4, 0.2, 0.6])):
        value, g = tg.value_and_grad(f)(x)
        assert cf(x) == pytest.approx(value, rel=1e-14)
        np.testing.assert_allclose(cf.grad(x), g, rtol=1e-13)
        np.testing.assert_allclose(cf.hessian(x), _fd_hessian(f, x), rtol=1e-5, atol=1e-6)
        t = np.array([1.0, -1.0, 0.5, 2.0])
        _, jv = cf.jvp(x, t)
        assert jv == pytest.approx(float(g @ t), rel=1e-12)
        np.testing.assert_allclose(cf.hvp(x, t), _fd_hessian(f, x) @ t, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(cf.jacobian(x), g, rtol=1e-13)


def _fd_hessian(f: Callable[..., Any], x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    g = tg.grad(f)
    cols = [(g(x + eps * e) - g(x - eps * e)) / (2 * eps) for e in np.eye(x.size)]
    return np.array(cols).T
