"""tapegrad.numpy: numpy's array functions for Vars and VarArrays.

The namespace gathers the modules that implement them -- _views (no node),
_copies (one gather), _reductions and _products. Each records at most a few
entries (mostly one); on constants alone it is numpy's own function. The
package is one layer: its modules import only downward (the core types, then
_helpers and _guards, then views, copies, reductions, products), and importing
it installs VarArray's and Var's numpy methods and protocols (_methods.py).
Every name of ``__all__`` is also ``tapegrad.<name>``, and numpy's namesake
dispatches to it (``np.sum(va)`` is ``tapegrad.sum(va)``).
"""

from __future__ import annotations

import math
import sys
from typing import Any

from ._copies import *  # noqa: F403
from ._copies import __all__ as _copies_names
from ._helpers import ArrayLike, _ndim, _shape
from ._products import *  # noqa: F403
from ._products import __all__ as _products_names
from ._reductions import *  # noqa: F403
from ._reductions import __all__ as _reductions_names
from ._views import *  # noqa: F403
from ._views import __all__ as _views_names

__all__ = sorted([*_views_names, *_copies_names, *_reductions_names, *_products_names, "shape", "ndim", "size"])


def shape(a: ArrayLike) -> tuple[Any, ...]:
    """numpy.shape (no node).

    >>> import numpy as np, tapegrad as tg
    >>> tg.grad(lambda x: x[0, 0] * tg.shape(x)[1])(np.ones((2, 3)))
    array([[3., 0., 0.],
           [0., 0., 0.]])
    """
    return _shape(a)


def ndim(a: ArrayLike) -> int:
    """numpy.ndim (no node).

    >>> import numpy as np, tapegrad as tg
    >>> tg.grad(lambda x: tg.ndim(x) * x.sum())(np.ones((2, 2)))
    array([[2., 2.],
           [2., 2.]])
    """
    return _ndim(a)


def size(a: ArrayLike, axis: int | None = None) -> int:
    """numpy.size (no node).

    >>> import numpy as np, tapegrad as tg
    >>> tg.grad(lambda x: x.sum() / tg.size(x))(np.ones(4))
    array([0.25, 0.25, 0.25, 0.25])
    """
    s = _shape(a)
    return math.prod(s) if axis is None else s[axis]


from . import _methods  # noqa: E402  (last: it installs this complete namespace)

_methods.install(sys.modules[__name__])
