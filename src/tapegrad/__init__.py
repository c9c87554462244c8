"""tapegrad: reverse-mode automatic differentiation with the tape in C++.

>>> import tapegrad as tg
>>> def f(x):
...     a = x * x
...     return tg.sqrt(a + tg.exp(a)) + tg.cos(a + tg.exp(a))
>>> print(f"{tg.grad(f)(0.5):.12f}")
-1.360431078598

Every op of the op table is a function here (``tg.exp``, ``tg.arctan2``, ...)
working on numbers and on Vars; ``tg.op_table()`` lists them. The layers, each
importing only those before it: the compiled core (_core, _var, _array), the
tape (_tape), the numpy layer (tapegrad.numpy), recording (_recording),
compiled tapes (_compile), the graph (_graph, _dot), the transforms (_api),
then checks and neural networks (_check, nn).
"""

from . import _blas
from ._array import VarArray
from ._core import __version__, bytes_per_node, max_nodes, op_table
from ._tape import Tape
from ._var import *  # noqa: F403  (Var, errors, one function per op-table row)
from ._var import __all__ as _op_and_type_names

from . import nn  # neural networks: dense layers on BLAS, MLP, losses, optimisers
from ._api import grad, graph, hessian, hvp, jacobian, jvp, value_and_grad, vjp
from ._check import GradientCheckError, check_grads
from ._compile import BranchChangedError, CompiledFunction, compile, load
from ._dot import Dot, GraphvizUnavailableError
from ._graph import Node, NodeTable, name
from ._paths import get_cmake_dir, get_include
from ._pytree import register_pytree_node
from .numpy import *  # noqa: F403  (numpy's array functions: sum, mean, dot, matmul, where, concatenate, ...)
from .numpy import __all__ as _array_functions

_blas.load(optional=True)  # the BLAS of dense layers and large matmuls (scipy-openblas32)

__all__ = ["Tape", "grad", "value_and_grad", "op_table", "bytes_per_node", "max_nodes", "__version__",
           *_op_and_type_names, "VarArray", "jacobian", "vjp", "register_pytree_node", "check_grads", "GradientCheckError",
           *_array_functions,
           "name", "graph", "Dot", "Node", "NodeTable", "GraphvizUnavailableError",
           "get_include", "get_cmake_dir",
           "compile", "CompiledFunction", "BranchChangedError", "load", "hessian", "hvp", "jvp", "nn"]
