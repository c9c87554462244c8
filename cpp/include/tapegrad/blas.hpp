// Matrix products on a real BLAS, for the dense-layer entries and matmul.
//
// Which BLAS: the OpenBLAS of the `scipy-openblas32` wheel, the same library
// numpy and scipy build against. tapegrad does not link it: Python loads the
// wheel's shared library once and hands the address of its `cblas_dgemm` here
// (tapegrad/_blas.py -> _core._set_dgemm). So the build needs no BLAS, no
// rpath points into a temporary build environment, and nothing here is tied to
// one BLAS vendor: any function with the CBLAS dgemm signature works.
//
// Everything works on strided 2-D views (element (i, j) at data[i*rs + j*cs]).
// A view BLAS can read in place — one stride 1, the other at least the row
// length — is handed over as it is; any other view (negative, zero or doubly
// non-unit strides) is copied into a per-thread workspace first, and an output
// view of that kind is computed there and then added into place.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include "buffer.hpp"
#include "interrupt.hpp"

namespace tapegrad::blas {

// CBLAS dgemm: C = alpha op(A) op(B) + beta C. The enums of cblas.h are ints.
using dgemm_fn = void (*)(int order, int trans_a, int trans_b, int m, int n, int k, double alpha,
                          const double* a, int lda, const double* b, int ldb, double beta, double* c, int ldc);
inline constexpr int row_major = 101, no_trans = 111, trans = 112;

// One pointer per extension module that includes this header (symbols are
// hidden per module); tapegrad/_blas.py sets it in each before first use.
inline std::atomic<dgemm_fn> dgemm_ptr{nullptr};

inline void set_dgemm(dgemm_fn f) noexcept { dgemm_ptr.store(f, std::memory_order_release); }

inline dgemm_fn dgemm() {
    dgemm_fn f = dgemm_ptr.load(std::memory_order_acquire);
    if (!f) throw std::logic_error("tapegrad: no BLAS loaded; tapegrad._blas.load() must run before a matrix product");
    return f;
}

// A strided 2-D view, strides counted in elements.
template <class T>
struct Matrix {
    T* data;
    std::int64_t rows, cols, rs, cs;

    T& operator()(std::int64_t i, std::int64_t j) const noexcept { return data[i * rs + j * cs]; }
    Matrix<T> transposed() const noexcept { return {data, cols, rows, cs, rs}; }
    std::int64_t size() const noexcept { return rows * cols; }
};
using ConstMatrix = Matrix<const double>;
using MutMatrix = Matrix<double>;

// A row-major C-contiguous view of `rows` x `cols` elements at p.
template <class T>
inline Matrix<T> dense_view(T* p, std::int64_t rows, std::int64_t cols) noexcept { return {p, rows, cols, cols, 1}; }

namespace detail {

inline constexpr std::int64_t blas_int_max = std::numeric_limits<int>::max();

inline int blas_int(std::int64_t v) {
    if (v > blas_int_max)
        throw std::length_error("tapegrad: a matrix dimension of " + std::to_string(v) +
                                " exceeds the 32-bit BLAS limit of 2**31 - 1");
    return static_cast<int>(v);
}

// How BLAS reads a view in place, if it can: row-major as it is (trans =
// false, leading dimension ld), or as the transpose of a row-major matrix.
struct Layout {
    bool ok, trans;
    std::int64_t ld;
};

template <class T>
inline Layout layout_of(const Matrix<T>& m) noexcept {
    if (m.rows <= 1 && m.cols <= 1) return {true, false, 1};
    if (m.rows <= 1 && m.cs == 1) return {true, false, m.cols};    // one row: its stride is never used
    if (m.cols <= 1 && m.rs >= 1) return {true, false, m.rs};      // one column, lda = rs >= 1 = cols
    if (m.rows <= 1 && m.cs >= 1) return {true, true, m.cs};       // one row read as a column
    if (m.cs == 1 && m.rs >= m.cols) return {true, false, m.rs};
    if (m.rs == 1 && m.cs >= m.rows) return {true, true, m.cs};
    return {false, false, 0};
}

// Scratch memory of the calling thread, reused across calls (a fresh
// allocation per product would page-fault every time). Kept at the largest
// size used so far; threads never share it. One buffer per use, since these
// are live at the same time.
enum Scratch : std::size_t {
    scratch_a, scratch_b, scratch_c, scratch_dz, scratch_g, scratch_clean, scratch_bias, scratch_count
};

inline Buffer<double>* scratch_buffers() {
    thread_local Buffer<double> buffers[scratch_count];
    return buffers;
}

inline double* scratch(Scratch slot, std::size_t count) {
    Buffer<double>& b = scratch_buffers()[slot];
    b.reserve(std::max<std::size_t>(count, 1));
    return b.data();
}

}  // namespace detail

// Make this thread's scratch hold `count` doubles per use, so that products of
// up to that many elements per operand allocate nothing: a reverse sweep,
// which must not throw once started, calls this first (std::bad_alloc here is
// a clean MemoryError). Address space only: untouched pages cost no RAM.
inline void reserve_scratch(std::size_t count) {
    for (std::size_t s = 0; s < detail::scratch_count; ++s) detail::scratch(static_cast<detail::Scratch>(s), count);
}

namespace detail {

// m copied row-major into scratch `slot`, when BLAS cannot read it in place.
inline ConstMatrix readable(const ConstMatrix& m, Scratch slot) {
    if (layout_of(m).ok) return m;
    double* p = scratch(slot, static_cast<std::size_t>(m.size()));
    for (std::int64_t i = 0; i < m.rows; ++i)
        for (std::int64_t j = 0; j < m.cols; ++j) p[i * m.cols + j] = m(i, j);
    return dense_view<const double>(p, m.rows, m.cols);
}

}  // namespace detail

// C = alpha A B + beta C for views A (m x k), B (k x n), C (m x n). C must not
// overlap A or B. Throws std::invalid_argument on mismatched shapes.
inline void gemm(double alpha, ConstMatrix a, ConstMatrix b, double beta, const MutMatrix& c) {
    using namespace detail;
    if (a.rows != c.rows || b.cols != c.cols || a.cols != b.rows)
        throw std::invalid_argument("tapegrad: gemm shapes do not match");
    if (c.rows == 0 || c.cols == 0) return;
    if (a.cols == 0) {  // an empty sum: BLAS may not accept k = 0 with these leading dimensions
        for (std::int64_t i = 0; i < c.rows; ++i)
            for (std::int64_t j = 0; j < c.cols; ++j) c(i, j) = beta == 0.0 ? 0.0 : beta * c(i, j);
        return;
    }
    Layout lc = layout_of(c);
    if (lc.ok && lc.trans) {  // C^T = B^T A^T, with C^T row-major
        gemm(alpha, b.transposed(), a.transposed(), beta, c.transposed());
        return;
    }
    a = readable(a, scratch_a);
    b = readable(b, scratch_b);
    if (!lc.ok) {  // compute into scratch, then combine with C in place
        double* p = scratch(scratch_c, static_cast<std::size_t>(c.size()));
        gemm(alpha, a, b, 0.0, dense_view<double>(p, c.rows, c.cols));
        for (std::int64_t i = 0; i < c.rows; ++i)
            for (std::int64_t j = 0; j < c.cols; ++j)
                c(i, j) = (beta == 0.0 ? 0.0 : beta * c(i, j)) + p[i * c.cols + j];
        return;
    }
    const Layout la = layout_of(a), lb = layout_of(b);
    dgemm()(row_major, la.trans ? trans : no_trans, lb.trans ? trans : no_trans, blas_int(c.rows),
            blas_int(c.cols), blas_int(a.cols), alpha, a.data, blas_int(la.ld), b.data, blas_int(lb.ld), beta,
            c.data, blas_int(lc.ld));
}

// gemm, in pieces of rows of C when the product is large, with `poll` asked
// between two: one BLAS call cannot be stopped (Ctrl-C), a product cut into
// calls of ~0.02-0.2 s can. A piece computes its rows of C exactly as the
// whole call would; it repacks B, hence pieces of at least 1024 rows
// (measured with OpenBLAS, 6000 x 3000 @ 3000 x 3000 on one core: 1024-row
// pieces 1-3% slower than one call, 512-row 2-4%, 256-row 6-12%). Products
// under 2^31 multiply-adds (tens of ms) are one call. Once `poll` said stop,
// the rest of C is left as it was.
inline constexpr double piece_work = 1073741824.0;  // 2^30 multiply-adds
inline constexpr std::int64_t min_piece_rows = 1024;

inline void gemm(double alpha, ConstMatrix a, ConstMatrix b, double beta, const MutMatrix& c, Poll& poll) {
    const double work = double(c.rows) * double(c.cols) * double(a.cols);
    const bool split = work > 2 * piece_work && std::max(c.rows, c.cols) >= 2 * min_piece_rows;
    if (split && c.cols > c.rows) {  // pieces of columns: rows of C^T = B^T A^T
        gemm(alpha, b.transposed(), a.transposed(), beta, c.transposed(), poll);
        return;
    }
    const std::int64_t rows = !split ? c.rows
                                     : std::max<std::int64_t>(min_piece_rows,
                                                              static_cast<std::int64_t>(piece_work / (double(c.cols) * double(a.cols))));
    for (std::int64_t i = 0; i < c.rows && !poll.stopped(); i += rows) {
        const std::int64_t m = std::min(rows, c.rows - i);
        gemm(alpha, ConstMatrix{a.data + i * a.rs, m, a.cols, a.rs, a.cs}, b, beta,
             MutMatrix{c.data + i * c.rs, m, c.cols, c.rs, c.cs});
        poll.stop_after(Poll::every);  // (ask after every piece)
    }
}

}  // namespace tapegrad::blas
