// The numbering of saved files before format 3 (serialize.hpp), as it was.
//
// Formats 1 and 2 store op-table rows and entry kinds as bare numbers, so a
// file means what those numbers meant in the build that wrote it. These are
// those tables, read from git history (`git log -p -- cpp/include/tapegrad/
// ops.def ops.hpp entries/entry.hpp`); a loader maps each number to its NAME
// here and the name to today's row, so no later change of the table can make
// an old file compute another function.
//
// Format 1 was written with two tables: without Op::entry (adf1f54 .. 53a8c55,
// the compiled-tape branch before it merged the array entries) and with it
// (dbd3b4e .. c8773a0, main until format 2). A format 1 file does not say which,
// so the loader tries both and refuses a file that is valid under both (see
// serialize.hpp). Format 2 (a528444 .. 3793bff) had one op table, with
// Op::entry; its entry kinds were only ever appended to (fused last), so one
// list covers every format 2 file. The reducers, comparison kinds,
// activations and dense bias modes, also stored as numbers, have kept their
// numbering in every commit that wrote a file (checked the same way).
#pragma once

namespace tapegrad::serial::history {

// Format 1, before Op::entry: 61 rows.
inline constexpr const char* format1_ops_before_entry[] = {
    "sink", "input", "add", "add_vc", "add_cv", "subtract", "subtract_vc", "subtract_cv", "multiply",
    "multiply_vc", "multiply_cv", "divide", "divide_vc", "divide_cv", "power", "power_vc", "power_cv", "negative",
    "square", "abs", "exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "cbrt", "sin", "cos", "tan",
    "arcsin", "arccos", "arctan", "arctan2", "arctan2_vc", "arctan2_cv", "hypot", "hypot_vc", "hypot_cv", "sinh",
    "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "erf", "erfc", "sigmoid", "relu", "softplus", "maximum",
    "maximum_vc", "maximum_cv", "minimum", "minimum_vc", "minimum_cv", "floor", "ceil", "round", "sign"};

// Format 1 after Op::entry, and all of format 2 (one table): 62 rows.
inline constexpr const char* format1_ops_with_entry[] = {
    "sink", "input", "entry", "add", "add_vc", "add_cv", "subtract", "subtract_vc", "subtract_cv", "multiply",
    "multiply_vc", "multiply_cv", "divide", "divide_vc", "divide_cv", "power", "power_vc", "power_cv", "negative",
    "square", "abs", "exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "cbrt", "sin", "cos", "tan",
    "arcsin", "arccos", "arctan", "arctan2", "arctan2_vc", "arctan2_cv", "hypot", "hypot_vc", "hypot_cv", "sinh",
    "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "erf", "erfc", "sigmoid", "relu", "softplus", "maximum",
    "maximum_vc", "maximum_cv", "minimum", "minimum_vc", "minimum_cv", "floor", "ceil", "round", "sign"};

inline constexpr const char* format2_entry_kinds[] = {
    "elementwise", "reduce", "gather", "matmul", "cumsum", "inputs", "dense", "fused"};

}  // namespace tapegrad::serial::history
