// The activations of a dense layer, applied in place over a whole output, and
// their derivatives taken from the stored output y (so the backward needs
// nothing but the layer's output and the incoming adjoint).
//
// Values agree with the scalar ops of the same name (formulas.hpp), so a
// network of dense entries and the same network of scalar Var ops give the
// same numbers; tanh alone is computed differently (below) because it is the
// one a training step spends real time in.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "math.hpp"

namespace tapegrad::activation {

// name, derivative from the output y. The one list of activations: the enum,
// the Python names (tapegrad.nn) and the dispatch below all expand it.
#define TG_ACTIVATIONS(X)                  \
    X(identity, 1.0)                       \
    X(tanh, 1.0 - y * y)                   \
    X(sigmoid, y * (1.0 - y))              \
    X(relu, double(y > 0.0))               \
    X(softplus, -std::expm1(-y)) /* sigmoid(z) = 1 - exp(-softplus(z)) */

enum class Kind : std::uint8_t {
#define TG_ENUM(name, dy) name,
    TG_ACTIVATIONS(TG_ENUM)
#undef TG_ENUM
};

inline constexpr const char* names[] = {
#define TG_NAME(name, dy) #name,
    TG_ACTIVATIONS(TG_NAME)
#undef TG_NAME
};
inline constexpr int count = sizeof(names) / sizeof(names[0]);

inline Kind from_name(const std::string& s) {
    for (int k = 0; k < count; ++k)
        if (s == names[k]) return static_cast<Kind>(k);
    std::string known;
    for (int k = 0; k < count; ++k) known += std::string(k ? ", " : "") + names[k];
    throw std::invalid_argument("unknown activation '" + s + "'; choose one of " + known);
}

namespace detail {

inline double from_bits(std::uint64_t b) noexcept { double d; std::memcpy(&d, &b, sizeof d); return d; }
inline std::uint64_t to_bits(double d) noexcept { std::uint64_t b; std::memcpy(&b, &d, sizeof b); return b; }

// tanh without a call or a branch, so that a loop over it vectorises (glibc's
// tanh is a scalar call, ~10x slower than this loop with AVX2 or AVX-512).
// tanh|x| = e / (e + 2) with e = expm1(2|x|), expm1 by the usual reduction
// 2|x| = k ln2 + r, |r| <= ln2/2, and Taylor terms through r^13 (remainder
// < 2e-17 relative). Within 4 ulp of std::tanh (tests check it); exact at
// +-0, +-inf, saturation, and NaN in gives NaN out.
inline double fast_tanh(double x) noexcept {
    double a = std::fabs(x);
    // min(a, 20) as a select of bits that keeps NaN (tanh(20) rounds to 1).
    const std::uint64_t big = -static_cast<std::uint64_t>(a > 20.0);
    a = from_bits((to_bits(a) & ~big) | (to_bits(20.0) & big));
    const double t = a + a;
    const double shifter = 0x1.8p52;  // adding it rounds to an integer held in the low mantissa bits
    double kd = t * 1.4426950408889634074 + shifter;
    const std::uint64_t k = to_bits(kd);
    kd -= shifter;
    const double r = (t - kd * 0x1.62e42fefa3800p-1) - kd * 0x1.ef35793c76730p-45;  // ln2 in two parts
    double q = 1.0 / 6227020800.0;
    q = q * r + 1.0 / 479001600.0;
    q = q * r + 1.0 / 39916800.0;
    q = q * r + 1.0 / 3628800.0;
    q = q * r + 1.0 / 362880.0;
    q = q * r + 1.0 / 40320.0;
    q = q * r + 1.0 / 5040.0;
    q = q * r + 1.0 / 720.0;
    q = q * r + 1.0 / 120.0;
    q = q * r + 1.0 / 24.0;
    q = q * r + 1.0 / 6.0;
    q = q * r + 0.5;
    const double em1_r = r + r * r * q;
    const double two_k = from_bits((k << 52) + (std::uint64_t(1023) << 52));  // 0 <= k <= 58
    const double e = two_k * em1_r + (two_k - 1.0);
    return std::copysign(e / (e + 2.0), x);
}

}  // namespace detail

// The elementwise loops get one copy per x86-64 level (AVX-512, AVX2, base),
// picked at load time, since a portable wheel is compiled for the base level.
#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#define TG_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TG_VECTOR_CLONES
#endif

namespace {  // internal linkage: each module gets its own clones and resolver

// 1 for inf and NaN (all exponent bits set), else 0. An integer OR over a
// loop vectorises; a `bool &=` reduction stops GCC from vectorising the loop
// (measured: the tanh loop below ran 6x slower with one).
inline std::uint64_t non_finite(double v) noexcept {
    constexpr std::uint64_t exponent = 0x7ff0000000000000ull;
    return (detail::to_bits(v) & exponent) == exponent;
}

// y = tanh(y); returns whether every y was finite before (see apply()).
[[maybe_unused]] TG_VECTOR_CLONES bool tanh_in_place(double* y, std::int64_t n) noexcept {
    std::uint64_t bad = 0;
    for (std::int64_t i = 0; i < n; ++i) {
        bad |= non_finite(y[i]);
        y[i] = detail::fast_tanh(y[i]);
    }
    return !bad;
}

// y = tanh(y + b) over one row: the bias add fused into the activation pass.
[[maybe_unused]] TG_VECTOR_CLONES bool tanh_bias_in_place(double* y, const double* b, std::int64_t n) noexcept {
    std::uint64_t bad = 0;
    for (std::int64_t i = 0; i < n; ++i) {
        const double z = y[i] + b[i];
        bad |= non_finite(z);
        y[i] = detail::fast_tanh(z);
    }
    return !bad;
}

[[maybe_unused]] TG_VECTOR_CLONES void add_in_place(double* y, const double* b, std::int64_t n) noexcept {
    for (std::int64_t i = 0; i < n; ++i) y[i] += b[i];
}

[[maybe_unused]] TG_VECTOR_CLONES bool all_finite(const double* y, std::int64_t n) noexcept {
    std::uint64_t bad = 0;
    for (std::int64_t i = 0; i < n; ++i) bad |= non_finite(y[i]);
    return !bad;
}

// dz = g * act'(y) for the elementwise activations, from the output y; an
// output with adjoint 0 passes exactly 0 (not 0 * NaN), as on the scalar tape.
// Returns whether any g was nonzero (learnt in the same pass, see dense.hpp).
#define TG_DERIV_LOOP(name, dy_expr)                                                                      \
    [[maybe_unused]] TG_VECTOR_CLONES bool name##_adjoint(double* dz, const double* g, const double* yv, \
                                                          std::int64_t n) noexcept {                     \
        std::uint64_t nonzero = 0;                                                                       \
        for (std::int64_t i = 0; i < n; ++i) {                                                           \
            const double y = yv[i];                                                                      \
            (void)y;                                                                                     \
            nonzero |= g[i] != 0.0;                                                                      \
            dz[i] = g[i] == 0.0 ? 0.0 : g[i] * (dy_expr);                                                \
        }                                                                                                \
        return nonzero;                                                                                  \
    }
TG_ACTIVATIONS(TG_DERIV_LOOP)
#undef TG_DERIV_LOOP

}  // namespace

// y = act(y) over n values. Returns whether all n inputs were finite, which
// the dense layer learns here at no extra pass over memory (see dense.hpp).
inline bool apply(Kind kind, double* y, std::int64_t n) {
    if (kind == Kind::tanh) return tanh_in_place(y, n);
    const bool finite = all_finite(y, n);
    switch (kind) {
        case Kind::identity: case Kind::tanh: break;
        case Kind::sigmoid: for (std::int64_t i = 0; i < n; ++i) y[i] = formula::sigmoid(y[i]); break;
        case Kind::relu: for (std::int64_t i = 0; i < n; ++i) y[i] = formula::relu(y[i]); break;
        case Kind::softplus: for (std::int64_t i = 0; i < n; ++i) y[i] = formula::softplus(y[i]); break;
    }
    return finite;
}

// y[i, :] = act(y[i, :] + b) for a rows x cols row-major y and a contiguous
// b of cols values (or none). Returns whether every y + b was finite.
inline bool apply_rows(Kind kind, double* y, std::int64_t rows, std::int64_t cols, const double* b) {
    if (!b) return apply(kind, y, rows * cols);
    bool finite = true;
    for (std::int64_t i = 0; i < rows; ++i) {
        double* row = y + i * cols;
        if (kind == Kind::tanh) {
            finite &= tanh_bias_in_place(row, b, cols);
        } else {
            add_in_place(row, b, cols);
            finite &= apply(kind, row, cols);
        }
    }
    return finite;
}

// dz = g * act'(z), act' taken from the output y = act(z). Returns whether
// any g was nonzero.
inline bool adjoint(Kind kind, double* dz, const double* g, const double* y, std::int64_t n) {
    switch (kind) {
#define TG_CASE(name, dy) case Kind::name: return name##_adjoint(dz, g, y, n);
        TG_ACTIVATIONS(TG_CASE)
#undef TG_CASE
    }
    return true;
}

}  // namespace tapegrad::activation
