// Recording array entries on a tape, in three steps so that the long part can
// run without Python's lock:
//
//   Entry e = begin_<kind>(tape, ...);   validate, reserve the output slots,
//                                        store the geometry (needs the GIL:
//                                        recording is one thread at a time)
//   run_entry(tape, e, stop);            compute values and partials; holds the
//                                        tape's storage lock, not the GIL;
//                                        false when `stop` (optional, Ctrl-C)
//                                        stopped it: run it again, or drop e
//   commit_entry(tape, e);               make it visible to the sweep
//
// An entry with no outputs (an empty array) is never committed: begin returns
// size 0 and the front end returns an empty array at slot tape.size().
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "entries.hpp"
#include "strided.hpp"
#include "tape.hpp"

namespace tapegrad {

namespace detail {

inline index_t entry_size(const std::int64_t* shape, int nd) {
    std::uint64_t n = 1;
    for (int d = 0; d < nd; ++d) {
        if (shape[d] < 0) throw std::invalid_argument("tapegrad: negative dimension");
        if (shape[d] && n > max_nodes / static_cast<std::uint64_t>(shape[d]))
            throw std::overflow_error("tapegrad: the array has more elements than a tape can hold (2**32 - 1)");
        n *= static_cast<std::uint64_t>(shape[d]);
    }
    return static_cast<index_t>(n);
}

inline void check_ndim(int nd) {
    if (nd < 0 || nd > max_dims)
        throw std::invalid_argument("tapegrad: arrays have at most " + std::to_string(max_dims) + " dimensions");
}

// Every slot a walk reaches must be a recorded, non-sink node.
inline void check_walk(const Tape& t, index_t first, int nd, const std::int64_t* shape, const std::int64_t* stride) {
    std::int64_t lo, hi;
    walk_extent(nd, shape, stride, lo, hi);
    if (std::int64_t(first) + lo < std::int64_t(first_node) || std::int64_t(first) + hi >= std::int64_t(t.size()))
        throw std::out_of_range("tapegrad: an operand view reaches outside the recorded slots");
}

inline std::uint64_t store_geometry(Tape& t, std::initializer_list<std::pair<const std::int64_t*, int>> parts) {
    std::size_t n = 0;
    for (auto& p : parts) n += static_cast<std::size_t>(p.second);
    return t.with_entries([&](EntryList& list) {
        const std::size_t at = list.geometry.extend(n);
        std::int64_t* g = list.geometry.data() + at;
        for (auto& p : parts) {
            if (p.second) std::memcpy(g, p.first, p.second * sizeof(std::int64_t));
            g += p.second;
        }
        return static_cast<std::uint64_t>(at);
    });
}

inline Entry new_entry(EntryKind kind, index_t size) {
    Entry e{};
    e.kind = kind;
    e.size = size;
    return e;
}

}  // namespace detail

// An op-table row over a space of shape[nd]: operand a (and b, for a binary
// row with two variable operands) walk slots with the given strides. For a
// _vc/_cv row, a is the variable operand and the constant is `scalar`, or,
// when `cdata` is given, the float64 array cdata walked with strides `cs`.
inline Entry begin_elementwise(Tape& t, Op op, int nd, const std::int64_t* shape, index_t a, const std::int64_t* sa,
                               index_t b, const std::int64_t* sb, double scalar, const double* cdata,
                               const std::int64_t* cs) {
    detail::check_ndim(nd);
    const Arity arity = is_known(static_cast<std::uint8_t>(op)) ? info(op).arity : Arity::none;
    if (arity == Arity::none) throw std::invalid_argument("tapegrad: not an op-table opcode");
    std::int64_t sh[max_dims], A[max_dims], B[max_dims], C[max_dims];
    for (int d = 0; d < nd; ++d) {
        sh[d] = shape[d];
        A[d] = sa[d];
        B[d] = arity == Arity::binary ? sb[d] : 0;
        C[d] = cdata ? cs[d] : 0;
    }
    Entry e = detail::new_entry(EntryKind::elementwise, detail::entry_size(sh, nd));
    e.op = op;
    e.first = t.size();
    if (e.size == 0) return e;
    detail::check_walk(t, a, nd, sh, A);
    if (arity == Arity::binary) detail::check_walk(t, b, nd, sh, B);
    const int n = coalesce<3>(nd, sh, {A, B, C});
    e.ndim = static_cast<std::uint8_t>(n);
    e.a = a;
    e.b = arity == Arity::binary ? b : a;
    e.scalar = scalar;
    e.first = t.push_block(e.size);
    e.geometry = detail::store_geometry(t, {{sh, n}, {A, n}, {B, n}});
    if (cdata && (arity == Arity::binary_vc || arity == Arity::binary_cv)) {
        e.flags |= entry_flags::constant_per_element;
        Partials* p = t.mutable_partials() + e.first;
        for_each_run<1>(n, sh, {C}, {0}, e.size, [&](auto off, std::int64_t m, auto step, std::int64_t i) {
            for (std::int64_t j = 0; j < m; ++j) p[i + j].b = cdata[off[0] + j * step[0]];
        });
    }
    return e;
}

// A reduction of the space shape[nd] over its trailing nd - nkept axes.
// `scale` is sum's uniform partial (1, or 1/n for a mean).
inline Entry begin_reduce(Tape& t, Reducer how, int nd, int nkept, const std::int64_t* shape, index_t a,
                          const std::int64_t* sa, double scale) {
    detail::check_ndim(nd);
    if (nkept < 0 || nkept > nd) throw std::invalid_argument("tapegrad: bad number of kept axes");
    std::int64_t sh[max_dims], A[max_dims];
    for (int d = 0; d < nd; ++d) sh[d] = shape[d], A[d] = sa[d];
    const index_t M = detail::entry_size(sh, nkept);
    const index_t R = detail::entry_size(sh + nkept, nd - nkept);
    Entry e = detail::new_entry(EntryKind::reduce, M);
    e.first = t.size();
    if (M == 0) return e;
    if (R) detail::check_walk(t, a, nd, sh, A);
    const int nk = coalesce<1>(nkept, sh, {A});
    const int nr = coalesce<1>(nd - nkept, sh + nkept, {A + nkept});
    std::memmove(sh + nk, sh + nkept, nr * sizeof(std::int64_t));
    std::memmove(A + nk, A + nkept, nr * sizeof(std::int64_t));
    e.ndim = static_cast<std::uint8_t>(nk + nr);
    e.split = static_cast<std::uint8_t>(nk);
    e.reducer = how;
    e.a = a;
    e.scalar = scale;
    e.first = t.push_block(M);
    e.geometry = detail::store_geometry(t, {{sh, nk + nr}, {A, nk + nr}});
    if (how != Reducer::sum) {
        const std::uint64_t total = std::uint64_t(M) * R;
        e.weights = t.with_entries([&](EntryList& list) { return list.weights.extend(total); });
    }
    return e;
}

// out[j] = slot src[j], or consts[j] where src[j] is below first_node (a sink:
// "a constant here"). Both arrays have n elements.
inline Entry begin_gather(Tape& t, index_t n, const std::int64_t* src, const double* consts) {
    Entry e = detail::new_entry(EntryKind::gather, n);
    e.first = t.size();
    if (n == 0) return e;
    for (index_t j = 0; j < n; ++j)
        if (src[j] < 0 || src[j] >= std::int64_t(t.size()))
            throw std::out_of_range("tapegrad: a gather source is not a recorded slot");
    e.first = t.push_block(n);
    Partials* p = t.mutable_partials() + e.first;
    e.data = t.with_entries([&](EntryList& list) {
        const std::size_t at = list.indices.extend(n);
        index_t* idx = list.indices.data() + at;
        for (index_t j = 0; j < n; ++j) {
            const bool constant = src[j] < std::int64_t(first_node);
            idx[j] = constant ? Tape::sink_of(e.first + j) : static_cast<index_t>(src[j]);
            p[j] = constant ? Partials{0.0, consts[j]} : Partials{1.0, 0.0};
        }
        return static_cast<std::uint64_t>(at);
    });
    return e;
}

// (M x K) @ (K x N). An operand is a strided view of slots (first, row and
// column stride) or, when its `constant` pointer is given, a row-major array.
inline Entry begin_matmul(Tape& t, std::int64_t M, std::int64_t K, std::int64_t N, index_t a, std::int64_t sa0,
                          std::int64_t sa1, const double* A, index_t b, std::int64_t sb0, std::int64_t sb1,
                          const double* B) {
    const std::int64_t out_shape[2] = {M, N};
    Entry e = detail::new_entry(EntryKind::matmul, detail::entry_size(out_shape, 2));
    e.first = t.size();
    if (K < 0) throw std::invalid_argument("tapegrad: negative dimension");
    if (e.size == 0) return e;
    if (A && B) throw std::invalid_argument("tapegrad: a matmul entry needs a variable operand");
    const std::int64_t ashape[2] = {M, K}, astr[2] = {sa0, sa1}, bshape[2] = {K, N}, bstr[2] = {sb0, sb1};
    if (K && !A) detail::check_walk(t, a, 2, ashape, astr);
    if (K && !B) detail::check_walk(t, b, 2, bshape, bstr);
    e.a = a;
    e.b = b;
    e.flags = (A ? entry_flags::a_constant : 0) | (B ? entry_flags::b_constant : 0);
    e.first = t.push_block(e.size);
    const std::int64_t geometry[7] = {M, K, N, sa0, sa1, sb0, sb1};
    e.geometry = detail::store_geometry(t, {{geometry, 7}});
    if (A || B) {
        const std::size_t na = A ? std::size_t(M * K) : 0, nb = B ? std::size_t(K * N) : 0;
        e.data = t.with_entries([&](EntryList& list) {
            const std::size_t at = list.constants.extend(na + nb);
            if (na) std::memcpy(list.constants.data() + at, A, na * sizeof(double));
            if (nb) std::memcpy(list.constants.data() + at + na, B, nb * sizeof(double));
            return static_cast<std::uint64_t>(at);
        });
    }
    return e;
}

// Running sums along the last axis of shape[nd] (nd >= 1).
inline Entry begin_cumsum(Tape& t, int nd, const std::int64_t* shape, index_t a, const std::int64_t* sa) {
    detail::check_ndim(nd);
    if (nd < 1) throw std::invalid_argument("tapegrad: cumsum needs at least one axis");
    std::int64_t sh[max_dims], A[max_dims];
    for (int d = 0; d < nd; ++d) sh[d] = shape[d], A[d] = sa[d];
    Entry e = detail::new_entry(EntryKind::cumsum, detail::entry_size(sh, nd));
    e.first = t.size();
    if (e.size == 0) return e;
    detail::check_walk(t, a, nd, sh, A);
    const std::int64_t line = sh[nd - 1], line_stride = A[nd - 1];
    int nk = coalesce<1>(nd - 1, sh, {A});
    sh[nk] = line;
    A[nk] = line_stride;
    e.ndim = static_cast<std::uint8_t>(nk + 1);
    e.a = a;
    e.first = t.push_block(e.size);
    e.geometry = detail::store_geometry(t, {{sh, nk + 1}, {A, nk + 1}});
    return e;
}

static_assert(sizeof(Partials) == sizeof(PartialPair<double>) && offsetof(Partials, b) == offsetof(PartialPair<double>, b),
              "run_entry passes the tape's partials to forward_entry_double as PartialPair<double>");

// Values and partials of a begun entry. Safe without the GIL: its slots are
// reserved, and the storage lock keeps the arrays from moving meanwhile.
// Returns false when `stop` asked it to stop (its values are then partial;
// running it again computes them all). Never throws `interrupted`.
inline bool run_entry(Tape& t, const Entry& e, const Interrupt* stop = nullptr) {
    if (e.size == 0) return true;
    t.with_entries([&](EntryList& list) {  // pointers taken under the lock: growth may move the arrays
        // (the cloned kernel, entries.hpp: Partials has PartialPair<double>'s layout)
        forward_entry_double(e, EntryArenas::of(list), t.mutable_values(),
                             reinterpret_cast<PartialPair<double>*>(t.mutable_partials()), list.weights.data(), stop);
        return 0;
    });
    return !requested(stop);
}

// Roughly how many element operations run_entry(t, e) does: to decide whether
// it is worth watching for Ctrl-C (a product's work is M K N, not its size).
inline std::uint64_t entry_work(Tape& t, const Entry& e) {
    if (e.kind != EntryKind::matmul && e.kind != EntryKind::dense && e.kind != EntryKind::fused &&
        e.kind != EntryKind::reduce)
        return e.size;
    return t.with_entries([&](EntryList& list) -> std::uint64_t {
        const std::int64_t* g = list.geometry.data() + e.geometry;
        if (e.kind == EntryKind::matmul || e.kind == EntryKind::dense)
            return std::uint64_t(g[0]) * std::uint64_t(g[1]) * std::uint64_t(g[2]);
        const std::int64_t* shape = e.kind == EntryKind::fused ? entries::fused::program(e, g).shape : g;
        const std::uint64_t all = std::uint64_t(product(shape, e.ndim));
        return e.kind == EntryKind::fused ? all * std::uint64_t(g[1]) : all;  // g[1]: its instructions
    });
}

// The tape sweep's kernels for array entries (tape.hpp's EntrySweep; where
// they compile: TG_KERNEL_INLINE in config.hpp).
#if defined(TAPEGRAD_SHARED_KERNELS) && !defined(TAPEGRAD_COMPILE_BACKWARD_KERNELS)
void prepare_entry_sweep(const EntryList& list);
void backward_entry_double(const Entry& e, const EntryList& list, const Partials* partials, const double* values,
                           const double* g, std::int64_t count, double* adj, const Interrupt* stop) noexcept;
#else
TG_KERNEL_INLINE void prepare_entry_sweep(const EntryList& list) { prepare_sweep(list); }
TG_KERNEL_INLINE void backward_entry_double(const Entry& e, const EntryList& list, const Partials* partials,
                                            const double* values, const double* g, std::int64_t count, double* adj,
                                            const Interrupt* stop) noexcept {
    backward_entry(e, list, partials, values, g, count, adj, stop);
}
#endif
inline constexpr EntrySweep entry_sweep{&prepare_entry_sweep, &backward_entry_double};

// Make a run entry visible to the sweep (kept sorted by first slot).
inline void commit_entry(Tape& t, const Entry& e) {
    if (e.size == 0) return;
    t.with_entries([&](EntryList& list) {
        t.set_entry_sweep(&entry_sweep);
        std::size_t i = list.list.extend(1);
        while (i > 0 && list.list[i - 1].first > e.first) {  // only if two threads recorded on one tape
            list.list[i] = list.list[i - 1];
            --i;
        }
        list.list[i] = e;
        return 0;
    });
}

// The values of an op-table row over constant arrays (no tape): out, contiguous
// over shape[nd], from a (and b for a binary row) walked with their strides.
inline void eval_elementwise(Op op, int nd, const std::int64_t* shape, const double* a, const std::int64_t* sa,
                             const double* b, const std::int64_t* sb, double* out) {
    detail::check_ndim(nd);
    const Arity arity = is_known(static_cast<std::uint8_t>(op)) ? info(op).arity : Arity::none;
    if (arity != Arity::unary && arity != Arity::binary)
        throw std::invalid_argument("tapegrad: eval_elementwise takes a unary or binary row");
    const index_t n = detail::entry_size(shape, nd);
    std::vector<Partials> scratch(n);
    const entries::Elementwise<double, Partials> w{nd, shape, sa, arity == Arity::binary ? sb : sa, a, b ? b : a,
                                                  0.0, false, out, scratch.data(), n};
    entries::elementwise(op, w);
}

}  // namespace tapegrad
