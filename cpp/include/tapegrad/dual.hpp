// Dual numbers v + t·ε (ε² = 0): evaluating a formula on them gives its value
// and its directional derivative together. Replay runs the op table's
// formulas (formulas.hpp) on this type to get Jacobian-vector products, and,
// by also replaying the partials on it and sweeping dual adjoints backwards,
// Hessian-vector products (forward-over-reverse) -- with no second op table.
//
// The functions live in tapegrad::dual and are found by argument-dependent
// lookup from the generic formulas, beside the std:: ones for double. Each
// op's tangent is generated from its row of ops.def (formulas.hpp), so the
// table's conventions (kinks, infinite results) hold in forward mode too.
#pragma once
#include <cmath>

namespace tapegrad::dual {

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

// ---- elementary functions ---------------------------------------------------------
// Declared here, defined in formulas.hpp from the op table's rows: the tangent
// of each is the row's own partial times the operand's tangent, so forward
// mode and reverse mode cannot disagree on a derivative.
inline Dual exp(const Dual&);
inline Dual expm1(const Dual&);
inline Dual log(const Dual&);
inline Dual log1p(const Dual&);
inline Dual log2(const Dual&);
inline Dual log10(const Dual&);
inline Dual sqrt(const Dual&);
inline Dual cbrt(const Dual&);
inline Dual sin(const Dual&);
inline Dual cos(const Dual&);
inline Dual tan(const Dual&);
inline Dual asin(const Dual&);
inline Dual acos(const Dual&);
inline Dual atan(const Dual&);
inline Dual sinh(const Dual&);
inline Dual cosh(const Dual&);
inline Dual tanh(const Dual&);
inline Dual asinh(const Dual&);
inline Dual acosh(const Dual&);
inline Dual atanh(const Dual&);
inline Dual erf(const Dual&);
inline Dual erfc(const Dual&);
inline Dual abs(const Dual&);
inline Dual floor(const Dual&);
inline Dual ceil(const Dual&);
inline Dual nearbyint(const Dual&);
inline Dual atan2(const Dual&, const Dual&);
inline Dual hypot(const Dual&, const Dual&);
inline Dual pow(const Dual&, const Dual&);

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

// The definitions of the elementary functions above (and everything they use).
#include "formulas.hpp"
