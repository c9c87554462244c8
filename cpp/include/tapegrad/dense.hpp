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
#include <cmath>
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
// overlap x, w or b. Returns whether x w + b came out finite everywhere:
// then x and w hold no inf or NaN (one in x spoils its whole row of x w, one
// in w its whole column), and the backward may skip looking for them.
// With a `poll` that says stop (Ctrl-C), y is left partial.
inline bool forward(const ConstMatrix& x, const ConstMatrix& w, Vector<const double> b, activation::Kind act,
                    double* y, Poll* poll = nullptr) {
    check_shapes(x, w, w.cols);
    const std::int64_t rows = x.rows, n_out = w.cols;
    Poll never(nullptr);
    blas::gemm(1.0, x, w, 0.0, blas::dense_view(y, rows, n_out), poll ? *poll : never);
    const double* bias = b.data;  // added in the activation's pass over y, not in one of its own
    if (bias && b.stride != 1) {
        double* packed = blas::detail::scratch(blas::detail::scratch_bias, static_cast<std::size_t>(n_out));
        for (std::int64_t j = 0; j < n_out; ++j) packed[j] = b.data[j * b.stride];
        bias = packed;
    }
    return activation::apply_rows(act, y, rows, n_out, bias);
}

namespace detail {

// c += a b where b may hold inf or NaN and a zero in a must pass exactly 0
// (the tape's rule for outputs whose adjoint is 0): BLAS multiplies a by b
// with those entries zeroed, then each of them is added where a is nonzero.
inline void add_product_zero_safe(const ConstMatrix& a, const ConstMatrix& b, const MutMatrix& c, Poll& poll) {
    double* clean = blas::detail::scratch(blas::detail::scratch_clean, static_cast<std::size_t>(b.size()));
    for (std::int64_t k = 0; k < b.rows; ++k)
        for (std::int64_t j = 0; j < b.cols; ++j) {
            const double v = b(k, j);
            clean[k * b.cols + j] = std::isfinite(v) ? v : 0.0;
        }
    blas::gemm(1.0, a, blas::dense_view<const double>(clean, b.rows, b.cols), 1.0, c, poll);
    for (std::int64_t k = 0; k < b.rows && !poll.stopped(); ++k)
        for (std::int64_t j = 0; j < b.cols; ++j) {
            const double v = b(k, j);
            if (std::isfinite(v)) continue;
            for (std::int64_t i = 0; i < a.rows; ++i)
                if (a(i, k) != 0.0) c(i, j) += a(i, k) * v;
        }
}

}  // namespace detail

// Where the backward adds its results; a null data pointer means "not wanted"
// (an ndarray X is a constant: no dX product at all).
struct Gradients {
    MutMatrix dx{nullptr, 0, 0, 0, 0};
    MutMatrix dw{nullptr, 0, 0, 0, 0};
    Vector<double> db;
};

// Adds the layer's contributions into g, given the forward's output y, its
// adjoint dy (both row-major contiguous, x.rows x w.cols) and what forward
// returned (false is always safe: it only costs a scan of x and w). With a
// `poll` that says stop (Ctrl-C), g is left partial.
inline void backward(const ConstMatrix& x, const ConstMatrix& w, const double* y, const double* dy,
                     activation::Kind act, const Gradients& g, bool finite, Poll* poll = nullptr) {
    check_shapes(x, w, w.cols);
    const std::int64_t rows = x.rows, n_out = w.cols, n = rows * n_out;
    const bool identity = act == activation::Kind::identity;
    // An entry off the output's path passes exactly nothing back: dy all 0.
    // The activation's pass below finds that out on its way; the identity,
    // which has no such pass, looks first.
    if (identity && std::all_of(dy, dy + n, [](double v) { return v == 0.0; })) return;
    // dz, and db summed row by row while each row of dz is still in cache
    double* db = nullptr;
    if (g.db.data) {
        db = g.db.stride == 1 ? g.db.data
                              : blas::detail::scratch(blas::detail::scratch_bias, static_cast<std::size_t>(n_out));
        if (g.db.stride != 1) std::fill(db, db + n_out, 0.0);
    }
    const double* dz = dy;
    double* buf = identity ? nullptr : blas::detail::scratch(blas::detail::scratch_dz, static_cast<std::size_t>(n));
    bool nonzero = identity;  // (the identity checked above)
    for (std::int64_t i = 0; i < rows; ++i) {
        const std::int64_t at = i * n_out;
        if (buf) nonzero |= activation::adjoint(act, buf + at, dy + at, y + at, n_out);
        if (db) activation::add_in_place(db, (buf ? buf : dy) + at, n_out);
    }
    if (!nonzero) return;  // db got only zeros added (each dz is exactly 0 where dy is)
    if (buf) dz = buf;
    if (db && g.db.stride != 1)
        for (std::int64_t j = 0; j < n_out; ++j) g.db.data[j * g.db.stride] += db[j];
    const ConstMatrix dzm = blas::dense_view(dz, rows, n_out);
    Poll never(nullptr);
    Poll& p = poll ? *poll : never;
    if (g.dx.data) {  // dx += dz w^T
        if (finite) blas::gemm(1.0, dzm, w.transposed(), 1.0, g.dx, p);
        else detail::add_product_zero_safe(dzm, w.transposed(), g.dx, p);
    }
    if (g.dw.data) {  // dw += x^T dz, as dw^T += dz^T x so that x is the operand checked
        if (finite) blas::gemm(1.0, x.transposed(), dzm, 1.0, g.dw, p);
        else detail::add_product_zero_safe(dzm.transposed(), x, g.dw.transposed(), p);
    }
}

}  // namespace tapegrad::dense
