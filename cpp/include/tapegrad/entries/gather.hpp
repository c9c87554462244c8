// Gather entries: out[j] is a copy of slot src[j], or a constant. Fancy and
// boolean indexing, concatenate, stack, where and clip are all one gather
// whose sources the front end computes with numpy on arrays of slot numbers.
//
// Per output: indices[e.data + j] = its source slot, or a sink for a constant;
// partials {a: 1, b: 0} for a copy and {a: 0, b: constant} for a constant, so
// the value is always a * values[src] + b (sinks hold 0) and the backward is
// adj[src] += a * g, branch-free (a constant sends 0 into a sink).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "entry.hpp"

namespace tapegrad::entries {

template <class T, class PP>
inline void forward_gather(const Entry& e, const index_t* indices, T* values, const PP* partials, Poll& poll) {
    const index_t* TG_RESTRICT src = indices + e.data;
    const PP* TG_RESTRICT p = partials + e.first;
    T* TG_RESTRICT y = values + e.first;
    for (std::int64_t j0 = 0; j0 < e.size && !poll.stop_after(Poll::every); j0 += Poll::every) {
        const std::int64_t end = std::min<std::int64_t>(e.size, j0 + Poll::every);
        for (std::int64_t j = j0; j < end; ++j) y[j] = p[j].a * values[src[j]] + p[j].b;
    }
}

template <bool Mask, class T, class PP>
inline void backward_gather(const Entry& e, const index_t* indices, const PP* partials, const T* g,
                            std::int64_t count, T* adj, Poll& poll) noexcept {
    const index_t* TG_RESTRICT src = indices + e.data;
    const PP* TG_RESTRICT p = partials + e.first;
    for (std::int64_t j0 = 0; j0 < count && !poll.stop_after(Poll::every); j0 += Poll::every) {
        const std::int64_t end = std::min(count, j0 + Poll::every);
        for (std::int64_t j = j0; j < end; ++j) {
            if constexpr (Mask) {
                if (is_zero(g[j])) continue;
            }
            adj[src[j]] += p[j].a * g[j];
        }
    }
}

}  // namespace tapegrad::entries
