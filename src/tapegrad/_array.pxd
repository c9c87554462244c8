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

    cdef int _check(self) except -1
