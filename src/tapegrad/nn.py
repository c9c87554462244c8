"""Neural networks on the tape: dense layers, an MLP, a loss and optimisers.

A dense layer over a whole batch is one tape entry whose forward and backward
are matrix products on BLAS, so a network trains on the same tape as any other
tapegrad code, and nothing here hides the tape: ``value_and_grad(loss)`` of a
function of the parameters *is* the training step.

>>> import numpy as np, tapegrad as tg
>>> from tapegrad import nn
>>> model = nn.MLP([3, 8, 1], seed=0)
>>> X, y = np.ones((4, 3)), np.zeros((4, 1))
>>> loss = lambda params: nn.mse(model(params, X), y)
>>> value, grads = tg.value_and_grad(loss)(model.params)
>>> params = nn.sgd(model.params, grads, lr=0.1)
>>> bool(loss(params) < value)
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _blas, _core
from ._array import VarArray, record_dense, record_reduce
from ._pytree import flatten, unflatten
from ._var import Var
from .numpy import logsumexp
from .numpy import max as _max

#: The activations a dense layer knows, by name (None means "identity").
ACTIVATIONS: tuple[str, ...] = tuple(_core.dense_activations)

Params = list[dict[str, np.ndarray]]


# activation name (None: identity) -> the code record_dense takes
_CODES: dict[str | None, int] = {name: i for i, name in enumerate(ACTIVATIONS)}
_CODES[None] = _CODES["identity"]


def _activation_code(activation: str | None) -> int:
    try:
        return _CODES[activation]
    except (KeyError, TypeError):  # TypeError: an unhashable argument
        raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)} "
                         "or None") from None


def _check_shapes(x_shape: tuple[int, ...], w_shape: tuple[int, ...], b_shape: tuple[int, ...] | None) -> None:
    if len(x_shape) != 2:
        raise ValueError(f"dense: X must be 2-D (batch, n_in), got shape {x_shape}")
    if len(w_shape) != 2:
        raise ValueError(f"dense: W must be 2-D (n_in, n_out), got shape {w_shape}")
    if x_shape[1] != w_shape[0]:
        raise ValueError(f"dense: X of shape {x_shape} does not fit W of shape {w_shape}: "
                         f"X has {x_shape[1]} columns but W has {w_shape[0]} rows")
    if b_shape is not None and tuple(b_shape) != (w_shape[1],):
        raise ValueError(f"dense: b of shape {tuple(b_shape)} does not fit W of shape {w_shape}: "
                         f"b must have shape ({w_shape[1]},)")


def _operand(a: Any, name: str) -> np.ndarray:
    """A constant operand as a float64 ndarray."""
    if isinstance(a, Var):
        raise ValueError(f"dense: {name} must be an array, not a scalar Var")
    arr = np.asarray(a)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"dense: {name} must be a real array, not {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def dense(X: Any, W: Any, b: Any = None, activation: str | None = None) -> Any:
    """``act(X @ W + b)`` for a batch ``X`` (B, n_in), weights ``W`` (n_in, n_out)
    and bias ``b`` (n_out,) or None: one tape entry whose forward and backward
    are BLAS matrix products (dX = dZ Wᵀ, dW = Xᵀ dZ, db = Σ dZ with
    dZ = dY ⊙ act′ taken from the stored output).

    >>> import numpy as np, tapegrad as tg
    >>> from tapegrad import nn
    >>> X = np.ones((2, 3))
    >>> g = tg.grad(lambda W: nn.dense(X, W, None, "tanh").sum())(np.zeros((3, 1)))
    >>> g.ravel()
    array([2., 2., 2.])

    Any of X, W, b may be a VarArray (differentiated) or an ndarray (a
    constant: an ndarray X costs no dX product); with ndarrays only, the
    result is an ndarray, else a (B, n_out) VarArray. ``activation`` is one of
    ``ACTIVATIONS`` (``None`` is the identity).
    """
    code = _activation_code(activation)
    # A training step calls this per layer: VarArrays and float64 ndarrays pass
    # through without conversions.
    if type(X) is not VarArray:
        X = _operand(X, "X")
    if type(W) is not VarArray:
        W = _operand(W, "W")
    if b is not None and type(b) is not VarArray:
        b = _operand(b, "b")
    xs, ws = X.shape, W.shape
    if len(xs) != 2 or len(ws) != 2 or xs[1] != ws[0] or (b is not None and b.shape != (ws[1],)):
        _check_shapes(tuple(xs), tuple(ws), None if b is None else tuple(b.shape))
    if _blas._lib is None:
        _blas.load()  # raises, naming the package to install
    if type(X) is VarArray or type(W) is VarArray or type(b) is VarArray:
        return record_dense(X, W, b, code)
    return _core._dense_forward(X, W, b, ACTIVATIONS[code])


# ---- pytrees -------------------------------------------------------------------------


def _tree_map(f: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """f applied leaf by leaf over pytrees of one structure (the pytrees grad takes and gives)."""
    leaves, definition = flatten(tree)
    others = [flatten(r)[0] for r in rest]
    if any(len(o) != len(leaves) for o in others):
        raise ValueError("the parameters, gradients and optimiser state must be pytrees of the same structure")
    return unflatten(definition, [f(*xs) for xs in zip(leaves, *others)])


# ---- the multilayer perceptron -------------------------------------------------------------


def glorot(fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    """A (fan_in, fan_out) weight matrix drawn uniformly from ±sqrt(6 / (fan_in + fan_out)),
    which keeps activations and gradients of a tanh network at unit scale (Glorot & Bengio 2010).

    >>> glorot(2, 3, np.random.default_rng(0)).shape
    (2, 3)
    """
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


def mlp(params: Sequence[dict[str, Any]], X: Any, activation: str | None = "tanh") -> Any:
    """The network ``params`` applied to the batch ``X``: a dense layer per
    entry of ``params`` (a list of ``{"W": ..., "b": ...}``), ``activation``
    after every layer but the last, which is linear.

    >>> import numpy as np
    >>> mlp([{"W": np.eye(2), "b": np.zeros(2)}], np.ones((1, 2)))
    array([[1., 1.]])
    """
    h = X
    for i, layer in enumerate(params):
        last = i == len(params) - 1
        h = dense(h, layer["W"], layer["b"], None if last else activation)
    return h


class MLP:
    """A multilayer perceptron with layer sizes ``sizes`` (inputs first):
    its parameters ``self.params`` are a pytree (a list of ``{"W", "b"}`` dicts
    of ndarrays, Glorot-initialised weights, zero biases) and calling it is the
    pure function ``mlp``: ``model(params, X)``.

    >>> model = MLP([4, 16, 1], activation="relu", seed=1)
    >>> [layer["W"].shape for layer in model.params]
    [(4, 16), (16, 1)]
    """

    def __init__(self, sizes: Sequence[int], activation: str | None = "tanh", seed: int = 0) -> None:
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"MLP sizes must be at least two positive layer widths, got {list(sizes)}")
        _activation_code(activation)
        self.sizes = sizes
        self.activation = activation
        rng = np.random.default_rng(seed)
        self.params: Params = [{"W": glorot(m, n, rng), "b": np.zeros(n)} for m, n in zip(sizes[:-1], sizes[1:])]

    def __call__(self, params: Sequence[dict[str, Any]], X: Any) -> Any:
        return mlp(params, X, self.activation)

    def __repr__(self) -> str:
        return f"MLP({self.sizes}, activation={self.activation!r})"


# ---- loss and optimisers ---------------------------------------------------------------------


def mse(pred: Any, target: npt.ArrayLike) -> Any:
    """Mean squared error ``mean((pred - target) ** 2)`` (a Var when ``pred`` is on a tape).

    >>> import numpy as np
    >>> float(mse(np.array([1.0, 3.0]), np.array([1.0, 1.0])))
    2.0
    """
    target = np.asarray(target, dtype=np.float64)
    if tuple(pred.shape) != target.shape:
        raise ValueError(f"mse: prediction of shape {tuple(pred.shape)} and target of shape {target.shape} differ")
    d = pred - target
    if not isinstance(d, VarArray) or d.size == 0:
        return np.mean(d * d)
    # d is a fresh contiguous array: one full-sum entry scaled by 1/n (what
    # .mean() records too, without its axis handling: a training step's worth)
    return record_reduce(d * d, 0, "sum", 1.0 / d.size)


def cross_entropy(logits: Any, labels: npt.ArrayLike) -> Any:
    """Mean softmax cross-entropy of ``logits`` (B, classes) against integer
    ``labels`` (B,): ``mean(logsumexp(logits, axis=1) - logits[i, labels[i]])``,
    computed from the logits less each row's max, exact at every magnitude
    (a Var when ``logits`` is on a tape).

    >>> import numpy as np
    >>> round(float(cross_entropy(np.array([[0.0, 0.0], [10.0, 0.0]]), [1, 0])), 6)
    0.346596
    """
    labels = np.asarray(labels)
    shape = tuple(logits.shape)
    if len(shape) != 2 or labels.shape != shape[:1]:
        raise ValueError(f"cross_entropy: logits of shape {shape} need labels of shape ({shape[0] if shape else '?'},), "
                         f"got {labels.shape}")
    if labels.dtype.kind not in "iu" or (labels.size and (labels.min() < 0 or labels.max() >= shape[1])):
        raise ValueError(f"cross_entropy: labels must be integers in [0, {shape[1]}), got {labels.dtype} "
                         f"values {labels.min() if labels.size else ''}..{labels.max() if labels.size else ''}")
    # Shifted by each row's max first: logsumexp(logits) - logit rounds the
    # difference away at large logits (0 for [1e16, 1e16], not log 2); the
    # shift cancels exactly in the value and in the derivative.
    z = logits - _max(logits, axis=1, keepdims=True)
    # the chosen logits by a gather (a weighted sum with a one-hot mask gave
    # -inf * 0 = nan for a masked-out class, logit -inf)
    return (logsumexp(z, axis=1).sum() - z[np.arange(shape[0]), labels].sum()) / shape[0]


def sgd(params: Any, grads: Any, lr: float = 0.01) -> Any:
    """One step of gradient descent: ``params - lr * grads``, leaf by leaf (a new pytree).

    >>> sgd({"w": np.array([1.0])}, {"w": np.array([2.0])}, lr=0.5)
    {'w': array([0.])}
    """
    return _tree_map(lambda p, g: p - lr * g, params, grads)


def adam_init(params: Any) -> dict[str, Any]:
    """Adam's state for ``params``: step count and zero first and second moments.

    >>> adam_init({"w": np.ones(2)})["m"]
    {'w': array([0., 0.])}
    """
    zeros = _tree_map(lambda p: np.zeros_like(p, dtype=np.float64), params)
    return {"step": 0, "m": zeros, "v": _tree_map(np.copy, zeros)}


def adam(params: Any, grads: Any, state: dict[str, Any], lr: float = 1e-3, b1: float = 0.9,
         b2: float = 0.999, eps: float = 1e-8) -> tuple[Any, dict[str, Any]]:
    """One Adam step (Kingma & Ba 2015): returns ``(new_params, new_state)``
    and changes nothing in place.

    >>> p = {"w": np.array([1.0])}
    >>> p, s = adam(p, {"w": np.array([2.0])}, adam_init(p), lr=0.1)
    >>> p["w"].round(6)
    array([0.9])
    """
    t = state["step"] + 1
    m = _tree_map(lambda m_, g: b1 * m_ + (1 - b1) * g, state["m"], grads)
    v = _tree_map(lambda v_, g: b2 * v_ + (1 - b2) * g * g, state["v"], grads)
    c1, c2 = 1 - b1 ** t, 1 - b2 ** t
    new = _tree_map(lambda p, m_, v_: p - lr * (m_ / c1) / (np.sqrt(v_ / c2) + eps), params, m, v)
    return new, {"step": t, "m": m, "v": v}


__all__ = ["ACTIVATIONS", "MLP", "adam", "adam_init", "cross_entropy", "dense", "glorot", "mlp", "mse", "sgd"]
