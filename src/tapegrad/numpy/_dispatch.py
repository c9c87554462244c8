"""numpy code on Vars and VarArrays: numpy's ufuncs (__array_ufunc__) and
functions (__array_function__) dispatch here, so `np.exp(v)`, `np.sum(va,
axis=0)`, `np.dot(a, b)`, `np.where(...)`, `np.concatenate(...)` record on the
tape. A numpy function tapegrad does not implement raises a TypeError naming
it, instead of silently dropping the gradient.

Ufuncs map to op-table rows by name (numpy's names are the op table's, with
the few spellings in _UFUNC_SPELLINGS); numpy functions map by name to the
functions of the tapegrad.numpy namespace (its __all__), which hands itself
over when imported (handle_functions), so this module does not import it.
"""

from __future__ import annotations

import itertools
from types import ModuleType
from typing import Any, Callable

import numpy as np

from .. import _var
from .._array import VarArray, elementwise, to_objects
from .._core import op_table
from .._var import MASKED_ARRAY, NOT_EQUAL, Var
from . import _guards
from ._products import matmul
from ._reductions import cumsum, prod, sum
from ._reductions import max as _max
from ._reductions import min as _min

# numpy ufunc name -> op-table name, where they differ.
_UFUNC_SPELLINGS = {"absolute": "abs", "fabs": "abs", "rint": "round", "true_divide": "divide",
                    "float_power": "power"}

# Ufuncs whose result is not differentiable (bool or integer): computed on the values.
_ON_VALUES = {"less", "less_equal", "greater", "greater_equal", "equal", "not_equal", "isnan", "isinf",
              "isfinite", "signbit", "logical_not", "logical_and", "logical_or", "logical_xor"}

# Comparisons: computed on values, and recorded (tapegrad/numpy/_guards.py) so
# that compiled replay re-checks them.
_GUARDED = _guards.BY_UFUNC_NAME

_REDUCE_METHODS: dict[str, Callable[..., Any]] = {"add": sum, "multiply": prod, "maximum": _max, "minimum": _min}

_OP_NAMES = frozenset(r["name"] for r in op_table())


def _values(x: Any) -> Any:
    return x.value if isinstance(x, (Var, VarArray)) else x


def _as_objects(x: Any) -> Any:
    """For numpy's object loops: a VarArray as an object array of Vars, a Var as a 0-d one."""
    if isinstance(x, VarArray):
        return to_objects(x)
    if isinstance(x, Var):
        box = np.empty((), dtype=object)
        box[()] = x
        return box
    return x


def _unsupported(what: str) -> TypeError:
    return TypeError(f"tapegrad does not support {what} on Vars/VarArrays (it would lose the gradient). "
                     "Use a tapegrad function instead, or pass x.value to leave the tape if you need no "
                     "gradient through it.")


def _refuse_masked(operands: Any) -> None:
    """numpy masked arrays among the operands (or in a list of them) are refused: tapegrad would drop the mask."""
    for x in operands:
        if isinstance(x, np.ma.MaskedArray) or (
                isinstance(x, (list, tuple)) and any(isinstance(y, np.ma.MaskedArray) for y in x)):
            raise TypeError(MASKED_ARRAY)


def array_ufunc(ufunc: np.ufunc, method: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """numpy ufunc `ufunc.method(*inputs, **kwargs)` with a Var or VarArray among the inputs."""
    name = ufunc.__name__
    _refuse_masked(inputs)
    if kwargs.get("out") is not None:
        raise TypeError(f"numpy.{name}: out= cannot hold tape values (VarArrays are immutable); "
                        "use the return value")
    kwargs = {k: v for k, v in kwargs.items() if k != "out"}
    if any(isinstance(x, np.ndarray) and x.dtype == object for x in inputs):
        # object arrays (built by hand, holding Vars): numpy's own object loop
        return getattr(ufunc, method)(*[_as_objects(x) for x in inputs], **kwargs)
    if method == "__call__":
        if name in _GUARDED and len(inputs) == 2 and not kwargs:  # recorded for compiled replay
            return _guards.compare(_GUARDED[name], *inputs)
        if name == "isnan" and len(inputs) == 1 and not kwargs:  # x != x, recorded
            return _guards.compare(NOT_EQUAL, inputs[0], inputs[0])
        if name in _ON_VALUES:
            return ufunc(*[_values(x) for x in inputs], **kwargs)
        if kwargs:
            raise TypeError(f"numpy.{name}: keyword argument(s) {', '.join(sorted(kwargs))} are not supported "
                            "on Vars/VarArrays")
        op = _UFUNC_SPELLINGS.get(name, name)
        if op in _OP_NAMES and not any(isinstance(x, (VarArray, np.ndarray, list, tuple)) for x in inputs):
            return getattr(_var, op)(*inputs)  # Vars and numbers: the scalar path records one node
        if op in _OP_NAMES:
            result = elementwise(op, tuple(inputs))
            if result is NotImplemented:
                raise _unsupported(f"numpy.{name} on ({', '.join(type(x).__name__ for x in inputs)})")
            return result
        if name == "matmul":
            return matmul(*inputs)
        if name == "positive":
            return inputs[0]
        if name == "reciprocal":
            return elementwise("divide", (1.0, inputs[0]))
    elif method == "reduce" and name in _REDUCE_METHODS and len(inputs) == 1:
        axis = kwargs.pop("axis", 0)
        keepdims = kwargs.pop("keepdims", False)
        return _REDUCE_METHODS[name](inputs[0], axis=axis, keepdims=keepdims, **kwargs)
    elif method == "accumulate" and name == "add" and len(inputs) == 1:
        return cumsum(inputs[0], axis=kwargs.pop("axis", 0), **kwargs)
    raise _unsupported(f"numpy.{name}" + ("" if method == "__call__" else f".{method}"))


HANDLED_FUNCTIONS: dict[Callable[..., Any], Callable[..., Any]] = {}  # numpy function -> tapegrad's


def handle_functions(namespace: ModuleType) -> None:
    """Dispatch every numpy function that has a namesake in the namespace's
    __all__ (tapegrad.numpy calls this once it is complete), plus numpy's
    aliases of them."""
    for name in namespace.__all__:
        if hasattr(np, name):
            HANDLED_FUNCTIONS[getattr(np, name)] = getattr(namespace, name)
    HANDLED_FUNCTIONS[np.amax] = namespace.max
    HANDLED_FUNCTIONS[np.amin] = namespace.min
    HANDLED_FUNCTIONS[np.linalg.norm] = namespace.norm
    for alias in ("round", "around"):
        if hasattr(np, alias):
            HANDLED_FUNCTIONS[getattr(np, alias)] = _round


def _round(a: Any, decimals: int = 0, out: Any = None) -> Any:
    if out is not None:
        raise TypeError("numpy.round: out= cannot hold tape values; use the return value")
    if isinstance(a, VarArray):
        return a.round(decimals)
    if decimals:
        raise TypeError("round(v, decimals) is not supported on a Var; use tapegrad.round(v * 10**n) / 10**n")
    return elementwise("round", (a,))



def array_function(func: Callable[..., Any], types: tuple[Any, ...], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """numpy function `func(*args, **kwargs)` with a Var or VarArray among its arguments."""
    _refuse_masked(args)
    _refuse_masked(kwargs.values())
    impl = HANDLED_FUNCTIONS.get(func)
    if impl is None:
        module = (getattr(func, "__module__", None) or "numpy").split(".")
        public = list(itertools.takewhile(lambda part: not part.startswith("_"), module))
        raise _unsupported(".".join(public + [func.__name__]))  # numpy.fft._pocketfft -> numpy.fft.fft
    return impl(*args, **kwargs)
