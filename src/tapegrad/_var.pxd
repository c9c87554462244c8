# The scalar front end's C-level layout and C API, for other Cython extensions:
#
#     from tapegrad._var cimport Var, live_tape, var_at
#     from tapegrad.record cimport record_add
#     from tapegrad.tape cimport Tape
#
#     def double_it(Var x):                       # takes a Python tapegrad Var
#         cdef Tape* t = live_tape(x)             # raises StaleVarError if stale
#         return var_at(x.owner, record_add(t[0], x.slot, x.slot))
from tapegrad.tape cimport Tape, index_t
from libc.stdint cimport uint32_t, uintptr_t


cdef class Var:
    # The C++ tape this value lives on; valid while `owner` (the Python Tape
    # that owns it) is alive, which this reference guarantees.
    cdef Tape* ctape
    cdef object owner
    cdef index_t slot
    # The tape's generation when this Var was made: a reset() bumps it, which
    # turns every older Var stale.
    cdef uint32_t generation


# The Var of node `node` of `tape` (a tapegrad.Tape), e.g. recorded by C code.
cdef Var var_at(object tape, index_t node)
# The C++ tape of `v`, after checking that `v` is not stale (StaleVarError).
cdef Tape* live_tape(Var v) except NULL

# A function installed by a layer above (install_methods): ImportError if none was.
cdef object from_above(str name)

# Helpers for VarArray (tapegrad._array) and every check of liveness.
# Where an object made by __new__ alone points: a tape nobody records on,
# whose generation never matches, so the stale check of every op stops it.
cdef Tape* unmade_tape() noexcept
# The error for a Var/VarArray `x` whose generation is not its tape's:
# TypeError when x was never initialised (owner None), else StaleVarError.
cdef object not_live(object owner, object x)
# The TypeError for a Var/VarArray `x` that was never initialised.
cdef object not_initialised(object x)

# The C++ tape of `owner`, a tapegrad.Tape (its address; valid while the Tape
# lives). For the front end's own modules: other extensions use tape.pxd's tape_of.
cdef inline Tape* cpp_tape(object owner) except NULL:
    return <Tape*><uintptr_t>owner._address
