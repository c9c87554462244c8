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
// are cloned: forward_entry_double (entries.hpp: recording and replay share
// it) and entries::backward_fused_double (entries/fused.hpp: the tape's sweep
// and replay share it). TAPEGRAD_NO_CLONES builds one plain copy (the C++
// tests: the same code, compiled many times faster).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) && \
    !defined(TAPEGRAD_NO_CLONES)
#define TG_CLONED_KERNEL __attribute__((target_clones("avx2", "default"), flatten))
#else
#define TG_CLONED_KERNEL
#endif

// Where the cloned kernels compile. By default (header-only use) each is an
// inline function of its header, compiled in every translation unit that
// calls it. A program of several translation units may instead define
// TAPEGRAD_SHARED_KERNELS everywhere: the headers then only declare the
// kernels, and one translation unit defines them, compiled once, by defining
// TAPEGRAD_COMPILE_FORWARD_KERNEL (forward_entry_double) or
// TAPEGRAD_COMPILE_BACKWARD_KERNELS (backward_fused_double, and the tape
// sweep's entry kernels of arrays.hpp) before its includes. The Python
// package does (cpp/bindings/kernel_forward.cpp, kernel_backward.cpp, linked
// into each extension module that calls them).
#if defined(TAPEGRAD_SHARED_KERNELS)
#define TG_KERNEL_INLINE
#else
#define TG_KERNEL_INLINE inline
#endif
