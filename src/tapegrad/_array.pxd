# VarArray's C-level layout, for other Cython extensions.
from tapegrad.tape cimport Tape, index_t
from libc.stdint cimport uint32_t


cdef class VarArray:
    # The C++ tape and the Python Tape that owns it (kept alive by this reference).
    cdef Tape* ctape
    cdef object owner
    cdef uint32_t generation  # the tape's generation when this view was made
    cdef index_t first        # slot of element (0, ..., 0)
    cdef tuple _shape
    cdef tuple _strides       # in slots, one per axis (may be negative or 0)
    cdef Py_ssize_t _size
    # Pending (fusion): an elementwise result not yet on the tape. It holds
    # op-table row _op over operands _a, _b (pending or not); first and
    # _strides are set when it is materialised (_check does that).
    cdef bint _pending
    cdef int _op
    cdef object _a
    cdef object _b
    cdef int _count    # instructions of its expression tree (shared parts counted each time)
    cdef int _nleaves  # leaves of that tree

    cdef int _check(self) except -1
    cdef object _sliced(self, slice key)
    cdef object _element(self, tuple key)
