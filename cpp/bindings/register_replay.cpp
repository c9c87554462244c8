// Compiled programs for Python: made from a recorded Tape or from bytes, and
// replayed at new inputs. Every replay runs with the GIL released (pure C++
// on arrays allocated beforehand; no Python object is touched), so Python
// threads replaying at once run in parallel. tapegrad/_compile.py builds the
// user-facing CompiledFunction on top of this.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/typing.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "gil.hpp"
#include "register.hpp"
#include "replay_modes.hpp"
#include "tape_handle.hpp"
#include "tapegrad/program.hpp"
#include "tapegrad/replay.hpp"
#include "tapegrad/serialize.hpp"

namespace py = pybind11;
using namespace pybind11::literals;

namespace tapegrad::bindings {

namespace {

struct BranchChanged : std::runtime_error {
    using std::runtime_error::runtime_error;
};

using Mode = replay::Mode;
using Rows = py::array_t<double, py::array::c_style | py::array::forcecast>;
// Result types as the stubs name them (py::typing types change nothing at run
// time): a shape is tuple[int, ...], a guard a dict[str, Any].
using ShapeTuple = py::typing::Tuple<py::int_, py::ellipsis>;
using Guards = py::typing::List<py::typing::Dict<py::str, py::object>>;

const char* spelling(Compare kind) {
    static const char* const names[] = {"<", "<=", ">", ">=", "==", "!="};
    return kind < Compare::escape ? names[static_cast<int>(kind)] : "?";
}

std::string number(double x) {
    std::ostringstream s;
    s.precision(17);
    s << x;
    return s.str();
}

// "input 3" for an input element, "element 4 of the gather entry at node 40"
// for an array entry's output, "node 42 (multiply)" otherwise.
std::string describe_node(const Program& p, index_t node) {
    for (std::size_t k = 0; k < p.inputs.size(); ++k)
        if (p.inputs[k] == node) return "input " + std::to_string(k);
    if (p.ops[node] == static_cast<std::uint8_t>(Op::entry))
        for (std::size_t k = 0; k < p.entries.list.size(); ++k) {
            const Entry& e = p.entries.list[k];
            if (node >= e.first && node - e.first < e.size)
                return "element " + std::to_string(node - e.first) + " of the " + entry_kind_name(e.kind) +
                       " entry at node " + std::to_string(e.first);
        }
    return "node " + std::to_string(node) + " (" + info(static_cast<Op>(p.ops[node])).name + ")";
}

std::string describe_guard(const Program& p, std::size_t k) {
    const Comparison& g = p.guards[k];
    return "`" + describe_node(p, g.a) + " " + spelling(g.kind) + " " +
           (g.b_is_constant ? number(g.constant) : describe_node(p, g.b)) + "`";
}

std::string branch_message(const Program& p, const replay::BranchChange& c, std::size_t rows) {
    const Comparison& g = p.guards[c.guard];
    const char* was = g.outcome ? "True" : "False";
    const char* now = g.outcome ? "False" : "True";
    std::string where = p.sites.empty() ? "" : " at " + p.sites[c.guard];
    std::string point = rows > 1 ? " (point " + std::to_string(c.row) + " of the batch)" : "";
    return "comparison #" + std::to_string(c.guard) + " " + describe_guard(p, c.guard) + ", made while recording" +
           where + ", was " + was + " then but is " + now + " at this input" + point + ": " + number(c.a) + " " +
           spelling(g.kind) + " " + number(c.b) + ". The compiled tape holds only the branch taken while recording, "
           "so its result here would be wrong. Pass retrace=True to tapegrad.compile to record f again when a branch "
           "changes (one tape is kept per branch pattern)" +
           (p.sites.empty() ? ", or debug=True to see the source line of the comparison." : ".");
}

// A 2-D C-contiguous float64 view of `obj` with `width` columns (a copy only
// when obj is not one already).
Rows rows_of(py::handle obj, std::size_t width, const char* what, py::ssize_t rows = -1) {
    Rows a = Rows::ensure(obj);
    if (!a) throw py::type_error(std::string(what) + " must be an array of real numbers");
    if (a.ndim() != 2 || static_cast<std::size_t>(a.shape(1)) != width || (rows >= 0 && a.shape(0) != rows))
        throw py::value_error(std::string(what) + " must have shape (" + (rows >= 0 ? std::to_string(rows) : "B") +
                              ", " + std::to_string(width) + ")");
    return a;
}

Rows new_rows(py::ssize_t rows, std::size_t width) {
    return Rows({rows, static_cast<py::ssize_t>(width)});
}

unsigned thread_count(int threads) {
    if (threads < 1 || threads > 1024) throw py::value_error("threads must be between 1 and 1024");
    return static_cast<unsigned>(threads);
}

// Run a request with the GIL released. With `status` (an int32 array of one
// entry per row) a changed comparison is reported there, per row; without
// it, the call raises BranchChangedError.
template <Mode M>
void execute(const Program& p, replay::Request& r, int threads, py::object status) {
    if (!status.is_none()) {
        auto st = py::array_t<std::int32_t>::ensure(status);
        if (!st || st.ndim() != 1 || static_cast<std::size_t>(st.shape(0)) != r.rows || !st.writeable() ||
            !(st.flags() & py::array::c_style) || st.ptr() != status.ptr())
            throw py::value_error("status must be a writeable int32 array with one entry per point");
        r.status = st.mutable_data();
    }
    const unsigned n = thread_count(threads);
    replay::BranchChange change;
    // Pure C++ on buffers we hold: no Python object is touched. Ctrl-C stops a long batch.
    interruptible([&](const Interrupt* stop) { change = replay::run<M>(p, r, n, stop); },
                  std::size_t(p.end) * r.rows >= watch_from || !p.entries.empty());
    if (change && !r.status) throw BranchChanged(branch_message(p, change, r.rows));
}

Rows value(const Program& p, py::handle X, int threads, py::object status) {
    Rows x = rows_of(X, p.inputs.size(), "X");
    Rows y = new_rows(x.shape(0), p.outputs.size());
    replay::Request r;
    r.rows = x.shape(0);
    r.X = x.data();
    r.Y = y.mutable_data();
    execute<Mode::value>(p, r, threads, status);
    return y;
}

py::typing::Tuple<Rows, Rows> vjp(const Program& p, py::handle X, py::handle W, int threads, py::object status) {
    Rows x = rows_of(X, p.inputs.size(), "X");
    Rows w = rows_of(W, p.outputs.size(), "W", x.shape(0));
    Rows y = new_rows(x.shape(0), p.outputs.size()), g = new_rows(x.shape(0), p.inputs.size());
    replay::Request r;
    r.rows = x.shape(0);
    r.X = x.data();
    r.W = w.data();
    r.Y = y.mutable_data();
    r.G = g.mutable_data();
    execute<Mode::vjp>(p, r, threads, status);
    return py::make_tuple(y, g);
}

py::typing::Tuple<Rows, Rows> jvp(const Program& p, py::handle X, py::handle V, int threads, py::object status) {
    Rows x = rows_of(X, p.inputs.size(), "X");
    Rows v = rows_of(V, p.inputs.size(), "V", x.shape(0));
    Rows y = new_rows(x.shape(0), p.outputs.size()), ydot = new_rows(x.shape(0), p.outputs.size());
    replay::Request r;
    r.rows = x.shape(0);
    r.X = x.data();
    r.V = v.data();
    r.Y = y.mutable_data();
    r.Ydot = ydot.mutable_data();
    execute<Mode::jvp>(p, r, threads, status);
    return py::make_tuple(y, ydot);
}

py::typing::Tuple<Rows, Rows, Rows> hvp(const Program& p, py::handle X, py::handle V, py::handle W, int threads,
                                        py::object status) {
    Rows x = rows_of(X, p.inputs.size(), "X");
    Rows v = rows_of(V, p.inputs.size(), "V", x.shape(0));
    Rows w = rows_of(W, p.outputs.size(), "W", x.shape(0));
    Rows y = new_rows(x.shape(0), p.outputs.size()), g = new_rows(x.shape(0), p.inputs.size()),
         hv = new_rows(x.shape(0), p.inputs.size());
    replay::Request r;
    r.rows = x.shape(0);
    r.X = x.data();
    r.V = v.data();
    r.W = w.data();
    r.Y = y.mutable_data();
    r.G = g.mutable_data();
    r.HV = hv.mutable_data();
    execute<Mode::hvp>(p, r, threads, status);
    return py::make_tuple(y, g, hv);
}

// One point of a function of one number to one number: the path a scalar
// call takes, with no array made on the way in or out.
void require_scalar(const Program& p) {
    if (p.inputs.size() != 1 || p.outputs.size() != 1)
        throw py::type_error("this fast path needs one scalar input and one scalar output");
}

double value1(const Program& p, double x) {
    require_scalar(p);
    double y = 0.0;
    replay::Request r;
    r.rows = 1;
    r.X = &x;
    r.Y = &y;
    execute<Mode::value>(p, r, 1, py::none());
    return y;
}

std::pair<double, double> value_and_grad1(const Program& p, double x) {
    require_scalar(p);
    double y = 0.0, g = 0.0, one = 1.0;
    replay::Request r;
    r.rows = 1;
    r.X = &x;
    r.W = &one;
    r.Y = &y;
    r.G = &g;
    execute<Mode::vjp>(p, r, 1, py::none());
    return {y, g};
}

using Slots = py::array_t<std::uint32_t, py::array::c_style | py::array::forcecast>;

std::vector<index_t> slot_vector(const Slots& a) {
    return std::vector<index_t>(a.data(), a.data() + a.size());
}

std::shared_ptr<Program> from_tape(TapeHandle& h, std::uint32_t generation, const Slots& input_slots,
                                   const Slots& output_slots, std::vector<Shape> arg_shapes, Shape out_shape,
                                   std::vector<std::string> sites) {
    // Slot arrays, not lists: a 10^6-element argument converts in a memcpy.
    std::vector<index_t> inputs = slot_vector(input_slots), outputs = slot_vector(output_slots);
    const Tape& t = h.tape;
    auto hold = t.lock_storage();
    if (t.generation() != generation) throw py::value_error("the tape was reset during compile; record again");
    const auto& cmp = t.comparisons();
    for (std::size_t k = 0; k < cmp.size(); ++k) {
        if (cmp[k].kind != Compare::escape) continue;
        throw py::type_error(
            "f turned a Var into a plain number (float(v) or int(v), e.g. through math.sin or numpy on a Var)" +
            (k < sites.size() ? " at " + sites[k] : std::string()) +
            ". A compiled tape would keep that number fixed and give wrong results at other inputs. Use the "
            "tapegrad functions (tapegrad.sin, not math.sin), or v.value where a constant is really meant" +
            (sites.empty() ? "; compile with debug=True to see the line." : "."));
    }
    if (!sites.empty() && sites.size() != cmp.size()) sites.clear();  // comparisons made outside debug mode
    return std::make_shared<Program>(program_from_tape(t, inputs, outputs, std::move(arg_shapes),
                                                       std::move(out_shape), std::move(sites)));
}

// One comparison per element of an array comparison (tapegrad/numpy/_guards.py):
// kinds, operand slots, constants (where b is one) and outcomes, all of
// length n. Returns whether the tape notes source lines (compile(debug=True)),
// in which case the caller appends one per comparison.
bool record_comparisons(TapeHandle& h, py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast> kinds,
                        py::array_t<std::uint32_t, py::array::c_style | py::array::forcecast> a,
                        py::array_t<std::uint32_t, py::array::c_style | py::array::forcecast> b,
                        py::array_t<double, py::array::c_style | py::array::forcecast> constants,
                        py::array_t<bool, py::array::c_style | py::array::forcecast> outcomes) {
    const py::ssize_t n = kinds.size();
    if (a.size() != n || b.size() != n || constants.size() != n || outcomes.size() != n)
        throw py::value_error("record_comparisons needs arrays of one length");
    Tape& t = h.tape;
    const index_t size = t.size();
    const std::uint8_t* k = kinds.data();
    const std::uint32_t *pa = a.data(), *pb = b.data();
    const double* c = constants.data();
    const bool* o = outcomes.data();
    for (py::ssize_t i = 0; i < n; ++i)
        if (k[i] >= static_cast<std::uint8_t>(Compare::escape) || pa[i] < first_node || pa[i] >= size ||
            pb[i] >= size || (pb[i] != 0 && pb[i] < first_node))
            throw py::value_error("record_comparisons: a kind or slot out of range");
    for (py::ssize_t i = 0; i < n; ++i)
        t.record_comparison(static_cast<Compare>(k[i]), pa[i], pb[i], c[i], pb[i] == 0, o[i]);
    return t.record_sites;
}

py::bytes save(const std::vector<std::shared_ptr<Program>>& programs) {
    if (programs.empty()) throw py::value_error("nothing to save");
    std::vector<const Program*> ps;
    for (const auto& p : programs) ps.push_back(p.get());
    return py::bytes(serial::save(ps));
}

std::vector<std::shared_ptr<Program>> load(py::buffer data, std::optional<std::uint64_t> max_work,
                                          std::optional<std::uint64_t> max_memory) {
    serial::Limits limits;
    if (max_work) limits.max_work = std::max<std::uint64_t>(*max_work, 1);
    if (max_memory) limits.max_memory = std::max<std::uint64_t>(*max_memory, 1);
    py::buffer_info b = data.request();
    if (b.ndim != 1 || b.itemsize != 1 || b.strides[0] != 1)
        throw py::type_error("load needs bytes (a contiguous buffer of bytes)");
    std::vector<Program> loaded;
    without_gil([&] {  // parsing and validation touch only the buffer, which `data` keeps alive
        loaded = serial::load(static_cast<const std::uint8_t*>(b.ptr), static_cast<std::size_t>(b.size), limits);
    });
    std::vector<std::shared_ptr<Program>> out;
    for (Program& p : loaded) out.push_back(std::make_shared<Program>(std::move(p)));
    return out;
}

Guards guards(const Program& p) {
    Guards out;
    for (std::size_t k = 0; k < p.guards.size(); ++k) {
        const Comparison& g = p.guards[k];
        out.append(py::dict("op"_a = spelling(g.kind), "a"_a = g.a,
                            "b"_a = g.b_is_constant ? py::object(py::none()) : py::int_(g.b),
                            "constant"_a = g.b_is_constant ? py::object(py::float_(g.constant)) : py::none(),
                            "outcome"_a = g.outcome, "text"_a = describe_guard(p, k),
                            "site"_a = p.sites.empty() ? py::object(py::none()) : py::str(p.sites[k])));
    }
    return out;
}

ShapeTuple shape_tuple(const Shape& s) {
    ShapeTuple t(s.size());
    for (std::size_t k = 0; k < s.size(); ++k) t[k] = py::int_(s[k]);
    return t;
}

}  // namespace

void register_replay(py::module_& m) {
    auto& branch_changed = py::register_exception<BranchChanged>(m, "BranchChangedError", PyExc_ValueError);
    branch_changed.attr("__doc__") =
        "A compiled function was called at an input where a comparison made while recording (if x > 0: ...) "
        "would go the other way, so the recorded tape does not compute f there. The message names the comparison.";

    py::class_<Program, std::shared_ptr<Program>>(
        m, "Program",
        "A recorded tape compiled for replay: opcodes, parents, constants, inputs, outputs and the comparisons "
        "that chose its branch. Immutable; replays run in C++ with the GIL released. Use tapegrad.compile.")
        .def_static("from_tape", &from_tape, py::arg("tape"), py::arg("generation"), py::arg("inputs"),
                    py::arg("outputs"), py::arg("arg_shapes"), py::arg("out_shape"), py::arg("sites"),
                    "Copy a recorded tape into a new Program (the tape may then be reset).")
        .def_property_readonly("num_nodes", [](const Program& p) { return p.num_nodes(); })
        .def_property_readonly("num_inputs", [](const Program& p) { return p.inputs.size(); })
        .def_property_readonly("num_outputs", [](const Program& p) { return p.outputs.size(); })
        .def_property_readonly("arg_shapes", [](const Program& p) {
            py::typing::List<ShapeTuple> l;
            for (const Shape& s : p.arg_shapes) l.append(shape_tuple(s));
            return l;
        })
        .def_property_readonly("out_shape", [](const Program& p) { return shape_tuple(p.out_shape); })
        .def_property_readonly("guards", &guards, "The recorded comparisons, as dicts.")
        .def("value", &value, py::arg("X"), py::arg("threads") = 1, py::arg("status") = py::none(),
             "Y[b] = f(X[b]) for each row of X (B, num_inputs).")
        .def("vjp", &vjp, py::arg("X"), py::arg("W"), py::arg("threads") = 1, py::arg("status") = py::none(),
             "(Y, G): values and G[b] = W[b]ᵀ J(X[b]).")
        .def("jvp", &jvp, py::arg("X"), py::arg("V"), py::arg("threads") = 1, py::arg("status") = py::none(),
             "(Y, Ydot): values and Ydot[b] = J(X[b]) V[b] (replay on dual numbers).")
        .def("hvp", &hvp, py::arg("X"), py::arg("V"), py::arg("W"), py::arg("threads") = 1,
             py::arg("status") = py::none(),
             "(Y, G, HV): values, G[b] = W[b]ᵀ J and HV[b] = d(W[b]ᵀ J)/dX · V[b] (forward-over-reverse).")
        .def("value1", &value1, py::arg("x"), "f(x) for a function of one number to one number.")
        .def("value_and_grad1", &value_and_grad1, py::arg("x"), "(f(x), f'(x)) for one number to one number.");

    m.def("_record_comparisons", &record_comparisons, py::arg("tape"), py::arg("kinds"), py::arg("a"),
          py::arg("b"), py::arg("constants"), py::arg("outcomes"),
          "Record one comparison per element (b == 0: against constants[i]); see tapegrad/numpy/_guards.py.");
    m.def("save_programs", &save, py::arg("programs"), "Programs as bytes (see tapegrad/serialize.hpp).");
    m.def("load_programs", &load, py::arg("data"), py::arg("max_work") = py::none(), py::arg("max_memory") = py::none(),
          "Programs from bytes, validated completely; ValueError on anything malformed or asking for more work "
          "or scratch memory per evaluation than max_work / max_memory (None: what the file's size pays for).");
    m.def("_format_tables", [] {
        py::typing::List<py::str> ops, kinds;
        for (int r = 0; r < static_cast<int>(Op::count); ++r) ops.append(serial::op_file_name(static_cast<Op>(r)));
        for (int k = 0; k < entry_kind_count; ++k) kinds.append(entry_kind_name(static_cast<EntryKind>(k)));
        return py::typing::Dict<py::str, py::typing::List<py::str>>(
            py::dict("ops"_a = ops, "entry_kinds"_a = kinds));
    }, "The numbering saved files use: opcode names in row order, entry kind names (see serialize.hpp).");
    m.attr("format_version") = serial::format_version;
}

}  // namespace tapegrad::bindings
