// Matrix-product entries: C (M x N, contiguous) = A (M x K) @ B (K x N).
// Vectors are views of one row or one column, so vector.vector, matrix.vector
// and matrix.matrix are one kind. A constant operand (an ndarray) is copied
// row-major into EntryList::constants; a variable one is a strided view of
// slots whose values the backward reads again (slots never change).
//
// Geometry: M, K, N, then A's strides (row, column) and B's.
//
// Plain loops, ordered for unit-stride inner loops on row-major operands; the
// dense-layer kernel (BLAS) can take over large products later.
#pragma once
#include <cmath>
#include <cstdint>

#include "entry.hpp"

namespace tapegrad::entries {

namespace detail {

// Element (i, k) of an operand: a strided view of slots or a row-major constant.
template <class T>
struct MatrixView {
    const T* slots;
    const double* constant;
    std::int64_t rs, cs;
    T operator()(std::int64_t i, std::int64_t k) const {
        return constant ? T(constant[i * rs + k * cs]) : slots[i * rs + k * cs];
    }
};

template <class T>
inline void matmul_operands(const Entry& e, const std::int64_t* g, const double* constants, const T* values,
                            MatrixView<T>& A, MatrixView<T>& B) {
    const std::int64_t M = g[0], K = g[1], N = g[2];
    const bool ac = e.flags & entry_flags::a_constant, bc = e.flags & entry_flags::b_constant;
    const double* cA = ac ? constants + e.data : nullptr;
    const double* cB = bc ? constants + e.data + (ac ? M * K : 0) : nullptr;
    A = MatrixView<T>{values + e.a, cA, ac ? K : g[3], ac ? 1 : g[4]};
    B = MatrixView<T>{values + e.b, cB, bc ? N : g[5], bc ? 1 : g[6]};
}

}  // namespace detail

template <class T>
inline void forward_matmul(const Entry& e, const std::int64_t* g, const double* constants, T* values, Poll& poll) {
    const std::int64_t M = g[0], K = g[1], N = g[2];
    detail::MatrixView<T> A, B;
    detail::matmul_operands(e, g, constants, values, A, B);
    T* y = values + e.first;
    for (std::int64_t i = 0; i < M * N; ++i) y[i] = T(0.0);
    for (std::int64_t i = 0; i < M && !poll.stop_after(K * N); ++i)
        for (std::int64_t k = 0; k < K; ++k) {
            const T aik = A(i, k);
            for (std::int64_t j = 0; j < N; ++j) y[i * N + j] += aik * B(k, j);
        }
}

// dA = G B^T, dB = A^T G, over the first `count` outputs (row-major) only.
template <class T>
inline void backward_matmul(const Entry& e, const std::int64_t* g, const double* constants, const T* values,
                            const T* G, std::int64_t count, T* adj, Poll& poll) noexcept {
    const std::int64_t M = g[0], K = g[1], N = g[2];
    detail::MatrixView<T> A, B;
    detail::matmul_operands(e, g, constants, values, A, B);
    if (!(e.flags & entry_flags::a_constant)) {
        for (std::int64_t i = 0; i < M && !poll.stop_after(K * N); ++i)
            for (std::int64_t j = 0; j < N && i * N + j < count; ++j) {
                const T gij = G[i * N + j];
                if (is_zero(gij)) continue;
                T* d = adj + e.a + i * A.rs;
                for (std::int64_t k = 0; k < K; ++k) d[k * A.cs] += gij * B(k, j);
            }
    }
    if (!(e.flags & entry_flags::b_constant)) {
        for (std::int64_t i = 0; i < M && i * N < count && !poll.stop_after(K * N); ++i)
            for (std::int64_t k = 0; k < K; ++k) {
                const T aik = A(i, k);
                T* d = adj + e.b + k * B.rs;
                const std::int64_t n = count - i * N < N ? count - i * N : N;
                const T* gi = G + i * N;
                if (is_finite(aik))
                    for (std::int64_t j = 0; j < n; ++j) d[j * B.cs] += aik * gi[j];
                else  // a dead output (adjoint 0) passes exactly 0, not inf * 0
                    for (std::int64_t j = 0; j < n; ++j) d[j * B.cs] += !is_zero(gi[j]) ? aik * gi[j] : T(0.0);
            }
    }
}

}  // namespace tapegrad::entries
