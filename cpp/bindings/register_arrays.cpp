// Reverse sweeps for the functional API over arrays: vector-Jacobian products
// and Jacobians, any number of seeds per call, gradients gathered straight
// from strided views (no index arrays built in Python). The sweeps run with
// the GIL released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/typing.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gil.hpp"
#include "register.hpp"
#include "sweep.hpp"
#include "tape_handle.hpp"
#include "tapegrad/strided.hpp"

namespace py = pybind11;

namespace tapegrad::bindings {

namespace {

// Where a Var or VarArray lives: first slot, shape and strides (in slots).
struct View {
    std::int64_t first;
    std::vector<std::int64_t> shape, strides;
    std::int64_t size;
};

View to_view(const py::handle& item) {
    auto t = item.cast<py::tuple>();
    View v;
    v.first = t[0].cast<std::int64_t>();
    v.shape = t[1].cast<std::vector<std::int64_t>>();
    v.strides = t[2].cast<std::vector<std::int64_t>>();
    if (v.shape.size() != v.strides.size() || static_cast<int>(v.shape.size()) > max_dims)
        throw py::value_error("a view needs one stride per axis (at most 32 axes)");
    v.size = 1;
    for (auto d : v.shape) v.size *= d;
    return v;
}

bool inside(const View& v, std::int64_t n) {
    if (v.size == 0) return true;
    std::int64_t lo, hi;
    walk_extent(static_cast<int>(v.shape.size()), v.shape.data(), v.strides.data(), lo, hi);
    return v.first + lo >= Tape::num_sinks && v.first + hi < n;
}

// Whether the views, in order, are one run of consecutive slots [first,
// first + total), each in C order: what value_and_grad watches (its
// arguments' leaves, recorded one after another).
bool one_run(const std::vector<View>& views, std::int64_t total) {
    if (views.empty() || total == 0) return false;
    std::int64_t next = views.front().first;
    for (const View& v : views) {
        if (v.first != next) return false;
        std::int64_t expect = 1;
        for (std::size_t d = v.shape.size(); d-- > 0;) {
            if (v.shape[d] != 1 && v.strides[d] != expect) return false;
            expect *= v.shape[d];
        }
        next += v.size;
    }
    return true;
}

// A workspace handed to a gradient array, and where it goes back (capsule).
struct Lent {
    Buffer<double> buffer;
    std::shared_ptr<ReturnedWorkspace> home;
};

// (first, shape, strides) per view. (py::typing types only name the
// arguments and results for the stubs.)
using Ints = py::typing::Tuple<py::int_, py::ellipsis>;
using ViewList = py::typing::List<py::typing::Tuple<py::int_, Ints, Ints>>;

// Sweeps seeded at the slots `outs`: row r of the result holds, for every
// element of every view in `wrt` (in order, C order within a view), the
// derivative of sum_k seeds[r, k] * node(outs[k]); with no seeds, row k is the
// derivative of node(outs[k]) alone (one Jacobian row per sweep).
py::array_t<double> pullback(TapeHandle& h, py::array_t<std::uint32_t, py::array::c_style | py::array::forcecast> outs,
                             py::object seeds_obj, ViewList wrt, std::uint32_t generation) {
    std::vector<View> views;
    std::int64_t total = 0;
    for (auto item : wrt) {
        views.push_back(to_view(item));
        total += views.back().size;
    }
    const py::ssize_t m = outs.size();
    const bool identity = seeds_obj.is_none();
    py::array_t<double, py::array::c_style | py::array::forcecast> seeds;
    if (!identity) {
        seeds = seeds_obj.cast<py::array_t<double, py::array::c_style | py::array::forcecast>>();
        if (seeds.ndim() != 2 || seeds.shape(1) != m)
            throw py::value_error("seeds must have shape (rows, number of outputs)");
    }
    const py::ssize_t rows = identity ? m : seeds.shape(0);
    const std::uint32_t* o = outs.data();
    const double* s = identity ? nullptr : seeds.data();
    // One gradient that is one run of slots and at least a quarter of the
    // workspace (so the array pins at most 4x its own size): the array is
    // that run of the workspace itself, lent to it rather than copied out
    // (a training step's million parameters: 9 MB less to read and write).
    const std::uint32_t top_all = m ? *std::max_element(o, o + m) : 0;
    const bool lend = rows == 1 && m > 0 && one_run(views, total) && views.front().first >= Tape::num_sinks &&
                      views.front().first + total - 1 <= std::int64_t(top_all) &&
                      4 * total >= std::int64_t(top_all) + 1;
    py::array_t<double> result;
    if (!lend) result = py::array_t<double>({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(total)});
    double* r = lend ? nullptr : result.mutable_data();
    Lent* lent = lend ? new Lent{Buffer<double>(), h.returned} : nullptr;
    py::capsule lent_owner;
    if (lent) lent_owner = py::capsule(lent, [](void* p) {
        auto* l = static_cast<Lent*>(p);
        l->home->give_back(std::move(l->buffer));
        delete l;
    });
    std::string error;
    // Pure C++ from here: no Python object is touched. Ctrl-C stops a long
    // run of sweeps (each sweep checks too; a restart begins at row 0).
    interruptible([&](const Interrupt* stop) {
        const Tape& t = h.tape;
        SweepScope scope(h);
        const std::int64_t n_tape = t.size();
        if (t.generation() != generation) error = "stale";
        for (py::ssize_t k = 0; k < m && error.empty(); ++k)
            if (o[k] < Tape::num_sinks || o[k] >= n_tape) error = "output node " + std::to_string(o[k]) + " is not on this tape";
        for (const View& v : views)
            if (error.empty() && !inside(v, n_tape)) error = "a variable's view reaches outside this tape";
        for (py::ssize_t row = 0; row < rows && error.empty(); ++row) {
            double* out_row = r + row * total;
            const std::uint32_t top = identity ? o[row] : top_all;
            if (m == 0) {
                std::fill(out_row, out_row + total, 0.0);
                continue;
            }
            double* adj = scope.zeroed(std::size_t(top) + 1);
            if (identity) {
                adj[top] = 1.0;
            } else {
                for (py::ssize_t k = 0; k < m; ++k) adj[o[k]] += s[row * m + k];
            }
            sweep(t, top, adj, stop);
            check(stop);
            if (lent) {
                lent->buffer = scope.lend();
                break;
            }
            std::int64_t at = 0;
            for (const View& v : views) {
                for_each_run<1>(static_cast<int>(v.shape.size()), v.shape.data(), {v.strides.data()}, {v.first},
                                v.size, [&](auto off, std::int64_t len, auto step, std::int64_t i) {
                                    if (step[0] == 1 && off[0] + len - 1 <= top) {  // a parameter block: one copy
                                        std::memcpy(out_row + at + i, adj + off[0], std::size_t(len) * sizeof(double));
                                        return;
                                    }
                                    for (std::int64_t j = 0; j < len; ++j) {
                                        const std::int64_t slot = off[0] + j * step[0];
                                        out_row[at + i + j] = slot <= top ? adj[slot] : 0.0;
                                    }
                                });
                at += v.size;
            }
        }
    }, std::size_t(rows) * (std::size_t(top_all) + 1) >= watch_from || h.has_entries());
    if (error == "stale")
        throw py::value_error("the tape was reset while this gradient was being requested; record again");
    if (!error.empty()) throw py::index_error(error);
    if (lent) {
        const py::ssize_t row_bytes = static_cast<py::ssize_t>(total * sizeof(double));
        return py::array_t<double>({py::ssize_t(1), static_cast<py::ssize_t>(total)}, {row_bytes, py::ssize_t(sizeof(double))},
                                   lent->buffer.data() + views.front().first, lent_owner);
    }
    return result;
}

py::typing::Dict<py::str, py::int_> entry_counts(const TapeHandle& h) {
    std::int64_t count[entry_kind_count] = {};
    const EntryList& list = h.tape.entries();
    for (std::size_t i = 0; i < list.list.size(); ++i) ++count[static_cast<int>(list.list[i].kind)];
    py::typing::Dict<py::str, py::int_> d;
    for (int k = 0; k < entry_kind_count; ++k) d[entry_kind_name(static_cast<EntryKind>(k))] = count[k];
    return d;
}

}  // namespace

void register_arrays(py::module_& m) {
    m.def("_pullback", &pullback, py::arg("tape"), py::arg("outs"), py::arg("seeds"), py::arg("wrt"),
          py::arg("generation"),
          "Reverse sweeps seeded at node indices `outs`: with seeds (rows x len(outs)) one sweep per row of "
          "seeds; with seeds=None one sweep per output (a Jacobian row each). `wrt` lists (first, shape, "
          "strides) views; returns a (rows x total elements of wrt) float64 array.");
    m.def("_entry_counts", &entry_counts, py::arg("tape"),
          "How many array entries of each kind the tape holds (for tests and curiosity).");
}

}  // namespace tapegrad::bindings
