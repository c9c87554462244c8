# Cython declarations of tapegrad's C++ tape (cpp/include/tapegrad/tape.hpp).
#
# Another Cython extension records on a tape at C speed with these, the
# recorders of every op in tapegrad/record.pxd (generated from ops.def) and the
# Var layout in tapegrad/_var.pxd:
#
#     from tapegrad.tape cimport Tape, index_t, tape_of
#     from tapegrad.record cimport record_sin, record_multiply
#
#     cdef Tape* t = tape_of(py_tape)          # a tapegrad.Tape made in Python
#     cdef index_t x = t.push_input(0.5)
#     cdef index_t y = record_multiply(t[0], x, record_sin(t[0], x))
#
# Compile with the headers of the installed package on the include path
# (tapegrad.get_include(), or the CMake target tapegrad::tape) as C++17.
# Threads: a tape records in one thread at a time (a push from a second thread
# raises tapegrad.TapeThreadError); see "Embedding tapegrad" in the README.
from cpython.pycapsule cimport PyCapsule_CheckExact, PyCapsule_GetName, PyCapsule_GetPointer, PyCapsule_IsValid
from libc.stdint cimport uint8_t, uint32_t, uint64_t

cdef extern from "tapegrad/python.hpp" namespace "tapegrad::python":
    # The exception handler of every recorder: C++ errors become tapegrad's
    # Python errors (TapeThreadError, OverflowError, MemoryError, ...).
    void translate_exception()
    const char* tape_capsule_name()

cdef extern from "tapegrad/tape.hpp" namespace "tapegrad" nogil:
    ctypedef uint32_t index_t
    # Slots 0 .. first_node - 1 are sinks; the first recorded node is first_node.
    const index_t first_node

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
        Tape(uint64_t limit) except +translate_exception
        index_t size()
        index_t limit()
        uint32_t generation()
        double value(index_t)
        const double* values()
        index_t push_input(double) except +translate_exception
        index_t push_inputs(const double*, index_t) except +translate_exception
        void reset() except +translate_exception
        # Reverse sweep: `adjoint` holds size >= out + 1 doubles, zero except the
        # seeds (adjoint[out] = 1 for a gradient); afterwards adjoint[i] is the
        # derivative of the seeded output with respect to node i.
        void sweep(index_t out, double* adjoint) except +translate_exception
        size_t nbytes()
        bint all_partials_finite()
        # Let another thread record on this tape next, keeping its nodes.
        void release_thread()
        bint has_recording_thread()

        void record_comparison(Compare kind, index_t a, index_t b, double constant,
                               bint b_is_constant, bint outcome) except +translate_exception
        bint record_sites

    bint compare(Compare kind, double a, double b)


cdef inline Tape* tape_of(object tape) except NULL:
    """The C++ tape of `tape`, a tapegrad.Tape made in Python.

    The pointer is valid while `tape` is alive: keep a reference to it. Raises
    TypeError for anything else, and ImportError when this extension was
    compiled against the headers of another tapegrad version.
    """
    capsule = getattr(tape, "capsule", None)
    if capsule is None or not PyCapsule_CheckExact(capsule):
        raise TypeError(f"expected a tapegrad.Tape, not {type(tape).__name__}")
    if not PyCapsule_IsValid(capsule, tape_capsule_name()):
        name = PyCapsule_GetName(capsule)
        if name == NULL or not (<bytes>name).startswith(b"tapegrad.Tape "):
            raise TypeError(f"expected a tapegrad.Tape, not {type(tape).__name__}")
        raise ImportError(f"this extension was compiled against the headers of {tape_capsule_name().decode()}, "
                          f"but the tape comes from {(<bytes>name).decode()}: rebuild the extension "
                          "against the installed tapegrad")
    return <Tape*>PyCapsule_GetPointer(capsule, tape_capsule_name())
