"""W4, one MLP training step: loss and gradient with respect to every weight and bias.

    64 -> H -> H -> 1, tanh on the hidden layers, batch 256, float64,
    loss = mean((mlp(X) - y)**2),   H = 32, 256, 1024

Every array tool runs the same `mlp_loss`; the scalar tools (micrograd, and
tapegrad's plain `Var`s) run the same `mlp_scalar_loss`, a loop over the
multiply-adds. All start from the same parameters and data.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Callable

import numpy as np

import peers
from workloads.common import Variant, Workload

BATCH, N_IN = 256, 64


def sizes_of(h: int) -> list[int]:
    return [N_IN, h, h, 1]


def problem(h: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray]:
    """Glorot-uniform weights, small random biases, a fixed batch."""
    rng = np.random.default_rng(0)
    params = []
    for nin, nout in zip(sizes_of(h)[:-1], sizes_of(h)[1:]):
        lim = np.sqrt(6.0 / (nin + nout))
        params.append((rng.uniform(-lim, lim, (nin, nout)), rng.uniform(-0.1, 0.1, nout)))
    X = rng.standard_normal((BATCH, N_IN))
    y = rng.standard_normal((BATCH, 1))
    return params, X, y


def mlp_loss(params: Any, X: Any, y: Any, tanh: Callable) -> Any:
    h = X
    for i, (W, b) in enumerate(params):
        h = h @ W + b
        if i < len(params) - 1:
            h = tanh(h)
    d = h - y
    return (d * d).mean()


def mlp_scalar_loss(theta: Any, X: list, y: list, sizes: list[int], tanh: Callable) -> Any:
    """The same loss over scalars: theta holds W1, b1, W2, b2, ... flattened (row-major)."""
    layers, off = [], 0
    for nin, nout in zip(sizes[:-1], sizes[1:]):
        layers.append((off, off + nin * nout, nin, nout))
        off += nin * nout + nout
    last = len(layers) - 1
    total = 0.0
    for xrow, yrow in zip(X, y):
        h = xrow
        for li, (w, b, nin, nout) in enumerate(layers):
            nxt = []
            for j in range(nout):
                s = theta[b + j]
                for i in range(nin):
                    s = s + h[i] * theta[w + i * nout + j]
                nxt.append(tanh(s) if li < last else s)
            h = nxt
        d = h[0] - yrow[0]
        total = total + d * d
    return total / len(X)


def backprop(params: list, X: np.ndarray, y: np.ndarray) -> tuple[float, list]:
    """The hand-written backward pass in numpy (the reference gradient)."""
    hs = [X]
    for i, (W, b) in enumerate(params):
        z = hs[-1] @ W + b
        hs.append(np.tanh(z) if i < len(params) - 1 else z)
    d = hs[-1] - y
    loss = float(np.mean(d * d))
    dz = 2.0 * d / d.size
    grads = []
    for i in range(len(params) - 1, -1, -1):
        W, _ = params[i]
        grads.append((hs[i].T @ dz, dz.sum(axis=0)))
        if i > 0:
            dz = (dz @ W.T) * (1.0 - hs[i] ** 2)
    return loss, grads[::-1]


def reference(h: int) -> tuple[float, np.ndarray]:
    loss, grads = backprop(*problem(h))
    return loss, np.concatenate([np.ravel(a) for pair in grads for a in pair])


def ops(h: int) -> float:
    return BATCH * sum(a * b for a, b in zip(sizes_of(h)[:-1], sizes_of(h)[1:]))


def _numpy_forward(h: int) -> Callable[[], Any]:
    params, X, y = problem(h)
    return lambda: (float(mlp_loss(params, X, y, np.tanh)), None)


def _numpy_backprop(h: int) -> Callable[[], Any]:
    params, X, y = problem(h)
    return lambda: backprop(params, X, y)


def _tapegrad_dense(h: int) -> Callable[[], Any]:
    import tapegrad as tg
    import tapegrad.nn as nn

    params, X, y = problem(h)
    last = len(params) - 1

    def loss(p):
        out = X
        for i, (W, b) in enumerate(p):
            out = nn.dense(out, W, b, activation="tanh" if i < last else None)
        return nn.mse(out, y)

    vg = tg.value_and_grad(loss)
    return lambda: vg(params)


def _has_dense() -> str | None:
    if importlib.util.find_spec("tapegrad.nn") is None:
        return "tapegrad.nn (issue 5) is not in this build"
    import tapegrad.nn as nn

    return None if hasattr(nn, "dense") and hasattr(nn, "mse") else "tapegrad.nn has no dense/mse"


def _tapegrad_arrays(h: int) -> Callable[[], Any]:
    import tapegrad as tg

    params, X, y = problem(h)
    vg = tg.value_and_grad(lambda p: mlp_loss(p, X, y, tg.tanh))
    return lambda: vg(params)


def _has_matmul() -> str | None:
    import tapegrad as tg

    missing = [m for m in ("__matmul__", "__array_ufunc__", "mean") if not hasattr(tg.VarArray, m)]
    return f"VarArray (issue 3) has no {', '.join(missing)} in this build" if missing else None


def _scalar_problem(h: int) -> tuple[np.ndarray, list, list]:
    params, X, y = problem(h)
    theta = np.concatenate([np.ravel(a) for pair in params for a in pair])
    return theta, X.tolist(), y.tolist()


def _tapegrad_scalar(h: int) -> Callable[[], Any]:
    import tapegrad as tg

    theta, X, y = _scalar_problem(h)
    vg = tg.value_and_grad(lambda t: mlp_scalar_loss(t, X, y, sizes_of(h), tg.tanh))
    return lambda: vg(theta)


def _micrograd_scalar(h: int) -> Callable[[], Any]:
    mg = peers.load("micrograd")
    theta, X, y = _scalar_problem(h)

    def step():
        t = [mg.Value(v) for v in theta.tolist()]
        loss = mlp_scalar_loss(t, X, y, sizes_of(h), mg.tanh)
        loss.backward()
        return loss.data, [v.grad for v in t]

    return step


def _autograd(h: int) -> Callable[[], Any]:
    ag = peers.load("autograd")
    params, X, y = problem(h)
    vg = ag.autograd.value_and_grad(lambda p: mlp_loss(p, X, y, ag.np.tanh))
    return lambda: vg(params)


def _mygrad(h: int) -> Callable[[], Any]:
    mg = peers.load("mygrad")
    params, X, y = problem(h)

    def step():
        p = [(mg.tensor(W), mg.tensor(b)) for W, b in params]
        loss = mlp_loss(p, X, y, mg.tanh)
        loss.backward()
        return loss.item(), [(W.grad, b.grad) for W, b in p]

    return step


def _torch(h: int) -> Callable[[], Any]:
    torch = peers.load("torch")
    params, X0, y0 = problem(h)
    X, y = torch.from_numpy(X0), torch.from_numpy(y0)
    p = [torch.tensor(a, requires_grad=True) for pair in params for a in pair]

    def step():
        loss = mlp_loss(list(zip(p[::2], p[1::2])), X, y, torch.tanh)
        grads = torch.autograd.grad(loss, p)
        return loss.item(), [g.numpy() for g in grads]

    return step


def _jax_jit(h: int) -> Callable[[], Any]:
    j = peers.load("jax")
    params, X, y = problem(h)
    p = [(j.jnp.asarray(W), j.jnp.asarray(b)) for W, b in params]
    vg = j.jax.jit(j.jax.value_and_grad(lambda q, X, y: mlp_loss(q, X, y, j.jnp.tanh)))
    X, y = j.jnp.asarray(X), j.jnp.asarray(y)
    vg(p, X, y)  # compile (setup)

    def step():
        v, g = vg(p, X, y)
        return float(v), [(np.asarray(a), np.asarray(b)) for a, b in g]

    return step


WORKLOAD = Workload(
    key="W4",
    title="MLP training step: loss + gradient, 64 → H → H → 1, tanh, batch 256, float64",
    size_name="H",
    sizes=(32, 256, 1024),
    quick_sizes=(8,),
    ops=ops,
    op_name="multiply-add of the forward pass",
    reference=reference,
    tapegrad_ref=("tapegrad.nn.dense", "tapegrad (VarArray @)", "tapegrad (scalar loop)"),
    # The matrix products decide this workload. A machine may pin OpenBLAS to an older kernel
    # (OPENBLAS_CORETYPE, e.g. Haswell on an AVX-512 CPU: issue 5 measured ~55 instead of ~90
    # GFLOP/s), which slows numpy and tapegrad but not JAX and PyTorch, whose GEMMs are their own.
    # Unset for every tool alike, OpenBLAS picks its kernel for the CPU; the table says which ran.
    env_unset=("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"),
    variants=[
        Variant("numpy (forward only)", "numpy", _numpy_forward, role="baseline"),
        Variant("numpy (hand-written backprop)", "numpy", _numpy_backprop, role="hand"),
        Variant("tapegrad.nn.dense", "tapegrad", _tapegrad_dense, feature=_has_dense),
        Variant("tapegrad (VarArray @)", "tapegrad", _tapegrad_arrays, feature=_has_matmul),
        Variant("tapegrad (scalar loop)", "tapegrad", _tapegrad_scalar,
                note="tapegrad (scalar loop) and micrograd: the same Python loop over every multiply-add "
                     "(2 nodes each)"),
        Variant("micrograd", "micrograd", _micrograd_scalar),
        Variant("autograd", "autograd", _autograd),
        Variant("mygrad", "mygrad", _mygrad),
        Variant("torch (eager)", "torch", _torch),
        Variant("jax.jit", "jax", _jax_jit),
    ],
)
