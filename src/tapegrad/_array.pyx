# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, embedsignature=True
# distutils: language = c++
"""VarArray, an n-d view over tape slots, and the recording of array entries.

One array operation is one call into C++ (cpp/include/tapegrad/arrays.hpp):
operands cross as (first slot, shape, strides) or as a numpy buffer, and no
Python loop ever walks their elements. Elementwise ops are first pending
expressions, recorded as one fused entry each chain (the fusion section). Elementwise ops are the hot path and
live here in full; reductions, products and copies are composed in _arrays.py
on the record_* primitives at the end of this file. VarArray's operators and
ufunc-named methods are generated from ops.def (the `# @ops.def` marker).
"""

cimport cython
from cpython.float cimport PyFloat_AS_DOUBLE
from cpython.buffer cimport PyBUF_C_CONTIGUOUS, PyBuffer_Release, PyObject_GetBuffer
from cpython.long cimport PyLong_AsDouble
from cpython.ref cimport PyObject
from cpython.exc cimport PyErr_CheckSignals
from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.string cimport memcpy
from libc.stdint cimport int64_t, uint32_t, uint64_t, uintptr_t

import numpy as np

from tapegrad.tape cimport Tape, index_t
from tapegrad._var cimport Var, not_initialised, not_live, unmade_tape
from tapegrad._var import (MASKED_ARRAY, ConcretizationError, StaleVarError, TapeMismatchError, _MISMATCH,
                           _STALE, _check_strict, _concretization_error)


cdef extern from "tapegrad/arrays.hpp" namespace "tapegrad" nogil:
    cdef cppclass Entry:
        index_t first
        index_t size


cdef extern from *:
    """
    #include "tapegrad/arrays.hpp"
    // Opcodes and reducers cross from Cython as ints; these wrappers cast them.
    static int tg_op_count() { return static_cast<int>(tapegrad::Op::count); }
    static const char* tg_op_name(int i) { return tapegrad::op_info[i].name; }
    static int tg_op_arity(int i) { return static_cast<int>(tapegrad::op_info[i].arity); }
    static tapegrad::Entry tg_begin_elementwise(tapegrad::Tape& t, int op, int nd, const int64_t* shape,
            tapegrad::index_t a, const int64_t* sa, tapegrad::index_t b, const int64_t* sb,
            double scalar, const double* cdata, const int64_t* cs) {
        return tapegrad::begin_elementwise(t, static_cast<tapegrad::Op>(op), nd, shape, a, sa, b, sb, scalar, cdata, cs);
    }
    static tapegrad::Entry tg_begin_reduce(tapegrad::Tape& t, int how, int nd, int nkept, const int64_t* shape,
            tapegrad::index_t a, const int64_t* sa, double scale) {
        return tapegrad::begin_reduce(t, static_cast<tapegrad::Reducer>(how), nd, nkept, shape, a, sa, scale);
    }
    static void tg_eval_elementwise(int op, int nd, const int64_t* shape, const double* a, const int64_t* sa,
            const double* b, const int64_t* sb, double* out) {
        tapegrad::eval_elementwise(static_cast<tapegrad::Op>(op), nd, shape, a, sa, b, sb, out);
    }
    """
    int tg_op_count()
    const char* tg_op_name(int)
    int tg_op_arity(int)
    Entry tg_begin_elementwise(Tape&, int, int, const int64_t*, index_t, const int64_t*, index_t,
                               const int64_t*, double, const double*, const int64_t*) except +
    Entry tg_begin_reduce(Tape&, int, int, int, const int64_t*, index_t, const int64_t*, double) except +
    void tg_eval_elementwise(int, int, const int64_t*, const double*, const int64_t*, const double*,
                             const int64_t*, double*) except +


cdef extern from "tapegrad/arrays.hpp" namespace "tapegrad" nogil:
    Entry begin_gather(Tape&, index_t, const int64_t*, const double*) except +
    Entry begin_matmul(Tape&, int64_t, int64_t, int64_t, index_t, int64_t, int64_t, const double*,
                       index_t, int64_t, int64_t, const double*) except +
    Entry begin_cumsum(Tape&, int, const int64_t*, index_t, const int64_t*) except +
    bint run_entry(Tape&, const Entry&) except +
    void commit_entry(Tape&, const Entry&) except +
    uint64_t entry_work(Tape&, const Entry&) except +


cdef extern from *:
    """
    #include "tapegrad/arrays.hpp"
    #include "tapegrad/python.hpp"
    // run_entry with Ctrl-C watched through _core's SIGINT hooks (python.hpp):
    // false when interrupted (the entry's values are then partial).
    static bool tg_run_entry_watched(tapegrad::Tape& t, const tapegrad::Entry& e,
                                     const tapegrad::python::SigintHooks& hooks) {
        const bool on = hooks.start();
        const tapegrad::Interrupt stop(*hooks.count);
        bool done;
        try {
            done = tapegrad::run_entry(t, e, on ? &stop : nullptr);
        } catch (...) {
            if (on) hooks.stop();
            throw;
        }
        if (on) hooks.stop();
        return done;
    }
    """
    ctypedef struct SigintHooks "tapegrad::python::SigintHooks":
        pass
    const char* sigint_hooks_name "tapegrad::python::sigint_hooks_name"
    bint tg_run_entry_watched(Tape&, const Entry&, const SigintHooks&) nogil except +


cdef extern from *:
    """
    #include "tapegrad/record_dense.hpp"
    // Dense-layer entries (record_dense.hpp); the activation crosses as an int.
    static tapegrad::Entry tg_begin_dense(tapegrad::Tape& t, int64_t M, int64_t K, int64_t N,
            tapegrad::index_t x, int64_t x0, int64_t x1, const double* X,
            tapegrad::index_t w, int64_t w0, int64_t w1, const double* W,
            int has_bias, tapegrad::index_t b, int64_t bs, const double* B, int act) {
        return tapegrad::begin_dense(t, M, K, N, {x, x0, x1, X}, {w, w0, w1, W}, has_bias != 0, {b, bs, 0, B},
                                     static_cast<tapegrad::activation::Kind>(act));
    }
    static void tg_set_dgemm(uintptr_t f) { tapegrad::blas::set_dgemm(reinterpret_cast<tapegrad::blas::dgemm_fn>(f)); }
    """
    Entry tg_begin_dense(Tape&, int64_t, int64_t, int64_t, index_t, int64_t, int64_t, const double*,
                         index_t, int64_t, int64_t, const double*, int, index_t, int64_t, const double*,
                         int) except +
    void tg_set_dgemm(uintptr_t)


cdef enum:
    MAX_DIMS = 32
    # Entries of this much work (element operations) compute without holding
    # the GIL (below, releasing it costs more than it frees).
    RELEASE_GIL_AT = 1 << 16
    # Entries of this much work (element operations, about a millisecond)
    # are watched for Ctrl-C: below, they end within a second anyway, and
    # watching costs two system calls.
    WATCH_FROM = 1 << 20

# _core's SIGINT watch (one handler for the whole package; python.hpp).
from tapegrad import _core
cdef const SigintHooks* _sigint = <const SigintHooks*>PyCapsule_GetPointer(_core._sigint_hooks, sigint_hooks_name)

# Arity as ops.hpp numbers it.
cdef enum:
    ARITY_UNARY = 1
    ARITY_BINARY = 2
    ARITY_VC = 3
    ARITY_CV = 4


# ---- op-table names to opcodes (read from the C++ table, not listed here) -----------

cdef dict _UNARY = {}   # name -> opcode
cdef dict _BINARY = {}  # name -> (opcode, opcode_vc, opcode_cv)


cdef _read_op_table():
    cdef int i, arity
    for i in range(tg_op_count()):
        name = tg_op_name(i).decode()
        arity = tg_op_arity(i)
        if arity == ARITY_UNARY:
            _UNARY[name] = i
        elif arity == ARITY_BINARY:
            _BINARY[name] = (i, i + 1, i + 2)  # ops.hpp: name, name_vc, name_cv


_read_op_table()
REDUCERS = {"sum": 0, "prod": 1, "max": 2, "min": 3, "logsumexp": 4, "norm": 5}  # entry.hpp's Reducer


# ---- operands ---------------------------------------------------------------------------

cdef enum Kind:
    K_UNKNOWN = 0  # not an operand tapegrad knows: the caller returns NotImplemented
    K_SLOTS = 1    # a Var or VarArray: slots of a tape
    K_SCALAR = 2   # a number
    K_ARRAY = 3    # a constant float64 array
    K_OBJECT = 4   # an object ndarray (it may hold Vars): numpy's object loops handle it


cdef struct Operand:
    int kind
    int nd
    Tape* tape
    uint32_t generation
    index_t first
    double scalar
    const double* data
    int64_t shape[MAX_DIMS]
    int64_t strides[MAX_DIMS]  # in slots, or in doubles for K_ARRAY


cdef const void* _data(object arr, Py_ssize_t* n) except? NULL:
    """The buffer of a C-contiguous ndarray (kept alive by the caller) and its
    element count; cheaper than a typed memoryview for one pointer."""
    cdef Py_buffer view
    PyObject_GetBuffer(arr, &view, PyBUF_C_CONTIGUOUS)
    n[0] = view.len // view.itemsize if view.itemsize else 0
    cdef const void* p = view.buf
    PyBuffer_Release(&view)  # the ndarray, not the view, owns the memory
    return p


cdef inline Tape* _tape_ptr(object owner) except NULL:
    return <Tape*><uintptr_t>owner._address


cdef int _classify(object x, Operand* o, list keep) except -1:
    """Describe operand x in *o; constant arrays are kept alive in `keep`."""
    cdef VarArray va
    cdef Var v
    cdef Py_ssize_t d, n, count = 0
    o.nd = 0
    o.data = NULL
    t = type(x)
    if t is VarArray:
        va = <VarArray>x
        va._check()
        o.kind, o.tape, o.generation, o.first = K_SLOTS, va.ctape, va.generation, va.first
        o.nd = len(va._shape)
        for d in range(o.nd):
            o.shape[d] = va._shape[d]
            o.strides[d] = va._strides[d]
        return 0
    if t is Var:
        v = <Var>x
        if v.generation != v.ctape.generation():
            raise not_live(v.owner, v)
        o.kind, o.tape, o.generation, o.first = K_SLOTS, v.ctape, v.generation, v.slot
        return 0
    if t is float:
        o.kind, o.scalar = K_SCALAR, PyFloat_AS_DOUBLE(x)
        return 0
    if t is int:
        o.kind, o.scalar = K_SCALAR, PyLong_AsDouble(x)
        return 0
    if isinstance(x, (np.ndarray, list, tuple, float, int, np.generic)):
        if isinstance(x, np.ma.MaskedArray):
            raise TypeError(MASKED_ARRAY)
        arr = np.asarray(x)
        kind = arr.dtype.kind
        if kind == "O":
            o.kind = K_OBJECT
            return 0
        if kind not in "fiub":
            raise TypeError(f"tapegrad ops take real numbers, Vars and arrays, not arrays of dtype {arr.dtype}"
                            + (" (tapegrad differentiates real-valued functions)" if kind == "c" else ""))
        if arr.ndim == 0:
            o.kind, o.scalar = K_SCALAR, float(arr)
            return 0
        if arr.ndim > MAX_DIMS:
            raise ValueError(f"tapegrad arrays have at most {MAX_DIMS} dimensions")
        arr = np.ascontiguousarray(arr, dtype=np.float64)
        keep.append(arr)
        o.kind, o.nd = K_ARRAY, arr.ndim
        n = 1
        for d in range(o.nd - 1, -1, -1):
            o.shape[d] = arr.shape[d]
            o.strides[d] = n
            n *= o.shape[d]
        if n:
            o.data = <const double*>_data(arr, &count)
        return 0
    if x is None or isinstance(x, (str, bytes, complex)):
        raise TypeError(f"tapegrad ops take real numbers, Vars and arrays, not {type(x).__name__}"
                        + (" (tapegrad differentiates real-valued functions)" if isinstance(x, complex) else ""))
    o.kind = K_UNKNOWN
    return 0


cdef int _broadcast(Operand* a, Operand* b, int64_t* shape) except -1:
    """numpy's broadcasting of a and b: writes the result shape, returns its ndim."""
    cdef int nd = a.nd if a.nd > b.nd else b.nd
    cdef int i
    cdef int64_t da, db
    for i in range(nd):
        da = a.shape[i - nd + a.nd] if i >= nd - a.nd else 1
        db = b.shape[i - nd + b.nd] if i >= nd - b.nd else 1
        if da == db or db == 1:
            shape[i] = da
        elif da == 1:
            shape[i] = db
        else:
            sa = tuple(a.shape[k] for k in range(a.nd))
            sb = tuple(b.shape[k] for k in range(b.nd))
            raise ValueError(f"operands could not be broadcast together with shapes {sa} {sb}")
    return nd


cdef void _align(Operand* o, int nd, int64_t* shape, int64_t* out) noexcept:
    """o's strides over the broadcast space: 0 along axes it is broadcast over."""
    cdef int i, j
    for i in range(nd):
        j = i - (nd - o.nd)
        out[i] = 0 if j < 0 or (o.shape[j] == 1 and shape[i] != 1) else o.strides[j]


cdef tuple _shape_tuple(int nd, int64_t* shape):
    return tuple([shape[i] for i in range(nd)])


cdef tuple _c_strides(tuple shape):
    cdef Py_ssize_t s = 1
    cdef list strides = []
    for d in reversed(shape):
        strides.append(s)
        s *= <Py_ssize_t>d
    strides.reverse()
    return tuple(strides)


cdef object _result(object owner, Tape* tape, index_t first, tuple shape):
    """The output of an entry: a Var for shape (), else a contiguous VarArray."""
    cdef Var r
    if not shape:
        r = Var.__new__(Var)
        r.ctape = tape
        r.owner = owner
        r.slot = first
        r.generation = tape.generation()
        return r
    return _make_array(owner, tape, tape.generation(), first, shape, _c_strides(shape))


cdef object _owner_of(object x):
    return (<VarArray>x).owner if type(x) is VarArray else (<Var>x).owner


cdef inline void _run(Tape* tape, const Entry& e) except *:
    cdef uint64_t work = entry_work(tape[0], e)
    if work < RELEASE_GIL_AT:
        run_entry(tape[0], e)
    else:
        _run_released(tape, e, work)
    commit_entry(tape[0], e)


cdef void _run_released(Tape* tape, const Entry& e, uint64_t work) except *:
    # Slots reserved and the storage lock held inside: no Python object is
    # touched. A long entry stops on Ctrl-C: Python's handler then runs
    # (KeyboardInterrupt leaves the slots reserved and unused), or, if it
    # does not raise, the entry runs again from the start.
    cdef bint done
    if work < WATCH_FROM:
        with nogil:
            run_entry(tape[0], e)
        return
    while True:
        with nogil:
            done = tg_run_entry_watched(tape[0], e, _sigint[0])
        if done:
            return
        PyErr_CheckSignals()


# ---- fusion: pending elementwise expressions (cpp/include/tapegrad/entries/fused.hpp) ----
#
# An elementwise op with a VarArray operand returns a PENDING VarArray: it
# keeps the op and its operands (pending arrays, VarArrays, Vars, numbers,
# copied float64 arrays) and records nothing. Anything that needs its slots
# (indexing, .value, views, non-elementwise ops, the gradient) materialises
# it through _check(): ONE fused entry evaluates the whole expression DAG in
# cache-sized chunks and stores only its values. A sum/mean of a pending array
# is one fused entry whose outputs are the sums: the expression is never stored.

cdef extern from *:
    """
    #include "tapegrad/record_fused.hpp"
    static tapegrad::Entry tg_begin_fused(tapegrad::Tape& t, int nd, const int64_t* shape, int nkept, int sum,
            double scale, int L, const int64_t* kind, const int64_t* first, const double* const* data,
            const int64_t* strides, int I, const int64_t* code) {
        return tapegrad::begin_fused(t, nd, shape, nkept, sum != 0, scale, L, kind, first, data, strides, I, code);
    }
    """
    Entry tg_begin_fused(Tape&, int, const int64_t*, int, int, double, int, const int64_t*, const int64_t*,
                         const double* const*, const int64_t*, int, const int64_t*) except +

cdef extern from "tapegrad/entries/fused.hpp":
    enum:
        FUSE_MAX_LEAVES "tapegrad::entries::fused::max_leaves"
        FUSE_MAX_INSTRUCTIONS "tapegrad::entries::fused::max_instructions"
        LEAF_SLOTS "tapegrad::entries::fused::slots"
        LEAF_CONSTANT "tapegrad::entries::fused::constant"

FUSED_LIMITS = (FUSE_MAX_LEAVES, FUSE_MAX_INSTRUCTIONS)  # a program's leaves and instructions at most


cdef struct Fusing:
    # while building a pending array: its tape and expression-tree size
    Tape* tape
    PyObject* owner  # borrowed: an operand holds it
    uint32_t generation
    int count
    int nleaves


cdef int _same_tape(Fusing* s, Tape* tape, object owner, uint32_t generation) except -1:
    if s.tape == NULL:
        s.tape, s.owner, s.generation = tape, <PyObject*>owner, generation
    elif s.tape != tape:
        raise TapeMismatchError(_MISMATCH)
    return 0


cdef object _fusable(object x, Fusing* s):
    """x as an operand of a pending array (counted into *s), or None when it
    cannot be one (the eager path then handles the op as before)."""
    cdef VarArray va
    cdef Var v
    t = type(x)
    if t is VarArray:
        va = <VarArray>x
        if va.generation != va.ctape.generation():
            raise not_live(va.owner, va)
        if va._size == 0:
            return None
        _same_tape(s, va.ctape, va.owner, va.generation)
        if va._lazy:
            s.count += va._count
            s.nleaves += va._nleaves
        else:
            s.nleaves += 1
        return x
    if t is Var:
        v = <Var>x
        if v.generation != v.ctape.generation():
            raise not_live(v.owner, v)
        _same_tape(s, v.ctape, v.owner, v.generation)
        s.nleaves += 1
        return x
    if t is float:  # numbers ride in their instruction (a _vc/_cv row): no leaf
        return x
    if t is int:
        return PyLong_AsDouble(x)
    if t is list or t is tuple:
        x = np.asarray(x)  # (a list holding Vars becomes an object array: not fusable)
        t = np.ndarray
    if t is np.ndarray:
        if x.dtype.kind not in "fiub" or x.ndim > MAX_DIMS or x.size == 0:
            return None
        s.nleaves += 1
        return np.array(x, dtype=np.float64, order="C")  # a copy: x may change before the entry is recorded
    if isinstance(x, float):  # np.float64
        return float(x)
    return None


cdef inline tuple _shape_of(object x):
    t = type(x)
    if t is VarArray:
        return (<VarArray>x)._shape
    if t is np.ndarray:
        return x.shape
    return ()


cdef tuple _broadcast_shapes(tuple sa, tuple sb):
    """numpy's broadcast of two shapes, with numpy's message."""
    cdef Py_ssize_t na = len(sa), nb = len(sb), nd = na if na > nb else nb, i
    out = []
    for i in range(nd):
        da = sa[i - nd + na] if i >= nd - na else 1
        db = sb[i - nd + nb] if i >= nd - nb else 1
        if da == db or db == 1:
            out.append(da)
        elif da == 1:
            out.append(db)
        else:
            raise ValueError(f"operands could not be broadcast together with shapes {sa} {sb}")
    return tuple(out)


cdef inline void _settle(object x) except *:
    if type(x) is VarArray and (<VarArray>x)._lazy:
        (<VarArray>x)._check()


cdef bint _fusing = True  # _set_fusion(False): every op records its own entry, as before fusion


def _set_fusion(bint on):
    """Turn fusion on or off for this process (tests and benchmarks compare
    the two); returns the previous setting."""
    global _fusing
    was = _fusing
    _fusing = on
    return was


def _is_pending(VarArray a):
    """True while a is a pending expression (not yet on the tape)."""
    return a._lazy


cdef object _lazy(int code, object a, object b, bint binary):
    """The pending result of op-table row `code` on a (and b), or None when
    the op is not one to defer (constants only, a scalar result, an empty
    array, operands of other kinds)."""
    cdef Fusing s
    cdef VarArray r
    cdef Py_ssize_t size = 1
    if not _fusing:
        return None
    s.tape = NULL
    s.count = 1
    s.nleaves = 0
    x = _fusable(a, &s)
    if x is None:
        return None
    y = None
    if binary:
        y = _fusable(b, &s)
        if y is None:
            return None
    if s.tape == NULL:
        return None
    shape = _shape_of(x)
    if binary:
        sy = _shape_of(y)
        if sy != shape:
            shape = _broadcast_shapes(shape, sy)
    if not shape:
        return None
    for d in shape:
        size *= <Py_ssize_t>d
    if size == 0:
        return None
    if s.count > FUSE_MAX_INSTRUCTIONS or s.nleaves > FUSE_MAX_LEAVES:
        # the program would be too large: put the operands on the tape first
        # (this also bounds t = t * t repeated, whose tree doubles each step)
        _settle(x)
        if binary:
            _settle(y)
        s.count, s.nleaves = 1, 1 + binary
    r = VarArray.__new__(VarArray)
    r.owner = <object>s.owner
    r.ctape = s.tape
    r.generation = s.generation
    r._shape = shape
    r._size = size
    r._lazy = True
    r._op = code
    r._a = x
    r._b = y
    r._count = s.count
    r._nleaves = s.nleaves
    return r


cdef struct Program:
    # a fused program being emitted (record_fused.hpp's begin_fused arguments)
    int nd
    int64_t shape[MAX_DIMS]
    int L
    int I
    int64_t kind[FUSE_MAX_LEAVES]
    int64_t first[FUSE_MAX_LEAVES]
    const double* data[FUSE_MAX_LEAVES]
    double scalars[FUSE_MAX_LEAVES]
    int64_t strides[FUSE_MAX_LEAVES * MAX_DIMS]  # leaf l: strides[l * nd : (l + 1) * nd]
    int64_t code[4 * FUSE_MAX_INSTRUCTIONS]      # op, a, b, bits of a number; a, b: leaf l, or FUSE_MAX_LEAVES + k


cdef int _leaf(Program* p, int kind, int64_t first, const double* data, tuple shape, tuple strides) except -1:
    """A leaf walking (shape, strides) broadcast over p's space; equal slot
    walks (x[:-1] written twice) share one leaf."""
    cdef int nd = p.nd, n = len(shape), i, j, l
    cdef int64_t* st
    if p.L == FUSE_MAX_LEAVES:
        raise RuntimeError("tapegrad: internal error: a fused program got too many leaves")
    l = p.L
    st = &p.strides[l * nd]
    for i in range(nd):
        j = i - (nd - n)
        st[i] = 0 if j < 0 or (shape[j] == 1 and p.shape[i] != 1) else strides[j]
    p.kind[l], p.first[l], p.data[l] = kind, first, data
    if kind == LEAF_SLOTS:
        for j in range(l):
            if p.kind[j] == LEAF_SLOTS and p.first[j] == first:
                for i in range(nd):
                    if p.strides[j * nd + i] != st[i]:
                        break
                else:
                    return j
    p.L += 1
    return l


cdef int _emit(object x, Program* p, dict memo) except -1:
    """Emit x's expression into p; returns its register (see Program.code)."""
    cdef VarArray va
    cdef Var v
    cdef int ra, rb, k, op
    cdef double number = 0.0
    cdef Py_ssize_t count = 0
    t = type(x)
    if t is VarArray:
        va = <VarArray>x
        if va._lazy:
            r = memo.get(id(va))  # a shared subexpression is computed once per program
            if r is not None:
                return r
            op = va._op
            if type(va._b) is float:  # x op number: the row's _vc variant (ops.hpp: name + 1)
                op, number = op + 1, PyFloat_AS_DOUBLE(va._b)
                ra = rb = _emit(va._a, p, memo)
            elif type(va._a) is float:  # number op x: the _cv variant (name + 2) reads x as its register
                op, number = op + 2, PyFloat_AS_DOUBLE(va._a)
                ra = rb = _emit(va._b, p, memo)
            else:
                ra = _emit(va._a, p, memo)
                rb = _emit(va._b, p, memo) if va._b is not None else ra
            if p.I == FUSE_MAX_INSTRUCTIONS:
                raise RuntimeError("tapegrad: internal error: a fused program got too many instructions")
            k = p.I
            p.code[4 * k], p.code[4 * k + 1], p.code[4 * k + 2] = op, ra, rb
            memcpy(&p.code[4 * k + 3], &number, sizeof(double))
            p.I += 1
            memo[id(va)] = FUSE_MAX_LEAVES + k
            return FUSE_MAX_LEAVES + k
        va._check()
        return _leaf(p, LEAF_SLOTS, va.first, NULL, va._shape, va._strides)
    if t is Var:
        v = <Var>x
        if v.generation != v.ctape.generation():
            raise not_live(v.owner, v)
        return _leaf(p, LEAF_SLOTS, v.slot, NULL, (), ())
    if t is float:
        p.scalars[p.L] = PyFloat_AS_DOUBLE(x)
        return _leaf(p, LEAF_CONSTANT, 0, &p.scalars[p.L], (), ())
    shape = x.shape  # a float64 C-contiguous copy (see _fusable), kept alive by the pending array
    return _leaf(p, LEAF_CONSTANT, 0, <const double*>_data(x, &count), shape, _c_strides(shape))


cdef Entry _record_fused(VarArray root, int nkept, bint summed, double scale, tuple order=None) except *:
    """Record the pending root as one fused entry: its values, or (summed)
    its sums over the trailing axes from nkept on, times scale. `order`
    permutes the axes first (as a transpose would: the summed ones last)."""
    cdef Program p
    cdef int k, w, reg, l
    cdef Entry e
    cdef int64_t moved[MAX_DIMS]
    p.nd = len(root._shape)
    for k in range(p.nd):
        p.shape[k] = root._shape[k]
    p.L = 0
    p.I = 0
    _emit(root, &p, {})
    for k in range(4 * p.I):  # instruction registers come after the leaves
        if k % 4 == 1 or k % 4 == 2:
            reg = <int>p.code[k]
            if reg >= FUSE_MAX_LEAVES:
                p.code[k] = reg - FUSE_MAX_LEAVES + p.L
    if order is not None:  # the space's axes and every leaf's strides, permuted alike
        for l in range(-1, p.L):
            for k in range(p.nd):
                moved[k] = p.shape[<int>order[k]] if l < 0 else p.strides[l * p.nd + <int>order[k]]
            for k in range(p.nd):
                if l < 0:
                    p.shape[k] = moved[k]
                else:
                    p.strides[l * p.nd + k] = moved[k]
    e = tg_begin_fused(root.ctape[0], p.nd, p.shape, nkept, summed, scale, p.L, p.kind, p.first, p.data, p.strides,
                       p.I, p.code)
    _run(root.ctape, e)
    return e


cdef int _materialize(VarArray r) except -1:
    """Put a pending array on the tape: one fused entry, its values contiguous."""
    cdef Entry e = _record_fused(r, len(r._shape), False, 1.0)
    r.first = e.first
    r._strides = _c_strides(r._shape)
    r._lazy = False
    r._a = None  # its operands may go now
    r._b = None
    r._count = 0
    r._nleaves = 0
    return 0


# ---- elementwise ops ---------------------------------------------------------------------

cdef object _object_loop(str name, tuple args):
    """An op on numpy object arrays (which may hold Vars): numpy's object loop
    calls tapegrad.<name> on every element, as it calls methods for Vars."""
    import tapegrad
    fn = getattr(tapegrad, name)
    objs = [_to_objects(x) if type(x) is VarArray else x for x in args]
    return np.frompyfunc(fn, len(args), 1)(*objs)


cdef object _evaluate(int code, int nd, int64_t* shape, Operand* a, Operand* b):
    """An op-table row on constants only: the values, as numpy would give them."""
    cdef int64_t sa[MAX_DIMS]
    cdef int64_t sb[MAX_DIMS]
    cdef double[::1] flat
    cdef const double* pa = a.data
    cdef const double* pb = NULL
    if a.kind == K_SCALAR:
        pa = &a.scalar
    _align(a, nd, shape, sa)
    if b != NULL:
        pb = b.data
        if b.kind == K_SCALAR:
            pb = &b.scalar
        _align(b, nd, shape, sb)
    out = np.empty(_shape_tuple(nd, shape))
    if out.size == 0:
        return out
    flat = out.reshape(-1)
    tg_eval_elementwise(code, nd, shape, pa, sa, pb, sb, &flat[0])
    return float(out) if nd == 0 else out


cdef object _unary(str name, object x):
    """tapegrad.<name>(x) for an array-like x: one elementwise entry."""
    cdef Operand o
    cdef int64_t shape[MAX_DIMS]
    cdef int64_t sa[MAX_DIMS]
    cdef int code = _UNARY[name]
    cdef int i
    cdef Entry e
    pending = _lazy(code, x, None, False)
    if pending is not None:
        return pending
    keep = []
    _classify(x, &o, keep)
    if o.kind == K_UNKNOWN:
        return NotImplemented
    if o.kind == K_OBJECT:
        return _object_loop(name, (x,))
    for i in range(o.nd):
        shape[i] = o.shape[i]
    if o.kind != K_SLOTS:
        return _evaluate(code, o.nd, shape, &o, NULL)
    _align(&o, o.nd, shape, sa)
    e = tg_begin_elementwise(o.tape[0], code, o.nd, shape, o.first, sa, 0, sa, 0.0, NULL, NULL)
    _run(o.tape, e)
    return _result(_owner_of(x), o.tape, e.first, _shape_tuple(o.nd, shape))


cdef object _binary(str name, object a, object b):
    """tapegrad.<name>(a, b) with numpy broadcasting: one elementwise entry."""
    cdef Operand oa, ob
    cdef Operand* var
    cdef Operand* cst
    cdef int64_t shape[MAX_DIMS]
    cdef int64_t s1[MAX_DIMS]
    cdef int64_t s2[MAX_DIMS]
    cdef int nd, code
    cdef Entry e
    if name == "power" and (type(b) is float or type(b) is int) and b == 2:
        pending = _lazy(_UNARY["square"], a, None, False)  # as below: x ** 2 is square
    else:
        pending = _lazy(_BINARY[name][0], a, b, True)
    if pending is not None:
        return pending
    keep = []
    _classify(a, &oa, keep)
    _classify(b, &ob, keep)
    if oa.kind == K_UNKNOWN or ob.kind == K_UNKNOWN:
        return NotImplemented
    if oa.kind == K_OBJECT or ob.kind == K_OBJECT:
        return _object_loop(name, (a, b))
    if name == "power" and ob.kind == K_SCALAR and ob.scalar == 2.0 and oa.kind == K_SLOTS:
        return _unary("square", a)  # x ** 2 records square: same value and partial, and no pow branch per element
    codes = _BINARY[name]
    nd = _broadcast(&oa, &ob, shape)
    if oa.kind == K_SLOTS and ob.kind == K_SLOTS:
        if oa.tape != ob.tape:
            raise TapeMismatchError(_MISMATCH)
        _align(&oa, nd, shape, s1)
        _align(&ob, nd, shape, s2)
        e = tg_begin_elementwise(oa.tape[0], codes[0], nd, shape, oa.first, s1, ob.first, s2, 0.0, NULL, NULL)
        _run(oa.tape, e)
        return _result(_owner_of(a), oa.tape, e.first, _shape_tuple(nd, shape))
    if oa.kind == K_SLOTS:
        var, cst, code, owner = &oa, &ob, codes[1], _owner_of(a)
    elif ob.kind == K_SLOTS:
        var, cst, code, owner = &ob, &oa, codes[2], _owner_of(b)
    else:
        return _evaluate(codes[0], nd, shape, &oa, &ob)
    _align(var, nd, shape, s1)
    _align(cst, nd, shape, s2)
    e = tg_begin_elementwise(var.tape[0], code, nd, shape, var.first, s1, 0, s1, cst.scalar,
                             cst.data if cst.kind == K_ARRAY else NULL, s2)
    _run(var.tape, e)
    return _result(owner, var.tape, e.first, _shape_tuple(nd, shape))


def elementwise(str name, tuple args):
    """Apply the op-table row `name` elementwise to args (one or two operands:
    VarArray, Var, ndarray, list, number) with numpy broadcasting. Returns
    NotImplemented for operands it does not know."""
    if len(args) == 1 and name in _UNARY:
        return _unary(name, args[0])
    if len(args) == 2 and name in _BINARY:
        return _binary(name, args[0], args[1])
    raise TypeError(f"tapegrad.{name} takes {1 if name in _UNARY else 2} operand(s), got {len(args)}")


cdef object _raise_unsupported(object result, str name, tuple args):
    if result is NotImplemented:
        types = ", ".join(type(a).__name__ for a in args)
        raise TypeError(f"tapegrad.{name} does not support ({types}): it takes numbers, Vars and arrays")
    return result


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
        if self._lazy:
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
        from tapegrad._arrays import take_slots
        return take_slots(self, key)

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
        from tapegrad._at import AtIndexer  # the layer above, as the array functions are
        self._check()
        return AtIndexer(self)

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
        from tapegrad._numpy_interop import array_ufunc
        return array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        from tapegrad._numpy_interop import array_function
        return array_function(func, types, args, kwargs)

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
    # compile records, each element is kept as a guard (tapegrad/_guards.py).
    def __lt__(self, other):
        g = _guards()
        return g.compare(g.LESS, self, other)

    def __le__(self, other):
        g = _guards()
        return g.compare(g.LESS_EQUAL, self, other)

    def __gt__(self, other):
        g = _guards()
        return g.compare(g.GREATER, self, other)

    def __ge__(self, other):
        g = _guards()
        return g.compare(g.GREATER_EQUAL, self, other)

    def __eq__(self, other):
        g = _guards()
        return g.compare(g.EQUAL, self, other)

    def __ne__(self, other):
        g = _guards()
        return g.compare(g.NOT_EQUAL, self, other)

    def __pos__(self):
        self._check()
        return self

    def __matmul__(self, other):
        from tapegrad._arrays import matmul
        return matmul(self, other)

    def __rmatmul__(self, other):
        from tapegrad._arrays import matmul
        return matmul(other, self)

    # numpy's array methods, in tapegrad/_arrays.py
    def reshape(self, *shape, order="C"):
        from tapegrad._arrays import reshape
        return reshape(self, shape[0] if len(shape) == 1 else shape, order=order)

    def ravel(self, order="C"):
        from tapegrad._arrays import ravel
        return ravel(self, order=order)

    def flatten(self, order="C"):
        """As ravel: VarArrays are immutable, so a view serves as the copy."""
        from tapegrad._arrays import ravel
        return ravel(self, order=order)

    def transpose(self, *axes):
        from tapegrad._arrays import transpose
        return transpose(self, axes[0] if len(axes) == 1 else (axes or None))

    def swapaxes(self, axis1, axis2):
        from tapegrad._arrays import swapaxes
        return swapaxes(self, axis1, axis2)

    def squeeze(self, axis=None):
        from tapegrad._arrays import squeeze
        return squeeze(self, axis)

    def sum(self, axis=None, keepdims=False):
        if axis is None and not keepdims and self._size:  # the common full reduction, without Python glue
            return record_reduce(self, 0, "sum")
        from tapegrad._arrays import sum
        return sum(self, axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        from tapegrad._arrays import mean
        return mean(self, axis, keepdims=keepdims)

    def prod(self, axis=None, keepdims=False):
        if axis is None and not keepdims and self._size:  # the common full reduction, without Python glue
            return record_reduce(self, 0, "prod")
        from tapegrad._arrays import prod
        return prod(self, axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        if axis is None and not keepdims and self._size:  # the common full reduction, without Python glue
            return record_reduce(self, 0, "max")
        from tapegrad._arrays import max
        return max(self, axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        if axis is None and not keepdims and self._size:  # the common full reduction, without Python glue
            return record_reduce(self, 0, "min")
        from tapegrad._arrays import min
        return min(self, axis, keepdims=keepdims)

    def cumsum(self, axis=None):
        from tapegrad._arrays import cumsum
        return cumsum(self, axis)

    def dot(self, other):
        from tapegrad._arrays import dot
        return dot(self, other)

    def clip(self, a_min=None, a_max=None):
        from tapegrad._arrays import clip
        return clip(self, a_min, a_max)

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


# ---- recording primitives for _arrays.py ------------------------------------------------------

def _new_vars(owner, values) -> VarArray:
    """Record one input node per element of the float64 ndarray `values`."""
    cdef Tape* tape = _tape_ptr(owner)
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


def _guards():
    from tapegrad import _guards as g  # imported late: it imports this module
    return g


def tape_of(*xs):
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


def record_reduce(VarArray x, int nkept, str how, double scale=1.0, tuple order=None):
    """Reduce x over its trailing ndim - nkept axes (transpose it first so that
    they come last, or give the transposition as `order`). Returns the result:
    a Var, or a VarArray of the kept shape."""
    cdef int64_t shape[MAX_DIMS]
    cdef int64_t strides[MAX_DIMS]
    cdef int nd = len(x._shape), d
    cdef Entry e
    if order is not None and sorted(order) != list(range(nd)):
        raise ValueError(f"record_reduce: {order} is not an order of {nd} axes")
    if x._lazy and how == "sum":  # fused: the pending expression is summed in the same entry, never stored
        if x.generation != x.ctape.generation():
            raise not_live(x.owner, x)
        e = _record_fused(x, nkept, True, scale, order)
        return _result(x.owner, x.ctape, e.first, tuple([x._shape[order[d] if order else d] for d in range(nkept)]))
    if order is not None:
        x = x.transpose(order)
        nd = len(x._shape)
    x._check()
    for d in range(nd):
        shape[d] = x._shape[d]
        strides[d] = x._strides[d]
    e = tg_begin_reduce(x.ctape[0], REDUCERS[how], nd, nkept, shape, x.first, strides, scale)
    _run(x.ctape, e)
    return _result(x.owner, x.ctape, e.first, x._shape[:nkept])


def record_gather(owner, src, consts, tuple shape):
    """out[j] = slot src[j] of owner's tape, or consts[j] where src[j] is 0 (a
    sink: "a constant here"); src and consts have the shape `shape`."""
    cdef Tape* tape = _tape_ptr(owner)
    src = np.ascontiguousarray(src, dtype=np.int64)
    consts = np.ascontiguousarray(consts, dtype=np.float64)
    cdef Py_ssize_t n = 0, m = 0
    cdef const int64_t* s = <const int64_t*>_data(src, &n)
    cdef const double* c = <const double*>_data(consts, &m)
    cdef Entry e
    if n != m:
        raise ValueError("record_gather: src and consts differ in size")
    if n == 0:
        return _result(owner, tape, tape.size(), shape)
    e = begin_gather(tape[0], <index_t>n, s, c)
    _run(tape, e)
    return _result(owner, tape, e.first, shape)


cdef int _matrix(object m, Operand* o, list keep) except -1:
    _classify(m, o, keep)
    if o.nd != 2 or o.kind not in (K_SLOTS, K_ARRAY):
        raise TypeError("record_matmul takes 2-D VarArrays or float arrays")
    return 0


def record_matmul(a, b):
    """(M x K) @ (K x N) for 2-D operands, one a VarArray, the other a
    VarArray or constant array. Returns the (M, N) result."""
    cdef Operand oa, ob
    cdef Entry e
    cdef Tape* tape
    keep = []
    _matrix(a, &oa, keep)
    _matrix(b, &ob, keep)
    owner = tape_of(a, b)
    if owner is None:
        raise TypeError("record_matmul needs a VarArray operand")
    tape = oa.tape if oa.kind == K_SLOTS else ob.tape
    e = begin_matmul(tape[0], oa.shape[0], oa.shape[1], ob.shape[1],
                     oa.first if oa.kind == K_SLOTS else 0, oa.strides[0], oa.strides[1],
                     oa.data if oa.kind == K_ARRAY else NULL,
                     ob.first if ob.kind == K_SLOTS else 0, ob.strides[0], ob.strides[1],
                     ob.data if ob.kind == K_ARRAY else NULL)
    _run(tape, e)
    return _result(owner, tape, e.first, (oa.shape[0], ob.shape[1]))


def record_dense(x, w, b, int activation):
    """act(x @ w + b) as one dense-layer entry (BLAS forward and backward):
    x (M, K) and w (K, N) are VarArrays or float arrays, not both arrays; b is
    None or an (N,) VarArray or float array; `activation` indexes
    _core.dense_activations. Shapes are checked by the caller (tapegrad.nn)."""
    cdef Operand ox, ow, ob
    cdef Entry e
    cdef Tape* tape
    cdef bint has_bias = b is not None
    keep = []
    _classify(x, &ox, keep)
    _classify(w, &ow, keep)
    if ox.nd != 2 or ow.nd != 2 or ox.kind not in (K_SLOTS, K_ARRAY) or ow.kind not in (K_SLOTS, K_ARRAY):
        raise TypeError("record_dense takes 2-D VarArrays or float arrays for x and w")
    ob.kind = K_ARRAY
    ob.first = 0
    ob.data = NULL
    ob.strides[0] = 0
    if has_bias:
        _classify(b, &ob, keep)
        if ob.nd != 1 or ob.kind not in (K_SLOTS, K_ARRAY):
            raise TypeError("record_dense takes a 1-D VarArray, float array or None for b")
    owner = tape_of(x, w, b)
    if owner is None:
        raise TypeError("record_dense needs a VarArray operand")
    tape = _tape_ptr(owner)
    e = tg_begin_dense(tape[0], ox.shape[0], ox.shape[1], ow.shape[1],
                       ox.first if ox.kind == K_SLOTS else 0, ox.strides[0], ox.strides[1],
                       ox.data if ox.kind == K_ARRAY else NULL,
                       ow.first if ow.kind == K_SLOTS else 0, ow.strides[0], ow.strides[1],
                       ow.data if ow.kind == K_ARRAY else NULL,
                       has_bias, ob.first if ob.kind == K_SLOTS else 0, ob.strides[0],
                       ob.data if has_bias and ob.kind == K_ARRAY else NULL, activation)
    _run_released(tape, e, entry_work(tape[0], e))  # BLAS products: always without the GIL
    commit_entry(tape[0], e)
    return _result(owner, tape, e.first, (ox.shape[0], ow.shape[1]))


def _set_dgemm(uintptr_t address):
    """Use the CBLAS dgemm at `address` in this module's kernels (tapegrad._blas does this)."""
    tg_set_dgemm(address)


def var_view(Var v, tuple shape):
    """A VarArray of `shape` (one element) viewing the slot of v."""
    cdef VarArray a = _make_array(v.owner, v.ctape, v.generation, v.slot, shape, tuple([0] * len(shape)))
    if a._size != 1:
        raise ValueError(f"cannot view a scalar as shape {shape}")
    return a


def to_objects(VarArray a):
    """An object ndarray of a's elements as Vars."""
    return _to_objects(a)


def record_cumsum(VarArray x):
    """Running sums of x along its last axis; the result has x's shape."""
    cdef int64_t shape[MAX_DIMS]
    cdef int64_t strides[MAX_DIMS]
    cdef int nd = len(x._shape), d
    cdef Entry e
    x._check()
    for d in range(nd):
        shape[d] = x._shape[d]
        strides[d] = x._strides[d]
    e = begin_cumsum(x.ctape[0], nd, shape, x.first, strides)
    _run(x.ctape, e)
    return _result(x.owner, x.ctape, e.first, x._shape)


__all__ = ["VarArray"]
