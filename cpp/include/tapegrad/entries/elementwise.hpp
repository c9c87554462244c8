// Elementwise entries: one op-table row over whole arrays.
//
// The opcode is dispatched once per array by a switch expanded from ops.def;
// each case runs a templated inner loop that calls the row's formula::value_
// and partial_ functions, so there is no second list of ops. Forward is
// generic over the number type T and the partial-pair type PP (replay runs it
// on doubles and on dual numbers); backward needs no opcode at all: it is
// adj[operand] += partial * adj[output], read from the output slots.
//
// Geometry of an elementwise entry: shape[ndim], then the strides of operand a
// and of operand b over that space (0 where an operand is broadcast).
#pragma once
#include <array>
#include <cstdint>
#include <cstring>

#include "../formulas.hpp"
#include "../strided.hpp"
#include "entry.hpp"

namespace tapegrad::entries {

// Everything an elementwise evaluation reads and writes, as raw pointers, so
// that recording (operands in the slot array) and constant evaluation (numpy
// buffers) share the kernels.
template <class T, class PP>
struct Elementwise {
    int nd;
    const std::int64_t* shape;
    const std::int64_t* sa;  // strides of a over the space
    const std::int64_t* sb;  // strides of b (binary with two array operands)
    const T* a;
    const T* b;
    T scalar;           // the constant of a _vc/_cv op, unless per_element
    bool per_element;   // the constant of a _vc/_cv op is p[j].b
    T* y;               // outputs, contiguous
    PP* p;              // their partials
    std::int64_t size;
    Poll* poll = nullptr;  // Ctrl-C: given, the loops stop early when it says so
};

namespace detail {

template <class T, class PP, class V, class D>
inline void unary_run(const T* TG_RESTRICT x, std::int64_t sx, T* TG_RESTRICT y, PP* TG_RESTRICT p,
                      std::int64_t n, V value, D partial) {
    if (sx == 1) {
        for (std::int64_t j = 0; j < n; ++j) {
            const T a = x[j], r = value(a);
            y[j] = r;
            p[j].a = partial(a, r);
            p[j].b = T(0.0);
        }
    } else {
        for (std::int64_t j = 0; j < n; ++j) {
            const T a = x[j * sx], r = value(a);
            y[j] = r;
            p[j].a = partial(a, r);
            p[j].b = T(0.0);
        }
    }
}

template <class T, class PP, class V, class DA, class DB>
inline void binary_run(const T* TG_RESTRICT x, std::int64_t sx, const T* TG_RESTRICT z, std::int64_t sz,
                       T* TG_RESTRICT y, PP* TG_RESTRICT p, std::int64_t n, V value, DA pa, DB pb) {
    if (sx == 1 && sz == 1) {
        for (std::int64_t j = 0; j < n; ++j) {
            const T a = x[j], b = z[j], r = value(a, b);
            y[j] = r;
            p[j].a = pa(a, b, r);
            p[j].b = pb(a, b, r);
        }
    } else {
        for (std::int64_t j = 0; j < n; ++j) {
            const T a = x[j * sx], b = z[j * sz], r = value(a, b);
            y[j] = r;
            p[j].a = pa(a, b, r);
            p[j].b = pb(a, b, r);
        }
    }
}

// One variable operand x and a constant c; ConstFirst: the op is f(c, x)
// (a _cv row, whose stored partial is the row's partial_b) else f(x, c).
template <bool ConstFirst, bool PerElement, class T, class PP, class V, class D>
inline void constant_run(const T* TG_RESTRICT x, std::int64_t sx, T c, T* TG_RESTRICT y, PP* TG_RESTRICT p,
                         std::int64_t n, V value, D partial) {
    auto one = [&](std::int64_t j, const T& v) {
        const T k = PerElement ? T(p[j].b) : c;
        const T r = ConstFirst ? value(k, v) : value(v, k);
        y[j] = r;
        p[j].a = ConstFirst ? partial(k, v, r) : partial(v, k, r);
        p[j].b = k;
    };
    if (sx == 1) {
        for (std::int64_t j = 0; j < n; ++j) one(j, x[j]);
    } else {
        for (std::int64_t j = 0; j < n; ++j) one(j, x[j * sx]);
    }
}

// Each run in pieces, so that Ctrl-C can stop one long contiguous run.
template <std::size_t K, class T, class PP, class Run>
inline void walk(const Elementwise<T, PP>& w, const std::array<const std::int64_t*, K>& strides, Run&& run) {
    Poll never(nullptr);
    for_each_piece<K>(w.nd, w.shape, strides, {}, w.size, w.poll ? *w.poll : never, run);
}

template <class T, class PP, class V, class D>
inline void walk_unary(const Elementwise<T, PP>& w, V value, D partial) {
    walk<1>(w, {w.sa}, [&](auto off, std::int64_t n, auto step, std::int64_t i) {
        unary_run(w.a + off[0], step[0], w.y + i, w.p + i, n, value, partial);
    });
}

template <class T, class PP, class V, class DA, class DB>
inline void walk_binary(const Elementwise<T, PP>& w, V value, DA pa, DB pb) {
    walk<2>(w, {w.sa, w.sb}, [&](auto off, std::int64_t n, auto step, std::int64_t i) {
        binary_run(w.a + off[0], step[0], w.b + off[1], step[1], w.y + i, w.p + i, n, value, pa, pb);
    });
}

template <bool ConstFirst, class T, class PP, class V, class D>
inline void walk_constant(const Elementwise<T, PP>& w, V value, D partial) {
    walk<1>(w, {w.sa}, [&](auto off, std::int64_t n, auto step, std::int64_t i) {
        if (w.per_element)
            constant_run<ConstFirst, true>(w.a + off[0], step[0], w.scalar, w.y + i, w.p + i, n, value, partial);
        else
            constant_run<ConstFirst, false>(w.a + off[0], step[0], w.scalar, w.y + i, w.p + i, n, value, partial);
    });
}

}  // namespace detail

// Values and partials of `op` over the space of w. For a _vc/_cv row, w.a is
// the variable operand. Returns false for an opcode that is not an op-table row.
template <class T, class PP>
inline bool elementwise(Op op, const Elementwise<T, PP>& w) {
    using namespace detail;
    switch (op) {
#define TG_UNARY(name, ...)                                                                         \
    case Op::name:                                                                                  \
        walk_unary(w, [](const T& a) { return formula::value_##name<T>(a); },                       \
                   [](const T& a, const T& y) { return formula::partial_##name<T>(a, y); });       \
        return true;
#define TG_BINARY(name, ...)                                                                              \
    case Op::name:                                                                                        \
        walk_binary(w, [](const T& a, const T& b) { return formula::value_##name<T>(a, b); },            \
                    [](const T& a, const T& b, const T& y) { return formula::partial_a_##name<T>(a, b, y); }, \
                    [](const T& a, const T& b, const T& y) { return formula::partial_b_##name<T>(a, b, y); }); \
        return true;                                                                                      \
    case Op::name##_vc:                                                                                   \
        walk_constant<false>(w, [](const T& a, const T& b) { return formula::value_##name<T>(a, b); },   \
                             [](const T& a, const T& b, const T& y) { return formula::partial_a_##name<T>(a, b, y); }); \
        return true;                                                                                      \
    case Op::name##_cv:                                                                                   \
        walk_constant<true>(w, [](const T& a, const T& b) { return formula::value_##name<T>(a, b); },    \
                            [](const T& a, const T& b, const T& y) { return formula::partial_b_##name<T>(a, b, y); }); \
        return true;
#include "../ops.def"
        default:
            return false;
    }
}

// Forward of a recorded entry: values[e.first...] and partials[e.first...]
// from the operand slots. Replay calls this again with new values.
template <class T, class PP>
inline void forward_elementwise(const Entry& e, const std::int64_t* geometry, T* values, PP* partials, Poll& poll) {
    const int nd = e.ndim;
    const Elementwise<T, PP> w{nd, geometry, geometry + nd, geometry + 2 * nd, values + e.a, values + e.b,
                               T(e.scalar), (e.flags & entry_flags::constant_per_element) != 0,
                               values + e.first, partials + e.first, e.size, &poll};
    elementwise(e.op, w);
}

namespace detail {

// dst[j*s] += part(p[j]) * g[j]: the whole backward of an elementwise entry
// (T: double, or a dual number when replay runs forward-over-reverse).
template <bool Mask, int Which, class T, class PP>
inline void accumulate(T* TG_RESTRICT dst, std::int64_t s, const PP* TG_RESTRICT p, const T* TG_RESTRICT g,
                       std::int64_t n) noexcept {
    auto term = [&](std::int64_t j) {
        const T d = (Which == 0 ? p[j].a : p[j].b) * g[j];
        // a dead output (adjoint 0) passes exactly 0, even with an inf/NaN partial
        if constexpr (Mask) return is_zero(g[j]) ? T(0.0) : d;
        return d;
    };
    if (s == 1) {
        for (std::int64_t j = 0; j < n; ++j) dst[j] += term(j);
    } else if (s == 0) {  // a broadcast operand: one adjoint collects the whole run
        T acc = T(0.0);
        for (std::int64_t j = 0; j < n; ++j) acc += term(j);
        dst[0] += acc;
    } else {
        for (std::int64_t j = 0; j < n; ++j) dst[j * s] += term(j);
    }
}

}  // namespace detail

// g: adjoints of the outputs; only the first `count` exist (a sweep that
// starts inside this entry), the rest count as 0. Runs are not cut into
// pieces here (a broadcast operand sums its run in one accumulator, and the
// loop is as fast as memory: a whole tape's worth takes about a second), but
// no run starts once `poll` said stop.
template <bool Mask, class T, class PP>
inline void backward_elementwise(const Entry& e, const std::int64_t* geometry, const PP* partials, const T* g,
                                 std::int64_t count, T* adj, Poll& poll) noexcept {
    const int nd = e.ndim;
    const PP* p = partials + e.first;
    const bool two = info(e.op).arity == Arity::binary;
    for_each_run<2>(nd, geometry, {geometry + nd, geometry + 2 * nd}, {std::int64_t(e.a), std::int64_t(e.b)},
                    count, [&](auto off, std::int64_t n, auto step, std::int64_t i) {
                        detail::accumulate<Mask, 0>(adj + off[0], step[0], p + i, g + i, n);
                        if (two) detail::accumulate<Mask, 1>(adj + off[1], step[1], p + i, g + i, n);
                        poll.stop_after(n);
                    },
                    &poll);
}

}  // namespace tapegrad::entries
