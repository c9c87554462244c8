// Fuzzing the loader of compiled programs (serialize.hpp), in C++ so that
// 10^5 cases take a fraction of a second. The test suite calls it through
// tapegrad._core._fuzz_load; cpp/tests/fuzz_load.cpp runs the same cases as a
// standalone program, built with -fsanitize=address,undefined, so that any
// read or write outside an array during loading or replay is caught.
//
// Base programs are small random recordings (every opcode of ops.def can
// appear, with comparisons, constants made inside f, several arguments), half
// of them with array entries of every kind (dense ones when a BLAS is loaded,
// i.e. from Python) between scalar nodes.
// Each case is one of:
//   truncated      a prefix of valid bytes                    must be rejected
//   bit flipped    one bit of valid bytes flipped             must be rejected (checksum)
//   garbage        random bytes written over valid ones       must be rejected (checksum)
//   forged         a field set to something invalid, the
//                  checksum recomputed to match               must be rejected (validation)
//                  (among them: stride-0 operands over 2^32
//                  elements, which ask for unbounded work,
//                  and source lines that are not UTF-8)
//   mutated        random valid-looking changes, checksum
//                  recomputed                                 may load; if it does, replay
//                                                             value, vjp, jvp, hvp on it
// A "violation" is a must-reject case that loaded, an intact one that did not
// round-trip, or an exception other than invalid_program.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "../arrays.hpp"
#include "../program.hpp"
#include "../record_dense.hpp"
#include "../record.hpp"
#include "../record_fused.hpp"
#include "../replay.hpp"
#include "../serialize.hpp"

namespace tapegrad::testing {

struct FuzzReport {
    std::uint64_t cases = 0, rejected = 0, accepted = 0, violations = 0;
    std::string first_violation;
};

// splitmix64: tiny, and the same sequence on every platform.
struct Rng {
    std::uint64_t s;
    std::uint64_t next() {
        std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    std::uint64_t below(std::uint64_t n) { return n ? next() % n : 0; }
    double uniform(double lo, double hi) { return lo + (hi - lo) * double(next() >> 11) * 0x1.0p-53; }
};

// Record one random op of ops.def on nodes in [lo, t.size()).
inline index_t record_random_op(Tape& t, Rng& rng, index_t lo) {
    auto pick = [&] { return static_cast<index_t>(lo + rng.below(t.size() - lo)); };
    const double c = rng.uniform(-2, 2);
    const int rows = static_cast<int>(Op::count) - first_row;
    switch (static_cast<Op>(first_row + static_cast<int>(rng.below(rows)))) {
#define TG_UNARY(name, ...) \
    case Op::name: return record_##name(t, pick());
#define TG_BINARY(name, ...)                                      \
    case Op::name: return record_##name(t, pick(), pick());       \
    case Op::name##_vc: return record_##name##_vc(t, pick(), c);  \
    case Op::name##_cv: return record_##name##_cv(t, c, pick());
#include "../ops.def"
        default: return record_add(t, pick(), pick());
    }
}

inline Program random_program(Rng& rng) {
    Tape t;
    const index_t n_in = 1 + static_cast<index_t>(rng.below(4));
    std::vector<index_t> inputs;
    for (index_t k = 0; k < n_in; ++k) inputs.push_back(t.push_input(rng.uniform(0.2, 1.5)));
    if (rng.below(2)) t.push_input(rng.uniform(-1, 1));  // a constant made inside f
    const index_t lo = first_node;
    const int ops = 3 + static_cast<int>(rng.below(30));
    for (int k = 0; k < ops; ++k) {
        record_random_op(t, rng, lo);
        if (rng.below(6) == 0) {  // a comparison, against a node or a number
            const index_t a = static_cast<index_t>(lo + rng.below(t.size() - lo));
            const index_t b = static_cast<index_t>(lo + rng.below(t.size() - lo));
            const auto kind = static_cast<Compare>(rng.below(static_cast<int>(Compare::escape)));
            const bool constant = rng.below(2);
            const double c = rng.uniform(-1, 1);
            t.record_comparison(kind, a, constant ? 0 : b, c, constant,
                                compare(kind, t.value(a), constant ? c : t.value(b)));
        }
    }
    std::vector<index_t> outputs;
    const index_t n_out = 1 + static_cast<index_t>(rng.below(3));
    for (index_t k = 0; k < n_out; ++k) outputs.push_back(static_cast<index_t>(lo + rng.below(t.size() - lo)));
    std::vector<Shape> args;
    if (n_in > 1 && rng.below(2)) args = {Shape{1}, Shape{n_in - 1}};
    else args = {n_in == 1 ? Shape{} : Shape{n_in}};
    const Shape out = n_out == 1 ? Shape{} : Shape{n_out};
    std::vector<std::string> sites;
    if (rng.below(2))
        for (std::size_t k = 0; k < t.comparisons().size(); ++k) sites.push_back("f.py:" + std::to_string(k));
    return program_from_tape(t, inputs, outputs, args, out, sites);
}

// One random array entry over existing slots (each operand a contiguous or
// strided run of recorded nodes), recorded, run and committed.
inline void record_random_entry(Tape& t, Rng& rng) {
    const index_t have = t.size() - first_node;  // recorded nodes
    auto start = [&](std::int64_t span) {  // a first slot whose run of `span` slots is recorded
        return static_cast<index_t>(first_node + rng.below(have - std::min<std::int64_t>(span, have) + 1));
    };
    const std::int64_t m = 1 + static_cast<std::int64_t>(rng.below(std::min<index_t>(have, 6)));
    const std::int64_t one = 1;
    Entry e{};
    switch (rng.below(blas::dgemm_ptr.load() ? 8 : 7)) {
        case 0: {  // an op-table row, maybe with per-element constants
            const int rows = static_cast<int>(Op::count) - first_row;
            const Op op = static_cast<Op>(first_row + static_cast<int>(rng.below(rows)));
            std::vector<double> c(m);
            for (double& x : c) x = rng.uniform(-2, 2);
            const bool per_element = rng.below(2);
            e = begin_elementwise(t, op, 1, &m, start(m), &one, start(m), &one, rng.uniform(-2, 2),
                                  per_element ? c.data() : nullptr, &one);
            break;
        }
        case 1: {  // a reduction of a (2 x m/2) or (m) block
            const auto how = static_cast<Reducer>(rng.below(static_cast<int>(Reducer::norm) + 1));
            const std::int64_t shape[2] = {m > 1 ? 2 : 1, m > 1 ? m / 2 : 1}, stride[2] = {shape[1], 1};
            e = begin_reduce(t, how, 2, static_cast<int>(rng.below(3)), shape, start(shape[0] * shape[1]), stride, 1.0);
            break;
        }
        case 2: {  // a gather of slots and constants
            std::vector<std::int64_t> src(m);
            std::vector<double> c(m);
            for (std::int64_t j = 0; j < m; ++j) {
                src[j] = rng.below(3) ? first_node + static_cast<std::int64_t>(rng.below(have)) : 0;
                c[j] = rng.uniform(-1, 1);
            }
            e = begin_gather(t, static_cast<index_t>(m), src.data(), c.data());
            break;
        }
        case 3: {  // (M x K) @ (K x N), one side maybe a constant
            const std::int64_t M = 1 + rng.below(2), K = 1 + rng.below(2), N = 1 + rng.below(2);
            if (M * K > have || K * N > have) return;
            const double A[4] = {0.5, -1, 2, 0.25};
            const bool ac = rng.below(3) == 0;
            e = begin_matmul(t, M, K, N, start(M * K), K, 1, ac ? A : nullptr, start(K * N), 1, K, nullptr);
            break;
        }
        case 4: e = begin_cumsum(t, 1, &m, start(m), &one); break;
        case 5: {  // a block of constants made inside f (an inputs entry)
            const double v[3] = {rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-1, 1)};
            t.push_inputs(v, 3);
            return;
        }
        case 6: {  // a fused program: a slot leaf and a constant leaf, up to three op-table rows, maybe summed
            const int rows = static_cast<int>(Op::count) - first_row;
            const std::int64_t kind[2] = {entries::fused::slots, entries::fused::constant};
            std::vector<double> c(m);
            for (double& x : c) x = rng.uniform(-2, 2);
            const std::int64_t first[2] = {start(m), 0}, strides[2] = {1, 1};
            const double* data[2] = {nullptr, c.data()};
            const int I = 1 + static_cast<int>(rng.below(3));
            std::vector<std::int64_t> code;
            for (int k = 0; k < I; ++k) {
                const Op op = static_cast<Op>(first_row + static_cast<int>(rng.below(rows)));
                const std::int64_t last = 2 + k - 1;  // the previous result (the leaves first)
                const std::int64_t other = static_cast<std::int64_t>(rng.below(2 + k));
                const bool two = info(op).arity == Arity::binary;
                double number = rng.uniform(-2, 2);
                std::int64_t bits;
                std::memcpy(&bits, &number, sizeof bits);
                code.insert(code.end(), {static_cast<std::int64_t>(op), k ? last : 0, two ? other : (k ? last : 0), bits});
            }
            const bool sum = rng.below(2);
            e = begin_fused(t, 1, &m, 0, sum, 1.0, 2, kind, first, data, strides, I, code.data());
            break;
        }
        default: {  // a dense layer on the BLAS
            const std::int64_t M = 1 + rng.below(2), K = 1 + rng.below(2), N = 1 + rng.below(2);
            if (M * K > have || K * N > have || N > have) return;
            DenseOperand x{start(M * K), K, 1, nullptr}, w{start(K * N), N, 1, nullptr}, b{start(N), 1, 0, nullptr};
            const auto act = static_cast<activation::Kind>(rng.below(activation::count));
            e = begin_dense(t, M, K, N, x, w, rng.below(2), b, act);
            break;
        }
    }
    run_entry(t, e);
    commit_entry(t, e);
}

inline Program random_program_with_entries(Rng& rng) {
    Tape t;
    const index_t n_in = 2 + static_cast<index_t>(rng.below(4));
    std::vector<double> x(n_in);
    for (double& v : x) v = rng.uniform(0.2, 1.5);
    const index_t first = t.push_inputs(x.data(), n_in);
    std::vector<index_t> inputs;
    for (index_t k = 0; k < n_in; ++k) inputs.push_back(first + k);
    const int steps = 3 + static_cast<int>(rng.below(8));
    for (int k = 0; k < steps; ++k) {
        if (rng.below(2)) record_random_entry(t, rng);
        else record_random_op(t, rng, first_node);
        if (rng.below(5) == 0) {  // a comparison, as tapegrad/numpy/_guards.py records them
            const index_t a = static_cast<index_t>(first_node + rng.below(t.size() - first_node));
            const double c = rng.uniform(-1, 1);
            t.record_comparison(Compare::gt, a, 0, c, true, t.value(a) > c);
        }
    }
    std::vector<index_t> outputs;
    const index_t n_out = 1 + static_cast<index_t>(rng.below(3));
    for (index_t k = 0; k < n_out; ++k) outputs.push_back(static_cast<index_t>(first_node + rng.below(t.size() - first_node)));
    const std::vector<Shape> args = {Shape{n_in}};
    const Shape out = n_out == 1 ? Shape{} : Shape{n_out};
    return program_from_tape(t, inputs, outputs, args, out, {});
}

inline std::string bundle(const std::vector<Program>& ps) {
    std::vector<const Program*> ptrs;
    for (const Program& p : ps) ptrs.push_back(&p);
    return serial::save(ptrs);
}

inline void fix_checksum(std::string& b) {
    if (b.size() < 8) return;
    const std::uint64_t h = serial::checksum(reinterpret_cast<const std::uint8_t*>(b.data()), b.size() - 8);
    for (int k = 0; k < 8; ++k) b[b.size() - 8 + k] = static_cast<char>(h >> (8 * k));
}

// Replay every mode at a few random points: under the sanitizers this is
// what shows that an accepted program cannot make replay leave its arrays.
inline void replay_all(const Program& p, Rng& rng) {
    for (std::size_t k = 0; k < p.entries.list.size(); ++k)  // a mutation may make one: needs a BLAS
        if (p.entries.list[k].kind == EntryKind::dense && !blas::dgemm_ptr.load()) return;
    const std::size_t rows = 1 + rng.below(3), n_in = p.inputs.size(), n_out = p.outputs.size();
    std::vector<double> X(rows * n_in), V(rows * n_in), W(rows * n_out, 1.0), Y(rows * n_out), D(rows * n_out),
        G(rows * n_in), H(rows * n_in);
    std::vector<std::int32_t> status(rows, -1);
    for (double& x : X) x = rng.uniform(-2, 2);
    for (double& v : V) v = rng.uniform(-1, 1);
    replay::Request r;
    r.rows = rows;
    r.X = X.data(); r.V = V.data(); r.W = W.data();
    r.Y = Y.data(); r.Ydot = D.data(); r.G = G.data(); r.HV = H.data();
    r.status = status.data();
    replay::run<replay::Mode::value>(p, r);
    replay::run<replay::Mode::vjp>(p, r);
    replay::run<replay::Mode::jvp>(p, r);
    replay::run<replay::Mode::hvp>(p, r);
}

// Make entry `e` iterate over about 2^32 elements through stride-0 operands:
// every read stays inside the program, so only the loader's work bound
// (serialize.hpp, Limits) refuses it. False for an entry that cannot.
inline bool forge_unbounded_work(Program& p, Entry& e) {
    ProgramEntries& l = p.entries;
    std::int64_t* g = l.geometry.data() + e.geometry;
    const int nd = e.ndim;
    auto others = [&](std::int64_t* shape, int n, int skip) {
        std::uint64_t m = 1;
        for (int d = 0; d < n; ++d) if (d != skip) m *= std::uint64_t(std::max<std::int64_t>(shape[d], 1));
        return std::int64_t(max_nodes / m);
    };
    switch (e.kind) {
        case EntryKind::reduce: {  // a reduced axis over 2^32 copies of one slot
            if (e.split >= nd) return false;
            const int d = nd - 1;
            for (int k = 0; k < nd; ++k) if (k != d && g[k] == 0) return false;
            g[d] = others(g, nd, d);
            g[nd + d] = 0;
            if (e.reducer != Reducer::sum) {  // its weights must fit the workspace: as large
                std::uint64_t kept = 1, R = 1;
                for (int k = 0; k < nd; ++k) (k < e.split ? kept : R) *= std::uint64_t(g[k]);
                l.weight_count = std::max<std::uint64_t>(l.weight_count, e.weights + kept * R);
            }
            return true;
        }
        case EntryKind::matmul: {  // an inner dimension K of 2^32 / max(M, N), read with stride 0
            if (e.flags) return false;  // a constant operand would need K-sized constants
            const std::int64_t M = g[0], N = g[2];
            if (M == 0 || N == 0) return false;
            g[1] = std::int64_t(max_nodes) / std::max(M, N);
            g[4] = 0;  // A's column stride
            g[5] = 0;  // B's row stride
            return true;
        }
        case EntryKind::fused: {  // a summed axis of 2^32 / (the rest), every leaf stride 0 on it
            if (!(e.flags & entry_flags::fused_sum) || e.split >= nd) return false;
            const std::int64_t L = g[0];
            std::int64_t* shape = g + 2;
            const int d = nd - 1;
            for (int k = 0; k < nd; ++k) if (k != d && shape[k] == 0) return false;
            shape[d] = others(shape, nd, d);
            for (std::int64_t leaf = 0; leaf < L; ++leaf) g[2 + nd + leaf * (2 + nd) + 2 + d] = 0;
            return true;
        }
        default: return false;
    }
}

// Set one field of an array entry of `p` to a value validation must refuse.
inline bool forge_entry(Program& p, Rng& rng) {
    ProgramEntries& l = p.entries;
    Entry& e = l.list[rng.below(l.list.size())];
    if (rng.below(8) == 0) return forge_unbounded_work(p, e);
    const bool has_geometry = e.kind == EntryKind::elementwise || e.kind == EntryKind::reduce ||
                              e.kind == EntryKind::matmul || e.kind == EntryKind::cumsum || e.kind == EntryKind::dense ||
                              e.kind == EntryKind::fused;
    switch (rng.below(7)) {
        case 0: e.kind = static_cast<EntryKind>(entry_kind_count + rng.below(200)); return true;  // unknown kind
        case 1: e.size += 1 + static_cast<index_t>(rng.below(3)); return true;  // overlaps, or slots not its own
        case 2: e.a = static_cast<index_t>(p.num_nodes() + rng.below(1000)); return true;  // operand outside
        case 3:
            if (!has_geometry) return false;
            e.geometry = l.geometry.size() + 1 + rng.below(1u << 20);  // geometry outside its arena
            return true;
        case 4:
            if (e.kind != EntryKind::gather) return false;
            l.indices[e.data + rng.below(e.size)] = e.first + static_cast<index_t>(rng.below(e.size));  // not below
            return true;
        case 5:
            if (e.kind != EntryKind::elementwise && e.kind != EntryKind::cumsum && e.kind != EntryKind::matmul &&
                e.kind != EntryKind::dense)
                return false;
            if (e.kind == EntryKind::elementwise && e.ndim == 0) return false;
            l.geometry[e.geometry] += 1 + static_cast<std::int64_t>(rng.below(5));  // shape no longer its size
            return true;
        default: l.weight_count += 1u << 20; return true;  // more weights than the reductions use
    }
}

// Set one field of `p` to a value validation must refuse; false if this
// program has no such field (e.g. no comparisons).
inline bool forge(Program& p, Rng& rng) {
    const std::size_t n = p.num_nodes();
    const index_t i = static_cast<index_t>(first_node + rng.below(n - first_node));
    if (!p.entries.empty() && rng.below(2)) return forge_entry(p, rng);
    switch (rng.below(13)) {
        case 0: p.parents[i].a = static_cast<index_t>(i + rng.below(1000)); return true;  // parent not below
        case 1: p.parents[i].b = static_cast<index_t>(n + rng.below(1u << 31)); return true;
        case 2: p.ops[i] = static_cast<std::uint8_t>(static_cast<int>(Op::count) + rng.below(256 - static_cast<int>(Op::count))); return true;
        case 3: p.ops[rng.below(first_node)] = static_cast<std::uint8_t>(Op::add); return true;  // a sink that is not
        case 4: p.inputs[rng.below(p.inputs.size())] = static_cast<index_t>(n + rng.below(1000)); return true;
        case 5: p.outputs[rng.below(p.outputs.size())] = static_cast<index_t>(rng.below(2) ? n + rng.below(1000) : rng.below(first_node)); return true;
        case 6:
            if (p.guards.empty()) return false;
            p.guards[rng.below(p.guards.size())].a = static_cast<index_t>(n + rng.below(1000));
            return true;
        case 7:
            if (p.guards.empty()) return false;
            p.guards[rng.below(p.guards.size())].kind = static_cast<Compare>(static_cast<int>(Compare::escape) + rng.below(200));
            return true;
        case 8: p.arg_shapes.back().push_back(2 + rng.below(5)); return true;  // sizes no longer add up
        case 9: p.out_shape.push_back(2 + rng.below(5)); return true;
        case 10:
            if (p.inputs.size() < 2) return false;
            p.inputs[1] = p.inputs[0];  // the same input twice
            return true;
        case 11:
            if (p.guards.empty()) return false;
            p.sites.assign(p.guards.size(), "x > 0");  // a source line that is not UTF-8, or holds a NUL
            p.sites[rng.below(p.sites.size())] = rng.below(2) ? std::string("x \xff> 0") : std::string("x\0 > 0", 7);
            return true;
        default:
            p.sites.push_back("extra");  // one source line too many
            if (p.sites.size() == p.guards.size()) p.sites.push_back("extra");
            return true;
    }
}

// Valid-looking changes: any of these may or may not give a valid program.
inline void mutate(Program& p, std::string& bytes, Rng& rng) {
    const std::size_t n = p.num_nodes();
    const index_t i = static_cast<index_t>(first_node + rng.below(n - first_node));
    switch (rng.below(6)) {
        case 0: p.parents[i].a = static_cast<index_t>(rng.below(i)); break;
        case 1: p.ops[i] = static_cast<std::uint8_t>(2 + rng.below(static_cast<int>(Op::count) - 2)); break;
        case 2: p.constants[i] = rng.uniform(-1e3, 1e3); break;
        case 3:
            if (!p.guards.empty()) {
                Comparison& g = p.guards[rng.below(p.guards.size())];
                g.outcome = !g.outcome;
            }
            break;
        case 4:  // an entry's geometry, strides and shapes included, or its other fields
            if (!p.entries.empty()) {
                ProgramEntries& l = p.entries;
                Entry& e = l.list[rng.below(l.list.size())];
                if (l.geometry.size() && rng.below(2))
                    l.geometry[rng.below(l.geometry.size())] = static_cast<std::int64_t>(rng.below(9)) - 4;
                else if (l.indices.size() && rng.below(2))
                    l.indices[rng.below(l.indices.size())] = static_cast<index_t>(rng.below(e.first + 1));
                else if (rng.below(2))
                    e.op = static_cast<Op>(rng.below(static_cast<int>(Op::count)));
                else
                    e.reducer = static_cast<Reducer>(rng.below(6)), e.ndim = static_cast<std::uint8_t>(rng.below(3)),
                    e.split = static_cast<std::uint8_t>(rng.below(3));
            }
            break;
        default: break;
    }
    bytes = bundle({p});
    if (rng.below(2)) {  // and raw bytes anywhere, counts and shapes included
        for (int k = 1 + static_cast<int>(rng.below(3)); k > 0; --k)
            bytes[12 + rng.below(bytes.size() - 20)] = static_cast<char>(rng.next());
    }
    fix_checksum(bytes);
}

inline FuzzReport fuzz_load(std::uint64_t cases, std::uint64_t seed) {
    FuzzReport rep;
    Rng rng{seed};
    std::vector<Program> bases;
    for (int k = 0; k < 16; ++k) bases.push_back(k % 2 ? random_program_with_entries(rng) : random_program(rng));
    auto violation = [&](const std::string& what) {
        if (!rep.violations++) rep.first_violation = what;
    };
    while (rep.cases < cases) {
        ++rep.cases;
        Program p = bases[rng.below(bases.size())];
        std::string bytes = rng.below(8) == 0 ? bundle({p, p}) : bundle({p});
        const std::string intact = bytes;
        int kind = static_cast<int>(rng.below(6));
        bool must_reject = true;
        switch (kind) {
            case 0: bytes.resize(rng.below(bytes.size())); break;
            case 1: bytes[rng.below(bytes.size())] ^= static_cast<char>(1u << rng.below(8)); break;
            case 2:
                for (int k = 1 + static_cast<int>(rng.below(8)); k > 0; --k)
                    bytes[rng.below(bytes.size())] ^= static_cast<char>(1 + rng.below(255));
                if (bytes == intact) kind = 5, must_reject = false;  // two changes undid each other
                break;
            case 3:
                if (!forge(p, rng)) { --rep.cases; continue; }
                bytes = bundle({p});
                break;
            case 4: mutate(p, bytes, rng); must_reject = false; break;
            default: must_reject = false; break;  // intact: must load and round-trip
        }
        try {
            const auto loaded = serial::load(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
            ++rep.accepted;
            if (must_reject) violation("case kind " + std::to_string(kind) + " was accepted");
            if (kind == 5 && bundle(loaded) != bytes) violation("an intact program did not round-trip");
            for (const Program& q : loaded) replay_all(q, rng);
        } catch (const invalid_program&) {
            ++rep.rejected;
            if (kind == 5) violation("an intact program was rejected");
        } catch (const std::exception& e) {
            violation(std::string("case kind ") + std::to_string(kind) + " threw " + e.what());
        }
    }
    return rep;
}

}  // namespace tapegrad::testing
