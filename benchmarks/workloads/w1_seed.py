"""W1, the seed example: value and derivative of one scalar function per call.

    f(x) = sqrt(x**2 + exp(x**2)) + cos(x**2 + exp(x**2))      at x = 0.5

Eager variants record (or trace) on every call; compiled/jitted variants build
once (at x = 0.3) and evaluate at x = 0.5; their setup time is printed apart.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

import peers
from workloads.common import Variant, Workload

X = 0.5
X_RECORD = 0.3  # compiled variants record at another point, so replay is really checked


def seed(x: Any, m: Any) -> Any:
    """The function, for any tool: `m` supplies exp, sqrt and cos."""
    a = x ** 2
    b = m.exp(a)
    c = a + b
    return m.sqrt(c) + m.cos(c)


def reference(size: int) -> tuple[float, np.ndarray]:
    """The hand-derived derivative: f' = (1 / (2 sqrt c) - sin c) * (2x + 2x exp(x^2))."""
    c = X * X + math.exp(X * X)
    dc = 2 * X + 2 * X * math.exp(X * X)
    return seed(X, math), np.array([(0.5 / math.sqrt(c) - math.sin(c)) * dc])


def _python_value(size: int) -> Callable[[], Any]:
    return lambda: (seed(X, math), None)


def _python_hand(size: int) -> Callable[[], Any]:
    exp, sqrt, cos, sin = math.exp, math.sqrt, math.cos, math.sin

    def step():
        a = X * X
        b = exp(a)
        c = a + b
        d = sqrt(c)
        value = d + cos(c)
        return value, (0.5 / d - sin(c)) * (2 * X + 2 * X * b)

    return step


def _tapegrad(size: int) -> Callable[[], Any]:
    import tapegrad as tg

    vg = tg.value_and_grad(lambda x: seed(x, tg))
    return lambda: vg(X)


def _tapegrad_compiled(size: int) -> Callable[[], Any]:
    import tapegrad as tg

    cf = tg.compile(lambda x: seed(x, tg), X_RECORD)
    return lambda: cf.value_and_grad(X)


def _has_compile() -> str | None:
    import tapegrad as tg

    return None if hasattr(tg, "compile") else "tapegrad.compile (issue 4) is not in this build"


def _autograd(size: int) -> Callable[[], Any]:
    ag = peers.load("autograd")
    vg = ag.autograd.value_and_grad(lambda x: seed(x, ag.np))
    return lambda: vg(X)


def _micrograd(size: int) -> Callable[[], Any]:
    mg = peers.load("micrograd")

    def step():
        x = mg.Value(X)
        y = seed(x, mg)
        y.backward()
        return y.data, x.grad

    return step


def _mygrad(size: int) -> Callable[[], Any]:
    mg = peers.load("mygrad")

    def step():
        x = mg.tensor(X)
        y = seed(x, mg)
        y.backward()
        return y.item(), float(x.grad)

    return step


def _torch_step(torch: Any, f: Callable) -> Callable[[], Any]:
    def step():
        x = torch.tensor(X, requires_grad=True)
        y = f(x)
        (g,) = torch.autograd.grad(y, x)
        return y.item(), g.item()

    return step


def _torch(size: int) -> Callable[[], Any]:
    torch = peers.load("torch")
    return _torch_step(torch, lambda x: seed(x, torch))


def _torch_compile(size: int) -> Callable[[], Any]:
    torch = peers.load("torch")
    f = torch.compile(lambda x: seed(x, torch))
    f(torch.tensor(X_RECORD, requires_grad=True)).backward()  # compile forward and backward now
    return _torch_step(torch, f)


def _jax(size: int, jit: bool) -> Callable[[], Any]:
    j = peers.load("jax")
    vg = j.jax.value_and_grad(lambda x: seed(x, j.jnp))
    if jit:
        vg = j.jax.jit(vg)
        vg(X_RECORD)

    def step():
        v, g = vg(X)
        return float(v), float(g)

    return step


def _casadi(size: int) -> Callable[[], Any]:
    ca = peers.load("casadi")
    x = ca.SX.sym("x")
    y = seed(x, ca)
    fn = ca.Function("f", [x], [y, ca.gradient(y, x)])

    def step():
        v, g = fn(X)
        return float(v), float(g)

    return step


WORKLOAD = Workload(
    key="W1",
    title="the seed example: value + derivative of f(x) = sqrt(x²+exp(x²)) + cos(x²+exp(x²)) per call",
    size_name="points",
    sizes=(1,),
    quick_sizes=(1,),
    ops=lambda size: 6,
    op_name="one of the 6 elementary operations of f",
    reference=reference,
    tapegrad_ref=("tapegrad",),
    variants=[
        Variant("Python floats (value only)", "python", _python_value, role="baseline"),
        Variant("Python floats (hand-written derivative)", "python", _python_hand, role="hand"),
        Variant("tapegrad", "tapegrad", _tapegrad),
        Variant("tapegrad.compile", "tapegrad", _tapegrad_compiled, feature=_has_compile),
        Variant("autograd", "autograd", _autograd),
        Variant("micrograd", "micrograd", _micrograd, note="micrograd: sin/cos/exp/tanh/sqrt added in micrograd's style "
                "(benchmarks/peers.py)"),
        Variant("mygrad", "mygrad", _mygrad),
        Variant("torch (eager)", "torch", _torch),
        Variant("torch.compile", "torch", _torch_compile),
        Variant("jax (eager)", "jax", lambda n: _jax(n, jit=False)),
        Variant("jax.jit", "jax", lambda n: _jax(n, jit=True)),
        Variant("casadi SX Function", "casadi", _casadi),
    ],
)
