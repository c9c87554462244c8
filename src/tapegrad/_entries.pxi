# Entry recording (included by _array.pyx): the C++ shims, running an entry
# (without the GIL when it is long, watched for Ctrl-C when longer), the
# elementwise ops and the record_* primitives that tapegrad.numpy composes.

cdef extern from "tapegrad/arrays.hpp" namespace "tapegrad" nogil:
    cdef cppclass Entry:
        index_t first
        index_t size


cdef extern from *:
    """
    #include "tapegrad/arrays.hpp"
    // Opcodes and reducers cross from Cython as ints; these wrappers cast them.
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

# _core's SIGINT watch (one handler for the whole package; python.hpp).
cdef const SigintHooks* _sigint = <const SigintHooks*>PyCapsule_GetPointer(_core._sigint_hooks, sigint_hooks_name)


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


# ---- elementwise ops ----------------------------------------------------------------------

cdef object _object_loop(str name, tuple args):
    """An op on numpy object arrays (which may hold Vars): numpy's object loop
    calls tapegrad.<name> on every element, as it calls methods for Vars."""
    fn = getattr(_var, name)
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
    pending = _defer(code, x, None, False)
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
        pending = _defer(_UNARY["square"], a, None, False)  # as below: x ** 2 is square
    else:
        pending = _defer(_BINARY[name][0], a, b, True)
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


# ---- the other entry kinds, for tapegrad.numpy -----------------------------------------------

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
    if x._pending and how == "sum":  # fused: the pending expression is summed in the same entry, never stored
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
    cdef Tape* tape = cpp_tape(owner)
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
    owner = common_tape(a, b)
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
    owner = common_tape(x, w, b)
    if owner is None:
        raise TypeError("record_dense needs a VarArray operand")
    tape = cpp_tape(owner)
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
