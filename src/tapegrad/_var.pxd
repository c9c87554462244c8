# The scalar front end's C-level layout, for other Cython extensions.
from tapegrad.tape cimport Tape, index_t
from libc.stdint cimport uint32_t


cdef class Var:
    # The C++ tape this value lives on; valid while `owner` (the Python Tape
    # that owns it) is alive, which this reference guarantees.
    cdef Tape* ctape
    cdef object owner
    cdef index_t slot
    # The tape's generation when this Var was made: a reset() bumps it, which
    # turns every older Var stale.
    cdef uint32_t generation
