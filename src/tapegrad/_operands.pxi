# Operands of array entries (included by _array.pyx): what a Python operand
# is (slots of a tape, a number, a constant array, an object array, or
# unknown), numpy's broadcasting of two of them, and the result of an entry.

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


cdef int _broadcast_dims(int na, const int64_t* sa, int nb, const int64_t* sb, int64_t* shape) except -1:
    """numpy's broadcasting of two shapes (na and nb axes): writes the result
    shape, returns its ndim; numpy's message when they do not broadcast."""
    cdef int nd = na if na > nb else nb
    cdef int i
    cdef int64_t da, db
    for i in range(nd):
        da = sa[i - nd + na] if i >= nd - na else 1
        db = sb[i - nd + nb] if i >= nd - nb else 1
        if da == db or db == 1:
            shape[i] = da
        elif da == 1:
            shape[i] = db
        else:
            raise ValueError("operands could not be broadcast together with shapes "
                             f"{_shape_tuple(na, <int64_t*>sa)} {_shape_tuple(nb, <int64_t*>sb)}")
    return nd


cdef inline int _broadcast(Operand* a, Operand* b, int64_t* shape) except -1:
    return _broadcast_dims(a.nd, a.shape, b.nd, b.shape, shape)


cdef tuple _broadcast_shapes(tuple sa, tuple sb):
    """The broadcast of two shape tuples (fusion's pending results)."""
    cdef int64_t a[MAX_DIMS]
    cdef int64_t b[MAX_DIMS]
    cdef int64_t out[MAX_DIMS]
    cdef int i
    for i in range(len(sa)):
        a[i] = sa[i]
    for i in range(len(sb)):
        b[i] = sb[i]
    return _shape_tuple(_broadcast_dims(len(sa), a, len(sb), b, out), out)


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


cdef inline tuple _shape_of(object x):
    t = type(x)
    if t is VarArray:
        return (<VarArray>x)._shape
    if t is np.ndarray:
        return x.shape
    return ()
