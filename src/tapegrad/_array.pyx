# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, embedsignature=True
# distutils: language = c++
"""VarArray, an n-d view over tape slots.

One array operation is one call into C++ (cpp/include/tapegrad/arrays.hpp):
operands cross as (first slot, shape, strides) or as a numpy buffer, and no
Python loop ever walks their elements. The parts, each in its own file:

- _operands.pxi: what an operand is, and numpy's broadcasting of two;
- _fusion.pxi:   elementwise ops first build a pending expression, recorded
                 as one fused entry per chain;
- _entries.pxi:  the C++ shims, running an entry, the elementwise ops, and the
                 record_* primitives of the other entry kinds;
- this file:     the VarArray type. Its operators and ufunc-named methods are
                 generated from ops.def (the `# @ops.def` marker); its numpy
                 methods and protocols come from tapegrad.numpy, the layer
                 above, which installs them (_var.install_methods) so that nothing
                 here imports it.
"""

cimport cython
cimport tapegrad._cxx as cxx
from cpython.float cimport PyFloat_AS_DOUBLE
from cpython.buffer cimport PyBUF_C_CONTIGUOUS, PyBuffer_Release, PyObject_GetBuffer
from cpython.long cimport PyLong_AsDouble
from cpython.ref cimport PyObject
from cpython.exc cimport PyErr_CheckSignals
from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.string cimport memcpy
from libc.stdint cimport int64_t, uint32_t, uint64_t, uintptr_t

import numpy as np

from tapegrad._cxx cimport (ARITY_BINARY, ARITY_UNARY, FUSE_MAX_INSTRUCTIONS, FUSE_MAX_LEAVES, LEAF_CONSTANT,
                            LEAF_SLOTS, MAX_DIMS, OP_COUNT)
from tapegrad.tape cimport Tape, index_t
from tapegrad._var cimport Var, cpp_tape, from_above, not_initialised, not_live, unmade_tape
from tapegrad import _core, _var
from tapegrad._var import (MASKED_ARRAY, ConcretizationError, StaleVarError, TapeMismatchError, _MISMATCH,
                           _STALE, _check_strict, _concretization_error)

cdef enum:
    # Entries of this much work (element operations) compute without holding
    # the GIL (below, releasing it costs more than it frees).
    RELEASE_GIL_AT = 1 << 16
    # Entries of this much work (element operations, about a millisecond)
    # are watched for Ctrl-C: below, they end within a second anyway, and
    # watching costs two system calls.
    WATCH_FROM = 1 << 20

include "_entries.pxi"

# Reducers by name, numbered as entry.hpp's Reducer.
REDUCERS = {"sum": cxx.REDUCE_SUM, "prod": cxx.REDUCE_PROD, "max": cxx.REDUCE_MAX, "min": cxx.REDUCE_MIN,
            "logsumexp": cxx.REDUCE_LOGSUMEXP, "norm": cxx.REDUCE_NORM}


# ---- op-table names to opcodes (read from the C++ table, not listed here) -----------

cdef dict _UNARY = {}   # name -> opcode
cdef dict _BINARY = {}  # name -> (opcode, opcode_vc, opcode_cv)


cdef _read_op_table():
    cdef int i, arity
    for i in range(OP_COUNT):
        name = tg_op_name(i).decode()
        arity = tg_op_arity(i)
        if arity == ARITY_UNARY:
            _UNARY[name] = i
        elif arity == ARITY_BINARY:
            _BINARY[name] = (i, i + 1, i + 2)  # ops.hpp: name, name_vc, name_cv


_read_op_table()


# ---- the layer above --------------------------------------------------------------------------
# VarArray's numpy methods (reshape, sum, ...), its advanced indexing, .at[],
# its comparisons (recorded as guards) and numpy's protocols are implemented in
# tapegrad.numpy, which imports this module and hands them down when imported
# (tapegrad/numpy/_methods.py, into _var's one registry: from_above), as
# autograd's ArrayBox and JAX's register_jax_array_methods do.


include "_operands.pxi"
include "_fusion.pxi"


# ---- VarArray ------------------------------------------------------------------------------

cdef VarArray _make_array(object owner, Tape* tape, uint32_t generation, index_t first,
                          tuple shape, tuple strides):
    cdef VarArray a = VarArray.__new__(VarArray)
    cdef Py_ssize_t n = 1
    a.owner = owner
    a.ctape = tape
    a.generation = generation
    a.first = first
    a._shape = shape
    a._strides = strides
    for d in shape:
        n *= <Py_ssize_t>d
    a._size = n
    return a


cdef inline Var _var_at(VarArray a, Py_ssize_t slot):
    cdef Var r = Var.__new__(Var)
    r.ctape = a.ctape
    r.owner = a.owner
    r.slot = <index_t>slot
    r.generation = a.generation
    return r


cdef object _to_objects(VarArray a):
    """An object ndarray holding a's elements as Vars (for numpy's object loops)."""
    out = np.empty(a._shape, dtype=object)
    flat_slots = a.slots().reshape(-1)
    flat = out.reshape(-1)
    for i in range(a._size):
        flat[i] = _var_at(a, flat_slots[i])
    return out


cdef inline int _made(VarArray a) except -1:
    """Raise TypeError for a VarArray made by __new__ alone (no tape made it)."""
    if a.owner is None:
        raise not_initialised(a)
    return 0


cdef bint _is_basic_key(tuple key):
    """True when every part of an index is an int, slice, None or Ellipsis (a view)."""
    for k in key:
        if k is None or k is Ellipsis or type(k) is slice or type(k) is int:
            continue
        if isinstance(k, (bool, np.bool_)) or isinstance(k, (list, tuple, np.ndarray)) or not hasattr(k, "__index__"):
            return False
    return True


@cython.final
cdef class VarArray:
    """An n-dimensional array of Vars: a view (first slot, shape, strides) over
    tape slots, as a numpy array is a view over memory.

    It follows numpy: ``x[i, j]`` is a ``Var`` and adds no node; basic slices,
    ``reshape``, ``ravel``, ``.T``/``transpose``, ``squeeze`` and
    ``expand_dims`` are views (no node); fancy and boolean indexing copy (one
    entry). Arithmetic, comparisons, every ``tapegrad`` op and numpy's ufuncs
    and functions apply elementwise with broadcasting; a chain of elementwise
    ops is pending until its values are needed, then records one fused entry
    (a sum of it fuses too). ``.value`` is the float ndarray of the values.

    >>> import numpy as np, tapegrad as tg
    >>> with tg.Tape() as tape:
    ...     x = tape.vars([1.0, 2.0, 3.0])
    ...     y = (x * x).sum()
    ...     tape.gradient(y, x)
    array([2., 4., 6.])
    """

    def __cinit__(self):
        self.ctape = unmade_tape()  # until a tape makes it: every stale check then stops it (_var.pyx)

    def __init__(self, *args, **kwargs):
        raise TypeError("VarArrays are made by a tape: use tape.vars(array), or tapegrad.grad(f)(array)")

    @property
    def shape(self) -> tuple:
        _made(self)
        return self._shape

    @property
    def ndim(self) -> int:
        _made(self)
        return len(self._shape)

    @property
    def size(self) -> int:
        _made(self)
        return self._size

    @property
    def tape(self):
        """The Tape these Vars are recorded on."""
        _made(self)
        return self.owner

    @property
    def T(self):
        """The transposed view (no node)."""
        return self.transpose()

    def _view(self):
        """(first slot, shape, strides): where this view's elements sit on its tape."""
        self._check()
        return self.first, self._shape, self._strides

    def slots(self):
        """The node index of every element, as a uint32 ndarray of this shape."""
        self._check()
        out = np.full(self._shape, self.first, dtype=np.int64)
        for axis, (d, s) in enumerate(zip(self._shape, self._strides)):
            view = [1] * len(self._shape)
            view[axis] = d
            out += (np.arange(d, dtype=np.int64) * s).reshape(view)
        return out.astype(np.uint32)

    @property
    def value(self):
        """The values as a new float64 ndarray of this shape."""
        self._check()
        cdef index_t n = self.ctape.size()
        if self._size == 0:
            return np.empty(self._shape)
        values = np.asarray(<double[:n]> self.ctape.values())
        view = np.ndarray(self._shape, np.float64, values, self.first * 8, tuple([8 * s for s in self._strides]))
        return view.copy()

    cdef int _check(self) except -1:
        """Raise if stale; put a pending array on the tape (everything that reads
        first/_strides calls this first)."""
        if self.generation != self.ctape.generation():
            raise not_live(self.owner, self)
        if self._pending:
            _materialize(self)
        return 0

    def __len__(self):
        _made(self)
        if not self._shape:
            raise TypeError("len() of a 0-d VarArray")
        return self._shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, key):
        cdef Py_ssize_t i, d
        self._check()
        if type(key) is int and self._shape:  # the scalar-loop fast path: x[i], or row i
            i = key
            d = self._shape[0]
            if i < -d or i >= d:
                raise IndexError(f"index {i} is out of bounds for axis 0 with size {d}")
            if i < 0:
                i += d
            if len(self._shape) == 1:
                return _var_at(self, self.first + i * <Py_ssize_t>self._strides[0])
            return _make_array(self.owner, self.ctape, self.generation,
                               <index_t>(self.first + i * <Py_ssize_t>self._strides[0]),
                               self._shape[1:], self._strides[1:])
        if type(key) is slice and self._shape:  # x[a:b]: a view along axis 0
            return self._sliced(<slice>key)
        if type(key) is not tuple:
            key = (key,)
        elif len(<tuple>key) == len(self._shape) and all([type(k) is int for k in <tuple>key]):
            return self._element(<tuple>key)  # x[i, j]: the scalar-loop fast path in n-d
        if _is_basic_key(key):
            return self._basic_index(key)
        return from_above("take_slots")(self, key)

    cdef object _element(self, tuple key):
        cdef Py_ssize_t axis, i, d, offset = self.first
        for axis in range(len(key)):
            i = key[axis]
            d = self._shape[axis]
            if i < -d or i >= d:
                raise IndexError(f"index {i} is out of bounds for axis {axis} with size {d}")
            if i < 0:
                i += d
            offset += i * <Py_ssize_t>self._strides[axis]
        return _var_at(self, offset)

    cdef object _sliced(self, slice key):
        cdef Py_ssize_t start, stop, step, n, stride = self._strides[0]
        cdef Py_ssize_t d = self._shape[0]
        start, stop, step = key.indices(d)
        n = len(range(start, stop, step))
        return _make_array(self.owner, self.ctape, self.generation, <index_t>(self.first + start * stride),
                           (n,) + self._shape[1:], (stride * step,) + self._strides[1:])

    def _basic_index(self, tuple key):
        cdef Py_ssize_t i, d
        n_index = sum(1 for k in key if k is not None and k is not Ellipsis)
        if n_index > len(self._shape):
            raise IndexError(f"too many indices for array: array is {len(self._shape)}-dimensional, "
                             f"but {n_index} were indexed")
        if sum(1 for k in key if k is Ellipsis) > 1:
            raise IndexError("an index can only have a single ellipsis ('...')")
        offset = self.first
        shape, strides = [], []
        axis = 0
        for k in key:
            if k is None:
                shape.append(1)
                strides.append(0)
            elif k is Ellipsis:
                for _ in range(len(self._shape) - n_index):
                    shape.append(self._shape[axis])
                    strides.append(self._strides[axis])
                    axis += 1
            elif type(k) is slice:
                start, stop, step = k.indices(self._shape[axis])
                shape.append(len(range(start, stop, step)))
                strides.append(self._strides[axis] * step)
                offset += start * self._strides[axis]
                axis += 1
            else:
                i = k.__index__()
                d = self._shape[axis]
                if i < -d or i >= d:
                    raise IndexError(f"index {i} is out of bounds for axis {axis} with size {d}")
                if i < 0:
                    i += d
                offset += i * self._strides[axis]
                axis += 1
        shape.extend(self._shape[axis:])
        strides.extend(self._strides[axis:])
        if not shape:
            return _var_at(self, offset)
        return _make_array(self.owner, self.ctape, self.generation, <index_t>offset, tuple(shape), tuple(strides))

    def _restrided(self, tuple shape, tuple strides, Py_ssize_t offset=0):
        """Another view of the same slots (no node)."""
        self._check()
        if not shape:
            return _var_at(self, self.first + offset)
        return _make_array(self.owner, self.ctape, self.generation, <index_t>(self.first + offset), shape, strides)

    def __setitem__(self, key, value):
        raise ConcretizationError(
            "VarArrays are immutable (their elements are tape nodes), so x[i] = v cannot record a derivative. "
            "Write x = x.at[i].set(v) (or .add(v), .multiply(v): JAX's functional update), or build the array "
            "with tapegrad.where / tapegrad.concatenate / tapegrad.stack")

    def __array__(self, dtype=None, copy=None):
        raise _concretization_error("a VarArray turned into a plain numpy array (np.asarray(x), np.array(x), or "
                                    "storing it in a numpy array); use va.value for the numbers")

    @property
    def at(self):
        """JAX's functional update: ``x.at[i].set(v)`` is x with x[i] replaced
        by v (a new VarArray: one gather entry); ``.add``, ``.multiply``,
        ``.divide``, ``.power``, ``.min``, ``.max`` combine instead, applying
        every occurrence of a repeated index (as numpy.add.at); ``.get()`` is x[i].

        >>> import numpy as np, tapegrad as tg
        >>> tg.grad(lambda x: x.at[0].set(x[1] ** 2).sum())(np.array([1.0, 3.0]))
        array([0., 7.])
        """
        self._check()
        return from_above("at")(self)

    def __float__(self):
        self._check()
        if self._size != 1:
            raise TypeError("only size-1 VarArrays can be converted to a Python float")
        _check_strict(self.owner, "float() of a VarArray while tapegrad differentiates f (directly, or through "
                                  "math.* or numpy.float64)")
        return float(self.value.reshape(-1)[0])

    def __int__(self):
        self._check()
        if self._size != 1:
            raise TypeError("only size-1 VarArrays can be converted to a Python int")
        return int(self.value.reshape(-1)[0])  # piecewise constant: a zero derivative is right

    def __index__(self):
        # numpy: only integer arrays are indices, and tape values are floats.
        self._check()
        raise _concretization_error("using a VarArray as an index (its values are floats)")

    def __format__(self, spec):
        return format(self.value, spec)  # formatting reads the values: no derivative is lost

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return from_above("array_ufunc")(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return from_above("array_function")(func, types, args, kwargs)

    def __bool__(self):
        _made(self)
        if self._size != 1:
            raise ValueError("The truth value of an array with more than one element is ambiguous. "
                             "Use a.any() or a.all()")
        return bool(self.value.reshape(-1)[0])

    __hash__ = None  # == is elementwise, as in numpy

    def __repr__(self):
        if self.generation != self.ctape.generation():
            _made(self)
            return f"VarArray(<stale: tape was reset>, shape={self._shape})"
        body = np.array2string(self.value, separator=", ", prefix="VarArray(")
        return f"VarArray({body}, shape={self._shape})"

    def __reduce__(self):
        raise TypeError("a VarArray cannot be pickled: it is a view of a live tape. Pickle va.value instead.")

    # Comparisons compare values and give bool ndarrays, as numpy's do; while
    # compile records, each element is kept as a guard (tapegrad/numpy/_guards.py).
    def __lt__(self, other):
        return from_above("compare")(cxx.COMPARE_LT, self, other)

    def __le__(self, other):
        return from_above("compare")(cxx.COMPARE_LE, self, other)

    def __gt__(self, other):
        return from_above("compare")(cxx.COMPARE_GT, self, other)

    def __ge__(self, other):
        return from_above("compare")(cxx.COMPARE_GE, self, other)

    def __eq__(self, other):
        return from_above("compare")(cxx.COMPARE_EQ, self, other)

    def __ne__(self, other):
        return from_above("compare")(cxx.COMPARE_NE, self, other)

    def __pos__(self):
        self._check()
        return self

    def __matmul__(self, other):
        return from_above("matmul")(self, other)

    def __rmatmul__(self, other):
        return from_above("matmul")(other, self)

    # numpy's array methods, from tapegrad.numpy
    def reshape(self, *shape, order="C"):
        return from_above("reshape")(self, shape[0] if len(shape) == 1 else shape, order=order)

    def ravel(self, order="C"):
        return from_above("ravel")(self, order=order)

    def flatten(self, order="C"):
        """As ravel: VarArrays are immutable, so a view serves as the copy."""
        return from_above("ravel")(self, order=order)

    def transpose(self, *axes):
        return from_above("transpose")(self, axes[0] if len(axes) == 1 else (axes or None))

    def swapaxes(self, axis1, axis2):
        return from_above("swapaxes")(self, axis1, axis2)

    def squeeze(self, axis=None):
        return from_above("squeeze")(self, axis)

    def sum(self, axis=None, keepdims=False):
        if axis is None and not keepdims and self._size:  # the common full reduction, without Python glue
            return record_reduce(self, 0, "sum")
        return from_above("sum")(self, axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return from_above("mean")(self, axis, keepdims=keepdims)

    def prod(self, axis=None, keepdims=False):
        if axis is None and not keepdims and self._size:  # the common full reduction, without Python glue
            return record_reduce(self, 0, "prod")
        return from_above("prod")(self, axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        if axis is None and not keepdims and self._size:  # the common full reduction, without Python glue
            return record_reduce(self, 0, "max")
        return from_above("max")(self, axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        if axis is None and not keepdims and self._size:  # the common full reduction, without Python glue
            return record_reduce(self, 0, "min")
        return from_above("min")(self, axis, keepdims=keepdims)

    def cumsum(self, axis=None):
        return from_above("cumsum")(self, axis)

    def dot(self, other):
        return from_above("dot")(self, other)

    def clip(self, a_min=None, a_max=None):
        return from_above("clip")(self, a_min, a_max)

    def round(self, decimals=0):
        """Round to `decimals` digits (derivative 0), as numpy's ndarray.round."""
        if decimals == 0:
            return _raise_unsupported(_unary("round", self), "round", (self,))
        scale = 10.0 ** decimals
        return _binary("divide", _unary("round", _binary("multiply", self, scale)), scale)

    # @ops.def: VarArray operators and methods


cdef object _values_of(object x):
    if type(x) is VarArray:
        return (<VarArray>x).value
    if type(x) is Var:
        return (<Var>x).value
    return x


def _new_vars(owner, values) -> VarArray:
    """Record one input node per element of the float64 ndarray `values`."""
    cdef Tape* tape = cpp_tape(owner)
    arr = np.asarray(values, dtype=np.float64, order="C")  # keeps a 0-d array 0-d
    cdef Py_ssize_t n = 0
    cdef const double* p = <const double*>_data(arr, &n)
    cdef index_t first = tape.size()
    if n > <Py_ssize_t>0xFFFFFFFF:
        raise OverflowError("tapegrad: more inputs than a tape can hold (2**32 - 1)")
    if n:
        first = tape.push_inputs(p, <index_t>n)
    shape = tuple(arr.shape)
    return _make_array(owner, tape, tape.generation(), first, shape, _c_strides(shape))


def _slots_of(VarArray a, owner):
    """The node indices of `a` (uint32 ndarray of its shape), after checking it is a live view of `owner`."""
    if a.owner is not owner:
        raise not_initialised(a) if a.owner is None else TapeMismatchError(_MISMATCH)
    return a.slots()


def common_tape(*xs):
    """The Python Tape that the Vars and VarArrays among xs live on (None if
    none does), after checking they are live and share one tape."""
    owner = None
    for x in xs:
        if type(x) is VarArray:
            if (<VarArray>x).generation != (<VarArray>x).ctape.generation():
                raise not_live((<VarArray>x).owner, x)
            o = (<VarArray>x).owner
        elif type(x) is Var:
            if (<Var>x).generation != (<Var>x).ctape.generation():
                raise not_live((<Var>x).owner, x)
            o = (<Var>x).owner
        else:
            continue
        if owner is None:
            owner = o
        elif o is not owner:
            raise TapeMismatchError(_MISMATCH)
    return owner


_var.install_methods(elementwise=elementwise)  # Var ops with array operands record here

__all__ = ["VarArray"]
