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

// A kernel GCC builds twice, for AVX2 and for any x86-64, picking one at load
// time (target_clones; flatten inlines the whole kernel into each copy, so
// that its loops are compiled for the copy's instruction set). Each copy of
// a flattened kernel costs tens of seconds of compile time, so few kernels
// are cloned, and the Python package compiles each in as few translation
// units as it can (cpp/bindings/sweep.cpp, replay_double.cpp, ...). TAPEGRAD_NO_CLONES builds one plain copy (the C++ tests: the same
// code, compiled many times faster).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) && \
    !defined(TAPEGRAD_NO_CLONES)
#define TG_CLONED_KERNEL __attribute__((target_clones("avx2", "default"), flatten))
#else
#define TG_CLONED_KERNEL
#endif
