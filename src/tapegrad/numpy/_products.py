"""Products: matmul (the @ operator), dot, vdot and outer; vectors and
matrices are one matmul entry, vectors as one-row or one-column views."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _blas, _core
from .._array import VarArray, elementwise, record_dense, record_matmul
from .._var import MASKED_ARRAY
from ._helpers import ArrayLike, _ndim, _no_extras, _shape, _traced
from ._views import expand_dims, ravel, reshape

__all__ = ["matmul", "dot", "vdot", "outer"]


def _as_matrix(x: Any, row: bool) -> Any:
    """A 2-D operand for the matmul entry: a vector becomes one row (row=True) or one column."""
    if isinstance(x, VarArray):
        return (expand_dims(x, 0) if row else expand_dims(x, 1)) if x.ndim == 1 else x
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(MASKED_ARRAY)
    c = np.asarray(x, dtype=np.float64)
    return (c[None, :] if row else c[:, None]) if c.ndim == 1 else c


_SIGNATURE = "(n?,k),(k,m?)->(n?,m?)"

# Products of at least this many multiply-adds run as dense entries on BLAS
# (entries/dense.hpp); smaller ones stay matmul entries with plain loops.
# Measured (grad of (A @ B).sum()): the two tie up to ~16^3, where Python's
# overhead is the whole cost; BLAS is 2x faster at 32^3 and 4x at 64^3.
_BLAS_AT = 4096
_IDENTITY = _core.dense_activations.index("identity")


def _on_blas(A: Any, B: Any) -> bool:
    (m, k), n = _shape(A), _shape(B)[1]
    return m * k * n >= _BLAS_AT and _blas.load(optional=True) is not None


def matmul(a: ArrayLike, b: ArrayLike, out: Any = None, **kw: Any) -> Any:
    """numpy.matmul / the @ operator for vectors and matrices (one matmul entry):
    vector @ vector is a Var, matrix @ vector a vector, matrix @ matrix a matrix.

    >>> import numpy as np, tapegrad as tg
    >>> W = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> tg.grad(lambda x: (W @ x).sum())(np.array([1.0, 1.0]))
    array([4., 6.])
    """
    _no_extras("matmul", out=out, **kw)
    if not _traced(a, b):
        return np.matmul(a, b)
    na, nb = _ndim(a), _ndim(b)
    for i, n in enumerate((na, nb)):
        if n == 0:
            raise ValueError(f"matmul: Input operand {i} does not have enough dimensions (has 0, gufunc core "
                             f"with signature {_SIGNATURE} requires 1)")
    if na > 2 or nb > 2:
        raise TypeError(f"tapegrad.matmul takes vectors and matrices; stacks of matrices (shapes "
                        f"{_shape(a)} and {_shape(b)}) are not supported: loop over the stack and tapegrad.stack")
    A, B = _as_matrix(a, row=True), _as_matrix(b, row=False)
    k_a, k_b = _shape(A)[1], _shape(B)[0]
    if k_a != k_b:
        raise ValueError(f"matmul: Input operand 1 has a mismatch in its core dimension 0, with gufunc "
                         f"signature {_SIGNATURE} (size {k_b} is different from {k_a})")
    c = record_dense(A, B, None, _IDENTITY) if _on_blas(A, B) else record_matmul(A, B)
    if na == 1 and nb == 1:
        return c[0, 0]
    if na == 1:
        return c[0]
    if nb == 1:
        return c[:, 0]
    return c


def dot(a: ArrayLike, b: ArrayLike, out: Any = None) -> Any:
    """numpy.dot for scalars (a product), vectors and matrices, and N-D · 1-D
    (a sum over the last axis).

    >>> import numpy as np, tapegrad as tg
    >>> tg.grad(lambda x: tg.dot(x, x))(np.array([1.0, 2.0]))
    array([2., 4.])
    """
    _no_extras("dot", out=out)
    if not _traced(a, b):
        return np.dot(a, b)
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        return elementwise("multiply", (a, b))
    if na <= 2 and nb <= 2:
        sa, sb = _shape(a), _shape(b)
        ka, kb = sa[-1], sb[0]
        if ka != kb:
            raise ValueError(f"shapes {sa} and {sb} not aligned: {ka} (dim {na - 1}) != {kb} (dim 0)")
        return matmul(a, b)
    if nb == 1:
        sa = _shape(a)
        flat = reshape(a, (-1, sa[-1])) if isinstance(a, VarArray) else np.reshape(a, (-1, sa[-1]))
        return reshape(matmul(flat, b), sa[:-1])
    raise TypeError(f"tapegrad.dot supports N-D · 1-D and up to 2-D · 2-D, not shapes {_shape(a)} · {_shape(b)}; "
                    "use tapegrad.matmul on 2-D slices")


def vdot(a: ArrayLike, b: ArrayLike) -> Any:
    """numpy.vdot for real arrays: the dot product of the flattened arrays.

    >>> import numpy as np, tapegrad as tg
    >>> tg.grad(lambda x: tg.vdot(x, np.array([[1.0, 2.0], [3.0, 4.0]])))(np.ones((2, 2)))
    array([[1., 2.],
           [3., 4.]])
    """
    return dot(ravel(a), ravel(b))


def outer(a: ArrayLike, b: ArrayLike, out: Any = None) -> Any:
    """numpy.outer: a (flattened) as a column times b (flattened) as a row.

    >>> import numpy as np, tapegrad as tg
    >>> tg.grad(lambda x: tg.outer(x, [1.0, 2.0])[1, 1])(np.ones(2))
    array([0., 2.])
    """
    _no_extras("outer", out=out)
    if not _traced(a, b):
        return np.outer(a, b)
    return elementwise("multiply", (expand_dims(ravel(a), 1), expand_dims(ravel(b), 0)))
