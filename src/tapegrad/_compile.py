"""Compiled tapes: record f once, replay it in C++ at new inputs.

Scalar code, whole-array operations and dense layers all replay (see
cpp/include/tapegrad/replay.hpp).

``tapegrad.compile(f, *example_args)`` runs f once on Vars and keeps the tape
as a :class:`CompiledFunction`. Its methods evaluate the value, gradient,
Jacobian, JVP/VJP, Hessian-vector product and Hessian at other inputs of the
same shapes -- or at a batch of them -- entirely in C++ with the GIL released
(cpp/include/tapegrad/replay.hpp). Comparisons made while recording are
re-checked on every replay: see :class:`BranchChangedError`.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn

import numpy as np

from . import _core
from ._array import VarArray, _slots_of
from ._pytree import TreeDef, flatten, unflatten
from ._recording import _borrow, _give_back, _strictly, _watch_leaf
from ._tape import Tape
from ._var import Var, _record_sites, _slot_of

BranchChangedError = _core.BranchChangedError

# Branch patterns one retracing function keeps before refusing to record more:
# a function whose branches depend on the input this finely should not be a
# tape (write it with tapegrad.maximum / relu / abs instead).
MAX_BRANCH_PATTERNS = 256


def _raise_batch_memory_error(e: MemoryError) -> NoReturn:
    """Raise a MemoryError met while evaluating a batch, saying what to do (numpy's says how much)."""
    if "tapegrad" in str(e):  # the C++ core's message says both already
        raise e
    raise MemoryError(f"{e or 'out of memory'}: tapegrad could not hold this batch's arrays. Evaluate the "
                      "batch in smaller pieces (a Hessian or Jacobian needs one row per input or output "
                      "for each point), or free memory.") from e


@contextlib.contextmanager
def _batch_memory() -> Iterator[None]:
    try:
        yield
    except MemoryError as e:
        _raise_batch_memory_error(e)


def _record(f: Callable[..., Any], args: Sequence[Any], debug: bool) -> _core.Program:
    """Run f once on Vars made from args and compile the tape it leaves."""
    tape = Tape() if debug else _borrow()
    if debug:
        tape._sites = []
        _record_sites(tape, True)
    tape._guard_arrays = True
    try:
        wrt = [_watch_leaf(tape, a, i) for i, a in enumerate(args)]
        out = _strictly(tape, f, wrt, {})
        shapes = [() if isinstance(w, Var) else tuple(w.shape) for w in wrt]
        inputs = [np.array([w.index], np.uint32) if isinstance(w, Var) else w.slots().reshape(-1) for w in wrt]
        in_slots = np.concatenate(inputs) if inputs else np.empty(0, np.uint32)
        out_slots, out_shape = _output_slots(tape, out)
        return _core.Program.from_tape(tape, tape.generation, in_slots, np.asarray(out_slots, np.uint32), shapes,
                                       out_shape, tape._sites if debug else [])
    finally:
        tape._guard_arrays = False
        if debug:
            _record_sites(tape, False)
        else:
            _give_back(tape)


def _output_slots(tape: Tape, out: Any) -> tuple[Any, tuple[int, ...]]:
    """Node of each element of f's output, and the output's shape. A plain
    number in the output becomes a constant node (an input that is not one)."""
    if isinstance(out, VarArray):
        return _slots_of(out, tape).reshape(-1), tuple(out.shape)
    if isinstance(out, (list, tuple, np.ndarray)):
        try:
            arr = np.asarray(out, dtype=object)
        except (TypeError, ValueError):
            raise TypeError("compile needs f to return a scalar or a (possibly nested) list, tuple or ndarray "
                            "of scalars, with a regular shape") from None
        if arr.size == 0:
            raise TypeError("f returned an empty output; a compiled function needs at least one output")
        return [_output_slot(tape, e) for e in arr.reshape(-1)], tuple(arr.shape)
    return [_output_slot(tape, out)], ()


def _output_slot(tape: Tape, e: Any) -> int:
    if isinstance(e, Var):
        return _slot_of(e, tape)
    if isinstance(e, (float, int, np.floating, np.integer)) and not isinstance(e, bool):
        return tape.var(float(e)).index
    raise TypeError(f"f returned a {type(e).__name__}; compile needs f to return numbers and Vars "
                    "(a scalar, or a list/tuple/ndarray of them)")


def _as_array(a: Any, position: int, what: str) -> np.ndarray:
    if isinstance(a, (Var, VarArray)):
        raise TypeError(f"{what} {position} is a {type(a).__name__}: a compiled function takes numbers and "
                        "arrays (it replays outside any tape)")
    arr = np.asarray(a)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{what} {position} has dtype {arr.dtype}; compiled functions take real numbers")
    return arr.astype(np.float64, copy=False)


class CompiledFunction:
    """A function recorded once and replayed in C++ at new inputs.

    >>> import numpy as np, tapegrad as tg
    >>> cf = tg.compile(lambda x: (x[0] - 1) ** 2 + 10 * x[1] ** 2, np.zeros(2))
    >>> cf.value_and_grad(np.array([2.0, 1.0]))
    (11.0, array([ 2., 20.]))
    >>> cf.hessian(np.array([2.0, 1.0]))
    array([[ 2.,  0.],
           [ 0., 20.]])

    Every method takes the arguments f was compiled for (same shapes), or a
    batch of them with one more leading axis -- then all points are evaluated
    in one call and results gain that leading axis; ``threads=`` splits a
    batch over cores. Gradients have the shape of their argument (a float for
    a float argument; a tuple over arguments for a function of several).

    A tape of scalar operations evaluates a batch as lanes side by side. A
    tape with array entries (whole-array operations, dense layers) replays one
    point at a time, each entry's kernel vectorising over its array: a batch
    is then a loop over its points inside C++, and ``threads=`` splits the
    points. Every method, hvp and hessian included, works on both.
    """

    def __init__(self, programs: Sequence[_core.Program], f: Callable[..., Any] | None = None, *,
                 retrace: bool = False, debug: bool = False, trees: Sequence[TreeDef | None] | None = None) -> None:
        self._programs = list(programs)
        # Pytree arguments: the tape's inputs are their leaves, and trees[i] is
        # the structure of argument i (None for a plain number or array).
        self._trees = None if trees is None else list(trees)
        self._f = f
        self._retrace = bool(retrace) and f is not None
        self._debug = debug
        self._lock = threading.Lock()
        p = self._programs[0]
        self._arg_shapes = [tuple(s) for s in p.arg_shapes]
        self._out_shape = tuple(p.out_shape)
        self._sizes = [math.prod(s) for s in self._arg_shapes]
        self._spans = [(lo, lo + n) for lo, n in zip(np.cumsum([0, *self._sizes[:-1]]).tolist(), self._sizes)]
        self._one_weight = np.ones((1, 1))  # the output weight of a gradient at one point
        self._nin, self._nout = p.num_inputs, p.num_outputs
        # One number in, one number out, one tape: the fast paths skip numpy entirely.
        scalar = len(self._arg_shapes) == 1 and self._arg_shapes[0] == () and self._out_shape == ()
        self._fast = self._programs[0] if scalar and len(self._programs) == 1 and not self._retrace else None
        if f is not None:
            self.__wrapped__ = f
            self.__doc__ = getattr(f, "__doc__", None) or CompiledFunction.__doc__

    # ---- properties ------------------------------------------------------------------

    @property
    def num_nodes(self) -> int:
        """Nodes of the (first) recorded tape, the 8 sink slots included."""
        return int(self._programs[0].num_nodes)

    @property
    def num_tapes(self) -> int:
        """Tapes recorded so far: one per branch pattern (more than one only with retrace=True)."""
        return len(self._programs)

    @property
    def comparisons(self) -> list[dict[str, Any]]:
        """The comparisons recorded with the (first) tape, which every replay re-checks."""
        return list(self._programs[0].guards)

    @property
    def arg_shapes(self) -> list[tuple[int, ...]]:
        return list(self._arg_shapes)

    @property
    def out_shape(self) -> tuple[int, ...]:
        return self._out_shape

    def __repr__(self) -> str:
        name = getattr(self._f, "__name__", "<loaded>")
        return (f"<CompiledFunction {name}{tuple(self._arg_shapes)} -> {self._out_shape}: {self.num_nodes} nodes, "
                f"{len(self.comparisons)} comparisons, {self.num_tapes} tape(s)>")

    # ---- evaluation ------------------------------------------------------------------

    def __call__(self, *args: Any, threads: int = 1) -> Any:
        """f(*args), or f at every point of a batch."""
        fast = self._fast
        if fast is not None and len(args) == 1 and type(args[0]) is float:
            return fast.value1(args[0])
        X, batch = self._pack(self._leaf_args(args))
        (Y,) = self._run("value", X, (), threads)
        return self._unpack_out(Y, batch)

    def value_and_grad(self, *args: Any, threads: int = 1) -> tuple[Any, Any]:
        """(f(*args), gradient) for a scalar f: one forward and one reverse pass.

        Works as ``scipy.optimize.minimize(cf.value_and_grad, x0, jac=True)``.
        """
        fast = self._fast
        if fast is not None and len(args) == 1 and type(args[0]) is float:
            value, slope = fast.value_and_grad1(args[0])
            return value, slope
        self._need_scalar_output("value_and_grad")
        X, batch = self._pack(self._leaf_args(args))
        W = self._one_weight if batch is None else np.ones((X.shape[0], 1))
        Y, G = self._run("vjp", X, (W,), threads)
        return self._unpack_out(Y, batch), self._as_trees(self._unpack_in(G, batch))

    def grad(self, *args: Any, threads: int = 1) -> Any:
        """The gradient of a scalar f, shaped like its argument(s)."""
        return self.value_and_grad(*args, threads=threads)[1]

    def vjp(self, primals: Any, cotangents: Any, threads: int = 1) -> tuple[Any, Any]:
        """(f(x), wᵀ J): ``cotangents`` w is shaped like f's output; the result like x.

        For a function of several arguments, ``primals`` is the tuple of them.
        """
        X, batch = self._pack(self._leaf_args(self._as_args(primals)))
        W = self._pack_output_like(cotangents, batch)
        Y, G = self._run("vjp", X, (W,), threads)
        return self._unpack_out(Y, batch), self._as_trees(self._unpack_in(G, batch))

    def jvp(self, primals: Any, tangents: Any, threads: int = 1) -> tuple[Any, Any]:
        """(f(x), J v): ``tangents`` v is shaped like x; J v like f's output.

        Replays the tape on dual numbers. For a function of several arguments,
        ``primals`` and ``tangents`` are tuples.
        """
        X, batch = self._pack(self._leaf_args(self._as_args(primals)))
        V, vbatch = self._pack(self._leaf_args(self._as_args(tangents), "tangent"), "tangent")
        self._same_batch(batch, vbatch, "tangents")
        Y, Ydot = self._run("jvp", X, (V,), threads)
        return self._unpack_out(Y, batch), self._unpack_out(Ydot, batch)

    def hvp(self, primals: Any, tangents: Any, threads: int = 1) -> Any:
        """H v, the Hessian of a scalar f at x times v (shaped like x).

        Forward-over-reverse: values and partials replayed on dual numbers,
        then the reverse sweep on dual adjoints. Works as scipy's ``hessp``.
        """
        self._need_scalar_output("hvp")
        X, batch = self._pack(self._leaf_args(self._as_args(primals)))
        V, vbatch = self._pack(self._leaf_args(self._as_args(tangents), "tangent"), "tangent")
        self._same_batch(batch, vbatch, "tangents")
        _, _, HV = self._run("hvp", X, (V, np.ones((X.shape[0], 1))), threads)
        return self._as_trees(self._unpack_in(HV, batch))

    def hessian(self, *args: Any, threads: int = 1) -> Any:
        """The Hessian of a scalar f: shape x.shape + x.shape (a float for a
        float argument; nested tuples of blocks for several arguments).

        One Hessian-vector product per input, all as lanes of one batched replay.
        """
        self._need_scalar_output("hessian")
        X, batch = self._pack(self._leaf_args(args))
        B, n = X.shape
        with _batch_memory():
            V = np.tile(np.eye(n), (B, 1))
            _, _, HV = self._run("hvp", np.repeat(X, n, axis=0), (V, np.ones((B * n, 1))), threads)
        H = self._unpack_square(HV.reshape(B, n, n), batch)
        if self._trees is None:
            return H
        # Blocks per pair of leaves -> per pair of arguments (i, j), each a
        # pytree over i's leaves of pytrees over j's leaves (as JAX nests them).
        blocks = H if len(self._arg_shapes) > 1 else ((H,),)
        groups = self._leaf_groups()

        def pair(i: int, j: int) -> Any:
            (tree_i, leaves_i), (tree_j, leaves_j) = groups[i], groups[j]
            rows = [_rebuild(tree_j, [blocks[a][b] for b in leaves_j]) for a in leaves_i]
            return _rebuild(tree_i, rows)

        out = tuple(tuple(pair(i, j) for j in range(len(groups))) for i in range(len(groups)))
        return out[0][0] if len(groups) == 1 else out

    def jacobian(self, *args: Any, threads: int = 1) -> Any:
        """d f / d x: shape f's output shape + x.shape (tuple over arguments).

        Reverse mode (one sweep per output) when there are fewer outputs than
        inputs, forward mode on dual numbers (one tangent per input) otherwise;
        either way all of them run as lanes of one batched replay.
        """
        X, batch = self._pack(self._leaf_args(args))
        B, n, m = X.shape[0], self._nin, self._nout
        with _batch_memory():
            if m <= n:
                _, G = self._run("vjp", np.repeat(X, m, axis=0), (np.tile(np.eye(m), (B, 1)),), threads)
                J = G.reshape(B, m, n)
            else:
                _, Ydot = self._run("jvp", np.repeat(X, n, axis=0), (np.tile(np.eye(n), (B, 1)),), threads)
                J = np.ascontiguousarray(Ydot.reshape(B, n, m).transpose(0, 2, 1))
        lead = (B,) if batch is not None else ()
        blocks = []
        for shape, (lo, hi) in zip(self._arg_shapes, self._spans):
            block = J[:, :, lo:hi].reshape(lead + self._out_shape + shape)
            blocks.append(float(block) if block.ndim == 0 else block)
        return self._as_trees(blocks[0] if len(blocks) == 1 else tuple(blocks))

    # ---- saving ----------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The recorded tape(s) as bytes (a versioned, checksummed format)."""
        with self._lock:
            return bytes(_core.save_programs(self._programs))

    @classmethod
    def from_bytes(cls, data: bytes, *, max_work: int | None = None,
                   max_memory: int | None = None) -> CompiledFunction:
        """The inverse of to_bytes; validates everything and raises ValueError on bad bytes.

        This is the safe way to read a tape from elsewhere (no pickle, nothing run). A
        loaded tape may ask for at most ``max_work`` element operations per evaluated
        point and ``max_memory`` bytes of scratch beyond its slots; by default, an
        amount its own size pays for (a forged size is refused). Raise them for a
        trusted file that a ValueError says needs more.
        """
        return cls(_core.load_programs(data, max_work, max_memory))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the compiled function to a file; ``tapegrad.load(path)`` reads it back.

        The Python function itself is not saved: a loaded function replays the
        tape(s) recorded so far but cannot record new branch patterns. Nor are
        pytree structures: a function compiled for pytree arguments loads as a
        function of their leaves, in flatten order (``arg_shapes``).
        """
        data = self.to_bytes()
        with open(path, "wb") as fh:
            fh.write(data)

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        # A plain module-level function: a pickle names only tapegrad._compile._load_pickled,
        # so an unpickler that allows exactly that runs nothing else (a bound classmethod
        # would be pickled through builtins.getattr, which reaches anything).
        return (_load_pickled, (self.to_bytes(),))

    # ---- packing arguments and results ---------------------------------------------

    def _as_args(self, x: Any) -> tuple[Any, ...]:
        nargs = len(self._arg_shapes) if self._trees is None else len(self._trees)
        if nargs == 1:
            return (x,)
        if not isinstance(x, (tuple, list)):
            raise TypeError(f"this function takes {nargs} arguments: pass them as a tuple")
        return tuple(x)

    def _leaf_args(self, args: Sequence[Any], what: str = "argument") -> Sequence[Any]:
        """Pytree arguments -> the leaves the tape takes, checking each tree's structure."""
        trees = self._trees
        if trees is None:
            return args
        if len(args) != len(trees):
            raise TypeError(f"this function was compiled for {len(trees)} argument(s), but got {len(args)}")
        leaves: list[Any] = []
        for i, (a, tree) in enumerate(zip(args, trees)):
            if tree is None:
                leaves.append(a)
                continue
            mine, structure = flatten(a)
            if structure != tree:
                raise ValueError(f"{what} {i} has another pytree structure than f was compiled for: "
                                 f"{_describe(structure)} instead of {_describe(tree)}")
            leaves.extend(mine)
        return leaves

    def _leaf_groups(self) -> list[tuple[TreeDef | None, range]]:
        """Per argument of f: its pytree structure and the positions of its leaves among the tape's inputs."""
        assert self._trees is not None
        groups, at = [], 0
        for tree in self._trees:
            n = _count(tree)
            groups.append((tree, range(at, at + n)))
            at += n
        return groups

    def _as_trees(self, parts: Any) -> Any:
        """One result per leaf argument (a lone one, or a tuple) -> one per
        argument of f, each with its argument's pytree structure."""
        if self._trees is None:
            return parts
        flat = [parts] if len(self._arg_shapes) == 1 else list(parts)
        out = [_rebuild(tree, [flat[k] for k in leaves]) for tree, leaves in self._leaf_groups()]
        return out[0] if len(out) == 1 else tuple(out)

    def _pack(self, args: Sequence[Any], what: str = "argument") -> tuple[np.ndarray, int | None]:
        """Arguments -> one (B, num_inputs) float64 array, and B (None: no batch)."""
        if len(args) == 1 == len(self._arg_shapes):  # the common case, kept short
            a, shape = args[0], self._arg_shapes[0]
            arr = a if type(a) is np.ndarray and a.dtype == np.float64 else _as_array(a, 0, what)
            if arr.shape == shape:
                return arr.reshape(1, self._sizes[0]), None
            if arr.shape[1:] == shape and arr.ndim == len(shape) + 1:
                return arr.reshape(arr.shape[0], self._sizes[0]), arr.shape[0]
        if len(args) != len(self._arg_shapes):
            raise TypeError(f"this function was compiled for {len(self._arg_shapes)} argument(s) of shapes "
                            f"{self._arg_shapes}, but got {len(args)}")
        batch: Any = ...
        cols = []
        for i, (a, shape, size) in enumerate(zip(args, self._arg_shapes, self._sizes)):
            arr = a if type(a) is np.ndarray and a.dtype == np.float64 else _as_array(a, i, what)
            if arr.shape == shape:
                b = None
            elif arr.ndim == len(shape) + 1 and arr.shape[1:] == shape:
                b = arr.shape[0]
            else:
                raise ValueError(f"{what} {i} has shape {arr.shape}, but f was compiled for shape {shape} "
                                 f"(or a batch of shape (B, {', '.join(map(str, shape))}{',' if len(shape) == 1 else ''}))")
            if batch is not ... and b != batch:
                raise ValueError(f"{what}s must all be single points or all batches of the same size")
            batch = b
            cols.append(arr.reshape(1 if b is None else b, size))
        if len(cols) == 1:  # the replay makes it C-contiguous if it is not (a copy only then)
            return cols[0], batch
        if not cols:
            return np.empty((1, 0)), None
        return np.concatenate(cols, axis=1), batch

    def _pack_output_like(self, w: Any, batch: int | None) -> np.ndarray:
        arr = _as_array(w, 0, "cotangent")
        want = self._out_shape if batch is None else (batch, *self._out_shape)
        if arr.shape != want:
            raise ValueError(f"cotangents have shape {arr.shape}; expected {want} (shaped like f's output)")
        return np.ascontiguousarray(arr.reshape(1 if batch is None else batch, self._nout))

    @staticmethod
    def _same_batch(batch: int | None, other: int | None, what: str) -> None:
        if batch != other:
            raise ValueError(f"{what} must be batched like the primals (shapes must match)")

    def _need_scalar_output(self, method: str) -> None:
        if self._nout != 1 or self._out_shape != ():
            raise TypeError(f"{method} needs f to return a scalar, but it returns shape {self._out_shape}; "
                            "use jacobian, vjp or jvp for a vector output")

    def _unpack_out(self, Y: np.ndarray, batch: int | None) -> Any:
        if batch is None:
            return float(Y[0, 0]) if self._out_shape == () else Y[0].reshape(self._out_shape)
        return Y.reshape((batch, *self._out_shape))

    def _unpack_in(self, G: np.ndarray, batch: int | None) -> Any:
        if len(self._arg_shapes) == 1:  # the common case, kept short
            shape = self._arg_shapes[0]
            if batch is not None:
                return G.reshape((batch, *shape))
            return float(G[0, 0]) if shape == () else G[0].reshape(shape)
        parts = []
        for shape, (lo, hi) in zip(self._arg_shapes, self._spans):
            if batch is None:
                part = float(G[0, lo]) if shape == () else G[0, lo:hi].reshape(shape)
            else:
                part = G[:, lo:hi].reshape((batch, *shape))
                if len(self._arg_shapes) > 1:
                    part = np.ascontiguousarray(part)
            parts.append(part)
        return parts[0] if len(parts) == 1 else tuple(parts)

    def _unpack_square(self, H: np.ndarray, batch: int | None) -> Any:
        lead = () if batch is None else (batch,)
        bounds = self._spans
        rows = []
        for si, (ilo, ihi) in zip(self._arg_shapes, bounds):
            row = []
            for sj, (jlo, jhi) in zip(self._arg_shapes, bounds):
                block = np.ascontiguousarray(H[:, ilo:ihi, jlo:jhi]).reshape(lead + si + sj)
                row.append(float(block) if block.ndim == 0 else block)
            rows.append(tuple(row))
        return rows[0][0] if len(rows) == 1 else tuple(rows)

    # ---- dispatch over recorded branch patterns -------------------------------------

    def _run(self, method: str, X: np.ndarray, extra: tuple[np.ndarray, ...], threads: int) -> tuple[Any, ...]:
        if len(self._programs) == 1 and not self._retrace:
            # Positional: pybind11 matches keyword arguments by name, which costs
            # more than a small replay.
            try:
                out = getattr(self._programs[0], method)(X, *extra, threads)
            except MemoryError as e:
                _raise_batch_memory_error(e)
            return out if type(out) is tuple else (out,)
        with _batch_memory():
            return self._run_patterns(method, X, extra, threads)

    def _run_patterns(self, method: str, X: np.ndarray, extra: tuple[np.ndarray, ...],
                      threads: int) -> tuple[Any, ...]:
        """Each point goes to the first tape whose comparisons all hold there.
        A point no tape fits is recorded anew (retrace=True), or raises."""
        rows = X.shape[0]
        todo = np.arange(rows)
        results: list[np.ndarray] | None = None
        tried = 0
        while todo.size:
            with self._lock:
                programs = list(self._programs)
            if tried == len(programs):
                if not self._retrace:
                    # None fits: let the first tape raise, naming its comparison.
                    getattr(programs[0], method)(X[todo[:1]], *(e[todo[:1]] for e in extra), 1)
                    raise AssertionError("unreachable: the tape accepted a point it had rejected")
                self._retrace_at(X[todo[0]])
                continue
            program = programs[tried]
            tried += 1
            status = np.empty(todo.size, dtype=np.int32)
            out = getattr(program, method)(X[todo], *(e[todo] for e in extra), threads, status)
            out = out if isinstance(out, tuple) else (out,)
            if results is None:
                results = [np.empty((rows, *o.shape[1:])) for o in out]
            ok = status < 0
            for r, o in zip(results, out):
                r[todo[ok]] = o[ok]
            todo = todo[~ok]
        assert results is not None or rows == 0
        if results is None:  # an empty batch
            out = getattr(self._programs[0], method)(X, *extra, threads)
            return out if isinstance(out, tuple) else (out,)
        return tuple(results)

    def _retrace_at(self, x: np.ndarray) -> None:
        """Record f again at point x (one row of packed inputs) and keep the tape."""
        args = []
        for shape, (lo, hi) in zip(self._arg_shapes, self._spans):
            args.append(float(x[lo]) if shape == () else x[lo:hi].reshape(shape).copy())
        assert self._f is not None  # retrace is on only with a function to record
        program = _record(self._f, args, self._debug)
        if [tuple(s) for s in program.arg_shapes] != self._arg_shapes or tuple(program.out_shape) != self._out_shape:
            raise ValueError("f returned a different output shape on another branch; a compiled function needs "
                             "one output shape")
        with self._lock:
            if len(self._programs) >= MAX_BRANCH_PATTERNS:
                raise RuntimeError(f"f took more than {MAX_BRANCH_PATTERNS} different branch patterns; its branches "
                                   "depend too finely on the input to replay a tape. Write the choices with "
                                   "tapegrad.maximum/minimum/relu/abs instead of Python if statements")
            self._programs.append(program)


def _count(tree: TreeDef | None) -> int:
    """How many leaves a pytree structure holds."""
    return 1 if tree is None else sum(_count(c) for c in tree.children)


def _rebuild(tree: TreeDef | None, leaves: list[Any]) -> Any:
    """The pytree of structure `tree` holding `leaves`; a plain argument (None) is its one leaf."""
    return leaves[0] if tree is None else unflatten(tree, leaves)


def _describe(tree: TreeDef | None) -> str:
    if tree is None:
        return "a leaf"
    keys = None  # the built-in dicts' aux data is their keys (a defaultdict's after its factory)
    if tree.node_type in (dict, OrderedDict):
        keys = tree.aux
    elif tree.node_type is defaultdict:
        keys = tree.aux[1]
    return f"{tree.node_type.__name__} with {_count(tree)} leaves" + (f" (keys {keys!r} in this order)" if keys else "")


def compile(f: Callable[..., Any], *example_args: Any, debug: bool = False,
            retrace: bool = False) -> CompiledFunction:
    """Record ``f(*example_args)`` once and return a :class:`CompiledFunction`
    that replays the tape in C++ at new inputs of the same shapes.

    >>> import tapegrad as tg
    >>> cf = tg.compile(lambda x: x * tg.exp(x), 0.0)
    >>> cf(1.0), cf.grad(0.0), cf.hessian(0.0)
    (2.718281828459045, 1.0, 2.0)

    Every positional argument is an input: a float, an array of any shape, or
    a pytree of them (a list, tuple, dict, ... as for ``grad``; its gradient
    comes back in its structure, and calls pass the same structure).
    f returns a scalar or an array (list, tuple, ndarray) of scalars. f may
    use whole-array operations and dense layers (tapegrad arrays, tg.nn):

    >>> import numpy as np
    >>> rosen = lambda x: (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
    >>> tg.compile(rosen, np.zeros(3)).grad(np.array([1.0, 1.0, 1.0]))
    array([0., 0., 0.])

    Comparisons of Vars made by f (``if x > 0:``) are recorded and re-checked
    on every replay: at an input where one would go the other way the call
    raises :class:`BranchChangedError` naming it (and, with ``debug=True``,
    its source line), unless ``retrace=True``, which records f again there and
    keeps one tape per branch pattern. ``abs``, ``maximum`` and ``relu`` are
    ops, not branches, and never need this. Array comparisons (``x > 0`` on a
    VarArray) are recorded per element, and so are the choices ``clip`` and
    ``sort`` read from values: ``tg.where(x > 0, a, b)`` raises (or retraces)
    where an element's sign changes.
    """
    if not callable(f):
        raise TypeError(f"compile needs a function, not a {type(f).__name__}")
    flat = [flatten(a) for a in example_args]
    trees = [tree for _, tree in flat]  # None: a plain number or array
    if all(tree is None for tree in trees):
        return CompiledFunction([_record(f, example_args, debug)], f, retrace=retrace, debug=debug)
    leaves = [x for leaves_of_a, _ in flat for x in leaves_of_a]

    def of_leaves(*xs: Any) -> Any:  # f of the trees' leaves, as the tape sees it
        args, at = [], 0
        for tree in trees:
            n = _count(tree)
            args.append(xs[at] if tree is None else unflatten(tree, xs[at:at + n]))
            at += n
        return f(*args)

    return CompiledFunction([_record(of_leaves, leaves, debug)], of_leaves, retrace=retrace, debug=debug,
                            trees=trees)


def _load_pickled(data: bytes) -> CompiledFunction:
    """What a pickled CompiledFunction calls to come back: CompiledFunction.from_bytes(data)."""
    return CompiledFunction.from_bytes(data)


def load(path: str | os.PathLike[str], *, max_work: int | None = None,
         max_memory: int | None = None) -> CompiledFunction:
    """Read a compiled function written by ``CompiledFunction.save``.

    >>> import tapegrad as tg, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "f.tape")
    >>> tg.compile(lambda x: x * x, 1.0).save(path)
    >>> tg.load(path).grad(3.0)
    6.0

    Everything is validated before use (format version, opcodes, every parent
    below its node, sizes, comparisons, checksum): malformed or tampered bytes
    raise ValueError, never a crash; so does a file that would ask for more work or
    scratch memory per evaluation than ``max_work``/``max_memory`` (by default, what
    the file's own size pays for). Files of every format version load, mapped to
    today's op table by name, or are refused with a message saying why.
    """
    with open(path, "rb") as fh:
        return CompiledFunction.from_bytes(fh.read(), max_work=max_work, max_memory=max_memory)
