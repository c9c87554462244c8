"""The numpy methods and protocols of VarArray and Var, installed from here.

The core types (tapegrad._var, tapegrad._array) import nothing above them:
this layer hands its functions down once, when tapegrad.numpy is imported, as
autograd's ArrayBox and JAX's register_jax_array_methods do. VarArray's
methods (``x.reshape``, ``x.sum``, ``x.at[...]``, ...), its advanced indexing,
its comparisons (recorded as guards) and both types' ``__array_ufunc__`` and
``__array_function__`` then call the functions named here.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from .. import _var
from . import _dispatch
from ._at import AtIndexer
from ._guards import compare
from ._helpers import take_slots


def install(namespace: ModuleType) -> None:
    """Install the numpy layer's functions into the core types; `namespace` is tapegrad.numpy."""
    _dispatch.handle_functions(namespace)
    methods: dict[str, Callable[..., Any]] = {name: getattr(namespace, name) for name in (
        "matmul", "reshape", "ravel", "transpose", "swapaxes", "squeeze", "sum", "mean", "prod", "max", "min",
        "cumsum", "dot", "clip")}
    _var.install_methods(**methods, array_ufunc=_dispatch.array_ufunc, array_function=_dispatch.array_function,
                         take_slots=take_slots, at=AtIndexer, compare=compare)
