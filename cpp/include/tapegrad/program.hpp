// A compiled function: the recorded tape's opcodes, parents and constants
// (not its values: replay recomputes those), which nodes are the inputs and
// the outputs, and the comparisons that chose the recorded branch.
//
// A Program is immutable once made, so any number of threads may replay it at
// once; every replay works in a workspace of its own (replay.hpp). It is made
// either from a recorded Tape or from bytes (serialize.hpp), and both roads go
// through validate(), which checks everything replay relies on to stay inside
// its arrays: known opcodes, parents below their node, consistent sizes, and
// sane input, output and comparison indices.
#pragma once
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "ops.hpp"
#include "program_entries.hpp"
#include "tape.hpp"

namespace tapegrad {

// What a program refuses to be made of; the message says what is wrong.
struct invalid_program : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

using Shape = std::vector<std::uint64_t>;

// How replay treats a node's parents: none (sinks, inputs, constants), one
// (unary ops and ops with a constant operand), or two.
enum class Parentage : std::uint8_t { none, one, two };

inline Parentage parentage(Op op) {
    switch (info(op).arity) {
        case Arity::none: return Parentage::none;
        case Arity::binary: return Parentage::two;
        default: return Parentage::one;
    }
}

struct Program {
    // ---- the recording ----
    std::vector<std::uint8_t> ops;
    std::vector<Parents> parents;
    // Per node: the constant operand of a _vc/_cv op (the tape keeps it in the
    // unused partial slot), the value of an input node that is not one of the
    // inputs (a number made into a Var inside f: a constant), 0 otherwise.
    std::vector<double> constants;
    std::vector<index_t> inputs;   // node of each input element, arguments concatenated
    std::vector<index_t> outputs;  // node of each output element
    std::vector<Comparison> guards;
    std::vector<Shape> arg_shapes;  // shape of each argument (their sizes add up to inputs)
    Shape out_shape;                // shape of the output (its size is outputs.size())
    std::vector<std::string> sites;  // source line of each guard (compile(debug=True)), or empty
    // Array entries (entries.hpp) with the arenas they read: geometry, constant
    // operands, gather sources. Their slots' `constants` hold what the entry's
    // forward reads from partials b (gather constants, per-element constants
    // of _vc/_cv entries); weight_count sizes replay's own reduction weights.
    ProgramEntries entries;

    // ---- derived by validate() ----
    index_t end = first_node;         // the forward pass stops here: nodes beyond feed nothing we read
    index_t sweep_from = first_node;  // the reverse sweep starts at the last output
    std::vector<index_t> frozen;      // input nodes that are constants (see `constants`)
    std::vector<Parentage> kinds;     // per node, for the batched sweep
    // For the single-point sweep: the parents with node i - 1 replaced by a
    // sink, and which of the two it was (bit 0: a, bit 1: b). That share of
    // node i's adjoint goes to node i - 1, the very next node swept, in a
    // register instead of through memory (see replay.hpp, sweep).
    std::vector<Parents> sweep_parents;
    std::vector<std::uint8_t> carries;
    // Carrying pays when many edges go to the previous node (Rosenbrock's
    // scalar loop: 25% off its sweep) and costs when few do (a random DAG with
    // 2% such edges: 10-30% slower), so it is used from a quarter on.
    bool carry_sweep = false;

    std::size_t num_nodes() const { return ops.size(); }

    // Check everything and fill the derived fields. Throws invalid_program.
    void validate();
};

namespace detail {

[[noreturn]] inline void reject(const std::string& why) { throw invalid_program("invalid compiled tape: " + why); }

// Product of a shape's dimensions, or reject when it overflows 2^32 elements.
inline std::uint64_t checked_size(const Shape& shape, const char* what) {
    if (shape.size() > 32) reject(std::string(what) + " has more than 32 dimensions");
    std::uint64_t n = 1;
    for (std::uint64_t d : shape) {
        if (d > max_nodes || (d != 0 && n > max_nodes / d)) reject(std::string(what) + " is too large");
        n *= d;
    }
    return n;
}

}  // namespace detail

inline void Program::validate() {
    using detail::reject;
    const std::size_t n = ops.size();
    if (n < first_node) reject("fewer nodes than the " + std::to_string(first_node) + " sink slots");
    if (n > max_nodes) reject("more than 2^32 - 1 nodes");
    if (parents.size() != n || constants.size() != n) reject("node arrays of different lengths");

    kinds.assign(n, Parentage::none);
    for (index_t i = 0; i < first_node; ++i)
        if (ops[i] != static_cast<std::uint8_t>(Op::sink) || parents[i].a != i || parents[i].b != i)
            reject("slot " + std::to_string(i) + " should be a sink");
    for (std::size_t i = first_node; i < n; ++i) {
        if (!is_known(ops[i]) || ops[i] == static_cast<std::uint8_t>(Op::sink))
            reject("unknown opcode " + std::to_string(ops[i]) + " at node " + std::to_string(i));
        const Op op = static_cast<Op>(ops[i]);
        const Parents p = parents[i];
        if (p.a >= i || p.b >= i) reject("node " + std::to_string(i) + " has a parent that is not below it");
        const Parentage k = parentage(op);
        const bool a_real = !Tape::is_sink(p.a), b_real = !Tape::is_sink(p.b);
        const bool ok = k == Parentage::none ? !a_real && !b_real
                        : k == Parentage::one ? a_real && !b_real
                                              : a_real && b_real;
        if (!ok) reject("node " + std::to_string(i) + " (" + info(op).name + ") has the wrong parents for its op");
        kinds[i] = k;
    }

    // The lane sweep reads `kinds`, the carrying single-point sweep
    // sweep_parents and carries. A program with array entries replays one
    // point at a time, by segments (replay.hpp), and reads neither -- on a
    // 10^7-slot tape they would be 100 MB -- nor could a register carry cross
    // a segment's end.
    if (!entries.empty()) {
        kinds.clear();
        sweep_parents.clear();
        carries.clear();
        carry_sweep = false;
    } else {
        sweep_parents = parents;
        carries.assign(n, 0);
        for (std::size_t i = first_node; i < n; ++i) {
            if (kinds[i] == Parentage::none) continue;
            Parents& q = sweep_parents[i];
            const index_t previous = static_cast<index_t>(i - 1);
            if (q.a == previous) q.a = Tape::sink_of(static_cast<index_t>(i)), carries[i] |= 1;
            if (q.b == previous) q.b = Tape::sink_of(static_cast<index_t>(i)), carries[i] |= 2;
        }
        carry_sweep = 4 * std::count_if(carries.begin(), carries.end(), [](std::uint8_t c) { return c != 0; }) >=
                      static_cast<std::ptrdiff_t>(n);
    }
    validate_entries(entries, ops, reject);

    std::vector<std::uint8_t> is_input(n, 0);
    for (index_t s : inputs) {
        if (s >= n || ops[s] != static_cast<std::uint8_t>(Op::input)) reject("an input is not an input node");
        if (is_input[s]) reject("an input node is listed twice");
        is_input[s] = 1;
    }
    frozen.clear();
    for (std::size_t i = first_node; i < n; ++i)
        if (ops[i] == static_cast<std::uint8_t>(Op::input) && !is_input[i]) frozen.push_back(static_cast<index_t>(i));

    if (outputs.empty()) reject("no outputs");
    index_t last_read = first_node;
    sweep_from = first_node;
    for (index_t s : outputs) {
        if (s < first_node || s >= n) reject("an output is not a node");
        sweep_from = std::max(sweep_from, s);
    }
    last_read = sweep_from;
    for (const Comparison& g : guards) {
        if (g.kind >= Compare::escape) reject("a comparison of unknown kind");
        if (g.a < first_node || g.a >= n) reject("a comparison reads a node that does not exist");
        if (!g.b_is_constant && (g.b < first_node || g.b >= n))
            reject("a comparison reads a node that does not exist");
        last_read = std::max({last_read, g.a, g.b_is_constant ? g.a : g.b});
    }
    end = last_read + 1;
    // The forward pass runs an entry whole: extend it to the end of the entry
    // holding its last node.
    for (std::size_t k = 0; k < entries.list.size(); ++k) {
        const Entry& e = entries.list[k];
        if (e.first < end && end < e.first + e.size) end = e.first + e.size;
    }

    std::uint64_t total = 0;
    for (const Shape& s : arg_shapes) total += detail::checked_size(s, "an argument's shape");
    if (total != inputs.size()) reject("the argument shapes do not match the number of inputs");
    if (detail::checked_size(out_shape, "the output shape") != outputs.size())
        reject("the output shape does not match the number of outputs");
    if (!sites.empty() && sites.size() != guards.size()) reject("one source line per comparison expected");
    for (const std::string& s : sites)
        if (s.size() > 4096) reject("a source line longer than 4096 bytes");
}

// Copy what replay needs out of a recorded tape. The tape itself is never
// touched again: it may be reset and reused for the next recording.
inline Program program_from_tape(const Tape& t, std::vector<index_t> inputs, std::vector<index_t> outputs,
                                 std::vector<Shape> arg_shapes, Shape out_shape, std::vector<std::string> sites) {
    Program p;
    const index_t n = t.size();
    p.ops.assign(t.ops(), t.ops() + n);
    p.parents.assign(t.parents(), t.parents() + n);
    p.constants.assign(n, 0.0);
    for (index_t i = first_node; i < n; ++i) {
        const Arity a = info(t.op(i)).arity;
        if (a == Arity::binary_vc || a == Arity::binary_cv) p.constants[i] = t.partials()[i].b;
        if (t.op(i) == Op::input) p.constants[i] = t.value(i);  // used only if it is not an input
        // x ** 2 records power with a constant 2; square computes the very same
        // value and partial (a * a and 2 * a) without testing the exponent in
        // every lane, so the lane loop vectorises.
        if (t.op(i) == Op::power_vc && p.constants[i] == 2.0) {
            p.ops[i] = static_cast<std::uint8_t>(Op::square);
            p.constants[i] = 0.0;
        }
    }
    copy_entries(t.entries(), p.entries);
    for (std::size_t k = 0; k < p.entries.list.size(); ++k) {  // constants entries keep in partials b
        const Entry& e = p.entries.list[k];
        const bool reads_b = e.kind == EntryKind::gather ||
                             (e.kind == EntryKind::elementwise && (e.flags & entry_flags::constant_per_element));
        if (reads_b)
            for (index_t j = e.first; j < e.first + e.size; ++j) p.constants[j] = t.partials()[j].b;
    }
    p.inputs = std::move(inputs);
    p.outputs = std::move(outputs);
    p.guards = t.comparisons();
    p.arg_shapes = std::move(arg_shapes);
    p.out_shape = std::move(out_shape);
    p.sites = std::move(sites);
    p.validate();
    return p;
}

}  // namespace tapegrad
