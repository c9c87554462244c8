# Cython declarations of tapegrad's C++ tape (cpp/include/tapegrad/tape.hpp).
# `cimport tapegrad.tape` from another Cython extension to record on a tape at C
# speed; the record_* functions of every op are in tapegrad/_ops.pxi's extern block.
from libc.stdint cimport uint8_t, uint32_t, uint64_t

cdef extern from "tapegrad/tape.hpp" namespace "tapegrad" nogil:
    ctypedef uint32_t index_t

    # Comparisons made while recording (tape.hpp): replay re-checks them.
    cdef enum class Compare(uint8_t):
        lt
        le
        gt
        ge
        eq
        ne
        escape

    cdef cppclass Tape:
        Tape(uint64_t limit) except +
        index_t size()
        index_t limit()
        uint32_t generation()
        double value(index_t)
        const double* values()
        index_t push_input(double) except +
        index_t push_inputs(const double*, index_t) except +
        void reset() except +
        void sweep(index_t out, double* adjoint)
        size_t nbytes()
        void record_comparison(Compare kind, index_t a, index_t b, double constant,
                               bint b_is_constant, bint outcome) except +
        bint record_sites

    bint compare(Compare kind, double a, double b)
