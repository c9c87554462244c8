// Helpers the op table's formulas may call. Each is written once for any
// number type T that behaves like double (double itself, and the dual numbers
// of replay), so that one formula serves recording, replay and derivatives.
#pragma once
#include <cmath>
#include <limits>

namespace tapegrad::formula {

using std::abs;   using std::acos;  using std::acosh; using std::asin;
using std::asinh; using std::atan;  using std::atan2; using std::atanh;
using std::cbrt;  using std::ceil;  using std::cos;   using std::cosh;
using std::erf;   using std::erfc;  using std::exp;   using std::expm1;
using std::floor; using std::hypot; using std::log;   using std::log10;
using std::log1p; using std::log2;  using std::nearbyint; using std::pow;
using std::sin;   using std::sinh;  using std::sqrt;  using std::tan;
using std::tanh;

inline constexpr double LN2 = 0.693147180559945309417232121458176568;
inline constexpr double LN10 = 2.30258509299404568401799145468436421;
inline constexpr double TWO_OVER_SQRT_PI = 1.12837916709551257389615890312154517;

// -1, 0 or 1 (0 at 0 and for NaN's comparisons, which are all false).
template <class T> inline T sign(const T& a) { return T(double(a > 0) - double(a < 0)); }

// Heaviside step with step(0) = 0: relu's derivative.
template <class T> inline T step(const T& a) { return T(double(a > 0)); }

template <class T> inline T relu(const T& a) { return a > 0 ? a : T(0.0); }

// 1 / (1 + exp(-a)) without overflow: exp only ever sees a non-positive argument.
template <class T> inline T sigmoid(const T& a) {
    if (a >= 0) return 1.0 / (1.0 + exp(-a));
    const T e = exp(a);
    return e / (1.0 + e);
}

// log(1 + exp(a)) = max(a, 0) + log1p(exp(-|a|)), exact for large |a|.
template <class T> inline T softplus(const T& a) { return relu(a) + log1p(exp(-abs(a))); }

template <class T> inline T maximum(const T& a, const T& b) { return a >= b ? a : b; }
template <class T> inline T minimum(const T& a, const T& b) { return a <= b ? a : b; }

// Share of the derivative that max(a, b) passes to a: 1, 0, or 1/2 at a tie.
template <class T> inline T pick_first(const T& a, const T& b) {
    return T(a > b ? 1.0 : (a < b ? 0.0 : 0.5));
}

// True for a plain number; a dual number (dual.hpp) overloads it to say whether
// it carries a tangent. The exact-exponent shortcuts below hold for a fixed
// exponent only: with a tangent on b they would drop d/db.
inline bool has_no_tangent(double) { return true; }
inline double primal(double a) { return a; }

// pow with the two exponents that dominate real code made exact and cheap.
template <class T> inline T pow_value(const T& a, const T& b) {
    if (has_no_tangent(b)) {
        if (b == 2) return a * a;
        if (b == 1) return a;
    }
    return pow(a, b);
}

// d(a^b)/da = b a^(b-1); 0 for b = 0 (a^0 = 1 everywhere, 0^0 included).
template <class T> inline T pow_partial_base(const T& a, const T& b) {
    if (has_no_tangent(b)) {
        if (b == 0) return T(0.0);
        if (b == 2) return 2.0 * a;
        if (b == 1) return T(1.0);
    }
    return b * pow(a, b - 1.0);
}

// d(a^b)/db = a^b log a; 0 at a = 0 (the limit for b > 0), NaN for a < 0
// where a^b is not real for non-integer b.
template <class T> inline T pow_partial_exponent(const T& a, const T& y) {
    if (a > 0) return y * log(a);
    if (a == 0) return T(0.0);
    return T(std::numeric_limits<double>::quiet_NaN());
}

// a / y, or 0 where y = 0: hypot's partials, with the subgradient 0 at its
// kink hypot(0, 0) (as abs at 0 and the 2-norm at 0).
template <class T> inline T ratio_or_zero(const T& a, const T& y) { return y == 0 ? T(0.0) : a / y; }

// Whether x is +inf or -inf (for a dual number, ask of its value: primal).
inline bool is_infinite(double x) { return std::abs(x) == std::numeric_limits<double>::infinity(); }

// ops.def's rule for infinite results: where an op's value is +-inf, a zero
// partial is NaN. The reverse sweep passes an exactly zero adjoint on as zero
// even through an inf partial (what keeps an unselected tg.where branch
// exact), so a zero must mean "no dependence"; a zero met at an infinite
// value is 0 * inf instead (log's 1 / a at a = inf, in log(exp(800));
// d(0 ** b)/db at b = -1), which has no value.
template <class T> inline T no_zero_at_infinity(const T& partial, const T& y) {
    return partial != 0 || !is_infinite(primal(y)) ? partial : T(std::numeric_limits<double>::quiet_NaN());
}

}  // namespace tapegrad::formula
