"""Compiled replay of tapes with array entries (issues 4 and 5): every entry
kind and every dense activation replays like a fresh recording, on doubles and
on dual numbers (jvp, hvp, hessian), batched and single; array comparisons,
where and clip are guarded; array programs pickle and reject corrupted bytes."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import tapegrad as tg

RNG = np.random.default_rng(20261129)


def _as_tuple(g, n):
    return g if n > 1 else (g,)


def _fd_hvp(cf, args, vec, eps=1e-6):
    plus = _as_tuple(cf.grad(*(a + eps * v for a, v in zip(args, vec))), len(args))
    minus = _as_tuple(cf.grad(*(a - eps * v for a, v in zip(args, vec))), len(args))
    return [(p - m) / (2 * eps) for p, m in zip(plus, minus)]


def check_replay(f, *args, points=3, step=0.05, positive=False):
    """compile(f) at args, then at nearby random points: value and gradient
    equal a fresh recording's; jvp equals J v; hvp equals finite differences
    of the replayed gradient."""
    def point(a):  # a float stays a float (a 0-d array would be watched as shape (1,))
        return float(a) if np.ndim(a) == 0 else np.asarray(a, dtype=float)

    args = tuple(point(a) for a in args)
    cf = tg.compile(f, *args)
    n = len(args)
    for _ in range(points):
        new = tuple(point(a + step * RNG.normal(size=np.shape(a))) for a in args)
        if positive:
            new = tuple(point(np.abs(a) + 0.5) for a in new)
        value, grads = tg.value_and_grad(f, argnums=tuple(range(n)))(*new)
        cvalue, cgrads = cf.value_and_grad(*new)
        assert cvalue == pytest.approx(float(value), rel=1e-12, abs=1e-12)
        for g, cg in zip(grads, _as_tuple(cgrads, n)):
            np.testing.assert_allclose(cg, g, rtol=1e-11, atol=1e-12)
        vec = tuple(point(RNG.normal(size=np.shape(a))) for a in new)
        _, dot = cf.jvp(new if n > 1 else new[0], vec if n > 1 else vec[0])
        expected = sum(float(np.sum(g * v)) for g, v in zip(grads, vec))
        assert dot == pytest.approx(expected, rel=1e-9, abs=1e-10)
        hv = _as_tuple(cf.hvp(new if n > 1 else new[0], vec if n > 1 else vec[0]), n)
        for h, fd in zip(hv, _fd_hvp(cf, new, vec)):
            np.testing.assert_allclose(h, fd, rtol=1e-5, atol=1e-5)
    return cf


# ---- every entry kind ----------------------------------------------------------------

def rosenbrock(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def test_numpy_style_rosenbrock():
    cf = check_replay(rosenbrock, RNG.normal(size=7))
    x = RNG.normal(size=7)
    H = cf.hessian(x)
    eps = 1e-6
    fd = np.array([(cf.grad(x + eps * e) - cf.grad(x - eps * e)) / (2 * eps) for e in np.eye(7)])
    np.testing.assert_allclose(H, fd, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(H, H.T, rtol=1e-12)


CONSTANT = RNG.normal(size=(3, 4))


@pytest.mark.parametrize("f, positive", [
    (lambda x: (tg.exp(x) * tg.sin(x) + tg.tanh(x)).sum(), False),                # unary rows
    (lambda x: (x * x[0] + x / (1 + x[:, :1] ** 2)).sum(), False),               # binary, broadcast
    (lambda x: (CONSTANT * x - x / (2 + CONSTANT ** 2) + 3 ** x).sum(), False),  # _vc, _cv per element
    (lambda x: (tg.log(x) + tg.sqrt(x) + x ** 1.5).sum(), True),
    (lambda x: tg.prod(x, axis=1).sum() + tg.mean(x, axis=0).sum(), False),      # reductions
    (lambda x: tg.max(x, axis=1).sum() + tg.min(x) * 2 + tg.norm(x), False),
    (lambda x: tg.logsumexp(x, axis=0).sum(), False),
    (lambda x: (tg.exp(x) / tg.exp(x).sum(axis=1, keepdims=True))[:, 0].sum(), False),  # softmax
    (lambda x: (x[[0, 2, 2], 1:3] ** 2).sum() + tg.concatenate([x[0], x[:, 1], [1.0, 2.0]]).prod(), False),
    (lambda x: (tg.stack([x[0], x[1] * 2]) ** 3).sum() + x.T[1:, ::2].sum(), False),  # gathers, views
    (lambda x: (x @ x.T).sum() + (CONSTANT.T @ x).sum() + tg.diagonal(x @ CONSTANT.T).sum(), False),  # matmul
    (lambda x: (x[0] @ x[1]) * (x @ x[2]).sum(), False),                         # vectors
    (lambda x: (tg.cumsum(x, axis=1) ** 2).sum() + tg.cumsum(x[::-1, 0]).sum(), False),
    (lambda x: tg.where(CONSTANT > 0, x ** 2, -x).sum() + tg.maximum(x, 0.3).sum(), False),
    (lambda x: x[1, 3] * x.sum() + sum(x[0, i] * x[2, i] for i in range(4)), False),  # mixed scalar and entries
], ids=["unary", "binary", "constants", "positive", "prod-mean", "max-min-norm", "logsumexp", "softmax",
        "fancy-concatenate", "stack-views", "matmul", "vectors", "cumsum", "where-maximum", "mixed"])
def test_every_entry_kind_replays_like_a_fresh_recording(f, positive):
    check_replay(f, RNG.normal(size=(3, 4)), positive=positive)


def test_several_array_arguments_and_a_scalar_one():
    def f(x, y, s):
        return (x * y[0]).sum() * s + tg.logsumexp(y.reshape(-1) * s) + x[3] * y.sum()
    check_replay(f, RNG.normal(size=5), RNG.normal(size=(2, 5)), 0.7)


def test_vector_output_jacobian_of_softmax():
    def softmax(x):
        e = tg.exp(x - tg.max(x))
        return e / e.sum()
    x = RNG.normal(size=4)
    cf = tg.compile(softmax, x)
    x2 = x + 0.1
    np.testing.assert_allclose(cf(x2), softmax(np.asarray(x2)) if False else np.exp(x2) / np.exp(x2).sum(),
                               rtol=1e-14)
    np.testing.assert_allclose(cf.jacobian(x2), tg.jacobian(softmax)(x2), rtol=1e-12, atol=1e-15)
    w = RNG.normal(size=4)
    _, g = cf.vjp(x2, w)
    np.testing.assert_allclose(g, w @ tg.jacobian(softmax)(x2), rtol=1e-12, atol=1e-15)


# ---- dense layers ---------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "softplus", None])
def test_dense_with_every_activation(activation):
    X = RNG.normal(size=(6, 4))
    Y = RNG.normal(size=(6, 2))

    def loss(W, b, V):
        hidden = tg.nn.dense(X, W, b, activation=activation)
        return tg.nn.mse(tg.nn.dense(hidden, V), Y)

    check_replay(loss, RNG.normal(size=(4, 3)), RNG.normal(size=3), RNG.normal(size=(3, 2)))

    def of_input(X, W):  # X a variable too: dX through the dual kernel
        return (tg.nn.dense(X, W, activation=activation) ** 2).sum() + tg.nn.dense(X.T, W.T[:, :2], activation=activation).sum()

    check_replay(of_input, X, RNG.normal(size=(4, 6)))


def test_mlp_loss_compiled_equals_value_and_grad():
    model = tg.nn.MLP([5, 16, 16, 1], activation="tanh", seed=3)
    X = RNG.normal(size=(32, 5))
    y = RNG.normal(size=(32, 1))
    flat = [p for layer in model.params for p in (layer["W"], layer["b"])]

    def loss(*leaves):
        params = [{"W": leaves[2 * k], "b": leaves[2 * k + 1]} for k in range(len(leaves) // 2)]
        return tg.nn.mse(tg.nn.mlp(params, X), y)

    cf = tg.compile(loss, *flat)
    moved = [p + 0.01 * RNG.normal(size=p.shape) for p in flat]
    value, grads = tg.value_and_grad(loss, argnums=tuple(range(len(flat))))(*moved)
    cvalue, cgrads = cf.value_and_grad(*moved)
    assert abs(cvalue - value) <= 1e-12
    for g, cg in zip(grads, cgrads):
        np.testing.assert_allclose(cg, g, rtol=0, atol=1e-12)


# ---- batches --------------------------------------------------------------------------

def test_batched_equals_a_loop_of_single_points():
    W = RNG.normal(size=(3, 2))

    def f(x):
        return tg.nn.dense(x.reshape(2, 3), W, activation="tanh").sum() + rosenbrock(x)

    cf = tg.compile(f, RNG.normal(size=6))
    X = RNG.normal(size=(9, 6))
    V = RNG.normal(size=(9, 6))
    for threads in (1, 2):
        values, grads = cf.value_and_grad(X, threads=threads)
        np.testing.assert_array_equal(values, [cf(x) for x in X])
        np.testing.assert_array_equal(grads, [cf.grad(x) for x in X])
        np.testing.assert_array_equal(cf.hvp(X, V, threads=threads), [cf.hvp(x, v) for x, v in zip(X, V)])
    H = cf.hessian(X[:3])
    np.testing.assert_array_equal(H[1], cf.hessian(X[1]))


# ---- guards ---------------------------------------------------------------------------

def test_where_on_an_array_comparison_is_guarded():
    def f(x):
        return tg.where(x > 0, x ** 2, -x).sum()

    cf = tg.compile(f, np.array([1.0, -1.0, 2.0]), debug=True)
    np.testing.assert_array_equal(cf.grad(np.array([3.0, -2.0, 1.0])), [6.0, -1.0, 2.0])
    with pytest.raises(tg.BranchChangedError, match=r"input 1 > 0.*test_compile_arrays.py"):
        cf.grad(np.array([3.0, 2.0, 1.0]))
    retracing = tg.compile(f, np.array([1.0, -1.0, 2.0]), retrace=True)
    for x in (np.array([3.0, 2.0, 1.0]), np.array([3.0, -2.0, -1.0]), np.array([3.0, -2.0, 1.0])):
        np.testing.assert_array_equal(retracing.grad(x), tg.grad(f)(x))
    assert retracing.num_tapes == 3


def test_clip_is_guarded_when_a_point_crosses_a_bound():
    def f(x):
        return (tg.clip(x, -1.0, 1.0) * np.array([1.0, 2.0, 3.0])).sum()

    cf = tg.compile(f, np.array([0.5, -0.2, 0.1]))
    np.testing.assert_array_equal(cf.grad(np.array([0.9, -0.9, 0.0])), [1.0, 2.0, 3.0])
    with pytest.raises(tg.BranchChangedError, match="input 0 > 1"):
        cf.grad(np.array([1.5, -0.3, 0.2]))
    with pytest.raises(tg.BranchChangedError, match="input 1 < -1"):
        cf.grad(np.array([0.5, -1.3, 0.2]))
    retracing = tg.compile(f, np.array([0.5, -0.2, 0.1]), retrace=True)
    for x in (np.array([1.5, -0.3, 0.2]), np.array([0.5, -1.3, 0.2]), np.array([0.5, -0.3, 0.2])):
        np.testing.assert_array_equal(retracing.grad(x), tg.grad(f)(x))
        assert retracing(x) == f(x)


def test_sort_and_boolean_masks_are_guarded():
    cf = tg.compile(lambda x: (tg.sort(x) * np.arange(3.0)).sum(), np.array([0.3, -0.1, 0.2]))
    np.testing.assert_array_equal(cf.grad(np.array([0.5, -0.2, 0.1])), [2.0, 0.0, 1.0])
    with pytest.raises(tg.BranchChangedError):
        cf.grad(np.array([0.5, 0.3, 0.1]))
    masked = tg.compile(lambda x: (x[x > 0] ** 2).sum(), np.array([1.0, -1.0]))
    assert masked(np.array([2.0, -3.0])) == 4.0
    with pytest.raises(tg.BranchChangedError):
        masked(np.array([2.0, 3.0]))


def test_a_guard_on_an_entry_output_names_the_element():
    # exp(x) - 2 is one fused entry (two op-table rows); the guard names its element.
    cf = tg.compile(lambda x: tg.where(tg.exp(x) - 2 > 0, x, 0.0).sum(), np.array([0.0, 1.0]))
    assert cf.grad(np.array([0.1, 2.0])).tolist() == [0.0, 1.0]
    with pytest.raises(tg.BranchChangedError, match="element 0 of the fused entry at node"):
        cf.grad(np.array([1.0, 2.0]))


def test_comparisons_with_other_tapes_and_non_numbers_still_work():
    other = tg.Tape().vars([0.5, 0.5])
    cf = tg.compile(lambda x: tg.where(x > other, x, 0.0).sum(), np.array([1.0, 0.0]))
    assert cf(np.array([2.0, 0.1])) == 2.0
    with pytest.raises(tg.BranchChangedError):
        cf(np.array([0.2, 0.1]))
    assert tg.grad(lambda x: (x * (x == None).sum()).sum())(np.ones(2)).tolist() == [0.0, 0.0]  # noqa: E711


def test_several_python_threads_replay_an_array_program_at_once():
    from concurrent.futures import ThreadPoolExecutor
    W = RNG.normal(size=(4, 3))
    cf = tg.compile(lambda x: tg.logsumexp(tg.nn.dense(x.reshape(2, 4), W, activation="tanh")), np.zeros(8))
    points = RNG.normal(size=(16, 8))
    expected = [cf.value_and_grad(p) for p in points]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(cf.value_and_grad, points))
    for (v, g), (cv, cg) in zip(expected, got):
        assert v == cv
        np.testing.assert_array_equal(g, cg)


def test_max_reduction_recomputes_its_argmax_on_replay():
    cf = tg.compile(lambda x: tg.max(x), np.array([1.0, 0.0, -1.0]))
    np.testing.assert_array_equal(cf.grad(np.array([0.0, 5.0, 1.0])), [0.0, 1.0, 0.0])
    assert cf(np.array([0.0, 5.0, 1.0])) == 5.0


# ---- serialization --------------------------------------------------------------------

def test_array_program_pickles_and_rejects_corrupted_bytes():
    W = RNG.normal(size=(3, 2))

    def f(x):
        h = tg.nn.dense(x.reshape(2, 3), W, np.ones(2), activation="sigmoid")
        return tg.logsumexp(h) + tg.cumsum(x)[[1, 4]].sum() + (tg.clip(x, -5, 5) ** 2).sum()

    x = RNG.normal(size=6)
    cf = tg.compile(f, x)
    again = pickle.loads(pickle.dumps(cf))
    x2 = x + 0.1
    assert again(x2) == cf(x2)
    np.testing.assert_array_equal(again.hvp(x2, x), cf.hvp(x2, x))
    assert again.to_bytes() == cf.to_bytes()
    data = bytearray(cf.to_bytes())
    for position in (len(data) // 3, len(data) // 2, len(data) - 20):
        bad = bytearray(data)
        bad[position] ^= 0x10
        with pytest.raises(ValueError):
            tg.CompiledFunction.from_bytes(bytes(bad))
    with pytest.raises(ValueError):
        tg.CompiledFunction.from_bytes(bytes(data[: len(data) - 30]))


def test_the_array_replay_benchmark_runs():
    """benchmarks/bench_replay_arrays.py --quick checks compiled against eager
    results before timing (no timing is asserted here)."""
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = subprocess.run([sys.executable, os.path.join(root, "benchmarks", "bench_replay_arrays.py"), "--quick"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "| Rosenbrock numpy-style" in p.stdout and "| MLP step" in p.stdout
