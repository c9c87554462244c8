// A dense layer over a batch, Y = act(X W + b), as one kernel forward and one
// backward, both matrix products on BLAS (blas.hpp):
//
//   forward   Y  = act(X W + b)                 X: batch x n_in, W: n_in x n_out
//   backward  dZ = dY * act'(Y)   (from the stored output, activation.hpp)
//             dX += dZ W^T,  dW += X^T dZ,  db += column sums of dZ
//
// Everything is raw pointers and strides, so a tape entry runs it straight on
// its value and adjoint arrays (no copies), and so does a call on ndarrays.
// Pure C++: callers release the GIL around it.
#pragma once
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "activation.hpp"
#include "blas.hpp"

namespace tapegrad::dense {

using blas::ConstMatrix;
using blas::MutMatrix;

// A bias vector b[j * stride], or none (data == nullptr).
template <class T>
struct Vector {
    T* data = nullptr;
    std::int64_t stride = 1;
};

inline void check_shapes(const ConstMatrix& x, const ConstMatrix& w, std::int64_t n_out) {
    if (x.cols != w.rows || w.cols != n_out)
        throw std::invalid_argument("tapegrad.dense: X is " + std::to_string(x.rows) + " x " +
                                    std::to_string(x.cols) + " but W is " + std::to_string(w.rows) + " x " +
                                    std::to_string(w.cols));
}

// y (x.rows x w.cols, row-major, contiguous) = act(x w + b). y must not
// overlap x, w or b.
inline void forward(const ConstMatrix& x, const ConstMatrix& w, Vector<const double> b, activation::Kind act,
                    double* y) {
    check_shapes(x, w, w.cols);
    const std::int64_t rows = x.rows, n_out = w.cols;
    if (b.data) {
        for (std::int64_t i = 0; i < rows; ++i)
            for (std::int64_t j = 0; j < n_out; ++j) y[i * n_out + j] = b.data[j * b.stride];
    }
    blas::gemm(1.0, x, w, b.data ? 1.0 : 0.0, blas::dense_view(y, rows, n_out));
    activation::apply(act, y, rows * n_out);
}

// Where the backward adds its results; a null data pointer means "not wanted"
// (an ndarray X is a constant: no dX product at all).
struct Gradients {
    MutMatrix dx{nullptr, 0, 0, 0, 0};
    MutMatrix dw{nullptr, 0, 0, 0, 0};
    Vector<double> db;
};

// Adds the layer's contributions into g, given the forward's output y and its
// adjoint dy (both row-major contiguous, x.rows x w.cols).
inline void backward(const ConstMatrix& x, const ConstMatrix& w, const double* y, const double* dy,
                     activation::Kind act, const Gradients& g) {
    check_shapes(x, w, w.cols);
    const std::int64_t rows = x.rows, n_out = w.cols, n = rows * n_out;
    // An entry off the output's path passes exactly nothing back (as the
    // scalar sweep does), also where W holds an inf that 0 * inf would spread.
    if (std::all_of(dy, dy + n, [](double v) { return v == 0.0; })) return;
    const double* dz = dy;
    if (act != activation::Kind::identity) {
        double* buf = blas::detail::scratch(blas::detail::scratch_dz, static_cast<std::size_t>(n));
        activation::adjoint(act, buf, dy, y, n);
        dz = buf;
    }
    const ConstMatrix dzm = blas::dense_view(dz, rows, n_out);
    if (g.dx.data) blas::gemm(1.0, dzm, w.transposed(), 1.0, g.dx);
    if (g.dw.data) blas::gemm(1.0, x.transposed(), dzm, 1.0, g.dw);
    if (g.db.data) {
        for (std::int64_t i = 0; i < rows; ++i)
            for (std::int64_t j = 0; j < n_out; ++j) g.db.data[j * g.db.stride] += dz[i * n_out + j];
    }
}

}  // namespace tapegrad::dense
