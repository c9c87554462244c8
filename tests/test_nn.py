"""tapegrad.nn on ndarrays: the MLP, its initialisation, the loss and the optimisers."""

import numpy as np
import pytest

from tapegrad import nn


def test_mlp_params_are_a_pytree_of_glorot_ndarrays():
    model = nn.MLP([64, 32, 10], seed=3)
    assert [sorted(layer) for layer in model.params] == [["W", "b"], ["W", "b"]]
    W0 = model.params[0]["W"]
    assert W0.shape == (64, 32) and W0.dtype == np.float64
    limit = np.sqrt(6 / (64 + 32))
    assert np.abs(W0).max() <= limit and np.abs(W0).max() > 0.9 * limit
    assert abs(W0.std() - limit / np.sqrt(3)) < 0.1 * limit  # the uniform law's spread
    assert all(np.all(layer["b"] == 0) for layer in model.params)
    again = nn.MLP([64, 32, 10], seed=3).params
    assert np.array_equal(again[1]["W"], model.params[1]["W"])
    assert not np.array_equal(nn.MLP([64, 32, 10], seed=4).params[0]["W"], W0)


def test_mlp_is_the_pure_function_mlp(rng):
    model = nn.MLP([3, 5, 2], activation="sigmoid", seed=0)
    X = rng.normal(size=(7, 3))
    h = 1 / (1 + np.exp(-(X @ model.params[0]["W"] + model.params[0]["b"])))
    want = h @ model.params[1]["W"] + model.params[1]["b"]
    np.testing.assert_allclose(model(model.params, X), want, rtol=1e-13)
    np.testing.assert_allclose(nn.mlp(model.params, X, "sigmoid"), want, rtol=1e-13)


def test_bad_sizes_and_activation_raise():
    with pytest.raises(ValueError, match="sizes"):
        nn.MLP([3])
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        nn.MLP([3, 1], activation="swish")


def test_mse_checks_shapes():
    assert nn.mse(np.array([[1.0], [3.0]]), np.array([[1.0], [1.0]])) == 2.0
    with pytest.raises(ValueError, match=r"\(2, 1\).*\(2,\)"):
        nn.mse(np.ones((2, 1)), np.ones(2))


def test_sgd_is_pure():
    params = [{"W": np.ones((2, 2)), "b": np.zeros(2)}]
    grads = [{"W": np.full((2, 2), 2.0), "b": np.ones(2)}]
    new = nn.sgd(params, grads, lr=0.25)
    np.testing.assert_array_equal(new[0]["W"], np.full((2, 2), 0.5))
    np.testing.assert_array_equal(new[0]["b"], np.full(2, -0.25))
    np.testing.assert_array_equal(params[0]["W"], np.ones((2, 2)))  # untouched


def test_adam_matches_its_formula_and_is_pure():
    p = {"w": np.array([1.0, -2.0])}
    state = nn.adam_init(p)
    g1, g2 = {"w": np.array([0.5, -1.0])}, {"w": np.array([0.1, 3.0])}
    p1, s1 = nn.adam(p, g1, state, lr=0.01)
    p2, s2 = nn.adam(p1, g2, s1, lr=0.01)
    m = 0.9 * (0.1 * g1["w"]) + 0.1 * g2["w"]
    v = 0.999 * (0.001 * g1["w"] ** 2) + 0.001 * g2["w"] ** 2
    step2 = 0.01 * (m / (1 - 0.9 ** 2)) / (np.sqrt(v / (1 - 0.999 ** 2)) + 1e-8)
    np.testing.assert_allclose(p2["w"], p1["w"] - step2, rtol=1e-14)
    np.testing.assert_allclose(p1["w"], p["w"] - 0.01 * np.sign(g1["w"]), rtol=1e-6)  # first step ~ lr*sign
    assert s2["step"] == 2 and state["step"] == 0 and np.all(state["m"]["w"] == 0)


def test_adam_minimises_a_quadratic():
    p = {"x": np.array([3.0, -4.0])}
    s = nn.adam_init(p)
    for _ in range(500):
        p, s = nn.adam(p, {"x": 2 * p["x"]}, s, lr=0.05)
    assert np.abs(p["x"]).max() < 1e-2


def test_cross_entropy_value_gradient_and_errors(rng):
    import tapegrad as tg

    logits, labels = rng.normal(size=(6, 4)) * 3, np.array([0, 3, 1, 1, 2, 3])
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    assert abs(nn.cross_entropy(logits, labels) + logp[np.arange(6), labels].mean()) < 1e-14
    g = tg.grad(lambda z: nn.cross_entropy(z, labels))(logits)
    want = np.exp(logp)
    want[np.arange(6), labels] -= 1
    np.testing.assert_allclose(g, want / 6, rtol=1e-12, atol=1e-15)
    assert np.isfinite(nn.cross_entropy(np.array([[1000.0, -1000.0]]), [1]))  # stable
    with pytest.raises(ValueError, match=r"labels of shape \(6,\)"):
        nn.cross_entropy(logits, labels[:5])
    with pytest.raises(ValueError, match=r"integers in \[0, 4\)"):
        nn.cross_entropy(logits, labels + 1)


def test_docstring_examples_run():
    import doctest

    from tapegrad import _blas

    for module in (nn, _blas):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0 and result.attempted > 0, module.__name__


def test_readme_neural_network_example_runs():
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "docs" / "nn.md").read_text()
    section = readme[readme.index("## Neural networks"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    scope: dict = {}
    exec(code, scope)
    assert np.isfinite(scope["value"]) and scope["state"]["step"] == 1
    assert scope["params"][0]["W"].shape == (64, 32)


def test_optimisers_take_any_pytree_and_check_structure():
    params = ({"w": np.ones(2)}, [np.zeros(1), 3.0])
    grads = ({"w": np.ones(2)}, [np.ones(1), 1.0])
    new = nn.sgd(params, grads, lr=0.5)
    assert isinstance(new, tuple) and isinstance(new[1], list)
    np.testing.assert_array_equal(new[0]["w"], [0.5, 0.5])
    assert new[1][1] == 2.5
    with pytest.raises(ValueError, match="same structure"):
        nn.sgd(params, ({"w": np.ones(2)}, [np.ones(1)]))
