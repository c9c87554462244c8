"""W2, the extended Rosenbrock function, value + gradient, in two styles.

    W2-loop:  s = s + 100*(x[i+1] - x[i]**2)**2 + (1 - x[i])**2   in a Python loop
    W2-numpy: (100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2).sum()

Each style is one function shared by every tool (`rosen_loop`, `rosen_vec`);
only how the input is handed over differs, each peer the way its users would
write a scalar loop (torch: `x.unbind()`, micrograd/mygrad: one scalar per
element, autograd/jax: indexing the traced array).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

import peers
from workloads.common import Variant, Workload


def rosen_loop(x: Any) -> Any:
    s = 0.0
    for i in range(len(x) - 1):
        s = s + 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2
    return s


def rosen_vec(x: Any) -> Any:
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def point(n: int) -> np.ndarray:
    """The evaluation point: fixed, away from the minimum."""
    return np.random.default_rng(1).uniform(-1.2, 1.2, n)


def rosen_grad_numpy(x: np.ndarray) -> np.ndarray:
    """The hand-derived gradient, vectorised."""
    r = x[1:] - x[:-1] ** 2
    g = np.zeros_like(x)
    g[:-1] = -400 * x[:-1] * r - 2 * (1 - x[:-1])
    g[1:] += 200 * r
    return g


def reference(n: int) -> tuple[float, np.ndarray]:
    x = point(n)
    return float(rosen_vec(x)), rosen_grad_numpy(x)


def ops(n: int) -> float:
    return 8 * (n - 1)


# ---- scalar-loop style ------------------------------------------------------------


def _loop_value(n: int) -> Callable[[], Any]:
    x = point(n)
    return lambda: (rosen_loop(x.tolist()), None)


def _loop_hand(n: int) -> Callable[[], Any]:
    x = point(n)

    def step():
        xs = x.tolist()
        g = [0.0] * len(xs)
        s = 0.0
        for i in range(len(xs) - 1):
            a, b = xs[i], xs[i + 1]
            r = b - a * a
            s = s + 100 * r * r + (1 - a) ** 2
            g[i] += -400 * a * r - 2 * (1 - a)
            g[i + 1] += 200 * r
        return s, g

    return step


def _loop_tapegrad(n: int) -> Callable[[], Any]:
    import tapegrad as tg

    x = point(n)
    vg = tg.value_and_grad(rosen_loop)
    return lambda: vg(x)


def _loop_autograd(n: int) -> Callable[[], Any]:
    ag = peers.load("autograd")
    x = point(n)
    vg = ag.autograd.value_and_grad(rosen_loop)
    return lambda: vg(x)


def _loop_micrograd(n: int) -> Callable[[], Any]:
    mg = peers.load("micrograd")
    x = point(n)

    def step():
        xs = [mg.Value(v) for v in x.tolist()]
        y = rosen_loop(xs)
        y.backward()
        return y.data, [v.grad for v in xs]

    return step


def _loop_mygrad(n: int) -> Callable[[], Any]:
    mg = peers.load("mygrad")
    x = point(n)

    def step():
        xs = [mg.tensor(v) for v in x.tolist()]
        y = rosen_loop(xs)
        y.backward()
        return y.item(), [float(v.grad) for v in xs]

    return step


def _loop_torch(n: int) -> Callable[[], Any]:
    torch = peers.load("torch")
    x0 = point(n)

    def step():
        x = torch.tensor(x0, requires_grad=True)
        y = rosen_loop(x.unbind())
        (g,) = torch.autograd.grad(y, x)
        return y.item(), g.numpy()

    return step


def _loop_jax(n: int) -> Callable[[], Any]:
    j = peers.load("jax")
    x0 = point(n)
    vg = j.jax.value_and_grad(rosen_loop)

    def step():
        xs = [j.jnp.asarray(v) for v in x0.tolist()]  # a list of scalars (a pytree): jax's x.unbind()
        v, g = vg(xs)
        return float(v), [float(t) for t in g]

    return step


# ---- numpy style ---------------------------------------------------------------


def _vec_value(n: int) -> Callable[[], Any]:
    x = point(n)
    return lambda: (float(rosen_vec(x)), None)


def _vec_hand(n: int) -> Callable[[], Any]:
    x = point(n)
    return lambda: (float(rosen_vec(x)), rosen_grad_numpy(x))


def _vec_tapegrad(n: int) -> Callable[[], Any]:
    import tapegrad as tg

    x = point(n)
    vg = tg.value_and_grad(rosen_vec)
    return lambda: vg(x)


def _has_arrays() -> str | None:
    import tapegrad as tg

    missing = [m for m in ("__array_ufunc__", "__pow__", "sum") if not hasattr(tg.VarArray, m)]
    return (f"numpy-style VarArray (issue 3) is not in this build: VarArray has no {', '.join(missing)}"
            if missing else None)


def _vec_autograd(n: int) -> Callable[[], Any]:
    ag = peers.load("autograd")
    x = point(n)
    vg = ag.autograd.value_and_grad(rosen_vec)
    return lambda: vg(x)


def _vec_mygrad(n: int) -> Callable[[], Any]:
    mg = peers.load("mygrad")
    x0 = point(n)

    def step():
        x = mg.tensor(x0)
        y = rosen_vec(x)
        y.backward()
        return y.item(), x.grad

    return step


def _vec_torch(n: int) -> Callable[[], Any]:
    torch = peers.load("torch")
    x0 = point(n)

    def step():
        x = torch.tensor(x0, requires_grad=True)
        y = rosen_vec(x)
        (g,) = torch.autograd.grad(y, x)
        return y.item(), g.numpy()

    return step


def _vec_jax(n: int, jit: bool) -> Callable[[], Any]:
    j = peers.load("jax")
    x = j.jnp.asarray(point(n))
    vg = j.jax.value_and_grad(rosen_vec)
    if jit:
        vg = j.jax.jit(vg)
        vg(x * 0.5)  # compile now (setup), at another point

    def step():
        v, g = vg(x)
        return float(v), np.asarray(g)

    return step


SIZES = (1_000, 10_000, 100_000, 1_000_000)

LOOP = Workload(
    key="W2-loop",
    title="Rosenbrock, scalar-loop style: value + gradient of a Python loop over x[i]",
    size_name="n",
    sizes=SIZES,
    quick_sizes=(100,),
    ops=ops,
    op_name="one of the 8(n-1) elementary operations",
    reference=reference,
    tapegrad_ref=("tapegrad",),
    variants=[
        Variant("Python floats (value only)", "python", _loop_value, role="baseline"),
        Variant("Python floats (hand-written gradient)", "python", _loop_hand, role="hand"),
        Variant("tapegrad", "tapegrad", _loop_tapegrad),
        Variant("autograd", "autograd", _loop_autograd,
                note="autograd: each x[i] of a traced array costs a full-size array in the backward pass (O(n²))"),
        Variant("micrograd", "micrograd", _loop_micrograd),
        Variant("mygrad", "mygrad", _loop_mygrad),
        Variant("torch (eager)", "torch", _loop_torch, note="torch: the loop runs over x.unbind() "
                "(indexing x[i] instead costs a full-size gradient per element)"),
        Variant("jax (eager)", "jax", _loop_jax, note="jax (eager): value_and_grad without jit over a list of scalars "
                "(indexing x[i] costs a full-size gradient per element, as in torch); the jitted loop is W5"),
    ],
)

NUMPY = Workload(
    key="W2-numpy",
    title="Rosenbrock, numpy style: value + gradient of (100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2).sum()",
    size_name="n",
    sizes=SIZES,
    quick_sizes=(100,),
    ops=ops,
    op_name="one of the 8(n-1) elementwise operations",
    reference=reference,
    tapegrad_ref=("tapegrad (VarArray)",),
    variants=[
        Variant("numpy (value only)", "numpy", _vec_value, role="baseline"),
        Variant("numpy (hand-written gradient)", "numpy", _vec_hand, role="hand"),
        Variant("tapegrad (VarArray)", "tapegrad", _vec_tapegrad, feature=_has_arrays),
        Variant("autograd", "autograd", _vec_autograd),
        Variant("mygrad", "mygrad", _vec_mygrad),
        Variant("torch (eager)", "torch", _vec_torch),
        Variant("jax (eager)", "jax", lambda n: _vec_jax(n, jit=False)),
        Variant("jax.jit", "jax", lambda n: _vec_jax(n, jit=True)),
    ],
    notes=["micrograd has no arrays: it appears in the scalar-loop table only."],
)
