"""The tools compared, and how each is imported: single-threaded, float64, CPU.

Every benchmark child process calls `single_threaded()` before importing
anything numeric, then `load(tool)` for the one tool it measures. Everything a
peer needs that is not in the peer itself is here, labelled: micrograd ships
only + * ** relu, so the sin/cos/exp/tanh used by the workloads are added in
micrograd's own style (a new Value with a `_backward` closure).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import math
import os
import sys
from types import SimpleNamespace
from typing import Any

# tool -> (module that must import, distribution whose version is printed)
TOOLS: dict[str, tuple[str | None, str | None]] = {
    "python": (None, None),
    "numpy": ("numpy", "numpy"),
    "tapegrad": ("tapegrad", "tapegrad"),
    "autograd": ("autograd", "autograd"),
    "micrograd": ("micrograd", "micrograd"),
    "mygrad": ("mygrad", "mygrad"),
    "torch": ("torch", "torch"),
    "jax": ("jax", "jax"),
    "casadi": ("casadi", "casadi"),
}
PEERS = ("autograd", "micrograd", "mygrad", "torch", "jax", "casadi")

# One thread everywhere; set before numpy/torch/jax load their thread pools.
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "JAX_PLATFORMS": "cpu",
    "JAX_ENABLE_X64": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}


def single_threaded() -> None:
    """Ask every numeric library for one thread (the caller's values win)."""
    for k, v in THREAD_ENV.items():
        os.environ.setdefault(k, v)


def installed(tool: str) -> bool:
    module = TOOLS[tool][0]
    return module is None or importlib.util.find_spec(module) is not None


def version(tool: str) -> str:
    if tool == "python":
        return sys.version.split()[0]
    dist = TOOLS[tool][1]
    try:
        return importlib.metadata.version(dist) if dist else ""
    except importlib.metadata.PackageNotFoundError:
        return "?"


def load(tool: str) -> Any:
    """Import `tool`, configured single-threaded/float64/CPU; return its module
    (or, for some tools, a namespace of what the workloads use)."""
    if tool == "python":
        return math
    if tool == "torch":
        import torch

        torch.set_num_threads(1)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # only allowed before any parallel work started
            pass
        torch.set_default_dtype(torch.float64)
        return torch
    if tool == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
        jax.config.update("jax_platforms", "cpu")
        import jax.numpy as jnp

        return SimpleNamespace(jax=jax, jnp=jnp)
    if tool == "autograd":
        import autograd
        import autograd.numpy as anp

        return SimpleNamespace(autograd=autograd, np=anp)
    if tool == "micrograd":
        # micrograd's backward sorts the graph recursively, one frame per node of depth
        # (Python frames, not C stack, since 3.11): allow graphs of any depth we build
        sys.setrecursionlimit(max(sys.getrecursionlimit(), 10**8))
        return micrograd_ops()
    return importlib.import_module(TOOLS[tool][0])


def micrograd_ops() -> SimpleNamespace:
    """micrograd's Value plus the unary ops the workloads need, written the way
    micrograd writes its own (forward value, and a closure adding to .grad)."""
    from micrograd.engine import Value

    def unary(fn, dfn, name):
        def op(a):
            out = Value(fn(a.data), (a,), name)

            def _backward():
                a.grad += dfn(a.data, out.data) * out.grad

            out._backward = _backward
            return out

        op.__name__ = name
        return op

    return SimpleNamespace(
        Value=Value,
        sin=unary(math.sin, lambda x, y: math.cos(x), "sin"),
        cos=unary(math.cos, lambda x, y: -math.sin(x), "cos"),
        exp=unary(math.exp, lambda x, y: y, "exp"),
        tanh=unary(math.tanh, lambda x, y: 1.0 - y * y, "tanh"),
        sqrt=unary(math.sqrt, lambda x, y: 0.5 / y, "sqrt"),
    )


def blas_info() -> list[dict[str, Any]]:
    """The BLAS/OpenMP libraries loaded in this process (threadpoolctl), if available."""
    try:
        import threadpoolctl
    except ImportError:
        return []
    keep = ("internal_api", "version", "architecture", "num_threads", "threading_layer", "prefix")
    return [{k: d.get(k) for k in keep if d.get(k) is not None} for d in threadpoolctl.threadpool_info()]
