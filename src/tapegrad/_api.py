"""Every transform f -> f': grad, value_and_grad, jacobian, vjp (one
recording and one reverse sweep each), hessian, hvp and jvp (recorded, then
replayed in C++ forward-over-reverse or on dual numbers: _compile.py), and
graph(f, ...), which records f for its picture (formatted by _dot.py)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from . import _core
from ._compile import CompiledFunction, compile
from ._dot import DEFAULT_MAX_NODES, Dot, to_dot
from ._graph import Named, name
from ._pytree import flatten, unflatten
from ._recording import (
    _argnums,
    _borrow,
    _call,
    _checked,
    _give_back,
    _leave_tape,
    _output_slots,
    _positions,
    _scalar_output,
    _split,
    _views,
    _watch,
)
from ._tape import Tape
from ._var import Var

# ---- grad and value_and_grad ------------------------------------------------------------------


def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
                   has_aux: bool = False) -> Callable[..., tuple[Any, Any]]:
    """Return a function computing ``(f(*args), gradient)`` in one recording.

    >>> import numpy as np, tapegrad as tg
    >>> tg.value_and_grad(lambda x: x * tg.exp(x))(0.0)
    (0.0, 1.0)
    >>> value, g = tg.value_and_grad(lambda p: (p["w"] ** 2).sum() + p["b"])({"w": np.ones(2), "b": 1.0})
    >>> value, g["w"], g["b"]
    (3.0, array([2., 2.]), 1.0)

    f returns a scalar. Its arguments may be numbers, arrays of any shape
    (integer arrays become float64) and pytrees of them (tuples, lists, dicts);
    the gradient has the argument's structure: a float per number, a float64
    ndarray of the same shape per array. With a tuple ``argnums``, a tuple of
    those. With ``has_aux=True``, f returns ``(value, aux)`` and the result is
    ``((value, aux), gradient)``, aux with its Vars replaced by their values.
    """

    argnums = _checked(argnums)  # a bad argnums is refused now, not at the first call

    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        tape = _borrow()
        try:
            out, watched = _call(tape, f, argnums, args, kwargs)
            aux = None
            if has_aux:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise TypeError("with has_aux=True, f must return a pair (value, aux)")
                out, aux = out
            y = _scalar_output(out)
            leaves = [x for ls, _ in watched for x in ls]
            if isinstance(y, Var):
                flat = _core._pullback(tape, np.array([y.index], np.uint32), None, _views(leaves),
                                       tape.generation)[0]
            else:
                flat = np.zeros(sum(1 if isinstance(x, Var) else x.size for x in leaves))
            value = y.value if isinstance(y, Var) else y
            if has_aux:
                aux = _leave_tape(aux)
        finally:
            _give_back(tape)
        grads, at = [], 0
        for ls, tree in watched:
            n = sum(1 if isinstance(x, Var) else x.size for x in ls)
            grads.append(_split(flat[at:at + n], ls, tree))
            at += n
        g = grads[0] if isinstance(argnums, int) else tuple(grads)
        return ((value, aux), g) if has_aux else (value, g)

    return wrapped


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
         has_aux: bool = False) -> Callable[..., Any]:
    """Return a function computing the gradient of the scalar function ``f``.

    >>> import numpy as np, tapegrad as tg
    >>> tg.grad(lambda x: x ** 3)(2.0)
    12.0
    >>> tg.grad(lambda x: (x ** 2).sum())(np.array([1.0, 2.0]))
    array([2., 4.])

    ``argnums`` chooses the argument(s) to differentiate with respect to; see
    value_and_grad for pytrees and ``has_aux`` (then the result is
    ``(gradient, aux)``).
    """
    vg = value_and_grad(f, argnums, has_aux)

    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapped


# ---- jacobian and vjp --------------------------------------------------------------------------


def jacobian(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """Return a function computing the Jacobian of f by reverse mode: one
    recording, then one sweep per output element (a row of the Jacobian).

    >>> import numpy as np, tapegrad as tg
    >>> tg.jacobian(lambda x: x ** 2)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])

    The result has shape ``f(x).shape + x.shape`` (as autograd documents); for
    a pytree argument, a pytree of such arrays; with a tuple ``argnums``, a
    tuple of those. f may return a VarArray, a Var, a number, or a nested list
    of Vars and numbers.
    """

    argnums = _checked(argnums)

    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        tape = _borrow()
        try:
            out, watched = _call(tape, f, argnums, args, kwargs)
            slots, where, shape, _ = _output_slots(out)
            leaves = [x for ls, _ in watched for x in ls]
            total = sum(1 if isinstance(x, Var) else x.size for x in leaves)
            rows = np.zeros((int(np.prod(shape, dtype=np.int64)), total))
            if slots.size:
                rows[where] = _core._pullback(tape, slots, None, _views(leaves), tape.generation)
        finally:
            _give_back(tape)
        jacs, at = [], 0
        for ls, tree in watched:
            n = sum(1 if isinstance(x, Var) else x.size for x in ls)
            block = rows[:, at:at + n].reshape(shape + (n,))
            jacs.append(_split(block, ls, tree, lead=shape))
            at += n
        jacs = [_as_array_leaves(j) for j in jacs]
        return jacs[0] if isinstance(argnums, int) else tuple(jacs)

    return wrapped


def _as_array_leaves(tree: Any) -> Any:
    """Jacobian blocks are always ndarrays (0-d for a scalar of a scalar)."""
    leaves, definition = flatten(tree)
    return unflatten(definition, [np.asarray(x, dtype=np.float64) for x in leaves])


def vjp(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[[Any], tuple[Any, ...]]]:
    """Evaluate f at primals and return ``(output, pullback)``, where
    ``pullback(cotangent)`` gives the vector-Jacobian product: a tuple with one
    gradient (of the primal's structure) per primal. The cotangent has the
    output's structure. Each pullback call is one reverse sweep over the same
    recording, which stays alive as long as the pullback does.

    >>> import numpy as np, tapegrad as tg
    >>> out, pullback = tg.vjp(lambda x: x * 3.0, np.array([1.0, 2.0]))
    >>> out, pullback(np.array([1.0, -1.0]))
    (array([3., 6.]), (array([ 3., -3.]),))
    """
    tape = Tape()  # its own tape: the pullback keeps it alive
    out, watched = _call(tape, f, tuple(range(len(primals))), primals, {})
    out_leaves, out_tree = flatten(out)
    described = [_output_slots(o) for o in out_leaves]
    leaves = [x for ls, _ in watched for x in ls]
    views = _views(leaves)
    slots = np.concatenate([d[0] for d in described]) if described else np.empty(0, np.uint32)
    value = unflatten(out_tree, [float(d[3]) if d[2] == () else d[3] for d in described])

    def pullback(cotangent: Any) -> tuple[Any, ...]:
        ct_leaves, ct_tree = flatten(cotangent)
        if len(ct_leaves) != len(described):
            raise ValueError(f"the cotangent has {len(ct_leaves)} leaves; f's output has {len(described)}")
        seeds = []
        for ct, (_, where, shape, _) in zip(ct_leaves, described):
            c = np.asarray(ct, dtype=np.float64)
            if c.shape != shape:
                raise ValueError(f"cotangent of shape {c.shape} for an output of shape {shape}")
            seeds.append(c.reshape(-1)[where])
        row = np.concatenate(seeds) if seeds else np.empty(0)
        flat = _core._pullback(tape, slots, row[None, :], views, tape.generation)[0]
        grads, at = [], 0
        for ls, tree in watched:
            n = sum(1 if isinstance(x, Var) else x.size for x in ls)
            grads.append(_split(flat[at:at + n], ls, tree))
            at += n
        return tuple(grads)

    return value, pullback


# ---- functional forms -------------------------------------------------------------------

def _compile_wrt(f: Callable[..., Any], args: Sequence[Any],
                 argnums: int | Sequence[int]) -> tuple[CompiledFunction, tuple[Any, ...]]:
    """Compile f as a function of args[argnums] only (the others held fixed)."""
    nums = _positions(_argnums(argnums), argnums, len(args))

    def of_wrt(*wrt: Any) -> Any:
        full = list(args)
        for i, w in zip(nums, wrt):
            full[i] = w
        return f(*full)

    wrt_args = tuple(args[i] for i in nums)
    return compile(of_wrt, *wrt_args), wrt_args


def hessian(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """Return a function computing the Hessian of the scalar function f.

    >>> import numpy as np, tapegrad as tg
    >>> tg.hessian(lambda x: x[0] ** 2 * x[1])(np.array([1.0, 2.0]))
    array([[4., 2.],
           [2., 0.]])

    Shape ``x.shape + x.shape``; with a tuple ``argnums``, nested tuples of
    blocks. f is recorded at each call, then the Hessian is one batched
    forward-over-reverse replay (see CompiledFunction.hessian).
    """
    argnums = _checked(argnums)  # a bad argnums is refused now, not at the first call

    def h(*args: Any) -> Any:
        cf, wrt = _compile_wrt(f, args, argnums)
        H = cf.hessian(*wrt)
        # A tuple argnums nests blocks per pair of arguments even for one argument (as JAX does).
        return H if isinstance(argnums, int) or len(wrt) > 1 else ((H,),)

    return h


def hvp(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """Return ``g(*args, v)`` = (Hessian of the scalar f at args) · v.

    >>> import numpy as np, tapegrad as tg
    >>> tg.hvp(lambda x: x[0] ** 3 + x[1] ** 3)(np.array([1.0, 2.0]), np.array([1.0, 1.0]))
    array([ 6., 12.])

    The tangent v, the last argument, is shaped like ``args[argnums]`` (a
    tuple over arguments for a tuple ``argnums``), and so is the result; the
    other arguments are held fixed. f is recorded at each call and replayed
    forward-over-reverse (see CompiledFunction.hvp).
    """
    argnums = _checked(argnums)

    def g(*args_and_v: Any) -> Any:
        if not args_and_v:
            raise TypeError("hvp(f) returns g(*args, v): pass f's arguments, then the tangent v")
        *args, v = args_and_v
        cf, wrt = _compile_wrt(f, args, argnums)
        if isinstance(argnums, int):
            return cf.hvp(wrt[0], v)
        if len(wrt) == 1:  # a tuple argnums gives a tuple over arguments, even of one
            return (cf.hvp(wrt[0], v[0]),)
        return cf.hvp(wrt, v)

    return g


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """``(f(*primals), J · tangents)``: a forward-mode derivative along tangents.

    >>> import tapegrad as tg
    >>> tg.jvp(lambda x, y: x * y, (2.0, 3.0), (1.0, 0.0))
    (6.0, 3.0)

    ``primals`` and ``tangents`` are tuples with one entry per argument of f
    (tangents shaped like primals). f is recorded once and replayed on dual
    numbers.
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"{len(primals)} primals but {len(tangents)} tangents: pass one tangent per argument")
    cf = compile(f, *primals)
    if len(primals) == 1:
        return cf.jvp(primals[0], tangents[0])
    return cf.jvp(primals, tangents)


# ---- the graph of f ---------------------------------------------------------------------------

def graph(f: Callable[..., Any], *args: Any, names: Mapping[str, Named] | None = None,
          max_nodes: int = DEFAULT_MAX_NODES) -> Dot:
    """Record ``f(*args)`` on a new tape and return its graph as DOT text,
    with adjoints from a sweep of its (scalar) output.

    Every positional argument (a float or an array) becomes an input, named
    after f's parameter; inside f, ``tapegrad.name(v, "a")`` names the rest.

    >>> import tapegrad as tg
    >>> def f(x):
    ...     a = tg.name(x ** 2, "a")
    ...     return tg.exp(a)
    >>> "a = x²" in tg.graph(f, 0.5)
    True
    """
    try:
        params = [p.name for p in inspect.signature(f).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):  # builtins and some callables have no signature
        params = []
    tape = Tape()
    inputs = []
    for i, a in enumerate(args):
        arg, leaves, _ = _watch(tape, a, i)  # arg may be a pytree; its leaves are what get names
        label = params[i] if i < len(params) else f"x{i}"
        for k, leaf in enumerate(leaves):
            name(leaf, label if len(leaves) == 1 else f"{label}.{k}")
        inputs.append(arg)
    y = _scalar_output(f(*inputs))
    return to_dot(tape, y if isinstance(y, Var) else None, names, max_nodes)
