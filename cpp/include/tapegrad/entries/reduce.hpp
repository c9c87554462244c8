// Reduction entries: sum, mean, prod, max, min, logsumexp and the 2-norm.
//
// The space is (kept axes..., reduced axes...): the front end transposes the
// input view so that the axes to reduce come last. Output o (contiguous over
// the kept axes) reduces the R elements of group o. Every reducer's backward
// is the same weighted scatter adj[in(o, r)] += w(o, r) * g[o]: sum and mean
// use one uniform weight (Entry::scalar), the others keep one weight per input
// element in EntryList::weights (prod: the product of the others; max/min: 1
// on the extreme, split evenly between ties; logsumexp: the softmax; norm: x/|x|).
//
// Geometry: shape[ndim], then the input strides.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>

#include "../strided.hpp"
#include "entry.hpp"

namespace tapegrad::entries {

namespace detail {

// Visit the elements of one group in order: fn(x, r).
template <class T, class Fn>
inline void each_in_group(int nr, const std::int64_t* shape, const std::int64_t* stride, const T* x,
                          std::int64_t R, Fn&& fn) {
    for_each_run<1>(nr, shape, {stride}, {0}, R, [&](auto off, std::int64_t n, auto step, std::int64_t r0) {
        const T* v = x + off[0];
        for (std::int64_t j = 0; j < n; ++j) fn(v[j * step[0]], r0 + j);
    });
}

// Sum of a run in sum_lanes accumulators (element j into acc[j % sum_lanes],
// a tail into acc[0]), combined pairwise: independent chains let a contiguous
// run pipeline (one chain of vector adds waits on each add's latency), and it
// sums a little more accurately than one chain. The fused entries' sums
// (fused.hpp) add in this same order, so a fused sum equals the unfused one.
inline constexpr int sum_lanes = 16;

template <class T>
inline T combine_lanes(const T* acc) {
    T t[sum_lanes / 2];  // pairwise: ((a0 + a1) + (a2 + a3)) + ...
    for (int k = 0; k < sum_lanes / 2; ++k) t[k] = acc[2 * k] + acc[2 * k + 1];
    for (int w = sum_lanes / 4; w >= 1; w /= 2)
        for (int k = 0; k < w; ++k) t[k] = t[2 * k] + t[2 * k + 1];  // (reads t[2k], t[2k+1] before they are overwritten)
    return t[0];
}

template <class T>
inline T sum_run(const T* x, std::int64_t s, std::int64_t n) {
    T acc[sum_lanes];
    for (int k = 0; k < sum_lanes; ++k) acc[k] = T(0.0);
    std::int64_t j = 0;
    for (; j + sum_lanes <= n; j += sum_lanes)
        for (int k = 0; k < sum_lanes; ++k) acc[k] += x[(j + k) * s];
    for (; j < n; ++j) acc[0] += x[j * s];
    return combine_lanes(acc);
}

// Offset of the r-th element (C order) of a group.
inline std::int64_t offset_of(int nr, const std::int64_t* shape, const std::int64_t* stride, std::int64_t r) {
    std::int64_t off = 0;
    for (int d = nr - 1; d >= 0; --d) {
        off += (r % shape[d]) * stride[d];
        r /= shape[d];
    }
    return off;
}

template <class T>
inline bool is_nan(const T& v) { return !(v == v); }

// ops.def's rule for infinite results, on a group's weights: where the value
// is +-inf a zero weight is NaN (0 * inf, not "no dependence"; math.hpp:
// no_zero_at_infinity), as for the scalar ops.
template <class T>
inline T undefined_zero_weights(const T& y, T* w, std::int64_t R) {
    if (formula::is_infinite(primal(y)))
        for (std::int64_t r = 0; r < R; ++r) w[r] = formula::no_zero_at_infinity(w[r], y);
    return y;
}

// One group: its value, and its weights w[0..R) unless the reducer is sum.
template <class T>
inline T reduce_group(Reducer how, int nr, const std::int64_t* shape, const std::int64_t* stride, const T* x,
                      std::int64_t R, T* w) {
    using std::exp; using std::log; using std::sqrt; using std::abs;
    auto each = [&](auto&& fn) { each_in_group(nr, shape, stride, x, R, fn); };
    switch (how) {
        case Reducer::sum: {
            if (nr == 1) return sum_run(x, stride[0], R);
            T s = T(0.0);
            each([&](const T& v, std::int64_t) { s += v; });
            return s;
        }
        case Reducer::prod: {
            // w[r] = product of all elements but r, exact when some are 0:
            // prefix products forward, then suffix products from the back.
            T run = T(1.0);
            each([&](const T& v, std::int64_t r) { w[r] = run; run *= v; });
            T suffix = T(1.0);
            for (std::int64_t r = R - 1; r >= 0; --r) {
                w[r] *= suffix;
                suffix *= x[offset_of(nr, shape, stride, r)];
            }
            return undefined_zero_weights(run, w, R);
        }
        case Reducer::max:
        case Reducer::min: {
            const bool is_max = how == Reducer::max;
            T m = T(0.0);
            bool first = true, nan = false;
            each([&](const T& v, std::int64_t) {
                if (is_nan(v)) nan = true;
                else if (first || (is_max ? v > m : v < m)) m = v, first = false;
            });
            if (nan) {
                const T q = T(std::nan(""));
                for (std::int64_t r = 0; r < R; ++r) w[r] = q;
                return q;
            }
            double ties = 0;
            each([&](const T& v, std::int64_t r) {
                const bool hit = v == m;
                w[r] = T(hit ? 1.0 : 0.0);
                ties += hit;
            });
            for (std::int64_t r = 0; r < R; ++r) w[r] = w[r] / ties;
            return undefined_zero_weights(m, w, R);
        }
        case Reducer::logsumexp: {
            T m = T(-INFINITY);
            each([&](const T& v, std::int64_t) { if (v > m) m = v; });
            const T shift = (m - m == T(0.0)) ? m : T(0.0);  // finite max, or no shift
            T s = T(0.0);
            each([&](const T& v, std::int64_t) { s += exp(v - shift); });
            // The softmax from the shifted terms, not exp(v - y): y = shift + log(s)
            // rounds log(s) away next to a large shift (at 1e16, [1, 1] for [1e16, 1e16]).
            each([&](const T& v, std::int64_t r) { w[r] = exp(v - shift) / s; });
            return undefined_zero_weights(shift + log(s), w, R);
        }
        case Reducer::norm: {
            // scaled by the largest magnitude, so that squares neither overflow nor underflow
            T big = T(0.0);
            each([&](const T& v, std::int64_t) { if (abs(v) > big || is_nan(v)) big = abs(v); });
            if (big == T(0.0)) {
                for (std::int64_t r = 0; r < R; ++r) w[r] = T(0.0);  // the subgradient 0 at the kink
                return T(0.0);
            }
            T s = T(0.0);
            each([&](const T& v, std::int64_t) { const T q = v / big; s += q * q; });
            const T y = big * sqrt(s);
            each([&](const T& v, std::int64_t r) { w[r] = v / y; });
            return undefined_zero_weights(y, w, R);
        }
    }
    return T(0.0);
}

}  // namespace detail

// values[e.first + o] for every group o, and the weights (T* weights is the
// base the entry's e.weights offset points into; unused for sum).
template <class T>
inline void forward_reduce(const Entry& e, const std::int64_t* geometry, T* values, T* weights, Poll& poll) {
    const int nd = e.ndim, nk = e.split, nr = nd - nk;
    const std::int64_t* shape = geometry;
    const std::int64_t* stride = geometry + nd;
    const std::int64_t M = product(shape, nk), R = product(shape + nk, nr);
    const T scale = T(e.scalar);
    for_each_run<1>(nk, shape, {stride}, {std::int64_t(e.a)}, M,
                    [&](auto off, std::int64_t n, auto step, std::int64_t o0) {
                        for (std::int64_t i = 0; i < n && !poll.stop_after(R); ++i) {
                            const std::int64_t o = o0 + i;
                            T* w = e.reducer == Reducer::sum ? nullptr : weights + e.weights + o * R;
                            T y = detail::reduce_group(e.reducer, nr, shape + nk, stride + nk,
                                                       values + off[0] + i * step[0], R, w);
                            values[e.first + o] = e.reducer == Reducer::sum ? y * scale : y;
                        }
                    },
                    &poll);
}

template <class T>
inline void backward_reduce(const Entry& e, const std::int64_t* geometry, const T* weights, const T* g,
                            std::int64_t count, T* adj, Poll& poll) noexcept {
    const int nd = e.ndim, nk = e.split, nr = nd - nk;
    const std::int64_t* shape = geometry;
    const std::int64_t* stride = geometry + nd;
    const std::int64_t R = product(shape + nk, nr);
    const bool uniform = e.reducer == Reducer::sum;
    for_each_run<1>(nk, shape, {stride}, {std::int64_t(e.a)}, count,
                    [&](auto off, std::int64_t n, auto step, std::int64_t o0) {
                        for (std::int64_t i = 0; i < n && !poll.stop_after(R); ++i) {
                            const std::int64_t o = o0 + i;
                            const T go = g[o];
                            if (is_zero(go)) continue;  // a dead output passes exactly 0
                            T* base = adj + off[0] + i * step[0];
                            if (uniform) {
                                const T d = e.scalar * go;
                                for_each_run<1>(nr, shape + nk, {stride + nk}, {0}, R,
                                                [&](auto o2, std::int64_t m, auto s2, std::int64_t) {
                                                    T* TG_RESTRICT t = base + o2[0];
                                                    if (s2[0] == 1)
                                                        for (std::int64_t j = 0; j < m; ++j) t[j] += d;
                                                    else
                                                        for (std::int64_t j = 0; j < m; ++j) t[j * s2[0]] += d;
                                                });
                            } else {
                                const T* TG_RESTRICT w = weights + e.weights + o * R;
                                for_each_run<1>(nr, shape + nk, {stride + nk}, {0}, R,
                                                [&](auto o2, std::int64_t m, auto s2, std::int64_t r0) {
                                                    T* TG_RESTRICT t = base + o2[0];
                                                    if (s2[0] == 1)
                                                        for (std::int64_t j = 0; j < m; ++j) t[j] += w[r0 + j] * go;
                                                    else
                                                        for (std::int64_t j = 0; j < m; ++j) t[j * s2[0]] += w[r0 + j] * go;
                                                });
                            }
                        }
                    },
                    &poll);
}

}  // namespace tapegrad::entries
