# cython: language_level=3, boundscheck=False, wraparound=False
# distutils: language = c++
"""A tiny Cython extension that records on tapegrad tapes at C speed.

It takes tapegrad objects made in Python (a Var, a Tape), records ops through
the C++ recorders with no Python object per op (and without the GIL), and
hands results back as a tapegrad Var or as numbers read off the tape and its
adjoints. Build: see CMakeLists.txt next to this file.
"""

from libcpp.vector cimport vector

import numpy as np

from tapegrad._var cimport Var, live_tape, var_at
from tapegrad.record cimport record_add, record_add_vc, record_multiply, record_multiply_vc, record_sin
from tapegrad.tape cimport Tape, index_t, tape_of


def x_sin_x(Var x) -> Var:
    """x * sin(x) recorded on x's tape without the GIL (the README's example).

    >>> import tapegrad as tg, fastpoly
    >>> tape = tg.Tape()
    >>> x = tape.var(0.0)
    >>> tape.gradient(fastpoly.x_sin_x(x), x)   # sin(x) + x cos(x) at 0
    0.0
    """
    cdef Tape* t = live_tape(x)          # StaleVarError for a Var of a reset tape
    cdef index_t y
    with nogil:
        y = record_multiply(t[0], x.slot, record_sin(t[0], x.slot))
    return var_at(x.owner, y)            # a tapegrad.Var: tape.gradient(y, x) works


def horner(Var x, coefficients) -> Var:
    """c[0] + c[1] x + ... + c[n] x**n recorded on x's tape (2n nodes), as a Var.

    >>> import tapegrad as tg, fastpoly
    >>> with tg.Tape() as tape:
    ...     x = tape.var(2.0)
    ...     y = fastpoly.horner(x, [1.0, 0.0, 3.0])   # 1 + 3 x**2
    ...     (y.value, tape.gradient(y, x))
    (13.0, 12.0)
    """
    cdef double[::1] c = np.ascontiguousarray(coefficients, dtype=np.float64)
    cdef Py_ssize_t k = c.shape[0] - 1
    if k < 1:
        raise ValueError("horner needs at least two coefficients")
    cdef Tape* t = live_tape(x)  # raises StaleVarError for a Var of a reset tape
    cdef index_t xs = x.slot, acc
    with nogil:
        acc = record_add_vc(t[0], record_multiply_vc(t[0], xs, c[k]), c[k - 1])
        for k in range(k - 2, -1, -1):
            acc = record_add_vc(t[0], record_multiply(t[0], acc, xs), c[k])
    return var_at(x.owner, acc)


def sum_sin_products(tape, double[::1] xs):
    """Record s = sum_i sin(x_i) * x_(i+1) on `tape` (a tapegrad.Tape), sweep it
    here, and return (s, ds/dx) read off the tape and the adjoints.

    >>> import numpy as np, tapegrad as tg, fastpoly
    >>> s, g = fastpoly.sum_sin_products(tg.Tape(), np.array([0.0, 2.0]))
    >>> (s, g.tolist())                                # sin(0) * 2
    (0.0, [2.0, 0.0])
    """
    cdef Tape* t = tape_of(tape)  # TypeError for anything but a tapegrad.Tape
    cdef Py_ssize_t n = xs.shape[0], i
    if n < 2:
        raise ValueError("sum_sin_products needs at least two points")
    cdef index_t first, s
    cdef vector[double] adjoint
    with nogil:
        first = t.push_input(xs[0])
        for i in range(1, n):
            t.push_input(xs[i])
        s = record_multiply(t[0], record_sin(t[0], first), first + 1)
        for i in range(1, n - 1):
            s = record_add(t[0], s, record_multiply(t[0], record_sin(t[0], first + i), first + i + 1))
        adjoint.resize(s + 1, 0.0)
        adjoint[s] = 1.0
        t.sweep(s, adjoint.data())
    grad = np.empty(n)
    cdef double[::1] g = grad
    for i in range(n):
        g[i] = adjoint[first + i]
    return t.value(s), grad
