// Widths and limits chosen once for the whole tape (see DESIGN.md).
#pragma once
#include <cstdint>

namespace tapegrad {

// 32-bit node indices: 8 bytes of parents per node instead of 16, at the price
// of at most 2^32 - 1 nodes per tape (about 141 GB of tape, far beyond RAM here).
using index_t = std::uint32_t;
inline constexpr index_t max_nodes = 0xFFFFFFFFu;

inline constexpr const char* version = "0.1.0";

}  // namespace tapegrad

#if defined(__GNUC__) || defined(__clang__)
#define TG_LIKELY(x) __builtin_expect(!!(x), 1)
#define TG_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define TG_NOINLINE __attribute__((noinline))
#define TG_ALWAYS_INLINE inline __attribute__((always_inline))
#define TG_RESTRICT __restrict__
#else
#define TG_LIKELY(x) (x)
#define TG_UNLIKELY(x) (x)
#define TG_NOINLINE
#define TG_ALWAYS_INLINE inline
#define TG_RESTRICT
#endif
