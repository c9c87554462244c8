// tapegrad._core: everything that is not per-scalar-op (the Var type is Cython,
// see DESIGN.md). One register_* function per concern.
#include <pybind11/pybind11.h>

#include "gil.hpp"
#include "register.hpp"
#include "tapegrad/config.hpp"
#include "tapegrad/python.hpp"
#include "tapegrad/tape.hpp"

PYBIND11_MODULE(_core, m) {
    m.doc() = "tapegrad's compiled core: the C++ tape and the op table.";
    // A MemoryError always says how much was asked for and what to do
    // (pybind11's own says "std::bad_alloc").
    pybind11::register_exception_translator([](std::exception_ptr e) {
        try {
            if (e) std::rethrow_exception(e);
        } catch (const tapegrad::out_of_memory& oom) {
            PyErr_SetString(PyExc_MemoryError, oom.what());
        } catch (const std::bad_alloc&) {
            PyErr_SetString(PyExc_MemoryError, tapegrad::python::out_of_memory_message);
        }
    });
    m.attr("__version__") = tapegrad::version;
    m.attr("max_nodes") = tapegrad::max_nodes;
    m.attr("bytes_per_node") = tapegrad::bytes_per_node;
    // The SIGINT watch, lent to the Cython module (python.hpp: SigintHooks).
    static const tapegrad::python::SigintHooks sigint_hooks = tapegrad::bindings::sigint::hooks();
    m.attr("_sigint_hooks") = pybind11::capsule(&sigint_hooks, tapegrad::python::sigint_hooks_name);
    tapegrad::bindings::register_ops(m);
    tapegrad::bindings::register_tape(m);
    tapegrad::bindings::register_graph(m);
    tapegrad::bindings::register_replay(m);
    tapegrad::bindings::register_arrays(m);
    tapegrad::bindings::register_dense(m);
    tapegrad::bindings::register_fuzz(m);
}
