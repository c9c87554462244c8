// The Tape class. Recording happens in the Cython Var (it reaches the C++ tape
// through `_address`); this file owns the tape's lifetime, its sizes and the
// reverse sweep, which runs with the GIL released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "gil.hpp"
#include "register.hpp"
#include "sweep.hpp"
#include "tape_handle.hpp"
#include "tapegrad/python.hpp"

namespace py = pybind11;

namespace tapegrad::bindings {

namespace {

// d(node `out`)/d(node w) for every w in `wrt`, for the tape of `generation`
// (checked under the storage lock, so a reset in another thread between the
// caller's checks and the sweep cannot hand back numbers of another recording).
py::array_t<double> gradient(TapeHandle& h, std::int64_t out,
                             py::array_t<std::uint32_t, py::array::c_style | py::array::forcecast> wrt,
                             std::uint32_t generation) {
    py::array_t<double> result(wrt.size());
    double* r = result.mutable_data();
    const std::uint32_t* w = wrt.data();
    const py::ssize_t m = wrt.size();
    std::string error;
    // Pure C++ from here: no Python object is touched. Ctrl-C stops a long sweep.
    interruptible([&](const Interrupt* stop) {
        const Tape& t = h.tape;
        SweepScope scope(h);
        if (t.generation() != generation) {
            error = "stale";
        } else if (out < Tape::num_sinks || out >= static_cast<std::int64_t>(t.size())) {
            error = "output node " + std::to_string(out) + " is not on this tape";
        } else {
            const auto n = static_cast<std::size_t>(out) + 1;
            double* adj = scope.zeroed(n);
            adj[out] = 1.0;
            sweep(t, static_cast<index_t>(out), adj, stop);
            for (py::ssize_t k = 0; k < m; ++k) r[k] = w[k] < n && !Tape::is_sink(w[k]) ? adj[w[k]] : 0.0;
        }
    }, out >= static_cast<std::int64_t>(watch_from) || h.has_entries());
    if (error == "stale")
        throw py::value_error("the tape was reset while this gradient was being requested; record again");
    if (!error.empty()) throw py::index_error(error);
    return result;
}

}  // namespace

void register_tape(py::module_& m) {
    py::class_<TapeHandle>(m, "Tape", "The C++ tape (flat arrays of nodes). Use tapegrad.Tape.")
        .def(py::init<std::uint64_t>(), py::arg("limit") = std::uint64_t(max_nodes),
             "A new, empty tape holding at most `limit` nodes (default and maximum 2**32 - 1).")
        .def_property_readonly(
            "num_nodes", [](const TapeHandle& h) { return h.tape.size(); },
            "Nodes recorded, the sink slots included.")
        .def_property_readonly("nbytes", &TapeHandle::nbytes,
                               "Bytes of RAM the tape holds now: its node arrays (33 bytes a node) and, once a "
                               "gradient was taken, the adjoint workspace (8 bytes a node). Kept across reset().")
        .def_property_readonly(
            "limit", [](const TapeHandle& h) { return h.tape.limit(); }, "The most nodes this tape can hold.")
        .def_property_readonly(
            "generation", [](const TapeHandle& h) { return h.tape.generation(); }, "Bumped by every reset().")
        .def_property_readonly(
            "_address", [](TapeHandle& h) { return reinterpret_cast<std::uintptr_t>(&h.tape); },
            "Address of the C++ tape, for tapegrad's Cython front end.")
        .def_property_readonly(
            "capsule",
            [](TapeHandle& h) { return py::capsule(static_cast<void*>(&h.tape), python::tape_capsule_name()); },
            "The C++ tape (a tapegrad::Tape*) in a PyCapsule, for other extensions: Cython code calls\n"
            "tape_of(tape) from tapegrad/tape.pxd; C/C++ code calls PyCapsule_GetPointer with the name\n"
            "tapegrad::python::tape_capsule_name() (tapegrad/python.hpp), which carries the version.\n"
            "The pointer is valid while this Tape is alive.\n\n"
            ">>> import tapegrad as tg\n"
            ">>> tg.Tape().capsule  # doctest: +ELLIPSIS\n"
            "<capsule object \"tapegrad.Tape ...\" at 0x...>")
        .def(
            "release_thread", [](TapeHandle& h) { h.tape.release_thread(); },
            "Let another thread record on this tape next, keeping its nodes. A tape records in one thread\n"
            "at a time: the first op after a reset() makes its thread the recording thread, and an op\n"
            "from any other thread raises TapeThreadError until reset() or release_thread().\n\n"
            ">>> import threading, tapegrad as tg\n"
            ">>> tape = tg.Tape()\n"
            ">>> x = tape.var(2.0)      # this thread records on tape now\n"
            ">>> tape.release_thread()  # hand it over\n"
            ">>> out = []\n"
            ">>> t = threading.Thread(target=lambda: out.append(x * x)); t.start(); t.join()\n"
            ">>> tape.gradient(out[0], x)\n"
            "4.0")
        .def(
            "reset", [](TapeHandle& h) { h.tape.reset(); },
            "Forget every node (Vars made so far become stale) but keep the memory for the next recording.\n\n"
            ">>> import tapegrad as tg\n"
            ">>> tape = tg.Tape()\n"
            ">>> x = tape.var(1.0)\n"
            ">>> tape.reset()\n"
            ">>> tape.num_nodes  # only the sink slots\n"
            "8")
        .def("_gradient", &gradient, py::arg("out"), py::arg("wrt"), py::arg("generation"),
             "Reverse sweep from node `out`: its derivative with respect to each node index in `wrt`.");
}

}  // namespace tapegrad::bindings
