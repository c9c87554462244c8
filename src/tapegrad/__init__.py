"""tapegrad: reverse-mode automatic differentiation with the tape in C++.

>>> import tapegrad as tg
>>> def f(x):
...     a = x * x
...     return tg.sqrt(a + tg.exp(a)) + tg.cos(a + tg.exp(a))
>>> print(f"{tg.grad(f)(0.5):.12f}")
-1.360431078598

Every op of the op table is a function here (``tg.exp``, ``tg.arctan2``, ...)
working on numbers and on Vars; ``tg.op_table()`` lists them.
"""

from ._core import __version__, bytes_per_node, max_nodes, op_table
from ._var import *  # noqa: F403  (Var, errors, one function per op-table row)
from ._var import ConcretizationError, StaleVarError, TapeMismatchError, Var
from ._var import __all__ as _op_and_type_names
from ._array import VarArray
from ._tape import Tape
from ._api import grad, value_and_grad
from ._graph import Node, NodeTable, name
from ._dot import Dot, GraphvizUnavailableError, graph
from ._paths import get_cmake_dir, get_include
# Arrays: numpy's array functions, the functional API over arrays and pytrees.
from ._arrays import *  # noqa: F403  (sum, mean, dot, matmul, where, concatenate, ...)
from ._arrays import __all__ as _array_functions
from ._api import jacobian, vjp
from ._pytree import register_pytree_node
from . import _blas
_blas.load(optional=True)  # the BLAS of dense layers and large matmuls (scipy-openblas32)
from ._check import GradientCheckError, check_grads
from . import nn  # neural networks: dense layers on BLAS, MLP, losses, optimisers

from ._compile import BranchChangedError, CompiledFunction, compile, hessian, hvp, jvp, load

__all__ = ["Tape", "grad", "value_and_grad", "op_table", "bytes_per_node", "max_nodes", "__version__",
           *_op_and_type_names, "VarArray", "jacobian", "vjp", "register_pytree_node", "check_grads", "GradientCheckError",
           *_array_functions,
           "name", "graph", "Dot", "Node", "NodeTable", "GraphvizUnavailableError",
           "get_include", "get_cmake_dir",
           "compile", "CompiledFunction", "BranchChangedError", "load", "hessian", "hvp", "jvp"]
