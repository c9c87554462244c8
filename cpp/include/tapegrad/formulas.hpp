// Every formula of ops.def as a function template of the number type T:
//   value_<name>(a[, b]),  partial_<name>(a, y)  /  partial_a_<name>(a, b, y),
//   partial_b_<name>(a, b, y).
// Recording instantiates them for double; replay also for dual numbers.
//
// The partials apply ops.def's rule for infinite results here, once for
// every path (recording, replay, array entries, fused kernels): where an
// op's value is +-inf, a zero partial is NaN.
//
// Forward mode is generated from the same rows: value_<name> on a dual number
// is the double value plus the row's partials times the operands' tangents
// (below), so a jvp uses exactly the partials a gradient uses -- there is no
// second, hand-written list of derivative rules to keep in step.
#pragma once
#include "dual.hpp"
#include "math.hpp"

namespace tapegrad::formula {

// `Rule = false` gives the row's formula alone, for callers that know the
// rule cannot fire for that row (infinity_rule_matters below): the fused
// backward then need not recompute y where the formula does not read it.
#define TG_UNARY(name, py, value, partial, lo, hi, doc)                                   \
    template <class T> inline T value_##name(const T& a) { return value; }               \
    template <class T, bool Rule = true> inline T partial_##name([[maybe_unused]] const T& a, \
                                                                 [[maybe_unused]] const T& y) { \
        if constexpr (Rule) return no_zero_at_infinity(T(partial), y);                   \
        else return T(partial);                                                          \
    }
#define TG_BINARY(name, py, value, pa, pb, alo, ahi, blo, bhi, doc)                        \
    template <class T> inline T value_##name(const T& a, const T& b) { return value; }   \
    template <class T, bool Rule = true> inline T partial_a_##name([[maybe_unused]] const T& a, \
                                                                   [[maybe_unused]] const T& b, \
                                                                   [[maybe_unused]] const T& y) { \
        if constexpr (Rule) return no_zero_at_infinity(T(pa), y);                        \
        else return T(pa);                                                               \
    }                                                                                    \
    template <class T, bool Rule = true> inline T partial_b_##name([[maybe_unused]] const T& a, \
                                                                   [[maybe_unused]] const T& b, \
                                                                   [[maybe_unused]] const T& y) { \
        if constexpr (Rule) return no_zero_at_infinity(T(pb), y);                        \
        else return T(pb);                                                               \
    }
#include "ops.def"

// ---- forward mode: each row on dual numbers, from its own partials ----------
// An exactly zero tangent stays zero whatever the partial (inf and NaN
// included): the operand does not move along the seeded direction, just as a
// reverse sweep passes an exactly zero adjoint on as zero.
inline double along(double partial, double tangent) { return tangent == 0.0 ? 0.0 : partial * tangent; }

#define TG_UNARY(name, ...)                                                               \
    template <> inline Dual value_##name<Dual>(const Dual& a) {                           \
        const double y = value_##name<double>(a.v);                                      \
        return {y, along(partial_##name<double>(a.v, y), a.t)};                          \
    }
#define TG_BINARY(name, ...)                                                              \
    template <> inline Dual value_##name<Dual>(const Dual& a, const Dual& b) {            \
        const double y = value_##name<double>(a.v, b.v);                                 \
        return {y, along(partial_a_##name<double>(a.v, b.v, y), a.t) +                   \
                       along(partial_b_##name<double>(a.v, b.v, y), b.t)};               \
    }
#include "ops.def"

}  // namespace tapegrad::formula

// The elementary functions of dual numbers that the partials call when replay
// evaluates them on duals (second derivatives: hessian, hvp), each the op
// table's row above.
namespace tapegrad::dual {
#define TG_DUAL_FUNCTION(fn, row) \
    inline Dual fn(const Dual& a) { return formula::value_##row<Dual>(a); }
TG_DUAL_FUNCTION(exp, exp)       TG_DUAL_FUNCTION(expm1, expm1)   TG_DUAL_FUNCTION(log, log)
TG_DUAL_FUNCTION(log1p, log1p)   TG_DUAL_FUNCTION(log2, log2)     TG_DUAL_FUNCTION(log10, log10)
TG_DUAL_FUNCTION(sqrt, sqrt)     TG_DUAL_FUNCTION(cbrt, cbrt)     TG_DUAL_FUNCTION(sin, sin)
TG_DUAL_FUNCTION(cos, cos)       TG_DUAL_FUNCTION(tan, tan)       TG_DUAL_FUNCTION(asin, arcsin)
TG_DUAL_FUNCTION(acos, arccos)   TG_DUAL_FUNCTION(atan, arctan)   TG_DUAL_FUNCTION(sinh, sinh)
TG_DUAL_FUNCTION(cosh, cosh)     TG_DUAL_FUNCTION(tanh, tanh)     TG_DUAL_FUNCTION(asinh, arcsinh)
TG_DUAL_FUNCTION(acosh, arccosh) TG_DUAL_FUNCTION(atanh, arctanh) TG_DUAL_FUNCTION(erf, erf)
TG_DUAL_FUNCTION(erfc, erfc)     TG_DUAL_FUNCTION(abs, abs)       TG_DUAL_FUNCTION(floor, floor)
TG_DUAL_FUNCTION(ceil, ceil)     TG_DUAL_FUNCTION(nearbyint, round)
#undef TG_DUAL_FUNCTION
inline Dual atan2(const Dual& a, const Dual& b) { return formula::value_arctan2<Dual>(a, b); }
inline Dual hypot(const Dual& a, const Dual& b) { return formula::value_hypot<Dual>(a, b); }
inline Dual pow(const Dual& a, const Dual& b) { return formula::value_power<Dual>(a, b); }
}  // namespace tapegrad::dual
