// Glue between the C++ tape and Python extensions (tapegrad's own and other
// packages'): the capsule that hands a Tape from one extension to another, and
// the translation of the tape's C++ errors into tapegrad's Python errors for
// Cython code. The only header of the core that needs Python.h.
#pragma once
#include <Python.h>

#include <atomic>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>

#include "config.hpp"
#include "interrupt.hpp"
#include "tape.hpp"

namespace tapegrad::python {

// The name of the capsule `tapegrad.Tape.capsule` returns. It carries the
// version, because an extension built against other headers may lay out the
// Tape differently: a mismatch is refused by name instead of misread.
inline const char* tape_capsule_name() {
    static const std::string name = std::string("tapegrad.Tape ") + version;
    return name.c_str();
}

// How tapegrad's _core module lends its SIGINT watch (cpp/bindings/gil.hpp)
// to its Cython module, as the capsule `tapegrad._core._sigint_hooks` named
// sigint_hooks_name: start() wraps Python's SIGINT handler with one that also
// bumps *count (false: nothing to wrap), stop() undoes one start() that
// returned true. An Interrupt watching *count then stops a loop on Ctrl-C.
struct SigintHooks {
    const std::atomic<std::uint64_t>* count;
    bool (*start)();
    void (*stop)();
};
inline constexpr const char* sigint_hooks_name = "tapegrad._core._sigint_hooks";

// The MemoryError message for a C++ allocation that does not say its size.
inline constexpr const char* out_of_memory_message =
    "tapegrad: out of memory (a C++ allocation of unknown size failed). Record less per tape, evaluate a batch "
    "in smaller pieces, use fewer threads, or free memory.";

namespace detail {

// Raise tapegrad.<name> (falls back to `fallback` if tapegrad is not importable).
inline void raise_tapegrad_error(const char* name, PyObject* fallback, const char* message) {
    PyObject* cls = nullptr;
    if (PyObject* module = PyImport_ImportModule("tapegrad._var")) {
        cls = PyObject_GetAttrString(module, name);
        Py_DECREF(module);
    }
    if (!cls) PyErr_Clear();
    PyErr_SetString(cls ? cls : fallback, message);
    Py_XDECREF(cls);
}

}  // namespace detail

// Cython's `except +translate_exception` for the recorders (tapegrad/record.pxd,
// tapegrad/tape.pxd): Cython calls it inside its catch block, where `throw;`
// rethrows the exception being handled. Never inlined: it sits in a catch
// block of every recorder call, and copies of it there would crowd the
// recorders (and Tape::push) out of the inliner's budget.
TG_NOINLINE inline void translate_exception() {
    try {
        throw;
    } catch (const tape_thread_error& e) {
        detail::raise_tapegrad_error("TapeThreadError", PyExc_RuntimeError, e.what());
    } catch (const out_of_memory& e) {
        PyErr_SetString(PyExc_MemoryError, e.what());
    } catch (const std::bad_alloc&) {
        PyErr_SetString(PyExc_MemoryError, out_of_memory_message);
    } catch (const interrupted&) {
        if (PyErr_CheckSignals() == 0) PyErr_SetNone(PyExc_KeyboardInterrupt);
    } catch (const std::overflow_error& e) {
        PyErr_SetString(PyExc_OverflowError, e.what());
    } catch (const std::invalid_argument& e) {
        PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const std::out_of_range& e) {
        PyErr_SetString(PyExc_IndexError, e.what());
    } catch (const std::exception& e) {
        PyErr_SetString(PyExc_RuntimeError, e.what());
    } catch (...) {
        PyErr_SetString(PyExc_RuntimeError, "tapegrad: unknown C++ exception");
    }
}

}  // namespace tapegrad::python
