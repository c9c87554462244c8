// Walking n-dimensional strided views of the slot array, one innermost run at
// a time, so that the kernels of array entries are plain 1-D loops.
//
// An entry's "space" is a C-ordered n-d index space; each operand is a walk
// over it: element idx sits at slot first + sum_d idx[d] * stride[d] (a stride
// of 0 broadcasts). The output of an entry is always contiguous over its space,
// so the running element index doubles as the output offset.
#pragma once
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

#include "interrupt.hpp"

namespace tapegrad {

inline constexpr int max_dims = 32;  // numpy's own limit (64 since numpy 2) is never reached in practice

// Merge neighbouring axes that every walk steps through as one axis
// (stride[d] == stride[d+1] * shape[d+1]) and drop axes of length 1, in place.
// A contiguous array of any shape becomes a single run; returns the new ndim.
// Axes [0, nd) only: callers coalesce the kept and reduced parts of a
// reduction separately.
template <std::size_t K>
inline int coalesce(int nd, std::int64_t* shape, const std::array<std::int64_t*, K>& strides) {
    int out = 0;
    for (int d = 0; d < nd; ++d) {
        if (shape[d] == 1) continue;
        bool merge = out > 0;
        for (std::size_t k = 0; k < K && merge; ++k)
            merge = strides[k][out - 1] == strides[k][d] * shape[d];
        if (merge) {
            shape[out - 1] *= shape[d];
            for (std::size_t k = 0; k < K; ++k) strides[k][out - 1] = strides[k][d];
        } else {
            shape[out] = shape[d];
            for (std::size_t k = 0; k < K; ++k) strides[k][out] = strides[k][d];
            ++out;
        }
    }
    return out;
}

inline std::int64_t product(const std::int64_t* shape, int nd) {
    std::int64_t n = 1;
    for (int d = 0; d < nd; ++d) n *= shape[d];
    return n;
}

// Call run(offsets, n, steps, index) for consecutive runs along the last axis
// covering the first `count` elements of the space in C order: offsets[k] is
// walk k's position at the run's start, steps[k] its stride along the run, and
// index the C-order index of the run's first element. With a `poll`, no
// further run starts once it has said stop (the kernel's run counts its work).
template <std::size_t K, class Run>
inline void for_each_run(int nd, const std::int64_t* shape, const std::array<const std::int64_t*, K>& strides,
                         std::array<std::int64_t, K> offset, std::int64_t count, Run&& run,
                         const Poll* poll = nullptr) {
    if (count <= 0) return;
    std::array<std::int64_t, K> step{};
    if (nd == 0) {
        run(offset, std::int64_t(1), step, std::int64_t(0));
        return;
    }
    for (std::size_t k = 0; k < K; ++k) step[k] = strides[k][nd - 1];
    const std::int64_t inner = shape[nd - 1];
    std::int64_t idx[max_dims] = {};
    std::int64_t done = 0;
    for (;;) {
        const std::int64_t n = std::min(inner, count - done);
        run(offset, n, step, done);
        done += n;
        if (done >= count || (poll && poll->stopped())) return;
        int d = nd - 2;
        for (; d >= 0; --d) {  // odometer over the outer axes
            ++idx[d];
            for (std::size_t k = 0; k < K; ++k) offset[k] += strides[k][d];
            if (idx[d] < shape[d]) break;
            for (std::size_t k = 0; k < K; ++k) offset[k] -= strides[k][d] * shape[d];
            idx[d] = 0;
        }
        if (d < 0) return;
    }
}

// for_each_run with every run cut into pieces of at most Poll::every elements
// and `poll` told of each: for kernels whose elements are independent (one
// contiguous run may be a whole array), so that Ctrl-C stops them mid-run.
template <std::size_t K, class Run>
inline void for_each_piece(int nd, const std::int64_t* shape, const std::array<const std::int64_t*, K>& strides,
                           std::array<std::int64_t, K> offset, std::int64_t count, Poll& poll, Run&& run) {
    for_each_run<K>(
        nd, shape, strides, offset, count,
        [&](std::array<std::int64_t, K> off, std::int64_t n, const std::array<std::int64_t, K>& step,
            std::int64_t index) {
            for (std::int64_t j = 0; j < n && !poll.stopped(); j += Poll::every) {
                const std::int64_t m = std::min(Poll::every, n - j);
                run(off, m, step, index + j);
                for (std::size_t k = 0; k < K; ++k) off[k] += m * step[k];
                poll.stop_after(m);
            }
        },
        &poll);
}

// Lowest and highest offset a walk reaches over a non-empty space (negative
// strides reach below its start), for bounds checks at recording time.
inline void walk_extent(int nd, const std::int64_t* shape, const std::int64_t* stride, std::int64_t& lo,
                        std::int64_t& hi) {
    lo = hi = 0;
    for (int d = 0; d < nd; ++d) {
        const std::int64_t span = (shape[d] - 1) * stride[d];
        (span < 0 ? lo : hi) += span;
    }
}

}  // namespace tapegrad
