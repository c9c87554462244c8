// Every formula of ops.def as a function template of the number type T:
//   value_<name>(a[, b]),  partial_<name>(a, y)  /  partial_a_<name>(a, b, y),
//   partial_b_<name>(a, b, y).
// Recording instantiates them for double; replay also for dual numbers.
#pragma once
#include "math.hpp"

namespace tapegrad::formula {

#define TG_UNARY(name, py, value, partial, lo, hi, doc)                                   \
    template <class T> inline T value_##name(const T& a) { return value; }               \
    template <class T> inline T partial_##name([[maybe_unused]] const T& a,               \
                                               [[maybe_unused]] const T& y) {             \
        return T(partial);                                                               \
    }
#define TG_BINARY(name, py, value, pa, pb, alo, ahi, blo, bhi, doc)                        \
    template <class T> inline T value_##name(const T& a, const T& b) { return value; }   \
    template <class T> inline T partial_a_##name([[maybe_unused]] const T& a,             \
                                                 [[maybe_unused]] const T& b,             \
                                                 [[maybe_unused]] const T& y) {           \
        return T(pa);                                                                    \
    }                                                                                    \
    template <class T> inline T partial_b_##name([[maybe_unused]] const T& a,             \
                                                 [[maybe_unused]] const T& b,             \
                                                 [[maybe_unused]] const T& y) {           \
        return T(pb);                                                                    \
    }
#include "ops.def"

}  // namespace tapegrad::formula
