# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, embedsignature=True
# distutils: language = c++
"""The hot front end: the scalar `Var` (its array counterpart, VarArray, is in _array.pyx).

Every operator of a Var calls the inline C++ recorder (record.hpp) directly:
per-op cost from Python decides how fast gradients of ordinary Python code
are, which is why this type is Cython rather than pybind11 (DESIGN.md). The op
functions and Var's operators are generated from ops.def at build time
(cpp/tools/gen_ops.py fills the two `# @ops.def` marker lines of this file).
"""

cimport cython
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_CheckExact
from cpython.long cimport PyLong_AsDouble, PyLong_CheckExact
from libc.stdint cimport uint32_t, uintptr_t

import dis
import linecache
import sys

import numpy as np

cimport tapegrad._cxx as cxx
from tapegrad.tape cimport Compare, Tape, compare, first_node, index_t, tape_of

# Numbers of the C++ tape that the Python layers need (from _cxx.pxd): the
# first recorded slot (slots below it are sinks), and the kinds of recorded
# comparisons (Tape::Compare), in which the array guards are recorded.
FIRST_NODE = cxx.FIRST_NODE
LESS = cxx.COMPARE_LT
LESS_EQUAL = cxx.COMPARE_LE
GREATER = cxx.COMPARE_GT
GREATER_EQUAL = cxx.COMPARE_GE
EQUAL = cxx.COMPARE_EQ
NOT_EQUAL = cxx.COMPARE_NE


class TapeMismatchError(ValueError):
    """Vars of two different tapes met in one operation."""


class StaleVarError(RuntimeError):
    """A Var was used after its tape was reset."""


class TapeThreadError(RuntimeError):
    """A thread recorded on a tape that another thread is recording on."""


class ConcretizationError(TypeError):
    """A recorded value was turned into a plain number while a tapegrad
    transform (grad, jacobian, vjp, compile, ...) was recording f: the number
    would carry no derivative, so the result would be silently wrong."""


_CONCRETIZATION = (
    "{what}: the plain number would carry no derivative, so the result would be silently wrong. Instead use "
    "tapegrad's functions (tapegrad.sin, not math.sin); build arrays with tapegrad.stack / tapegrad.concatenate "
    "or x.at[i].set(v), not by assigning into a numpy array; use v.value where a constant is really meant "
    "(it stops the derivative there)."
)


def _concretization_error(str what) -> ConcretizationError:
    return ConcretizationError(_CONCRETIZATION.format(what=what))


cdef object _PERCENT = None  # (opcode, arg) pairs of `a % b` and `a %= b` in this Python's bytecode


def _percent_formatting() -> bool:
    """Whether the Python code running now is at a `%` operation. float() of
    a Var can be reached inside one only through str/bytes %-formatting (Var
    has no __mod__, and float's and numpy's % defer to Vars), so it reads the
    value for printing, not as an input to more arithmetic."""
    global _PERCENT
    if _PERCENT is None:
        if "BINARY_OP" in dis.opmap:  # Python >= 3.11: one opcode, the operator in its argument
            names = [name for name, _symbol in getattr(dis, "_nb_ops", ())]
            args = [names.index(n) for n in ("NB_REMAINDER", "NB_INPLACE_REMAINDER")] if names else [6, 19]
            _PERCENT = frozenset((dis.opmap["BINARY_OP"], arg) for arg in args)
        else:  # Python 3.10: an opcode per operator, argument 0
            _PERCENT = frozenset((dis.opmap[n], 0) for n in ("BINARY_MODULO", "INPLACE_MODULO"))
    frame = sys._getframe(0)  # Cython functions have no frame: this is the Python code that called float()
    code, at = frame.f_code.co_code, frame.f_lasti
    return 0 <= at < len(code) - 1 and (code[at], code[at + 1]) in _PERCENT


cpdef int _check_strict(object owner, str what) except -1:
    """Raise ConcretizationError if a transform is recording on `owner` (a Tape)
    and the value is not being read for %-formatting."""
    if getattr(owner, "_strict", False) and not _percent_formatting():
        raise _concretization_error(f"{what}, at {_caller_site()}")
    return 0


MASKED_ARRAY = ("tapegrad does not take numpy masked arrays (numpy.ma): their mask would be ignored and the "
                "result silently wrong. Pass arr.filled(fill_value) or arr.compressed(), or apply the mask with "
                "tapegrad.where(mask, fill_value, x)")

_MISMATCH = ("these Vars belong to two different tapes. Record the whole computation on one tape "
             "(for example inside one tapegrad.grad call), or use v.value to treat one of them as a constant.")
_STALE = ("this Var belongs to a tape that has been reset (for example by the end of the tapegrad.grad call "
          "that made it), so its slot may now hold another value. Record it again on the current tape, or "
          "keep v.value before the reset if you only need the number.")


# ---- checks and conversions shared by every op --------------------------------

# A Var or VarArray made by __new__ alone (never initialised) points here: a
# tape nobody records on (its generation is 1, theirs 0, and it is never
# reset), so the stale check that every op makes anyway stops it, and only
# the error path asks which of the two it was. No op pays for a null check.
cdef Tape* _unmade = new Tape(first_node)


cdef Tape* unmade_tape() noexcept:
    return _unmade


cdef object not_initialised(object x):
    name = type(x).__name__
    how = "tape.vars(array)" if name == "VarArray" else "tape.var(x)"
    return TypeError(f"this {name} was not initialised (it was made by {name}.__new__ alone): make it with "
                     f"{how}, or let tapegrad.grad make it")


cdef object not_live(object owner, object x):
    if owner is None:
        return not_initialised(x)
    return StaleVarError(_STALE)


cdef inline int _check_live(Var v) except -1:
    if v.generation != v.ctape.generation():
        raise not_live(v.owner, v)
    return 0


cdef inline int _check_pair(Var a, Var b) except -1:
    if a.ctape != b.ctape:
        if a.owner is None or b.owner is None:
            raise not_initialised(a if a.owner is None else b)
        raise TapeMismatchError(_MISMATCH)
    if a.generation != a.ctape.generation() or b.generation != a.generation:
        raise not_live(a.owner, a) if a.owner is None else not_live(b.owner, b)
    return 0


cdef inline Var _result(Var like, index_t index):
    cdef Var r = Var.__new__(Var)
    r.ctape = like.ctape
    r.owner = like.owner
    r.slot = index
    r.generation = like.generation
    return r


cdef inline bint _constant(object o, double* out) except -1:
    """Store a number operand in *out and return True; False for other types
    (arrays, unknown objects) so the caller can return NotImplemented; raise
    for operands that can never be valid."""
    if PyFloat_CheckExact(o):
        out[0] = PyFloat_AS_DOUBLE(o)
        return True
    if PyLong_CheckExact(o):
        out[0] = PyLong_AsDouble(o)
        return True
    return _constant_slow(o, out)


cdef bint _constant_slow(object o, double* out) except -1:
    if isinstance(o, (float, int, np.floating, np.integer, np.bool_)):  # bool and numpy scalars
        out[0] = float(o)
        return True
    if isinstance(o, np.ma.MaskedArray):
        raise TypeError(MASKED_ARRAY)
    if isinstance(o, np.ndarray) and (<object>o).ndim == 0 and (<object>o).dtype.kind in "fiub":
        out[0] = float(o)
        return True
    if o is None or isinstance(o, (str, bytes, complex, np.complexfloating)):
        raise TypeError(
            f"tapegrad ops take real numbers, Vars and arrays, not {type(o).__name__}"
            + (" (tapegrad differentiates real-valued functions)" if isinstance(o, (complex, np.complexfloating)) else "")
        )
    return False


ctypedef double (*eval1_t)(double) noexcept nogil
ctypedef double (*eval2_t)(double, double) noexcept nogil


# ---- the layers above ------------------------------------------------------------------------
# Ops with array operands are recorded by tapegrad._array, and the numpy
# methods and protocols of Var and VarArray are implemented by tapegrad.numpy;
# both import this module and hand their functions down when imported
# (install_methods), so that neither core type imports anything above it.
# One registry serves both types (_var.pxd: from_above).

cdef dict _above = {}


def install_methods(**functions):
    """Called by tapegrad._array and tapegrad.numpy: the functions Var's and VarArray's methods call."""
    _above.update(functions)


cdef object from_above(str name):
    try:
        return _above[name]
    except KeyError:
        raise ImportError(f"{name!r} comes from a layer above tapegrad's core types (tapegrad._array, "
                          "tapegrad.numpy) that has not been imported") from None


cdef object _array_op(str name, tuple args):
    """An op-table function whose operands include arrays (VarArray, ndarray,
    lists): one elementwise entry, recorded by tapegrad._array; NotImplemented
    for operands it does not know either."""
    return from_above("elementwise")(name, args)


cdef object _other1(object x, str name, eval1_t fn):
    """A unary op on something that is not a Var: a number, an array, or NotImplemented."""
    cdef double c
    if _constant(x, &c):
        return fn(c)
    return _array_op(name, (x,))


cdef object _other2(object a, object b, str name, eval2_t fn):
    """A binary op where no operand was a usable Var: numbers, arrays, or
    NotImplemented (so Python can try the other operand's reflected method)."""
    cdef double c, d
    if type(a) is not Var and type(b) is not Var and _constant(a, &c) and _constant(b, &d):
        return fn(c, d)
    return _array_op(name, (a, b))


cdef object _raise_unsupported(object result, str name, tuple args):
    if result is NotImplemented:
        types = ", ".join(type(a).__name__ for a in args)
        raise TypeError(f"tapegrad.{name} does not support ({types}): it takes numbers, Vars and arrays")
    return result


cdef bint _compare_operand(object o, double* out) except -1:
    if type(o) is Var:
        _check_live(<Var>o)
        out[0] = (<Var>o).ctape.value((<Var>o).slot)
        return True
    return _constant(o, out)


# ---- comparisons: recorded, so that replay can re-check them ---------------------

cdef object _compare(Var self, object other, Compare kind):
    """`self <kind> other` on values, as a plain bool, recorded on self's tape."""
    cdef double a, b
    cdef bint outcome, constant = True
    cdef index_t other_slot = 0
    if type(other) is Var and (<Var>other).ctape == self.ctape:
        _check_pair(self, <Var>other)
        other_slot = (<Var>other).slot
        b = self.ctape.value(other_slot)
        constant = False
    elif not _compare_operand(other, &b):  # a number, or a Var of another tape (a constant here)
        return NotImplemented
    _check_live(self)
    a = self.ctape.value(self.slot)
    outcome = compare(kind, a, b)
    self.ctape.record_comparison(kind, self.slot, other_slot, b, constant, outcome)
    if self.ctape.record_sites:
        self.owner._sites.append(_caller_site())
    return outcome


cdef double _escape(Var self) except? -1.0:
    """float(v), int(v), operator.index(v): the value leaves the tape.
    Recorded, so that compile can refuse a function whose replay would keep
    that number fixed."""
    _check_live(self)
    cdef double a = self.ctape.value(self.slot)
    self.ctape.record_comparison(Compare.escape, self.slot, 0, a, True, True)
    if self.ctape.record_sites:
        self.owner._sites.append(_caller_site())
    return a


def _caller_site() -> str:
    """'file:line: source' of the innermost frame outside tapegrad (compile(debug=True))."""
    frame = sys._getframe(0)  # Cython functions have no frame: this is the Python caller's
    # By module name, not by folder: an editable install keeps the compiled
    # modules in the build folder and the Python ones in src/.
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "tapegrad":
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    source = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    return f"{frame.f_code.co_filename}:{frame.f_lineno}: {source}"


def _record_sites(owner, bint on) -> None:
    """Make comparisons on `owner` (a Tape) note their source line in owner._sites."""
    cpp_tape(owner).record_sites = on


# ---- Var ---------------------------------------------------------------------------

@cython.final
@cython.no_gc
@cython.freelist(1024)
cdef class Var:
    """A float recorded on a tape: every operation on it appends one node.

    Make Vars with ``tape.var(x)`` (or let ``tapegrad.grad`` make them), then use
    them like floats: ``+ - * / **``, ``abs``, the functions of ``tapegrad``
    (``tapegrad.exp(v)``) or their method forms (``v.exp()``). Comparisons
    return plain ``bool``. ``float(v)`` and ``v.value`` give the number.
    """

    def __cinit__(self):
        self.ctape = _unmade  # until a tape makes it (see _unmade)
        self.slot = 0
        self.generation = 0

    def __init__(self, *args, **kwargs):
        raise TypeError("Vars are made by a tape: use tape.var(x), or tapegrad.grad(f)(x)")

    @property
    def value(self) -> float:
        """The recorded value (a float)."""
        _check_live(self)
        return self.ctape.value(self.slot)

    @property
    def index(self) -> int:
        """This value's node index on its tape."""
        if self.owner is None:
            raise not_initialised(self)
        return self.slot

    @property
    def tape(self):
        """The Tape this Var is recorded on."""
        if self.owner is None:
            raise not_initialised(self)
        return self.owner

    def __float__(self):
        # Inside a transform a float() is an error (ConcretizationError), not
        # a derivative silently lost; on a tape of the user's own it is the value.
        _check_strict(self.owner, "float() of a Var while tapegrad differentiates f (directly, or through math.*, "
                                  "numpy.float64(v) or storing it in a float numpy array)")
        return _escape(self)

    def __int__(self):
        return int(_escape(self))  # piecewise constant: a zero derivative is right

    def __trunc__(self):
        return int(_escape(self))  # math.trunc: piecewise constant, as int()

    def __index__(self):
        cdef double a = _escape(self)
        if a != a or a in (float("inf"), float("-inf")) or a != <double><long long>a:
            raise _concretization_error(f"using a Var holding {a!r}, not an integer, as an index")
        return int(a)

    def __format__(self, spec):
        return format(self.value, spec)  # formatting reads the value: no derivative is lost

    def __bool__(self):
        return _compare(self, 0.0, Compare.ne)  # `if v:` is a branch like `if v != 0:`

    def __hash__(self):
        # By identity, like a PyTorch tensor: == compares values (and is
        # recorded as a branch), so hashing by value would merge two different
        # Vars that happen to be equal as dict keys or set members.
        if self.owner is None:
            raise not_initialised(self)
        return object.__hash__(self)

    def __repr__(self):
        if self.generation != self.ctape.generation():
            if self.owner is None:
                raise not_initialised(self)
            return f"Var(<stale: tape was reset>, index={self.slot})"
        return f"Var({self.ctape.value(self.slot)!r})"

    def __pos__(self):
        _check_live(self)
        return self

    def __reduce__(self):
        raise TypeError("a Var cannot be pickled: it is a slot of a live tape. Pickle v.value instead.")

    # numpy functions and ufuncs on Vars dispatch to tapegrad (tapegrad/numpy/_dispatch.py).
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return from_above("array_ufunc")(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return from_above("array_function")(func, types, args, kwargs)

    # Comparisons compare values and return plain bool; each is also recorded
    # on the tape (kind, operands, outcome), so that a compiled replay can
    # tell when its branch would change (tapegrad.compile).
    def __lt__(self, other):
        return _compare(self, other, Compare.lt)

    def __le__(self, other):
        return _compare(self, other, Compare.le)

    def __gt__(self, other):
        return _compare(self, other, Compare.gt)

    def __ge__(self, other):
        return _compare(self, other, Compare.ge)

    def __eq__(self, other):
        return _compare(self, other, Compare.eq)

    def __ne__(self, other):
        return _compare(self, other, Compare.ne)

    # @ops.def: Var operators and methods


# @ops.def: op functions


# ---- entry points used by the Python Tape ---------------------------------------------

def _new_var(owner, double value) -> Var:
    """Record an input node holding `value` on `owner` and return its Var."""
    cdef Tape* tape = cpp_tape(owner)
    cdef Var r = Var.__new__(Var)
    r.slot = tape.push_input(value)
    r.ctape = tape
    r.owner = owner
    r.generation = tape.generation()
    return r


def _slot_of(Var v, owner) -> int:
    """The node index of `v`, after checking it is a live Var of `owner`."""
    if v.owner is not owner:
        raise not_initialised(v) if v.owner is None else TapeMismatchError(_MISMATCH)
    _check_live(v)
    return v.slot


# ---- C API for other Cython extensions (declared in _var.pxd) ---------------------

cdef Var var_at(object tape, index_t node):
    """The Var of node `node` of `tape` (a tapegrad.Tape), e.g. one that C code
    recorded through tape_of(tape): hand results back to Python this way."""
    cdef Tape* t = tape_of(tape)
    if node < first_node or node >= t.size():
        raise IndexError(f"node {node} is not a recorded node of this tape ({first_node} <= node < {t.size()})")
    cdef Var r = Var.__new__(Var)
    r.ctape = t
    r.owner = tape
    r.slot = node
    r.generation = t.generation()
    return r


cdef Tape* live_tape(Var v) except NULL:
    """The C++ tape of `v`, after checking that `v` is not stale."""
    _check_live(v)
    return v.ctape


__all__ = ["Var", "StaleVarError", "TapeMismatchError", "TapeThreadError", "ConcretizationError",
           *UNARY_OPS, *BINARY_OPS]
