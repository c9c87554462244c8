// Reading a tape as data, for people rather than for speed: its node arrays
// copied out, every node's adjoint after one sweep, and the opcode names.
// tape.nodes() and tape.to_dot() (src/tapegrad/_graph.py, _dot.py) build on these.
//
// Copies, not views: the arrays move when the tape grows (mremap) and are
// overwritten after a reset, so a view could outlive what it shows. A copy is
// 33 bytes a node, small next to anything a person reads.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/typing.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>

#include "gil.hpp"
#include "register.hpp"
#include "sweep.hpp"
#include "tape_handle.hpp"

namespace py = pybind11;
using namespace pybind11::literals;

namespace tapegrad::bindings {

namespace {

template <class T>
py::array_t<T> copy_of(const T* data, std::size_t n) {
    py::array_t<T> out(static_cast<py::ssize_t>(n));
    if (n) std::memcpy(out.mutable_data(), data, n * sizeof(T));
    return out;
}

// Every node's fields as columns. The GIL is held throughout, so no Python
// thread can record meanwhile; the storage lock keeps a sweep's owner from
// seeing a half-made copy and a grow from moving the arrays mid-copy.
// (py::typing types only name the result for the stubs: dict[str, ndarray].)
py::typing::Dict<py::str, py::array> nodes(const TapeHandle& h) {
    const Tape& t = h.tape;
    auto hold = t.lock_storage();
    const std::size_t n = t.size();
    py::array_t<std::uint32_t> pa(static_cast<py::ssize_t>(n)), pb(static_cast<py::ssize_t>(n));
    py::array_t<double> da(static_cast<py::ssize_t>(n)), db(static_cast<py::ssize_t>(n));
    auto pa_ = pa.mutable_unchecked<1>();
    auto pb_ = pb.mutable_unchecked<1>();
    auto da_ = da.mutable_unchecked<1>();
    auto db_ = db.mutable_unchecked<1>();
    for (std::size_t i = 0; i < n; ++i) {
        const auto k = static_cast<py::ssize_t>(i);
        pa_(k) = t.parents()[i].a;
        pb_(k) = t.parents()[i].b;
        const bool input = t.op(static_cast<index_t>(i)) == Op::input;  // inputs keep no partials (Tape::push_inputs)
        da_(k) = input ? 0.0 : t.partials()[i].a;
        db_(k) = input ? 0.0 : t.partials()[i].b;
    }
    return py::dict("opcode"_a = copy_of(t.ops(), n), "parent_a"_a = pa, "parent_b"_a = pb,
                    "partial_a"_a = da, "partial_b"_a = db, "value"_a = copy_of(t.values(), n));
}

// d(node `out`)/d(node i) for i = 0..out, by one reverse sweep in the tape's
// reusable workspace (as _gradient does), GIL released. Sinks read 0: the
// sweep dumps unused contributions there, which mean nothing.
py::array_t<double> adjoints(TapeHandle& h, std::int64_t out, std::uint32_t generation) {
    if (out < Tape::num_sinks || out >= static_cast<std::int64_t>(h.tape.size()))
        throw py::index_error("output node " + std::to_string(out) + " is not on this tape");
    const auto n = static_cast<std::size_t>(out) + 1;
    py::array_t<double> result(static_cast<py::ssize_t>(n));
    double* r = result.mutable_data();
    bool stale = false;
    // Pure C++ from here: no Python object is touched. Ctrl-C stops a long sweep.
    interruptible([&](const Interrupt* stop) {
        const Tape& t = h.tape;
        SweepScope scope(h);
        if (t.generation() != generation || static_cast<std::size_t>(out) >= t.size()) {
            stale = true;
        } else {
            double* adj = scope.zeroed(n);
            adj[out] = 1.0;
            sweep(t, static_cast<index_t>(out), adj, stop);
            std::memcpy(r, adj, n * sizeof(double));
            std::memset(r, 0, Tape::num_sinks * sizeof(double));
        }
    }, n >= watch_from || h.has_entries());
    if (stale) throw py::value_error("the tape was reset while its adjoints were being requested; record again");
    return result;
}

const char* arity_name(Arity a) {
    switch (a) {
        case Arity::none: return "none";
        case Arity::unary: return "unary";
        case Arity::binary: return "binary";
        case Arity::binary_vc: return "binary_vc";
        case Arity::binary_cv: return "binary_cv";
    }
    return "unknown";
}

// One (name, arity) per opcode, indexed by opcode: the C++ enum's own order,
// so Python never keeps a second list. A constant variant's name carries its
// suffix ("multiply_vc"), as its enumerator does.
py::typing::List<py::typing::Tuple<py::str, py::str>> opcodes() {
    py::typing::List<py::typing::Tuple<py::str, py::str>> rows;
    for (int code = 0; code < static_cast<int>(Op::count); ++code) {
        const OpInfo& i = info(static_cast<Op>(code));
        std::string name = i.name;
        if (i.arity == Arity::binary_vc) name += "_vc";
        if (i.arity == Arity::binary_cv) name += "_cv";
        rows.append(py::make_tuple(name, arity_name(i.arity)));
    }
    return rows;
}

}  // namespace

void register_graph(py::module_& m) {
    m.def("_opcodes", &opcodes,
          "(name, arity) for every opcode, indexed by opcode; arity is none, unary, binary, "
          "binary_vc (constant second operand, kept in partial_b) or binary_cv (constant first operand).");
    py::class_<TapeHandle> tape = py::reinterpret_borrow<py::class_<TapeHandle>>(m.attr("Tape"));
    tape.def("_nodes", &nodes,
             "A copy of every node (sinks included) as columns: opcode, parent_a, parent_b, partial_a, "
             "partial_b, value.");
    tape.def("_adjoints", &adjoints, py::arg("out"), py::arg("generation"),
             "Reverse sweep from node `out`: the adjoint d(out)/d(node) of nodes 0..out (sinks read 0).");
}

}  // namespace tapegrad::bindings
