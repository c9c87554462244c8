// The array entries of a compiled Program: copying them out of a tape, and
// checking them before any replay trusts them (bytes may come from anywhere).
//
// What validate_entries guarantees, so that replay's kernels stay inside
// their arrays: kinds, op-table rows, reducers and activations known; entries
// sorted, non-overlapping, inside the program, and every slot of an entry
// (only those) marked Op::entry (Op::input for a block of inputs); geometry
// and data offsets inside their arenas; shape products equal to the entry's
// size; every operand walk (shape x strides from its first slot) inside the
// slots [first_node, e.first) -- operands come before the entry; gather
// sources below the entry; matrix dimensions within the 32-bit BLAS limit.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "activation.hpp"
#include "entries.hpp"
#include "ops.hpp"
#include "strided.hpp"
#include "tape.hpp"  // first_node

namespace tapegrad {

// The entries a compiled Program holds: the same arrays as a tape's
// EntryList (entries.hpp reads either), as plain vectors, since a Program is
// a value that is copied and loaded from bytes. No reduction weights: replay
// writes those into a workspace of weight_count values (offsets
// Entry::weights, as on the tape).
struct ProgramEntries {
    std::vector<Entry> list;               // sorted by first slot
    std::vector<std::int64_t> geometry;
    std::vector<double> constants;
    std::vector<index_t> indices;
    std::uint64_t weight_count = 0;

    bool empty() const noexcept { return list.empty(); }
};

inline void copy_entries(const EntryList& from, ProgramEntries& to) {
    to.list.assign(from.list.data(), from.list.data() + from.list.size());
    to.geometry.assign(from.geometry.data(), from.geometry.data() + from.geometry.size());
    to.constants.assign(from.constants.data(), from.constants.data() + from.constants.size());
    to.indices.assign(from.indices.data(), from.indices.data() + from.indices.size());
    to.weight_count = from.weights.size();
}

namespace detail {

// Checks of one entry against the program's `nodes` slots; `bad(why)` throws.
class EntryChecker {
public:
    EntryChecker(const ProgramEntries& list, std::uint64_t weight_count, std::size_t nodes)
        : list_(list), weight_count_(weight_count), nodes_(nodes) {}

    // geometry[e.geometry .. + count), or reject.
    const std::int64_t* geometry(const Entry& e, std::uint64_t count) const {
        if (e.geometry > list_.geometry.size() || count > list_.geometry.size() - e.geometry)
            bad(e, "its geometry lies outside the geometry arena");
        return list_.geometry.data() + e.geometry;
    }

    // Product of nd dimensions, each in [0, 2^32); rejects an overflow.
    std::uint64_t product(const Entry& e, const std::int64_t* shape, int nd) const {
        std::uint64_t n = 1;
        for (int d = 0; d < nd; ++d) {
            if (shape[d] < 0 || std::uint64_t(shape[d]) > max_nodes) bad(e, "a dimension out of range");
            if (shape[d] && n > max_nodes / std::uint64_t(shape[d])) bad(e, "its shape has too many elements");
            n *= std::uint64_t(shape[d]);
        }
        return n;
    }

    // The walk from slot `first` over shape x stride stays in [first_node, e.first).
    void walk(const Entry& e, std::int64_t first, int nd, const std::int64_t* shape, const std::int64_t* stride,
              const char* what) const {
        if (product(e, shape, nd) == 0) return;  // reads nothing
        std::int64_t lo = 0, hi = 0;
        for (int d = 0; d < nd; ++d) {
            const std::int64_t s = stride[d], m = shape[d] - 1;
            if (s == std::numeric_limits<std::int64_t>::min() || (m && (s < 0 ? -s : s) > std::int64_t(max_nodes) / m))
                bad(e, std::string("the strides of ") + what + " reach outside the program");
            (s < 0 ? lo : hi) += m * s;
        }
        if (first + lo < std::int64_t(first_node) || first + hi >= std::int64_t(e.first))
            bad(e, std::string(what) + " reaches slots outside [first node, the entry's first slot)");
    }

    void arena_range(const Entry& e, std::uint64_t offset, std::uint64_t count, std::size_t size,
                     const char* what) const {
        if (offset > size || count > size - offset) bad(e, std::string("its ") + what + " lie outside their arena");
    }

    // Caught by validate_entries, which hands the message to its `reject`.
    [[noreturn]] void bad(const Entry& e, const std::string& why) const {
        throw std::invalid_argument("the array entry at slot " + std::to_string(e.first) + ": " + why);
    }

    void check(const Entry& e) const;

private:
    const ProgramEntries& list_;
    std::uint64_t weight_count_;
    std::size_t nodes_;
};

inline void EntryChecker::check(const Entry& e) const {
    const int nd = e.ndim;
    if (nd > max_dims) bad(e, "more than " + std::to_string(max_dims) + " dimensions");
    if (e.a >= nodes_ || e.b >= nodes_) bad(e, "an operand slot outside the program");
    // The dispatch forms geometry + e.geometry (and dense/matmul constants +
    // e.data) for every kind: even an unused offset must stay inside its arena.
    if (e.geometry > list_.geometry.size()) bad(e, "its geometry lies outside the geometry arena");
    if ((e.kind == EntryKind::dense || e.kind == EntryKind::matmul) && e.data > list_.constants.size())
        bad(e, "its constants lie outside their arena");
    switch (e.kind) {
        case EntryKind::inputs:
            return;
        case EntryKind::elementwise: {
            const std::uint8_t op = static_cast<std::uint8_t>(e.op);
            if (!is_known(op) || info(e.op).arity == Arity::none) bad(e, "not an op-table row");
            const Arity arity = info(e.op).arity;
            const bool constant_op = arity == Arity::binary_vc || arity == Arity::binary_cv;
            if ((e.flags & ~entry_flags::constant_per_element) ||
                ((e.flags & entry_flags::constant_per_element) && !constant_op))
                bad(e, "unknown flags");
            const std::int64_t* g = geometry(e, 3 * std::uint64_t(nd));
            if (product(e, g, nd) != e.size) bad(e, "its shape does not match its size");
            walk(e, e.a, nd, g, g + nd, "operand a");
            if (arity == Arity::binary) walk(e, e.b, nd, g, g + 2 * nd, "operand b");
            return;
        }
        case EntryKind::reduce: {
            if (e.reducer > Reducer::norm) bad(e, "unknown reducer");
            if (e.split > nd) bad(e, "more kept axes than axes");
            const std::int64_t* g = geometry(e, 2 * std::uint64_t(nd));
            const std::uint64_t kept = product(e, g, e.split), R = product(e, g + e.split, nd - e.split);
            if (kept != e.size) bad(e, "its kept shape does not match its size");
            if (R && std::uint64_t(e.size) > max_nodes / R) bad(e, "too many reduced elements");
            walk(e, e.a, nd, g, g + nd, "the reduced operand");
            if (e.reducer != Reducer::sum) arena_range(e, e.weights, kept * R, weight_count_, "weights");
            return;
        }
        case EntryKind::gather: {
            arena_range(e, e.data, e.size, list_.indices.size(), "gather sources");
            const index_t* src = list_.indices.data() + e.data;
            for (index_t j = 0; j < e.size; ++j)
                if (src[j] >= e.first) bad(e, "a gather source is not below the entry");
            return;
        }
        case EntryKind::matmul: {
            const std::int64_t* g = geometry(e, 7);
            const std::int64_t M = g[0], K = g[1], N = g[2];
            const std::int64_t out[2] = {M, N}, a_shape[2] = {M, K}, b_shape[2] = {K, N};
            if (product(e, out, 2) != e.size || product(e, a_shape, 2) > max_nodes || product(e, b_shape, 2) > max_nodes)
                bad(e, "its shape does not match its size");
            const bool ac = e.flags & entry_flags::a_constant, bc = e.flags & entry_flags::b_constant;
            if ((e.flags & ~(entry_flags::a_constant | entry_flags::b_constant)) || (ac && bc)) bad(e, "unknown flags");
            if (ac || bc)
                arena_range(e, e.data, std::uint64_t(ac ? M * K : 0) + std::uint64_t(bc ? K * N : 0),
                            list_.constants.size(), "constant operands");
            if (!ac) walk(e, e.a, 2, a_shape, g + 3, "operand A");
            if (!bc) walk(e, e.b, 2, b_shape, g + 5, "operand B");
            return;
        }
        case EntryKind::cumsum: {
            if (nd < 1) bad(e, "a cumsum with no axis");
            const std::int64_t* g = geometry(e, 2 * std::uint64_t(nd));
            if (product(e, g, nd) != e.size) bad(e, "its shape does not match its size");
            walk(e, e.a, nd, g, g + nd, "its operand");
            return;
        }
        case EntryKind::dense: {
            const std::int64_t* g = geometry(e, entries::dense_geometry_size);
            const std::int64_t M = g[0], K = g[1], N = g[2];
            const std::int64_t out[2] = {M, N}, x_shape[2] = {M, K}, w_shape[2] = {K, N};
            if (product(e, out, 2) != e.size || product(e, x_shape, 2) > max_nodes || product(e, w_shape, 2) > max_nodes)
                bad(e, "its shape does not match its size");
            constexpr std::int64_t blas_max = std::numeric_limits<int>::max();
            if (M > blas_max || K > blas_max || N > blas_max) bad(e, "a dimension beyond the 32-bit BLAS limit");
            if (g[9] < 0 || g[9] > static_cast<std::int64_t>(entries::Bias::constant)) bad(e, "unknown bias mode");
            if (g[10] < 0 || g[10] >= activation::count) bad(e, "unknown activation");
            const bool xc = e.flags & entry_flags::a_constant, wc = e.flags & entry_flags::b_constant;
            const auto bias = static_cast<entries::Bias>(g[9]);
            if (e.flags & ~(entry_flags::a_constant | entry_flags::b_constant)) bad(e, "unknown flags");
            if (xc && wc && bias != entries::Bias::variable) bad(e, "no variable operand");
            const std::uint64_t nc = std::uint64_t(xc ? M * K : 0) + std::uint64_t(wc ? K * N : 0) +
                                     std::uint64_t(bias == entries::Bias::constant ? N : 0);
            if (nc) arena_range(e, e.data, nc, list_.constants.size(), "constant operands");
            if (!xc) walk(e, e.a, 2, x_shape, g + 3, "X");
            if (!wc) walk(e, e.b, 2, w_shape, g + 5, "W");
            if (bias == entries::Bias::variable) {
                if (g[7] < 0 || g[7] >= std::int64_t(nodes_)) bad(e, "the bias slot is outside the program");
                walk(e, g[7], 1, &N, g + 8, "b");
            }
            return;
        }
        case EntryKind::fused:
            if (const char* why = entries::check_fused(e, list_.geometry.data(), list_.geometry.size(),
                                                       list_.constants.size(), first_node))
                bad(e, why);
            return;
    }
    bad(e, "unknown kind " + std::to_string(static_cast<int>(e.kind)));
}

}  // namespace detail

// Check the entries of a program of `ops.size()` slots; throws (via `reject`)
// with a message naming the entry and what is wrong.
template <class Reject>
inline void validate_entries(const ProgramEntries& list, const std::vector<std::uint8_t>& ops, Reject reject) {
    const std::size_t n = ops.size();
    const detail::EntryChecker check(list, list.weight_count, n);
    std::uint64_t usable = 0;  // weights the reductions write: the workspace needs no more
    std::size_t covered = first_node;  // slots below this belong to earlier entries or are checked
    std::size_t entry_slots = 0;
    for (std::size_t k = 0; k < list.list.size(); ++k) {
        const Entry& e = list.list[k];
        if (e.size == 0) reject("an array entry with no slots");
        if (e.first < covered || e.first > n || e.size > n - e.first)
            reject("array entries overlap, are out of order or reach past the last node");
        const auto want = static_cast<std::uint8_t>(e.kind == EntryKind::inputs ? Op::input : Op::entry);
        for (index_t j = 0; j < e.size; ++j)
            if (ops[e.first + j] != want)
                reject("slot " + std::to_string(e.first + j) + " is not marked as its array entry's");
        if (e.kind != EntryKind::inputs) entry_slots += e.size;
        std::string why;
        try {
            check.check(e);
        } catch (const std::invalid_argument& err) {
            why = err.what();
        }
        if (!why.empty()) reject(why);
        if (e.kind == EntryKind::reduce && e.reducer != Reducer::sum) {
            const std::int64_t* g = list.geometry.data() + e.geometry;  // checked above
            std::uint64_t R = 1;
            for (int d = e.split; d < e.ndim; ++d) R *= std::uint64_t(g[d]);
            usable += R * e.size;
        }
        covered = e.first + e.size;
    }
    std::size_t marked = 0;
    for (std::size_t i = first_node; i < n; ++i) marked += ops[i] == static_cast<std::uint8_t>(Op::entry);
    if (marked != entry_slots) reject("a slot marked as an array entry's belongs to no entry");
    if (list.weight_count > usable) reject("more reduction weights than the reductions use");
}

}  // namespace tapegrad
