"""W5, replay: the scalar-loop Rosenbrock recorded (or compiled) once, then
value + gradient per call at a new point, with the setup time apart.

Setup = recording/tracing/compiling plus the first call. Every replaying tool
builds at one point and is timed and checked at another.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

import peers
from workloads.common import Variant, Workload
from workloads.w2_rosenbrock import _loop_tapegrad, _loop_value, ops, point, reference, rosen_loop


def record_point(n: int) -> np.ndarray:
    return point(n) * 0.5


def _tapegrad_compiled(n: int) -> Callable[[], Any]:
    import tapegrad as tg

    cf = tg.compile(rosen_loop, record_point(n))
    x = point(n)
    return lambda: cf.value_and_grad(x)


def _has_compile() -> str | None:
    import tapegrad as tg

    return None if hasattr(tg, "compile") else "tapegrad.compile (issue 4) is not in this build"


def _jax_jit(n: int) -> Callable[[], Any]:
    j = peers.load("jax")
    vg = j.jax.jit(j.jax.value_and_grad(rosen_loop))
    vg(j.jnp.asarray(record_point(n)))  # trace + compile the unrolled loop
    x = j.jnp.asarray(point(n))

    def step():
        v, g = vg(x)
        return float(v), np.asarray(g)

    return step


def _casadi(n: int) -> Callable[[], Any]:
    ca = peers.load("casadi")
    xs = ca.SX.sym("x", n)
    y = rosen_loop([xs[i] for i in range(n)])
    fn = ca.Function("rosen", [xs], [y, ca.gradient(y, xs)])
    x = point(n)

    def step():
        v, g = fn(x)
        return float(v), np.asarray(g).ravel()

    return step


def _torch_compile(n: int) -> Callable[[], Any]:
    torch = peers.load("torch")
    f = torch.compile(lambda x: rosen_loop(x.unbind()))
    f(torch.tensor(record_point(n), requires_grad=True)).backward()  # compile forward and backward
    x0 = point(n)

    def step():
        x = torch.tensor(x0, requires_grad=True)
        y = f(x)
        (g,) = torch.autograd.grad(y, x)
        return y.item(), g.numpy()

    return step


WORKLOAD = Workload(
    key="W5",
    title="replay: scalar-loop Rosenbrock built once, then value + gradient per call at a new point",
    size_name="n",
    sizes=(100, 1_000),
    quick_sizes=(50,),
    ops=ops,
    op_name="one of the 8(n-1) elementary operations",
    reference=reference,
    tapegrad_ref=("tapegrad.compile", "tapegrad (re-record per call)"),
    timeout_factor=2.0,  # compile time is what this workload is about: give compilers 2x --timeout
    variants=[
        Variant("Python floats (value only)", "python", _loop_value, role="baseline"),
        Variant("tapegrad (re-record per call)", "tapegrad", _loop_tapegrad),
        Variant("tapegrad.compile", "tapegrad", _tapegrad_compiled, feature=_has_compile),
        Variant("casadi SX Function", "casadi", _casadi),
        Variant("jax.jit", "jax", _jax_jit),
        Variant("torch.compile", "torch", _torch_compile),
    ],
    notes=["W5 gives each (tool, size) 2 × --timeout: compile time is part of what it measures."],
)
