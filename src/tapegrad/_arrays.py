"""numpy's array functions for Vars and VarArrays, gathered from the modules
that implement them: _views (no node), _copies (one gather), _reductions and
_products. Each records at most a few entries (mostly one); on constants
alone it is numpy's own function."""

from __future__ import annotations

import math
from typing import Any

from ._array_util import ArrayLike, _ndim, _shape  # noqa: F401  (ArrayLike: annotations)
from ._copies import *  # noqa: F403
from ._copies import __all__ as _copies
from ._copies import take_slots  # noqa: F401  (VarArray's advanced indexing)
from ._products import *  # noqa: F403
from ._products import __all__ as _products
from ._reductions import *  # noqa: F403
from ._reductions import __all__ as _reductions
from ._views import *  # noqa: F403
from ._views import __all__ as _views

__all__ = sorted([*_views, *_copies, *_reductions, *_products])


def shape(a: ArrayLike) -> tuple[Any, ...]:
    """numpy.shape."""
    return _shape(a)


def ndim(a: ArrayLike) -> int:
    """numpy.ndim."""
    return _ndim(a)


def size(a: ArrayLike, axis: int | None = None) -> int:
    """numpy.size."""
    s = _shape(a)
    return math.prod(s) if axis is None else s[axis]
