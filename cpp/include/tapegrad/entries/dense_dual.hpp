// Dense-layer entries on dual numbers: what compiled replay runs for
// jvp/hvp/hessian (forward-over-reverse) through a dense entry.
//
// A dual matrix is a pair of real ones, X = Xv + ε Xt, so every dual matrix
// product is real products on the BLAS:
//
//   forward    Zv = Xv Wv + bv                       (dense::forward: the very
//              Yv = act(Zv)                           kernel recording ran)
//              Yt = act'(Yv) ⊙ (Xt Wv + Xv Wt + bt)   two tangent GEMMs
//   backward   dZv = Gv ⊙ act'(Yv)
//              dZt = Gt ⊙ act'(Yv) + Gv ⊙ act''(Yv, Yt)
//              dXv += dZv Wvᵀ       dXt += dZt Wvᵀ + dZv Wtᵀ
//              dWv += Xvᵀ dZv       dWt += Xvᵀ dZt + Xtᵀ dZv
//              dbv += Σ dZv         dbt += Σ dZt
//
// The dual operands live interleaved in replay's slot arrays; they are
// de-interleaved into per-thread scratch buffers (contiguous, row-major) so
// that every product is one BLAS call on plain doubles. A constant operand
// (an ndarray X or W) has no tangent: its products are skipped.
//
// This header only calls the double-precision kernel (dense.hpp,
// activation.hpp, blas.hpp); it adds nothing to them.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "../buffer.hpp"
#include "../dense.hpp"
#include "../dual.hpp"
#include "dense.hpp"
#include "entry.hpp"

namespace tapegrad::entries {

namespace dual_dense {

enum Slot : std::size_t { xv, xt, wv, wt, bv, bt, yv, yt, gv, gt, zv, zt, av, at, slot_count };

// Scratch of the calling thread, one buffer per use (several are live at once).
inline double* scratch(Slot s, std::int64_t count) {
    thread_local Buffer<double> buffers[slot_count];
    buffers[s].reserve(static_cast<std::size_t>(std::max<std::int64_t>(count, 1)));
    return buffers[s].data();
}

// The value and tangent parts of a strided rows x cols view of dual slots,
// row-major into two scratch buffers.
inline void split(const Dual* src, std::int64_t rows, std::int64_t cols, std::int64_t rs, std::int64_t cs,
                  double* v, double* t) {
    for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t j = 0; j < cols; ++j) {
            const Dual& d = src[i * rs + j * cs];
            v[i * cols + j] = d.v;
            t[i * cols + j] = d.t;
        }
}

// dst[i*rs + j*cs] += (v, t)[i*cols + j]
inline void add_into(Dual* dst, std::int64_t rows, std::int64_t cols, std::int64_t rs, std::int64_t cs,
                     const double* v, const double* t) {
    for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t j = 0; j < cols; ++j) {
            Dual& d = dst[i * rs + j * cs];
            d.v += v[i * cols + j];
            d.t += t[i * cols + j];
        }
}

// d/dt of act'(y(t)) given y and its tangent yt, written from the output y
// like activation.hpp's first derivatives.
inline double second(activation::Kind kind, double y, double yt) {
    static_assert(activation::count == 5, "a new activation needs its second derivative here");
    switch (kind) {
        case activation::Kind::identity: return 0.0;
        case activation::Kind::tanh: return -2.0 * y * yt;          // (1 - y²)'
        case activation::Kind::sigmoid: return (1.0 - 2.0 * y) * yt;  // (y (1 - y))'
        case activation::Kind::relu: return 0.0;
        case activation::Kind::softplus: return std::exp(-y) * yt;    // (1 - e^-y)'
    }
    return 0.0;
}

// The operands of a dense entry, de-interleaved; a null tangent is zero.
struct Operands {
    std::int64_t M, K, N;
    const double *xv, *xt, *wv, *wt, *bv, *bt;
    activation::Kind act;
};

inline Operands operands(const Entry& e, const std::int64_t* g, const double* constants, const Dual* values) {
    Operands o{g[0], g[1], g[2], nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
               static_cast<activation::Kind>(g[10])};
    const std::int64_t M = o.M, K = o.K, N = o.N;
    const double* c = constants + e.data;
    if (e.flags & entry_flags::a_constant) {
        o.xv = c;
        c += M * K;
    } else {
        double *v = scratch(xv, M * K), *t = scratch(xt, M * K);
        split(values + e.a, M, K, g[3], g[4], v, t);
        o.xv = v, o.xt = t;
    }
    if (e.flags & entry_flags::b_constant) {
        o.wv = c;
        c += K * N;
    } else {
        double *v = scratch(wv, K * N), *t = scratch(wt, K * N);
        split(values + e.b, K, N, g[5], g[6], v, t);
        o.wv = v, o.wt = t;
    }
    const Bias bias = static_cast<Bias>(g[9]);
    if (bias == Bias::constant) o.bv = c;
    if (bias == Bias::variable) {
        double *v = scratch(bv, N), *t = scratch(bt, N);
        split(values + g[7], 1, N, 0, g[8], v, t);
        o.bv = v, o.bt = t;
    }
    return o;
}

}  // namespace dual_dense

template <class PP>
inline void forward_dense_dual(const Entry& e, const std::int64_t* g, const double* constants, Dual* values,
                               PP* partials, Poll& poll) {
    using namespace dual_dense;
    const Operands o = operands(e, g, constants, values);
    const std::int64_t M = o.M, K = o.K, N = o.N, n = M * N;
    double* y = scratch(yv, n);
    const bool finite = dense::forward(blas::dense_view(o.xv, M, K), blas::dense_view(o.wv, K, N),
                                       dense::Vector<const double>{o.bv, 1}, o.act, y, &poll);
    // Zt = Xt Wv + Xv Wt + bt
    double* z = scratch(zt, n);
    std::fill(z, z + n, 0.0);
    const auto Z = blas::dense_view(z, M, N);
    if (o.xt) blas::gemm(1.0, blas::dense_view(o.xt, M, K), blas::dense_view(o.wv, K, N), 1.0, Z, poll);
    if (o.wt) blas::gemm(1.0, blas::dense_view(o.xv, M, K), blas::dense_view(o.wt, K, N), 1.0, Z, poll);
    if (o.bt)
        for (std::int64_t i = 0; i < M; ++i)
            for (std::int64_t j = 0; j < N; ++j) z[i * N + j] += o.bt[j];
    double* t = scratch(yt, n);
    activation::adjoint(o.act, t, z, y, n);  // Yt = act'(Yv) ⊙ Zt
    Dual* out = values + e.first;
    for (std::int64_t i = 0; i < n; ++i) out[i] = Dual(y[i], t[i]);
    partials[e.first].a = finite ? 1.0 : 0.0;
}

// The adjoints of the first `count` outputs are G[0..count); the rest count as 0.
template <class PP>
inline void backward_dense_dual(const Entry& e, const std::int64_t* g, const double* constants,
                                const PP* /*partials*/, const Dual* values, const Dual* G, std::int64_t count,
                                Dual* adj, Poll& poll) {
    using namespace dual_dense;
    const std::int64_t M = g[0], K = g[1], N = g[2], n = M * N;
    double *gv_ = scratch(gv, n), *gt_ = scratch(gt, n);
    bool live = false;
    for (std::int64_t i = 0; i < n; ++i) {
        const Dual d = i < count ? G[i] : Dual(0.0);
        gv_[i] = d.v, gt_[i] = d.t;
        live |= !is_zero(d);
    }
    if (!live) return;  // an entry off the output's path passes exactly nothing back
    const Operands o = operands(e, g, constants, values);
    double *y = scratch(yv, n), *t = scratch(yt, n);
    split(values + e.first, 1, n, 0, 1, y, t);
    // dZv = Gv act'(Yv);  dZt = Gt act'(Yv) + Gv act''(Yv, Yt)
    double *dzv = scratch(zv, n), *dzt = scratch(zt, n);
    activation::adjoint(o.act, dzv, gv_, y, n);
    activation::adjoint(o.act, dzt, gt_, y, n);
    for (std::int64_t i = 0; i < n; ++i)
        if (gv_[i] != 0.0) dzt[i] += gv_[i] * second(o.act, y[i], t[i]);
    const auto DZv = blas::dense_view<const double>(dzv, M, N), DZt = blas::dense_view<const double>(dzt, M, N);
    const auto Xv = blas::dense_view(o.xv, M, K), Wv = blas::dense_view(o.wv, K, N);
    if (!(e.flags & entry_flags::a_constant)) {
        double *v = scratch(av, M * K), *w = scratch(at, M * K);
        const auto V = blas::dense_view(v, M, K), W = blas::dense_view(w, M, K);
        blas::gemm(1.0, DZv, Wv.transposed(), 0.0, V, poll);
        blas::gemm(1.0, DZt, Wv.transposed(), 0.0, W, poll);
        if (o.wt) blas::gemm(1.0, DZv, blas::dense_view(o.wt, K, N).transposed(), 1.0, W, poll);
        add_into(adj + e.a, M, K, g[3], g[4], v, w);
    }
    if (!(e.flags & entry_flags::b_constant)) {
        double *v = scratch(av, K * N), *w = scratch(at, K * N);
        const auto V = blas::dense_view(v, K, N), W = blas::dense_view(w, K, N);
        blas::gemm(1.0, Xv.transposed(), DZv, 0.0, V, poll);
        blas::gemm(1.0, Xv.transposed(), DZt, 0.0, W, poll);
        if (o.xt) blas::gemm(1.0, blas::dense_view(o.xt, M, K).transposed(), DZv, 1.0, W, poll);
        add_into(adj + e.b, K, N, g[5], g[6], v, w);
    }
    if (static_cast<Bias>(g[9]) == Bias::variable) {
        Dual* db = adj + g[7];
        for (std::int64_t j = 0; j < N; ++j) {
            double sv = 0.0, st = 0.0;
            for (std::int64_t i = 0; i < M; ++i) sv += dzv[i * N + j], st += dzt[i * N + j];
            db[j * g[8]].v += sv;
            db[j * g[8]].t += st;
        }
    }
}

}  // namespace tapegrad::entries
