// Dual numbers v + t·ε (ε² = 0): evaluating a formula on them gives its value
// and its directional derivative together. Replay runs the op table's
// formulas (formulas.hpp) on this type to get Jacobian-vector products, and,
// by also replaying the partials on it and sweeping dual adjoints backwards,
// Hessian-vector products (forward-over-reverse) -- with no second op table.
//
// The functions live in tapegrad::dual and are found by argument-dependent
// lookup from the generic formulas, beside the std:: ones for double.
// Kinks follow the op table's conventions: d|a| = sign(a)·da with sign(0) = 0,
// and maximum/minimum split a tie's tangent 1/2 : 1/2 like their partials.
#pragma once
#include <cmath>

#include "math.hpp"

namespace tapegrad::dual {

using formula::LN10;
using formula::LN2;
using formula::TWO_OVER_SQRT_PI;

struct Dual {
    double v = 0.0;  // value
    double t = 0.0;  // tangent: derivative along the seeded direction

    Dual() = default;
    constexpr Dual(double value) : v(value) {}  // NOLINT: constants mix freely with duals in formulas
    constexpr Dual(double value, double tangent) : v(value), t(tangent) {}
};

// ---- arithmetic -------------------------------------------------------------------
inline Dual operator-(const Dual& a) { return {-a.v, -a.t}; }
inline Dual operator+(const Dual& a, const Dual& b) { return {a.v + b.v, a.t + b.t}; }
inline Dual operator-(const Dual& a, const Dual& b) { return {a.v - b.v, a.t - b.t}; }
inline Dual operator*(const Dual& a, const Dual& b) { return {a.v * b.v, a.t * b.v + a.v * b.t}; }
inline Dual operator/(const Dual& a, const Dual& b) {
    const double q = a.v / b.v;
    return {q, (a.t - q * b.t) / b.v};
}
inline Dual operator+(const Dual& a, double b) { return {a.v + b, a.t}; }
inline Dual operator+(double a, const Dual& b) { return {a + b.v, b.t}; }
inline Dual operator-(const Dual& a, double b) { return {a.v - b, a.t}; }
inline Dual operator-(double a, const Dual& b) { return {a - b.v, -b.t}; }
inline Dual operator*(const Dual& a, double b) { return {a.v * b, a.t * b}; }
inline Dual operator*(double a, const Dual& b) { return {a * b.v, a * b.t}; }
inline Dual operator/(const Dual& a, double b) { return {a.v / b, a.t / b}; }
inline Dual operator/(double a, const Dual& b) {
    const double q = a / b.v;
    return {q, -q * b.t / b.v};
}
inline Dual& operator+=(Dual& a, const Dual& b) { return a = a + b; }
inline Dual& operator*=(Dual& a, const Dual& b) { return a = a * b; }

// Comparisons look at values only: a branch depends on where we are, not on
// the direction we look.
inline bool operator<(const Dual& a, const Dual& b) { return a.v < b.v; }
inline bool operator<=(const Dual& a, const Dual& b) { return a.v <= b.v; }
inline bool operator>(const Dual& a, const Dual& b) { return a.v > b.v; }
inline bool operator>=(const Dual& a, const Dual& b) { return a.v >= b.v; }
inline bool operator==(const Dual& a, const Dual& b) { return a.v == b.v; }
inline bool operator!=(const Dual& a, const Dual& b) { return a.v != b.v; }
inline bool operator<(const Dual& a, double b) { return a.v < b; }
inline bool operator<=(const Dual& a, double b) { return a.v <= b; }
inline bool operator>(const Dual& a, double b) { return a.v > b; }
inline bool operator>=(const Dual& a, double b) { return a.v >= b; }
inline bool operator==(const Dual& a, double b) { return a.v == b; }
inline bool operator!=(const Dual& a, double b) { return a.v != b; }

// ---- elementary functions: value, and the chain rule on the tangent ------------
// Each tangent is written from the value where that is cheaper, as in ops.def.
inline Dual chain(double value, double derivative, const Dual& a) { return {value, derivative * a.t}; }

inline Dual exp(const Dual& a) { const double y = std::exp(a.v); return chain(y, y, a); }
inline Dual expm1(const Dual& a) { const double y = std::expm1(a.v); return chain(y, y + 1, a); }
inline Dual log(const Dual& a) { return chain(std::log(a.v), 1 / a.v, a); }
inline Dual log1p(const Dual& a) { return chain(std::log1p(a.v), 1 / (1 + a.v), a); }
inline Dual log2(const Dual& a) { return chain(std::log2(a.v), 1 / (a.v * LN2), a); }
inline Dual log10(const Dual& a) { return chain(std::log10(a.v), 1 / (a.v * LN10), a); }
inline Dual sqrt(const Dual& a) { const double y = std::sqrt(a.v); return chain(y, 0.5 / y, a); }
inline Dual cbrt(const Dual& a) { const double y = std::cbrt(a.v); return chain(y, 1 / (3 * y * y), a); }
inline Dual sin(const Dual& a) { return chain(std::sin(a.v), std::cos(a.v), a); }
inline Dual cos(const Dual& a) { return chain(std::cos(a.v), -std::sin(a.v), a); }
inline Dual tan(const Dual& a) { const double y = std::tan(a.v); return chain(y, 1 + y * y, a); }
inline Dual asin(const Dual& a) { return chain(std::asin(a.v), 1 / std::sqrt(1 - a.v * a.v), a); }
inline Dual acos(const Dual& a) { return chain(std::acos(a.v), -1 / std::sqrt(1 - a.v * a.v), a); }
inline Dual atan(const Dual& a) { return chain(std::atan(a.v), 1 / (1 + a.v * a.v), a); }
inline Dual sinh(const Dual& a) { return chain(std::sinh(a.v), std::cosh(a.v), a); }
inline Dual cosh(const Dual& a) { return chain(std::cosh(a.v), std::sinh(a.v), a); }
inline Dual tanh(const Dual& a) { const double y = std::tanh(a.v); return chain(y, 1 - y * y, a); }
inline Dual asinh(const Dual& a) { return chain(std::asinh(a.v), 1 / std::sqrt(a.v * a.v + 1), a); }
inline Dual acosh(const Dual& a) { return chain(std::acosh(a.v), 1 / std::sqrt(a.v * a.v - 1), a); }
inline Dual atanh(const Dual& a) { return chain(std::atanh(a.v), 1 / (1 - a.v * a.v), a); }
inline Dual erf(const Dual& a) {
    return chain(std::erf(a.v), TWO_OVER_SQRT_PI * std::exp(-a.v * a.v), a);
}
inline Dual erfc(const Dual& a) {
    return chain(std::erfc(a.v), -TWO_OVER_SQRT_PI * std::exp(-a.v * a.v), a);
}
inline Dual abs(const Dual& a) { return chain(std::abs(a.v), double(a.v > 0) - double(a.v < 0), a); }
// Piecewise constant: derivative 0 (undefined at the jumps).
inline Dual floor(const Dual& a) { return Dual(std::floor(a.v)); }
inline Dual ceil(const Dual& a) { return Dual(std::ceil(a.v)); }
inline Dual nearbyint(const Dual& a) { return Dual(std::nearbyint(a.v)); }

inline Dual atan2(const Dual& a, const Dual& b) {
    const double r2 = a.v * a.v + b.v * b.v;
    return {std::atan2(a.v, b.v), (b.v * a.t - a.v * b.t) / r2};
}
inline Dual hypot(const Dual& a, const Dual& b) {
    const double y = std::hypot(a.v, b.v);
    return {y, (a.v * a.t + b.v * b.t) / y};
}
// a^b: the two terms are added only when their direction is non-zero, so a
// constant exponent never brings in log(a) (NaN for a < 0), and a constant base
// never brings in b·a^(b-1) (inf at a = 0 for b < 1).
inline Dual pow(const Dual& a, const Dual& b) {
    const double y = std::pow(a.v, b.v);
    double t = 0.0;
    if (a.t != 0.0) t += b.v * std::pow(a.v, b.v - 1) * a.t;
    if (b.t != 0.0) t += y * std::log(a.v) * b.t;
    return {y, t};
}

inline Dual maximum(const Dual& a, const Dual& b) {
    if (a.v == b.v) return {a.v, 0.5 * (a.t + b.t)};
    return a.v > b.v ? a : b;
}
inline Dual minimum(const Dual& a, const Dual& b) {
    if (a.v == b.v) return {a.v, 0.5 * (a.t + b.t)};
    return a.v < b.v ? a : b;
}

// Whether a number is free of any seeded direction. math.hpp's shortcuts for
// exact exponents (b == 2: a * a) drop d/db, so they apply only then.
inline bool has_no_tangent(const Dual& a) { return a.t == 0.0; }

inline double primal(const Dual& a) { return a.v; }
inline double tangent(const Dual& a) { return a.t; }

}  // namespace tapegrad::dual

namespace tapegrad {
using dual::Dual;
inline double primal(double a) { return a; }
inline double tangent(double) { return 0.0; }
using dual::primal;
using dual::tangent;

// Whether an adjoint is exactly zero (a dead output passes exactly 0): a dual
// number only when its tangent is zero too -- Dual's == compares values only.
inline bool is_zero(double g) { return g == 0.0; }
inline bool is_zero(const Dual& g) { return g.v == 0.0 && g.t == 0.0; }
inline bool is_finite(double x) { return std::isfinite(x); }
inline bool is_finite(const Dual& x) { return std::isfinite(x.v) && std::isfinite(x.t); }
}  // namespace tapegrad
