// Fused entries: a chain of elementwise op-table rows (optionally summed) as
// ONE entry that stores no partials.
//
// An unfused chain writes n values + 2n partials per op and the sweep reads
// them back: ~100 bytes per element per op. A fused entry keeps a small
// program instead: leaves (strided slot views or constants) and instructions
// (op-table rows over registers). Forward evaluates it chunk by chunk, the
// registers of a chunk staying in L1, and writes only its outputs (n values,
// or one per group when the chain ends in a sum). Backward re-evaluates the
// chunk from the leaves and runs the chain rule back through the
// instructions with the rows' partial_ formulas, accumulating into the
// leaves' adjoints: it reads the leaves and writes their adjoints, nothing else.
//
// Semantics match the unfused chain: each instruction passes exactly 0 where
// its own adjoint is 0 (as each unfused elementwise entry does), leaves used
// twice or overlapping (x[1:] and x[:-1]) simply accumulate twice, a
// broadcast leaf (stride 0) collects its run.
//
// Geometry of a fused entry (EntryList::geometry at e.geometry), nd = e.ndim:
//   L, I, shape[nd],
//   L leaf records: kind (fused::slots or fused::constant), base (first slot,
//                   or offset into EntryList::constants), stride[nd]
//   I instructions: op, a, b, c (a, b register numbers: registers 0..L-1
//                   are the leaves, L + k is instruction k's result, the
//                   last one is the output; a _vc/_cv row reads register a
//                   and the number c, stored as the bits of a double, so
//                   `x * 2` costs no leaf)
// The space is [kept axes (e.split), summed axes]; without entry_flags::
// fused_sum every axis is kept and the output is contiguous over the space.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "../dual.hpp"
#include "../formulas.hpp"
#include "../strided.hpp"
#include "entry.hpp"
#include "reduce.hpp"

namespace tapegrad::entries {

namespace fused {

inline constexpr int max_leaves = 16;
inline constexpr int max_instructions = 32;
inline constexpr int max_registers = max_leaves + max_instructions;
// Elements per chunk: a 10-register program keeps 2 x 20 KB of registers in L1/L2
// (measured on the Rosenbrock program: 128 and 512 were no faster).
inline constexpr std::int64_t chunk = 256;
static_assert(chunk % detail::sum_lanes == 0, "forward_fused's sum keeps sum_lanes accumulators over chunks");
// Distance between two registers, in elements: not a multiple of 4 KB, so
// that registers, and the leaves streaming through them, do not alias in the
// CPU's 4 KB store-to-load check (with 2 KB registers the Rosenbrock program
// ran at 50 or 90 us per n = 10^4 depending on where the arrays landed).
inline constexpr std::int64_t register_stride = chunk + 40;
enum : std::int64_t { slots = 0, constant = 1 };

// One program's view of its geometry record.
struct Program {
    int nd, L, I;
    const std::int64_t* shape;
    const std::int64_t* leaf;  // L records of 2 + nd
    const std::int64_t* code;  // I records of 4

    std::int64_t kind(int l) const noexcept { return leaf[l * (2 + nd)]; }
    std::int64_t base(int l) const noexcept { return leaf[l * (2 + nd) + 1]; }
    const std::int64_t* stride(int l) const noexcept { return leaf + l * (2 + nd) + 2; }
    Op op(int k) const noexcept { return static_cast<Op>(code[4 * k]); }
    int arg(int k, int which) const noexcept { return static_cast<int>(code[4 * k + 1 + which]); }
    double number(int k) const noexcept {
        double c;
        std::memcpy(&c, code + 4 * k + 3, sizeof c);
        return c;
    }
    int registers() const noexcept { return L + I; }
};

inline Program program(const Entry& e, const std::int64_t* g) noexcept {
    Program p;
    p.nd = e.ndim;
    p.L = static_cast<int>(g[0]);
    p.I = static_cast<int>(g[1]);
    p.shape = g + 2;
    p.leaf = p.shape + p.nd;
    p.code = p.leaf + p.L * (2 + p.nd);
    return p;
}

// Registers of one chunk, per thread (values, and adjoints for backward).
// A sweep cannot fail once started, so prepare_sweep reserves the scratch
// before it (reserve_scratch: doubles for the tape, dual numbers for replay's
// forward-over-reverse); forward allocates as it goes. backward_fused<T> does
// nothing without it.
template <class T>
inline std::vector<T>& scratch() {
    static thread_local std::vector<T> s;
    return s;
}
inline constexpr std::size_t scratch_size = 2 * max_registers * register_stride;
inline void reserve_scratch() {
    if (scratch<double>().size() < scratch_size) scratch<double>().resize(scratch_size);
    if (scratch<Dual>().size() < scratch_size) scratch<Dual>().resize(scratch_size);
}

// run(offsets, steps, n, index): consecutive runs along the last axis
// covering the first `limit` elements of the space in C order (nd >= 1); no
// further run starts once `poll` said stop.
template <class Run>
inline void for_each_run(const Program& p, std::int64_t limit, const Poll& poll, Run&& run) {
    if (limit <= 0) return;
    const int nd = p.nd;
    std::int64_t off[max_leaves], step[max_leaves], idx[max_dims] = {};
    for (int l = 0; l < p.L; ++l) off[l] = p.base(l), step[l] = p.stride(l)[nd - 1];
    const std::int64_t inner = p.shape[nd - 1];
    std::int64_t done = 0;
    for (;;) {
        const std::int64_t n = std::min(inner, limit - done);
        run(static_cast<const std::int64_t*>(off), static_cast<const std::int64_t*>(step), n, done);
        done += n;
        if (done >= limit || poll.stopped()) return;
        int d = nd - 2;
        for (; d >= 0; --d) {  // odometer over the outer axes
            ++idx[d];
            for (int l = 0; l < p.L; ++l) off[l] += p.stride(l)[d];
            if (idx[d] < p.shape[d]) break;
            for (int l = 0; l < p.L; ++l) off[l] -= p.stride(l)[d] * p.shape[d];
            idx[d] = 0;
        }
        if (d < 0) return;
    }
}

template <class T, class S>
inline void load(const S* TG_RESTRICT src, std::int64_t step, std::int64_t m, T* TG_RESTRICT r) {
    if (step == 1) {
        for (std::int64_t j = 0; j < m; ++j) r[j] = T(src[j]);
    } else if (step == 0) {
        const T v = T(src[0]);
        for (std::int64_t j = 0; j < m; ++j) r[j] = v;
    } else {
        for (std::int64_t j = 0; j < m; ++j) r[j] = T(src[j * step]);
    }
}

// y = row(a[, b]) over one chunk; the switch is expanded from ops.def.
template <class T>
inline void forward_instruction(Op op, const T* TG_RESTRICT a, const T* TG_RESTRICT b, double number,
                                T* TG_RESTRICT y, std::int64_t m) {
    const T c = T(number);
    switch (op) {
#define TG_UNARY(name, ...)                                                              \
    case Op::name:                                                                       \
        for (std::int64_t j = 0; j < m; ++j) y[j] = formula::value_##name<T>(a[j]);      \
        return;
#define TG_BINARY(name, ...)                                                             \
    case Op::name:                                                                       \
        for (std::int64_t j = 0; j < m; ++j) y[j] = formula::value_##name<T>(a[j], b[j]); \
        return;                                                                          \
    case Op::name##_vc:                                                                  \
        for (std::int64_t j = 0; j < m; ++j) y[j] = formula::value_##name<T>(a[j], c);   \
        return;                                                                          \
    case Op::name##_cv:                                                                  \
        for (std::int64_t j = 0; j < m; ++j) y[j] = formula::value_##name<T>(c, a[j]);   \
        return;
#include "../ops.def"
        default:
            return;
    }
}

// d where g != 0, else exactly 0 (even when d is inf or NaN); on doubles a
// bit mask, which vectorises where a select of the compiler's choice did not.
template <class T>
inline T live(const T& d, const T& g) { return g != 0.0 ? d : T(0.0); }
inline double live(double d, double g) noexcept {
    std::uint64_t bits;
    std::memcpy(&bits, &d, sizeof bits);
    bits &= -static_cast<std::uint64_t>(g != 0.0);
    std::memcpy(&d, &bits, sizeof bits);
    return d;
}

// How one backward instruction writes an operand's adjoint register: not at
// all (it leads to no slot), by storing (the first write of the chunk, in
// reverse order: no zeroing pass) or by adding.
enum class Write : std::uint8_t { none, store, add };

template <class T>
inline void put(Write w, T& dst, const T& v) {
    if (w == Write::store) dst = v;
    else dst += v;
}

// ga (+)= partial_a * gy and gb (+)= partial_b * gy over one chunk; a dead
// element (gy == 0) passes exactly 0, even through an inf/NaN partial. When
// ga and gb overlap (one register, x * x; or the adjoints of x[1:] and
// x[:-1]) they take two loops, else one.
template <class T, class PA, class PB>
inline void backward_pair(const T* TG_RESTRICT a, const T* TG_RESTRICT b, const T* TG_RESTRICT y,
                          const T* TG_RESTRICT gy, T* ga, Write wa, T* gb, Write wb, std::int64_t m, PA pa, PB pb) {
    auto one = [&](T* TG_RESTRICT dst, Write w, auto partial) {
        if (w == Write::none) return;
        if (w == Write::store) {
            for (std::int64_t j = 0; j < m; ++j) dst[j] = live(T(partial(a[j], b[j], y[j]) * gy[j]), gy[j]);
        } else {
            for (std::int64_t j = 0; j < m; ++j) dst[j] += live(T(partial(a[j], b[j], y[j]) * gy[j]), gy[j]);
        }
    };
    if (wa == Write::none || wb == Write::none || (ga < gb + m && gb < ga + m)) {  // (overlap: x[1:] * x[:-1])
        one(ga, wa, pa);
        one(gb, wb, pb);
        return;
    }
    auto both = [&](T* TG_RESTRICT da, T* TG_RESTRICT db, auto store_a, auto store_b) {
        for (std::int64_t j = 0; j < m; ++j) {
            const T g = gy[j];
            const T u = live(T(pa(a[j], b[j], y[j]) * g), g), v = live(T(pb(a[j], b[j], y[j]) * g), g);
            if constexpr (decltype(store_a)::value) da[j] = u; else da[j] += u;
            if constexpr (decltype(store_b)::value) db[j] = v; else db[j] += v;
        }
    };
    using yes = std::true_type;
    using no = std::false_type;
    if (wa == Write::store)
        wb == Write::store ? both(ga, gb, yes{}, yes{}) : both(ga, gb, yes{}, no{});
    else
        wb == Write::store ? both(ga, gb, no{}, yes{}) : both(ga, gb, no{}, no{});
}

// One instruction's backward; the switch is expanded from ops.def. `Rule`:
// whether the partials apply ops.def's rule for infinite values, which reads
// y (see infinity_rule_matters).
template <bool Rule, class T>
inline void backward_instruction(Op op, const T* a, const T* b, double number, const T* y, const T* gy, T* ga,
                                 Write wa, T* gb, Write wb, std::int64_t m) {
    const T c = T(number);
    auto none = [](const T&, const T&, const T&) { return T(0.0); };
    switch (op) {
#define TG_UNARY(name, ...)                                                                               \
    case Op::name:                                                                                        \
        backward_pair(a, b, y, gy, ga, wa, gb, Write::none, m,                                            \
                      [](const T& u, const T&, const T& r) { return formula::partial_##name<T, Rule>(u, r); }, \
                      none);                                                                              \
        return;
#define TG_BINARY(name, ...)                                                                                   \
    case Op::name:                                                                                             \
        backward_pair(a, b, y, gy, ga, wa, gb, wb, m,                                                          \
                      [](const T& u, const T& v, const T& r) { return formula::partial_a_##name<T, Rule>(u, v, r); }, \
                      [](const T& u, const T& v, const T& r) { return formula::partial_b_##name<T, Rule>(u, v, r); }); \
        return;                                                                                                \
    case Op::name##_vc:                                                                                        \
        backward_pair(a, a, y, gy, ga, wa, gb, Write::none, m,                                                 \
                      [&c](const T& u, const T&, const T& r) { return formula::partial_a_##name<T, Rule>(u, c, r); }, \
                      none);                                                                                   \
        return;                                                                                                \
    case Op::name##_cv:                                                                                        \
        backward_pair(a, a, y, gy, ga, wa, gb, Write::none, m,                                                 \
                      [&c](const T& u, const T&, const T& r) { return formula::partial_b_##name<T, Rule>(c, u, r); }, \
                      none);                                                                                   \
        return;
#include "../ops.def"
        default:
            return;
    }
}

// Whether ops.def's rule for infinite values (a zero partial where the value
// is +-inf is NaN) can fire for a row: found once by evaluating the row's own
// formulas where infinities arise (and so derived from the table, not listed
// by hand). log, sqrt, hypot, maximum, power, ... can; add, multiply, square,
// exp, ... cannot: an infinite value there always has a non-zero partial.
// The fused backward recomputes y for the rows that can, and only for them.
inline bool infinity_rule_matters(Op op) {
    static const auto table = [] {
        std::vector<bool> can(static_cast<std::size_t>(Op::count), false);
        const double inf = std::numeric_limits<double>::infinity(), big = std::numeric_limits<double>::max();
        const double probes[] = {0.0, -0.0, 1e-300, -1e-300, 0.5, -0.5, 1.0, -1.0, 2.0, -2.0,
                                 1e300, -1e300, big, -big, inf, -inf};
        auto fires = [](double partial, double y) { return partial == 0.0 && formula::is_infinite(y); };
        bool row = false;
#define TG_UNARY(name, ...)                                                                           \
        row = false;                                                                                  \
        for (double a : probes) {                                                                     \
            const double y = formula::value_##name<double>(a);                                        \
            row = row || fires(formula::partial_##name<double, false>(a, y), y);                      \
        }                                                                                             \
        can[static_cast<std::size_t>(Op::name)] = row;
#define TG_BINARY(name, ...)                                                                          \
        row = false;                                                                                  \
        for (double a : probes)                                                                       \
            for (double b : probes) {                                                                 \
                const double y = formula::value_##name<double>(a, b);                                 \
                row = row || fires(formula::partial_a_##name<double, false>(a, b, y), y) ||           \
                      fires(formula::partial_b_##name<double, false>(a, b, y), y);                    \
            }                                                                                         \
        can[static_cast<std::size_t>(Op::name)] = can[static_cast<std::size_t>(Op::name##_vc)] =     \
            can[static_cast<std::size_t>(Op::name##_cv)] = row;
#include "../ops.def"
        return can;
    }();
    return table[static_cast<std::size_t>(op)];
}

// Which of a, b, y a partial reads, from its text in ops.def (a standalone
// identifier), and y (with the operands that compute it) where the rule for
// infinite values can fire: the backward recomputes only the values its
// partials read. (Rosenbrock's program: 3 of its 7 instructions.)
struct Uses {
    bool a, b, y;
};
constexpr bool mentions(const char* s, char v) {
    auto word = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; };
    for (int i = 0; s[i]; ++i)
        if (s[i] == v && (i == 0 || !word(s[i - 1])) && !word(s[i + 1])) return true;
    return false;
}
constexpr Uses uses(const char* s) { return Uses{mentions(s, 'a'), mentions(s, 'b'), mentions(s, 'y')}; }

// What the partial of `op` with respect to its operand `which` reads, in
// register terms: a and b are its operand registers (a _vc/_cv row's one
// register is a; its number is no register), y its result.
inline Uses partial_uses(Op op, int which) {
    if (infinity_rule_matters(op)) return Uses{true, info(op).arity == Arity::binary, true};
    switch (op) {
#define TG_UNARY(name, py, value, partial, ...) \
    case Op::name: return uses(#partial);
#define TG_BINARY(name, py, value, pa, pb, ...)                               \
    case Op::name: return which == 0 ? uses(#pa) : uses(#pb);                 \
    case Op::name##_vc: { const Uses u = uses(#pa); return Uses{u.a, false, u.y}; } \
    case Op::name##_cv: { const Uses u = uses(#pb); return Uses{u.b, false, u.y}; }
#include "../ops.def"
        default:
            return Uses{true, true, true};
    }
}

// Registers of one chunk of m elements starting j0 into the run: rp[r]
// points at register r's values. A leaf walked with stride 1 is read where
// it lies (no copy), others are gathered into their register.
// With `keep`, only the registers it marks are computed (the others point
// at their own, stale, storage). With `result`, the last instruction writes
// there instead of its register (the forward's outputs: no copy pass).
template <class T>
inline void evaluate(const Program& p, const T* values, const double* constants, const std::int64_t* off,
                     const std::int64_t* step, std::int64_t j0, std::int64_t m, T* reg, const T** rp,
                     const bool* keep = nullptr, T* result = nullptr) {
    for (int l = 0; l < p.L; ++l) {
        const std::int64_t at = off[l] + j0 * step[l];
        T* r = reg + l * register_stride;
        rp[l] = r;
        if (keep && !keep[l]) continue;
        if (p.kind(l) == slots) {
            if (step[l] == 1) rp[l] = values + at;
            else load(values + at, step[l], m, r);
        } else {
            if constexpr (std::is_same_v<T, double>) {
                if (step[l] == 1) {
                    rp[l] = constants + at;
                    continue;
                }
            }
            load(constants + at, step[l], m, r);
        }
    }
    for (int k = 0; k < p.I; ++k) {
        T* y = result && k == p.I - 1 ? result : reg + (p.L + k) * register_stride;
        rp[p.L + k] = y;
        if (!keep || keep[p.L + k]) forward_instruction(p.op(k), rp[p.arg(k, 0)], rp[p.arg(k, 1)], p.number(k), y, m);
    }
}

// Whether the top register, `filled` with `held`, holds v already: for
// doubles, the same bits (-0.0 is not 0.0, a NaN refills); other number
// types always refill.
template <class T>
inline bool same_bits(const T& v, const T& held, bool filled) {
    if constexpr (std::is_same_v<T, double>) return filled && std::memcmp(&v, &held, sizeof v) == 0;
    else return false;
}

// Elements per output: 1, or the size of the summed part of the space.
inline std::int64_t group_size(const Entry& e, const Program& p) {
    return (e.flags & entry_flags::fused_sum) ? product(p.shape + e.split, p.nd - e.split) : 1;
}

}  // namespace fused

template <class T>
inline void forward_fused(const Entry& e, const std::int64_t* geometry, const double* constants, T* values,
                          Poll& poll) {
    const fused::Program p = fused::program(e, geometry);
    std::vector<T>& s = fused::scratch<T>();
    if (s.size() < fused::scratch_size) s.resize(fused::scratch_size);
    T* reg = s.data();
    const T* rp[fused::max_registers];
    const T* y = reg + (p.registers() - 1) * fused::register_stride;
    const bool sum = (e.flags & entry_flags::fused_sum) != 0;
    const std::int64_t R = fused::group_size(e, p);
    T* out = values + e.first;
    if (sum)
        for (index_t o = 0; o < e.size; ++o) out[o] = T(0.0);
    fused::for_each_run(p, std::int64_t(e.size) * R, poll, [&](const std::int64_t* off, const std::int64_t* step,
                                                                std::int64_t n, std::int64_t index) {
        // sum_lanes accumulators, element j into acc[j % sum_lanes] and the tail
        // into acc[0]: reduce.hpp's sum_run order, so a one-run sum equals the unfused one
        T acc[detail::sum_lanes];
        for (int k = 0; k < detail::sum_lanes; ++k) acc[k] = T(0.0);
        for (std::int64_t j0 = 0; j0 < n; j0 += fused::chunk) {  // chunk % sum_lanes == 0
            const std::int64_t m = std::min(fused::chunk, n - j0);
            if (poll.stop_after(m * p.I)) return;  // (work: instructions evaluated)
            // (the outputs lie above every slot leaf: writing them directly aliases no operand)
            fused::evaluate(p, static_cast<const T*>(values), constants, off, step, j0, m, reg, rp, nullptr,
                            sum ? nullptr : out + index + j0);
            if (sum) {
                std::int64_t j = 0;
                for (; j + detail::sum_lanes <= m; j += detail::sum_lanes)
                    for (int k = 0; k < detail::sum_lanes; ++k) acc[k] += y[j + k];
                for (; j < m; ++j) acc[0] += y[j];
            }
        }
        // a run lies in one group (its last axis is summed)
        if (sum) out[index / R] += detail::combine_lanes(acc);
    });
    if (sum) {
        const T scale = T(e.scalar);
        for (index_t o = 0; o < e.size; ++o) out[o] = out[o] * scale;
    }
}

// adj[leaves] += (d outputs / d leaves)^T g for the first `count` outputs.
template <class T>
inline void backward_fused(const Entry& e, const std::int64_t* geometry, const double* constants, const T* values,
                           const T* g, std::int64_t count, T* adj, Poll& poll) noexcept {
    using fused::chunk;
    const fused::Program p = fused::program(e, geometry);
    std::vector<T>& s = fused::scratch<T>();
    if (s.size() < fused::scratch_size) return;  // unreachable: prepare_sweep reserved it
    T* val = s.data();
    T* grad = val + fused::max_registers * fused::register_stride;
    const int L = p.L, top = p.registers() - 1;
    bool need[fused::max_registers] = {};  // does this register lead to a slot leaf?
    for (int l = 0; l < L; ++l) need[l] = p.kind(l) == fused::slots;
    for (int k = 0; k < p.I; ++k) need[L + k] = need[p.arg(k, 0)] || need[p.arg(k, 1)];
    if (!need[top]) return;
    // A slot leaf walked with stride 1 has its adjoints as its register: the
    // instructions add into them in place (no zeroing, no scatter).
    bool direct[fused::max_leaves];
    for (int l = 0; l < L; ++l) direct[l] = need[l] && p.stride(l)[p.nd - 1] == 1;
    // The same for every chunk: which write into each register comes first
    // (in reverse order) and so stores instead of adding.
    using fused::Write;
    Write wa[fused::max_instructions], wb[fused::max_instructions];
    bool written[fused::max_registers] = {};
    written[top] = true;
    for (int l = 0; l < L; ++l) written[l] = direct[l];
    for (int k = p.I - 1; k >= 0; --k) {
        const int a = p.arg(k, 0), b = p.arg(k, 1);
        const bool unary = info(p.op(k)).arity != Arity::binary;  // (a _vc/_cv row reads one register)
        wa[k] = wb[k] = Write::none;
        if (!need[L + k]) continue;
        if (need[a]) wa[k] = written[a] ? Write::add : Write::store, written[a] = true;
        if (!unary && need[b]) wb[k] = written[b] ? Write::add : Write::store, written[b] = true;
    }
    bool rule[fused::max_instructions];
    for (int k = 0; k < p.I; ++k) rule[k] = fused::infinity_rule_matters(p.op(k));
    // The values the partials read, and what computing them reads.
    bool keep[fused::max_registers] = {};
    for (int k = p.I - 1; k >= 0; --k) {
        const int r = L + k, a = p.arg(k, 0), b = p.arg(k, 1);
        for (int w = 0; w < 2; ++w) {
            if ((w == 0 ? wa[k] : wb[k]) == Write::none) continue;
            const fused::Uses u = fused::partial_uses(p.op(k), w);
            keep[a] |= u.a;
            keep[b] |= u.b;
            keep[r] |= u.y;
        }
        if (keep[r]) keep[a] = keep[b] = true;
    }
    const std::int64_t R = fused::group_size(e, p);
    const bool sum = (e.flags & entry_flags::fused_sum) != 0;
    const T* rp[fused::max_registers];
    T* gp[fused::max_registers];
    for (int r = 0; r < p.registers(); ++r) gp[r] = grad + r * fused::register_stride;
    T spread = T(0.0);    // a sum's output adjoint, spread over the whole top register
    bool spread_in = false;
    fused::for_each_run(p, count * R, poll, [&](const std::int64_t* off, const std::int64_t* step, std::int64_t n,
                                                std::int64_t index) {
        for (std::int64_t j0 = 0; j0 < n; j0 += chunk) {
            const std::int64_t m = std::min(chunk, n - j0);
            if (poll.stop_after(2 * m * p.I)) return;  // (work: instructions evaluated, forward and back)
            fused::evaluate(p, values, constants, off, step, j0, m, val, rp, keep);
            for (int l = 0; l < L; ++l)
                if (direct[l]) gp[l] = adj + off[l] + j0;
            for (int r = 0; r < top; ++r)  // (needed registers no instruction writes: none, as emitted)
                if (need[r] && !written[r]) std::fill(gp[r], gp[r] + m, T(0.0));
            // The output adjoints: read where they lie, or (a sum) one number
            // per group spread over the chunk, refilled only when it changes
            // (no instruction writes the top register: it is read only).
            const T* gtop = g + index + j0;
            if (sum) {
                const T v = g[index / R] * T(e.scalar);
                if (!fused::same_bits(v, spread, spread_in)) {
                    std::fill(gp[top], gp[top] + chunk, v);
                    spread = v, spread_in = true;
                }
                gtop = gp[top];
            }
            for (int k = p.I - 1; k >= 0; --k) {
                const int r = L + k, a = p.arg(k, 0), b = p.arg(k, 1);
                if (!need[r]) continue;
                // Rows whose rule cannot fire skip it: their y may not have been recomputed.
                if (rule[k])
                    fused::backward_instruction<true>(p.op(k), rp[a], rp[b], p.number(k), rp[r],
                                                      r == top ? gtop : gp[r], gp[a], wa[k], gp[b], wb[k], m);
                else
                    fused::backward_instruction<false>(p.op(k), rp[a], rp[b], p.number(k), rp[r],
                                                       r == top ? gtop : gp[r], gp[a], wa[k], gp[b], wb[k], m);
            }
            for (int l = 0; l < L; ++l) {
                if (!need[l] || direct[l]) continue;
                const T* gl = gp[l];
                T* dst = adj + off[l] + j0 * step[l];
                const std::int64_t st = step[l];
                if (st == 0) {  // a broadcast leaf: one adjoint collects the chunk
                    T acc = T(0.0);
                    for (std::int64_t j = 0; j < m; ++j) acc += gl[j];
                    dst[0] += acc;
                } else {
                    for (std::int64_t j = 0; j < m; ++j) dst[j * st] += gl[j];
                }
            }
        }
    });
}

// Why a fused entry (e.g. one loaded from bytes) would read or write outside
// its arrays, or nullptr when it is sound: its geometry record lies in the
// arena (`words` int64s from e.geometry), its instructions are op-table rows
// reading earlier registers, its slot leaves walk recorded slots below
// e.first (from slot `lowest` up), its constant leaves stay in the constants
// arena, and e.size matches its space. For compiled replay's validation.
inline const char* check_fused(const Entry& e, const std::int64_t* arena, std::size_t words,
                               std::size_t constants, index_t lowest) {
    using fused::Program;
    if (e.geometry > words || words - e.geometry < 2) return "its geometry lies outside the geometry arena";
    const std::int64_t* g = arena + e.geometry;
    const int nd = e.ndim;
    if (g[0] < 1 || g[0] > fused::max_leaves || g[1] < 1 || g[1] > fused::max_instructions)
        return "a fused program with too few or too many leaves or instructions";
    if (nd < 1 || nd > max_dims || e.split > nd) return "a fused space of bad rank";
    const Program p = fused::program(e, g);
    if (words - e.geometry < std::size_t(2 + nd + p.L * (2 + nd) + 4 * p.I))
        return "its geometry lies outside the geometry arena";
    std::uint64_t all = 1, kept = 1;
    for (int d = 0; d < nd; ++d) {
        if (p.shape[d] < 0 || p.shape[d] > std::int64_t(max_nodes)) return "a bad dimension";
        all *= std::uint64_t(p.shape[d]);
        if (d < e.split) kept *= std::uint64_t(p.shape[d]);
        if (all > max_nodes) return "a space larger than a tape";
    }
    const bool sum = (e.flags & entry_flags::fused_sum) != 0;
    if ((sum ? kept : all) != e.size || (sum && e.split == nd)) return "its size does not match its space";
    for (int k = 0; k < p.I; ++k) {
        const std::int64_t op = p.code[4 * k];
        if (op < 0 || op > 255 || !is_known(static_cast<std::uint8_t>(op))) return "not an op-table row";
        const Arity arity = info(Op(op)).arity;
        if (arity == Arity::none) return "not an op-table row";
        const int a = p.arg(k, 0), b = p.arg(k, 1);
        if (a < 0 || a >= p.L + k || b < 0 || b >= p.L + k || (arity != Arity::binary && b != a))
            return "an instruction reads a register not yet computed";
    }
    if (all == 0) return nullptr;  // nothing is read
    for (int l = 0; l < p.L; ++l) {
        // Forged strides and bases must not overflow the extent arithmetic:
        // each |(shape - 1) * stride| stays within a tape, the base too.
        const std::int64_t* st = p.stride(l);
        for (int d = 0; d < nd; ++d) {
            const std::int64_t m = p.shape[d] - 1;
            if (st[d] < -std::int64_t(max_nodes) || st[d] > std::int64_t(max_nodes) ||
                (m && (st[d] < 0 ? -st[d] : st[d]) > std::int64_t(max_nodes) / m))
                return "a leaf's strides reach outside a tape";
        }
        if (p.base(l) < 0 || p.base(l) > std::int64_t(max_nodes)) return "a leaf starts outside a tape";
        std::int64_t lo, hi;
        walk_extent(nd, p.shape, st, lo, hi);
        const std::int64_t from = p.base(l) + lo, to = p.base(l) + hi;
        if (p.kind(l) == fused::slots) {
            if (from < std::int64_t(lowest) || to >= std::int64_t(e.first)) return "a leaf reaches outside the slots below it";
        } else if (p.kind(l) == fused::constant) {
            if (from < 0 || to >= std::int64_t(constants)) return "a constant leaf reaches outside the constants arena";
        } else {
            return "a leaf of unknown kind";
        }
    }
    return nullptr;
}

// The backward on doubles, built for AVX2 and for any x86-64
// (TG_CLONED_KERNEL): unlike the other entries' backward loops, which wait on
// memory, this one computes, and its masked partials vectorise only with AVX2
// (measured on the Rosenbrock program, n = 10^4: 59 us with AVX2, 160 us
// without). An AVX-512 copy ran it 7% faster again at n = 10^4-10^5, but
// cost a third of the whole build's time: left out.
// Where it compiles: TG_KERNEL_INLINE in config.hpp.
#if defined(TAPEGRAD_SHARED_KERNELS) && !defined(TAPEGRAD_COMPILE_BACKWARD_KERNELS)
void backward_fused_double(const Entry& e, const std::int64_t* geometry, const double* constants,
                           const double* values, const double* g, std::int64_t count, double* adj,
                           Poll& poll) noexcept;
#else
TG_CLONED_KERNEL TG_KERNEL_INLINE void backward_fused_double(const Entry& e, const std::int64_t* geometry,
                                                             const double* constants, const double* values,
                                                             const double* g, std::int64_t count, double* adj,
                                                             Poll& poll) noexcept {
    backward_fused<double>(e, geometry, constants, values, g, count, adj, poll);
}
#endif

}  // namespace tapegrad::entries
