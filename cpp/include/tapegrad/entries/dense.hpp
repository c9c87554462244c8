// Dense-layer entries: Y (M x N, contiguous) = act(X (M x K) @ W (K x N) + b),
// run by the BLAS kernel of dense.hpp straight on the tape's value and
// adjoint arrays. X and W are strided views of slots or, when an operand is an
// ndarray, a row-major copy in EntryList::constants (X first, then W, then b);
// b is a view of slots with a stride, a constant, or absent. A constant
// operand gets no adjoint work at all (an ndarray X: no dX product).
//
// Geometry: M, K, N, X's strides (row, column), W's, then b's first slot, b's
// stride, the bias mode and the activation.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../dense.hpp"
#include "entry.hpp"

namespace tapegrad::entries {

enum class Bias : std::int64_t { none, variable, constant };
inline constexpr int dense_geometry_size = 11;

namespace detail {

struct DenseOperands {
    blas::ConstMatrix x, w;
    dense::Vector<const double> b;
    activation::Kind act;
    Bias bias;
};

inline DenseOperands dense_operands(const Entry& e, const std::int64_t* g, const double* constants,
                                    const double* values) {
    const std::int64_t M = g[0], K = g[1], N = g[2];
    const bool xc = e.flags & entry_flags::a_constant, wc = e.flags & entry_flags::b_constant;
    const double* c = constants + e.data;
    DenseOperands o;
    o.x = xc ? blas::dense_view(c, M, K) : blas::ConstMatrix{values + e.a, M, K, g[3], g[4]};
    if (xc) c += M * K;
    o.w = wc ? blas::dense_view(c, K, N) : blas::ConstMatrix{values + e.b, K, N, g[5], g[6]};
    if (wc) c += K * N;
    o.bias = static_cast<Bias>(g[9]);
    if (o.bias == Bias::variable) o.b = {values + g[7], g[8]};
    if (o.bias == Bias::constant) o.b = {c, 1};
    o.act = static_cast<activation::Kind>(g[10]);
    return o;
}

}  // namespace detail

// The most scratch (doubles per use, see blas::reserve_scratch) the backward
// of the dense entry with geometry g may take: packed operands, dZ, padding.
inline std::size_t dense_scratch_size(const std::int64_t* g) {
    const std::int64_t M = g[0], K = g[1], N = g[2];
    return static_cast<std::size_t>(std::max({M * N, M * K, K * N}));
}

// The output slots' partials are not used by the kernel (its backward reads
// W, X and the outputs), except the first one's `a`, which keeps what the
// forward learnt: 1 when X W + b came out finite (see dense::forward).
template <class T, class PP>
inline void forward_dense(const Entry& e, const std::int64_t* g, const double* constants, T* values, PP* partials,
                          Poll& poll) {
    // Replay on other number types (dual numbers) arrives with compiled tapes.
    static_assert(std::is_same_v<T, double>, "dense entries run on doubles");
    const auto o = detail::dense_operands(e, g, constants, values);
    const bool finite = dense::forward(o.x, o.w, o.b, o.act, values + e.first, &poll);
    partials[e.first].a = finite ? 1.0 : 0.0;
}

// The adjoints of the first `count` outputs are G[0..count); the rest count as 0.
template <class PP>
inline void backward_dense(const Entry& e, const std::int64_t* g, const double* constants, const PP* partials,
                           const double* values, const double* G, std::int64_t count, double* adj,
                           Poll& poll) noexcept {
    const auto o = detail::dense_operands(e, g, constants, values);
    const std::int64_t M = o.x.rows, K = o.x.cols, N = o.w.cols;
    if (count < M * N) {  // a sweep that starts inside this entry: pad the adjoints with zeros
        double* padded = blas::detail::scratch(blas::detail::scratch_g, static_cast<std::size_t>(M * N));
        std::fill(std::copy(G, G + count, padded), padded + M * N, 0.0);
        G = padded;
    }
    dense::Gradients grads;
    if (!(e.flags & entry_flags::a_constant)) grads.dx = {adj + e.a, M, K, g[3], g[4]};
    if (!(e.flags & entry_flags::b_constant)) grads.dw = {adj + e.b, K, N, g[5], g[6]};
    if (o.bias == Bias::variable) grads.db = {adj + g[7], g[8]};
    dense::backward(o.x, o.w, values + e.first, G, o.act, grads, partials[e.first].a == 1.0, &poll);
}

}  // namespace tapegrad::entries
