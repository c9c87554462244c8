"""tapegrad: reverse-mode automatic differentiation with the tape in C++.

>>> import tapegrad as tg
>>> def f(x):
...     a = x * x
...     return tg.sqrt(a + tg.exp(a)) + tg.cos(a + tg.exp(a))
>>> round(tg.grad(f)(0.5), 12)
-0.795057011811

Every op of the op table is a function here (``tg.exp``, ``tg.arctan2``, ...)
working on numbers and on Vars; ``tg.op_table()`` lists them.
"""

from ._core import __version__, bytes_per_node, max_nodes, op_table
from ._var import *  # noqa: F403  (Var, VarArray, errors, one function per op-table row)
from ._var import StaleVarError, TapeMismatchError, Var, VarArray
from ._var import __all__ as _op_and_type_names
from ._tape import Tape
from ._api import grad, value_and_grad
from ._compile import BranchChangedError, CompiledFunction, compile, hessian, hvp, jvp, load

__all__ = ["Tape", "grad", "value_and_grad",
           "compile", "CompiledFunction", "BranchChangedError", "load", "hessian", "hvp", "jvp",
           "op_table", "bytes_per_node", "max_nodes", "__version__",
           *_op_and_type_names]
