// Recording: one inline function per opcode, expanded from ops.def.
//
//   record_<name>(tape, a)             unary op of node a
//   record_<name>(tape, a, b)          binary op of nodes a and b
//   record_<name>_vc(tape, a, c)       binary op, constant second operand
//   record_<name>_cv(tape, c, b)       binary op, constant first operand
//   eval_<name>(x[, y])                the plain double value, for numbers
//
// Each computes the value and only the partials it stores, then appends one
// node. Front ends (Cython Var, the C++ scalar type) call these directly.
#pragma once
#include "formulas.hpp"
#include "tape.hpp"

namespace tapegrad {

#define TG_UNARY(name, ...)                                                                  \
    inline double eval_##name(double x) { return formula::value_##name<double>(x); }        \
    inline index_t record_##name(Tape& t, index_t a) {                                     \
        const double x = t.value(a);                                                        \
        const double y = formula::value_##name<double>(x);                                  \
        return t.push_unary(Op::name, a, formula::partial_##name<double>(x, y), 0.0, y);      \
    }
#define TG_BINARY(name, ...)                                                                  \
    inline double eval_##name(double x, double z) { return formula::value_##name<double>(x, z); } \
    inline index_t record_##name(Tape& t, index_t a, index_t b) {                          \
        const double x = t.value(a), z = t.value(b);                                        \
        const double y = formula::value_##name<double>(x, z);                               \
        return t.push(Op::name, a, b, formula::partial_a_##name<double>(x, z, y),          \
                      formula::partial_b_##name<double>(x, z, y), y);                       \
    }                                                                                       \
    inline index_t record_##name##_vc(Tape& t, index_t a, double c) {                      \
        const double x = t.value(a);                                                        \
        const double y = formula::value_##name<double>(x, c);                               \
        return t.push_unary(Op::name##_vc, a, formula::partial_a_##name<double>(x, c, y), c, y); \
    }                                                                                       \
    inline index_t record_##name##_cv(Tape& t, double c, index_t b) {                      \
        const double z = t.value(b);                                                        \
        const double y = formula::value_##name<double>(c, z);                               \
        return t.push_unary(Op::name##_cv, b, formula::partial_b_##name<double>(c, z, y), c, y); \
    }
#include "ops.def"

}  // namespace tapegrad
