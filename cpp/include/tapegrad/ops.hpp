// Opcodes and their metadata, expanded from ops.def.
//
// A binary row gives three opcodes: `name` (both operands on the tape),
// `name_vc` (constant second operand) and `name_cv` (constant first operand).
// The variants with a constant keep their variable operand as parent 0 and the
// constant in partial slot 1, whose parent is a sink: the constant costs no
// node, the sweep stays branch-free (it adds partial1 * g into the sink), and
// replay can still recompute the value.
#pragma once
#include <cstdint>

namespace tapegrad {

enum class Op : std::uint8_t {
    sink,   // the first slots: absorb the second "parent" of unary ops and constants
    input,  // an independent variable
    entry,  // a slot owned by an array entry (entries.hpp): its parents are sinks
#define TG_UNARY(name, ...) name,
#define TG_BINARY(name, ...) name, name##_vc, name##_cv,
#include "ops.def"
    count
};

static_assert(static_cast<int>(Op::count) <= 256, "opcodes are stored in one byte");

// The op-table rows are the opcodes [first_row, Op::count): after the sentinels.
inline constexpr int first_row = static_cast<int>(Op::entry) + 1;

enum class Arity : std::uint8_t { none, unary, binary, binary_vc, binary_cv };

struct OpInfo {
    const char* name;  // the op-table name; variants share their row's name
    Arity arity;
    const char* doc;
};

inline constexpr OpInfo op_info[] = {
    {"sink", Arity::none, "a sink slot: absorbs unused parents"},
    {"input", Arity::none, "independent variable"},
    {"entry", Arity::none, "output slot of an array entry (entries.hpp)"},
#define TG_UNARY(name, py, value, partial, lo, hi, doc) {#name, Arity::unary, doc},
#define TG_BINARY(name, py, value, pa, pb, alo, ahi, blo, bhi, doc) \
    {#name, Arity::binary, doc}, {#name, Arity::binary_vc, doc}, {#name, Arity::binary_cv, doc},
#include "ops.def"
};

static_assert(sizeof(op_info) / sizeof(op_info[0]) == static_cast<std::size_t>(Op::count),
              "one OpInfo per opcode");

inline constexpr const OpInfo& info(Op op) { return op_info[static_cast<int>(op)]; }
inline constexpr bool is_known(std::uint8_t code) { return code < static_cast<std::uint8_t>(Op::count); }

}  // namespace tapegrad
