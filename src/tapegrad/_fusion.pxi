# Fusion (included by _array.pyx): pending elementwise expressions
# (cpp/include/tapegrad/entries/fused.hpp).
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
        if va._pending:
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


cdef inline void _settle(object x) except *:
    if type(x) is VarArray and (<VarArray>x)._pending:
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
    return a._pending


cdef object _defer(int code, object a, object b, bint binary):
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
    r._pending = True
    r._op = code
    r._a = x
    r._b = y
    r._count = s.count
    r._nleaves = s.nleaves
    return r


cdef struct FusedProgram:
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


cdef int _leaf(FusedProgram* p, int kind, int64_t first, const double* data, tuple shape, tuple strides) except -1:
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


cdef int _emit(object x, FusedProgram* p, dict memo) except -1:
    """Emit x's expression into p; returns its register (see FusedProgram.code)."""
    cdef VarArray va
    cdef Var v
    cdef int ra, rb, k, op
    cdef double number = 0.0
    cdef Py_ssize_t count = 0
    t = type(x)
    if t is VarArray:
        va = <VarArray>x
        if va._pending:
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
    cdef FusedProgram p
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
    r._pending = False
    r._a = None  # its operands may go now
    r._b = None
    r._count = 0
    r._nleaves = 0
    return 0
