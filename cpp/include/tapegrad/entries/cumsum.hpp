// Cumulative-sum entries along the last axis of the space (the front end
// transposes the axis there); every other axis indexes independent lines.
// Output o*L + l = sum of the line's first l+1 inputs; the backward is the
// reverse running sum of the output adjoints.
//
// Geometry: shape[ndim], then the input strides.
#pragma once
#include <cstdint>

#include "../strided.hpp"
#include "entry.hpp"

namespace tapegrad::entries {

template <class T>
inline void forward_cumsum(const Entry& e, const std::int64_t* geometry, T* values, Poll& poll) {
    const int nd = e.ndim;
    const std::int64_t* shape = geometry;
    const std::int64_t* stride = geometry + nd;
    const std::int64_t L = shape[nd - 1], sl = stride[nd - 1];
    const std::int64_t lines = product(shape, nd - 1);
    for_each_run<1>(nd - 1, shape, {stride}, {std::int64_t(e.a)}, lines,
                    [&](auto off, std::int64_t n, auto step, std::int64_t o0) {
                        for (std::int64_t i = 0; i < n && !poll.stop_after(L); ++i) {
                            const T* x = values + off[0] + i * step[0];
                            T* y = values + e.first + (o0 + i) * L;
                            T acc = T(0.0);
                            for (std::int64_t l = 0; l < L; ++l) y[l] = acc += x[l * sl];
                        }
                    },
                    &poll);
}

template <class T>
inline void backward_cumsum(const Entry& e, const std::int64_t* geometry, const T* g, std::int64_t count,
                            T* adj, Poll& poll) noexcept {
    const int nd = e.ndim;
    const std::int64_t* shape = geometry;
    const std::int64_t* stride = geometry + nd;
    const std::int64_t L = shape[nd - 1], sl = stride[nd - 1];
    const std::int64_t lines = L ? (count + L - 1) / L : 0;
    for_each_run<1>(nd - 1, shape, {stride}, {std::int64_t(e.a)}, lines,
                    [&](auto off, std::int64_t n, auto step, std::int64_t o0) {
                        for (std::int64_t i = 0; i < n && !poll.stop_after(L); ++i) {
                            T* d = adj + off[0] + i * step[0];
                            const std::int64_t start = (o0 + i) * L;
                            T acc = T(0.0);
                            for (std::int64_t l = L - 1; l >= 0; --l) {
                                if (start + l < count) acc += g[start + l];
                                d[l * sl] += acc;
                            }
                        }
                    },
                    &poll);
}

}  // namespace tapegrad::entries
