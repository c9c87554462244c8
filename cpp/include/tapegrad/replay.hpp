// Replay: evaluate a compiled Program at new inputs, all in C++.
//
// One forward pass over the opcodes recomputes every value and, when a
// derivative is wanted, every partial, from the same templated formulas that
// recording uses (formulas.hpp, expanded from ops.def: there is no second op
// table). Then the reverse sweep of the chain rule runs on those partials.
// The number type T is double, or a dual number (dual.hpp): replay on duals
// gives Jacobian-vector products, and forward-over-reverse (dual values and
// partials, then the sweep on dual adjoints) gives Hessian-vector products.
//
// A program with array entries (whole-array kernels, entries.hpp) replays one
// point at a time instead: a batch is a loop over its points inside C++ (the
// kernels vectorise over the array's elements), threads splitting the points.
//
// Batches are lanes: a chunk of L points is evaluated side by side, node-major
// and lane-minor (the value of node i at point l is v[i*L + l]), so each
// opcode is dispatched once per chunk and the inner loop over lanes
// vectorises. A single point is the case L = 1, compiled separately so its
// loops vanish. Chunks are sized to keep the workspace in cache; `threads`
// splits a batch over kept threads (workers.hpp), which take chunks in turn.
//
// Replay never writes to the Program, so many threads may replay one at once.
// Each thread works in a thread_local workspace reused across calls.
#pragma once
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

#include "buffer.hpp"
#include "dual.hpp"
#include "formulas.hpp"
#include "interrupt.hpp"
#include "program.hpp"
#include "workers.hpp"

namespace tapegrad::replay {

// What to compute. The input rows X are always read; the rest as listed.
enum class Mode {
    value,  // Y = f(X)
    vjp,    // Y, and G = Wᵀ J (per row; W = 1 for a scalar f gives the gradient)
    jvp,    // Y, and Ydot = J V  (dual numbers)
    hvp,    // Y, G = Wᵀ J and HV = d(Wᵀ J)/dX · V  (forward-over-reverse)
};

// Row-major arrays of one call: B points (rows), n_in inputs and n_out
// outputs per point. Pointers a mode does not use may be null.
struct Request {
    std::size_t rows = 0;
    const double* X = nullptr;   // rows × n_in
    const double* V = nullptr;   // rows × n_in   (jvp, hvp)
    const double* W = nullptr;   // rows × n_out  (vjp, hvp)
    double* Y = nullptr;         // rows × n_out
    double* Ydot = nullptr;      // rows × n_out  (jvp)
    double* G = nullptr;         // rows × n_in   (vjp, hvp)
    double* HV = nullptr;        // rows × n_in   (hvp)
    // Optional, one entry per row: run() sets -1, or the first comparison that
    // would go the other way at that row (and then does not stop at it).
    std::int32_t* status = nullptr;
};

// The first point (row) at which a recorded comparison would change, if any.
struct BranchChange {
    std::int64_t row = -1;
    std::int32_t guard = -1;
    double a = 0.0, b = 0.0;  // the operand values at that point
    explicit operator bool() const { return row >= 0; }
};

namespace detail {

// ---- the forward pass ------------------------------------------------------------

// Every opcode of ops.def as one case; `L` lanes per node. For ops with a
// constant operand, the variable operand is parent a and the constant comes
// from the program. An op without a second variable operand stores partial
// b = 0, so the branch-free single-point sweep may add it into a sink.
//
// Partials: node i owns 2L entries of `d` from 2iL, its L partials a then its
// L partials b -- for one point the pair {a, b} of the tape's own layout, for
// a chunk two rows the lane loops stream through.
//
// Dispatch. With GCC and Clang each op ends with its own jump to the next
// op's code (labels as values, "threaded code"), so every op has a branch
// predictor entry of its own. With one shared `switch` jump the value pass
// of one point of the Rosenbrock tape (9000 nodes) took about 43 us inside
// the extension module, threaded about 9 us (CPU time, perf stat, same
// machine): mispredicted dispatch serialises the store-to-load chains that
// out-of-order execution otherwise overlaps. Other compilers use the switch;
// the op bodies are shared by both.
#ifndef TG_THREADED_DISPATCH  // -DTG_THREADED_DISPATCH=0 builds the switch (the C++ test checks both)
#if defined(__GNUC__) || defined(__clang__)
#define TG_THREADED_DISPATCH 1
#else
#define TG_THREADED_DISPATCH 0
#endif
#endif

// Opcodes before the first row of ops.def (sink, input, entry): replay gives
// them no work. Checked against the enum below.
inline constexpr int special_opcodes = static_cast<int>(Op::count) - (0
#define TG_UNARY(...) +1
#define TG_BINARY(...) +3
#include "ops.def"
);

// The body of each op for node i, with these set: y (its values), x and z
// (its parents' values), pa and pb (its partials; Partials only), c (its constant).
#define TG_REPLAY_UNARY(name)                                                       \
    for (std::size_t l = 0; l < L; ++l) {                                           \
        const T a = x[l];                                                           \
        const T r = formula::value_##name<T>(a);                                    \
        y[l] = r;                                                                   \
        if constexpr (Partials) {                                                   \
            pa[l] = formula::partial_##name<T>(a, r);                               \
            pb[l] = T(0.0);                                                         \
        }                                                                           \
    }
#define TG_REPLAY_BINARY(name)                                                      \
    for (std::size_t l = 0; l < L; ++l) {                                           \
        const T a = x[l], b = z[l];                                                 \
        const T r = formula::value_##name<T>(a, b);                                 \
        y[l] = r;                                                                   \
        if constexpr (Partials) {                                                   \
            pa[l] = formula::partial_a_##name<T>(a, b, r);                          \
            pb[l] = formula::partial_b_##name<T>(a, b, r);                          \
        }                                                                           \
    }
#define TG_REPLAY_VC(name)                                                          \
    for (std::size_t l = 0; l < L; ++l) {                                           \
        const T a = x[l];                                                           \
        const T r = formula::value_##name<T>(a, T(c));                                 \
        y[l] = r;                                                                   \
        if constexpr (Partials) {                                                   \
            pa[l] = formula::partial_a_##name<T>(a, T(c), r);                          \
            pb[l] = T(0.0);                                                         \
        }                                                                           \
    }
#define TG_REPLAY_CV(name)                                                          \
    for (std::size_t l = 0; l < L; ++l) {                                           \
        const T b = x[l];                                                           \
        const T r = formula::value_##name<T>(T(c), b);                                 \
        y[l] = r;                                                                   \
        if constexpr (Partials) {                                                   \
            pa[l] = formula::partial_b_##name<T>(T(c), b, r);                          \
            pb[l] = T(0.0);                                                         \
        }                                                                           \
    }
#define TG_REPLAY_NONE /* sink, input: values set before the pass; no parents */     \
    if constexpr (Partials)                                                         \
        for (std::size_t l = 0; l < L; ++l) pa[l] = pb[l] = T(0.0);

// Nodes [begin, stop) (stop 0: up to p.end).
template <class T, bool Partials, std::size_t StaticLanes>
inline void forward(const Program& p, std::size_t lanes, T* v, T* d, std::size_t begin = first_node,
                    std::size_t stop = 0) {
    const std::size_t L = StaticLanes ? StaticLanes : lanes;
    const std::uint8_t* op = p.ops.data();
    const Parents* par = p.parents.data();
    const double* constant = p.constants.data();
    const std::size_t end = stop ? stop : p.end;
    std::size_t i = begin;
    if (i >= end) return;
    T* y = nullptr;
    const T *x = nullptr, *z = nullptr;
    T *pa = nullptr, *pb = nullptr;
    double c = 0.0;
    // Point the locals at node i (d is not touched without Partials: it may be null).
#define TG_LOAD_NODE                                  \
    do {                                              \
        const Parents q = par[i];                     \
        y = v + i * L;                                \
        x = v + std::size_t(q.a) * L;                 \
        z = v + std::size_t(q.b) * L;                 \
        c = constant[i];                              \
        if constexpr (Partials) {                     \
            pa = d + 2 * i * L;                       \
            pb = pa + L;                              \
        }                                             \
    } while (0)
#if TG_THREADED_DISPATCH
    static_assert(special_opcodes == 3, "list every opcode before ops.def's rows in the table below");
    static const void* const table[static_cast<int>(Op::count)] = {
        &&none, &&none, &&none,
#define TG_UNARY(name, ...) &&op_##name,
#define TG_BINARY(name, ...) &&op_##name, &&op_##name##_vc, &&op_##name##_cv,
#include "ops.def"
    };
    // The jump at the end of every op is kept short (no more than GCC copies
    // into each op, see --param max-goto-duplication-insns), so each op loads
    // its own node first. Opcodes index the table unchecked: replay runs only
    // validated programs (Program::validate admits known opcodes only).
#define TG_NEXT                             \
    do {                                    \
        if (++i == end) return;             \
        goto *table[op[i]];                 \
    } while (0)
    goto *table[op[i]];
none:
    TG_LOAD_NODE;
    TG_REPLAY_NONE
    TG_NEXT;
#define TG_UNARY(name, ...) \
    op_##name : TG_LOAD_NODE; TG_REPLAY_UNARY(name) TG_NEXT;
#define TG_BINARY(name, ...)                                   \
    op_##name : TG_LOAD_NODE; TG_REPLAY_BINARY(name) TG_NEXT;  \
    op_##name##_vc : TG_LOAD_NODE; TG_REPLAY_VC(name) TG_NEXT; \
    op_##name##_cv : TG_LOAD_NODE; TG_REPLAY_CV(name) TG_NEXT;
#include "ops.def"
#undef TG_NEXT
#else
    for (; i < end; ++i) {
        TG_LOAD_NODE;
        switch (static_cast<Op>(op[i])) {
#define TG_UNARY(name, ...) \
    case Op::name: TG_REPLAY_UNARY(name) break;
#define TG_BINARY(name, ...)                           \
    case Op::name: TG_REPLAY_BINARY(name) break;       \
    case Op::name##_vc: TG_REPLAY_VC(name) break;      \
    case Op::name##_cv: TG_REPLAY_CV(name) break;
#include "ops.def"
            default: TG_REPLAY_NONE break;
        }
    }
#endif
}

#undef TG_REPLAY_UNARY
#undef TG_REPLAY_BINARY
#undef TG_REPLAY_VC
#undef TG_REPLAY_CV
#undef TG_REPLAY_NONE
#undef TG_LOAD_NODE

// ---- the reverse sweep -------------------------------------------------------------


// A node off the output's path has adjoint 0 and must pass exactly 0 to its
// parents even when its partial is inf or NaN (0 * inf would be NaN): the
// masked variant skips such nodes. It is only needed when the unmasked result
// has a NaN, so it runs only then (see run_chunk).
template <class T, bool Masked, std::size_t StaticLanes>
inline void sweep(const Program& p, std::size_t lanes, const T* TG_RESTRICT d, T* TG_RESTRICT adj) {
    const std::size_t L = StaticLanes ? StaticLanes : lanes;
    const Parents* par = p.parents.data();
    const std::size_t from = p.sweep_from;
    if constexpr (StaticLanes == 1) {
        // One point: branch-free like Tape::sweep (an op without a second
        // operand has partial b = 0 and adds into a sink). A reverse sweep is
        // bound by latency: each adjoint update is a load, add and store that
        // the next node's update waits for. In expression code many edges go
        // to the node just before (y = f(x) recorded right after x); with
        // enough of them (Program::carry_sweep) that share travels in a
        // register (`carry`, added to node i - 1's adjoint as it is swept)
        // while its memory update goes to a sink instead.
        if (!p.carry_sweep) {
            for (std::size_t i = from; i >= first_node; --i) {
                const T g = adj[i];
                if constexpr (Masked) {
                    if (is_zero(g)) continue;
                }
                adj[par[i].a] += d[2 * i] * g;
                adj[par[i].b] += d[2 * i + 1] * g;
            }
            return;
        }
        const Parents* sp = p.sweep_parents.data();
        const std::uint8_t* carries = p.carries.data();
        T carry = T(0.0);
        for (std::size_t i = from; i >= first_node; --i) {
            const T g = adj[i] + carry;
            adj[i] = g;  // complete now: inputs' adjoints are read from memory afterwards
            if constexpr (Masked) {
                if (is_zero(g)) {
                    carry = T(0.0);
                    continue;
                }
            }
            const T ca = d[2 * i] * g, cb = d[2 * i + 1] * g;
            adj[sp[i].a] += ca;
            adj[sp[i].b] += cb;
            const unsigned to_previous = carries[i];
            carry = (to_previous & 1 ? ca : T(0.0)) + (to_previous & 2 ? cb : T(0.0));
        }
    } else {
        // A chunk of lanes: the dispatch on the node's parents costs once per
        // L lanes, and saves the wasted half of every unary node.
        const Parentage* kind = p.kinds.data();
        for (std::size_t i = from; i >= first_node; --i) {
            if (kind[i] == Parentage::none) continue;
            const T* g = adj + i * L;
            const T* pa = d + 2 * i * L;
            T* ra = adj + std::size_t(par[i].a) * L;
            for (std::size_t l = 0; l < L; ++l) {
                if constexpr (Masked) {
                    if (is_zero(g[l])) continue;
                }
                ra[l] += pa[l] * g[l];
            }
            if (kind[i] == Parentage::two) {
                const T* pb = pa + L;
                T* rb = adj + std::size_t(par[i].b) * L;
                for (std::size_t l = 0; l < L; ++l) {
                    if constexpr (Masked) {
                        if (is_zero(g[l])) continue;
                    }
                    rb[l] += pb[l] * g[l];
                }
            }
        }
    }
}

// ---- programs with array entries -------------------------------------------------
//
// One point at a time (a batch loops over its points): the scalar nodes
// between two entries run as above, each entry runs its own kernel
// (entries.hpp) on the workspace's values, partials and reduction weights,
// on doubles or dual numbers alike. The partials of node i are d[2i], d[2i+1]
// as on the tape, which is what an entry's partial pairs read.

// Before an entry's forward: the constants it keeps in its slots' partials
// (see entries.hpp), from the program.
template <class T>
inline void load_entry_partials(const Program& p, const Entry& e, PartialPair<T>* pairs) {
    const double* c = p.constants.data();
    if (e.kind == EntryKind::gather) {
        const index_t* src = p.entries.indices.data() + e.data;
        for (index_t j = 0; j < e.size; ++j)
            pairs[e.first + j] = {T(Tape::is_sink(src[j]) ? 0.0 : 1.0), T(c[e.first + j])};
    } else if (e.kind == EntryKind::elementwise && (e.flags & entry_flags::constant_per_element)) {
        for (index_t j = 0; j < e.size; ++j) pairs[e.first + j].b = T(c[e.first + j]);
    }
}

// On doubles, the entry kernels built twice, for AVX2 and for any x86-64: the
// copy recording runs too (forward_entry_double, entries.hpp).
inline void forward_entry_replay(const Entry& e, const ProgramEntries& list, double* values,
                                 PartialPair<double>* partials, double* weights, const Interrupt* stop) {
    forward_entry_double(e, EntryArenas::of(list), values, partials, weights, stop);
}
inline void forward_entry_replay(const Entry& e, const ProgramEntries& list, Dual* values, PartialPair<Dual>* partials,
                                 Dual* weights, const Interrupt* stop) {
    forward_entry<Dual>(e, list, values, partials, weights, stop);
}

template <class T, bool Partials>
inline void forward_with_entries(const Program& p, T* v, T* d, T* weights, const Interrupt* stop) {
    auto* pairs = reinterpret_cast<PartialPair<T>*>(d);
    std::size_t at = first_node;
    for (std::size_t k = 0; k < p.entries.list.size(); ++k) {
        const Entry& e = p.entries.list[k];
        if (e.first >= p.end) break;
        if (at < e.first) forward<T, Partials, 1>(p, 1, v, d, at, e.first);
        load_entry_partials(p, e, pairs);
        forward_entry_replay(e, p.entries, v, pairs, weights, stop);
        if (requested(stop)) return;  // (the entry stopped early: the rest would read partial values)
        at = e.first + e.size;
    }
    if (at < p.end) forward<T, Partials, 1>(p, 1, v, d, at, p.end);
}

template <class T, bool Masked>
inline void sweep_nodes(const Program& p, const T* TG_RESTRICT d, T* TG_RESTRICT adj, std::size_t hi,
                        std::size_t lo) {
    const Parents* par = p.parents.data();
    for (std::size_t i = hi + 1; i-- > lo;) {
        const T g = adj[i];
        if constexpr (Masked) {
            if (is_zero(g)) continue;
        }
        adj[par[i].a] += d[2 * i] * g;
        adj[par[i].b] += d[2 * i + 1] * g;
    }
}

// The reverse sweep in segments, as Tape::sweep does: scalar nodes down to
// the last slot of the next entry below, then that entry's backward.
template <class T, bool Masked>
inline void sweep_with_entries(const Program& p, const T* v, const T* d, const T* weights, T* adj,
                               const Interrupt* stop) {
    const auto* pairs = reinterpret_cast<const PartialPair<T>*>(d);
    std::size_t hi = p.sweep_from;  // the highest slot not yet swept
    for (std::size_t k = p.entries.list.size(); k-- > 0;) {
        const Entry& e = p.entries.list[k];
        if (e.first > hi) continue;
        const std::size_t last = e.first + e.size - 1;
        if (hi > last) sweep_nodes<T, Masked>(p, d, adj, hi, last + 1);
        const std::size_t count = std::min(hi, last) - e.first + 1;
        backward_entry<T>(e, p.entries, pairs, v, weights, adj + e.first, static_cast<std::int64_t>(count), adj,
                          stop);
        if (requested(stop)) return;
        hi = e.first - 1;
    }
    sweep_nodes<T, Masked>(p, d, adj, hi, first_node);
}

// ---- one chunk of lanes ------------------------------------------------------------

// The arrays of one thread's replays; they grow to the largest chunk seen and
// are kept, so repeated calls allocate nothing.
template <class T>
struct Workspace {
    Buffer<T> value, partials, adjoint, weights;  // weights: reductions of array entries
};

template <class T>
Workspace<T>& thread_workspace() {
    thread_local Workspace<T> w;
    return w;
}

inline bool has_nan(double x) { return std::isnan(x); }
inline bool has_nan(const Dual& x) { return std::isnan(x.v) || std::isnan(x.t); }

// Evaluate rows [row0, row0 + L) of the request. A recorded comparison that
// would go the other way is noted per row in r.status, or else as the first
// such row in `change` (and the rest of the chunk is skipped: the call raises).
// The entries' kernels stop early when `stop` asks (the caller then throws:
// nothing of the chunk is valid, not even its comparisons).
template <class T, Mode M, std::size_t StaticLanes>
void run_chunk(const Program& p, const Request& r, std::size_t row0, std::size_t lanes, BranchChange& change,
               const Interrupt* stop) {
    constexpr bool partials = M == Mode::vjp || M == Mode::hvp;
    const std::size_t L = StaticLanes ? StaticLanes : lanes;
    const std::size_t n_in = p.inputs.size(), n_out = p.outputs.size();
    const std::size_t cells = std::size_t(p.end) * L;

    const bool entries = !p.entries.empty();  // then L == 1 (chunk_lanes)
    Workspace<T>& w = thread_workspace<T>();
    w.value.reserve(cells);
    if (partials || entries) w.partials.reserve(2 * cells);  // entries write partials in any mode
    if (entries) w.weights.reserve(p.entries.weight_count);
    if constexpr (partials) {
        w.adjoint.reserve(std::size_t(p.sweep_from + 1) * L);
        if (entries) prepare_sweep(p.entries);  // scratch of this thread: BLAS (doubles), fused registers (any T)
    }
    T* v = w.value.data();

    // Sinks read as 0; constants and inputs are set before the pass.
    std::fill(v, v + first_node * L, T(0.0));
    for (index_t f : p.frozen)
        if (f < p.end) std::fill(v + std::size_t(f) * L, v + std::size_t(f + 1) * L, T(p.constants[f]));
    for (std::size_t k = 0; k < n_in; ++k) {
        if (p.inputs[k] >= p.end) continue;  // an input nothing reads
        T* dst = v + std::size_t(p.inputs[k]) * L;
        const double* x = r.X + row0 * n_in + k;
        if constexpr (std::is_same_v<T, Dual>) {
            const double* t = r.V + row0 * n_in + k;
            for (std::size_t l = 0; l < L; ++l) dst[l] = Dual(x[l * n_in], t[l * n_in]);
        } else {
            for (std::size_t l = 0; l < L; ++l) dst[l] = x[l * n_in];
        }
    }

    if constexpr (StaticLanes == 1) {
        if (entries)
            forward_with_entries<T, partials>(p, v, w.partials.data(), w.weights.data(), stop);
        else
            forward<T, partials, 1>(p, L, v, w.partials.data());
    } else {
        forward<T, partials, StaticLanes>(p, L, v, w.partials.data());
    }
    if (entries && requested(stop)) return;

    // Re-check every comparison of the recording at every lane.
    for (std::size_t k = 0; k < p.guards.size(); ++k) {
        const Comparison& g = p.guards[k];
        const T* a = v + std::size_t(g.a) * L;
        const T* b = v + std::size_t(g.b) * L;
        for (std::size_t l = 0; l < L; ++l) {
            const double av = primal(a[l]), bv = g.b_is_constant ? g.constant : primal(b[l]);
            if (compare(g.kind, av, bv) == g.outcome) continue;
            const std::size_t row = row0 + l;
            if (r.status) {
                if (r.status[row] < 0) r.status[row] = static_cast<std::int32_t>(k);
            } else if (!change || std::int64_t(row) < change.row) {
                change = BranchChange{std::int64_t(row), static_cast<std::int32_t>(k), av, bv};
            }
        }
    }
    if (change && !r.status) return;  // the call will raise: nothing more is worth computing

    for (std::size_t j = 0; j < n_out; ++j) {
        const T* y = v + std::size_t(p.outputs[j]) * L;
        double* out = r.Y + row0 * n_out + j;
        for (std::size_t l = 0; l < L; ++l) out[l * n_out] = primal(y[l]);
        if constexpr (M == Mode::jvp) {
            double* dot = r.Ydot + row0 * n_out + j;
            for (std::size_t l = 0; l < L; ++l) dot[l * n_out] = tangent(y[l]);
        }
    }
    if constexpr (partials) {
        T* adj = w.adjoint.data();
        const std::size_t rows = std::size_t(p.sweep_from + 1) * L;
        auto seed_and_sweep = [&](auto masked) {
            std::fill(adj, adj + rows, T(0.0));
            for (std::size_t j = 0; j < n_out; ++j) {
                T* a = adj + std::size_t(p.outputs[j]) * L;
                const double* wj = r.W + row0 * n_out + j;
                for (std::size_t l = 0; l < L; ++l) a[l] += T(wj[l * n_out]);
            }
            if constexpr (StaticLanes == 1) {
                if (entries) {
                    sweep_with_entries<T, decltype(masked)::value>(p, v, w.partials.data(), w.weights.data(), adj,
                                                                   stop);
                    return;
                }
            }
            sweep<T, decltype(masked)::value, StaticLanes>(p, L, w.partials.data(), adj);
        };
        seed_and_sweep(std::false_type{});
        if (entries && requested(stop)) return;
        // NaN is how 0 * inf on a dead node shows up; only then is the slower
        // masked sweep needed (the inputs' adjoints are all we read).
        bool nan = false;
        for (std::size_t k = 0; k < n_in && !nan; ++k) {
            if (p.inputs[k] > p.sweep_from) continue;
            const T* a = adj + std::size_t(p.inputs[k]) * L;
            for (std::size_t l = 0; l < L; ++l) nan |= has_nan(a[l]);
        }
        if (nan) seed_and_sweep(std::true_type{});
        for (std::size_t k = 0; k < n_in; ++k) {
            double* g = r.G + row0 * n_in + k;
            double* hv = M == Mode::hvp ? r.HV + row0 * n_in + k : nullptr;
            if (p.inputs[k] > p.sweep_from) {  // the outputs do not depend on it
                for (std::size_t l = 0; l < L; ++l) g[l * n_in] = 0.0;
                if (hv)
                    for (std::size_t l = 0; l < L; ++l) hv[l * n_in] = 0.0;
                continue;
            }
            const T* a = adj + std::size_t(p.inputs[k]) * L;
            for (std::size_t l = 0; l < L; ++l) g[l * n_in] = primal(a[l]);
            if (hv)
                for (std::size_t l = 0; l < L; ++l) hv[l * n_in] = tangent(a[l]);
        }
    }
}

// Lanes per chunk: enough to amortise the dispatch of each opcode, few enough
// that the chunk's workspace (about 4 arrays of `end` nodes) stays in cache.
template <class T>
inline std::size_t chunk_lanes(const Program& p, std::size_t rows) {
    if (!p.entries.empty()) return 1;  // entries replay one point at a time (their kernels vectorise within)
    constexpr std::size_t budget = std::size_t(1) << 20;  // bytes: roughly L2
    const std::size_t per_lane = std::size_t(p.end) * sizeof(T) * 4;
    std::size_t L = std::max<std::size_t>(1, budget / per_lane);
    L = std::min<std::size_t>(L, 1024);
    if (L >= 8) L &= ~std::size_t(7);  // whole vectors
    return std::min(L, rows);
}

// Rows [begin, end) in chunks of L lanes; `stop` (optional) is checked
// after every chunk (Ctrl-C: interrupt.hpp).
template <class T, Mode M>
void run_rows(const Program& p, const Request& r, std::size_t begin, std::size_t end, std::size_t L,
              BranchChange& change, const Interrupt* stop) {
    for (std::size_t row = begin; row < end; row += L) {
        const std::size_t lanes = std::min(L, end - row);
        if (lanes == 1)
            run_chunk<T, M, 1>(p, r, row, 1, change, stop);
        else
            run_chunk<T, M, 0>(p, r, row, lanes, change, stop);
        check(stop);  // first: a stopped chunk's comparisons are not to be believed
        if (change && !r.status) return;
    }
}

}  // namespace detail

// Evaluate the request over all its rows, on `threads` threads (the calling
// thread being one of them). Returns the first row at which a recorded
// comparison would change, unless r.status collects those per row instead.
// Exceptions of the workers (out of memory, `interrupted` when `interrupt` asks
// for it, see interrupt.hpp) are rethrown here; outputs are then partial.
template <Mode M>
BranchChange run(const Program& p, const Request& r, unsigned threads = 1, const Interrupt* interrupt = nullptr) {
    using T = std::conditional_t<M == Mode::jvp || M == Mode::hvp, Dual, double>;
    BranchChange change;
    if (r.status) std::fill(r.status, r.status + r.rows, -1);
    if (r.rows == 0) return change;
    const std::size_t L = detail::chunk_lanes<T>(p, r.rows);
    const std::size_t chunks = (r.rows + L - 1) / L;
    // A thread costs tens of microseconds to start: give each enough work
    // (node evaluations) to pay for itself, or run on fewer threads.
    constexpr std::size_t min_work_per_thread = std::size_t(1) << 16;
    const std::size_t evaluations = std::size_t(p.end) * r.rows;
    const std::size_t worth = std::max<std::size_t>(1, evaluations / min_work_per_thread);
    const std::size_t parts = std::max<std::size_t>(1, std::min({std::size_t(threads), chunks, worth}));
    if (parts == 1) {
        detail::run_rows<T, M>(p, r, 0, r.rows, L, change, interrupt);
        return change;
    }
    // Each thread takes the next chunk until none is left, rather than a
    // fixed share: on a shared machine a thread whose core is busy elsewhere
    // then does fewer chunks instead of holding up the call (with fixed
    // halves, two threads took as long as one whenever the second core was
    // taken). A chunk's numbers do not depend on the thread that computes it.
    // Chunks are taken in order, so when one finds a changed comparison every
    // earlier chunk has been taken and runs to the end: the first change in
    // row order is among the threads' first ones; later chunks may be skipped.
    std::vector<BranchChange> changes(parts);
    std::vector<std::exception_ptr> errors(parts);
    std::atomic<std::size_t> next{0};
    std::atomic<bool> stop{false};
    auto work = [&](std::size_t k) {
        try {
            while (!stop.load(std::memory_order_relaxed)) {
                const std::size_t c = next.fetch_add(1, std::memory_order_relaxed);
                if (c >= chunks) return;
                detail::run_rows<T, M>(p, r, c * L, std::min(r.rows, (c + 1) * L), L, changes[k], interrupt);
                if (changes[k] && !r.status) stop.store(true, std::memory_order_relaxed);
            }
        } catch (...) {
            errors[k] = std::current_exception();
            stop.store(true, std::memory_order_relaxed);
        }
    };
    // The kept threads (workers.hpp), or, when another caller uses them,
    // threads of this call's own. Either way a thread the system refuses
    // ends the call with workers::thread_start_error and leaves no thread behind.
    if (!workers::kept().try_run(parts, work)) {
        std::vector<std::thread> pool;
        pool.reserve(parts - 1);
        try {
            for (std::size_t k = 1; k < parts; ++k) pool.emplace_back(work, k);
        } catch (const std::system_error& e) {
            stop.store(true, std::memory_order_relaxed);  // the started threads take no chunk
            for (auto& t : pool) t.join();
            throw workers::thread_start_error(pool.size() + 2, parts, e);  // the caller is thread 1
        }
        work(0);
        for (auto& t : pool) t.join();
    }
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
    for (const BranchChange& c : changes)
        if (c && (!change || c.row < change.row)) change = c;
    return change;
}

}  // namespace tapegrad::replay
