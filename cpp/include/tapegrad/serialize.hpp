// Compiled programs as bytes, and back -- safely.
//
// Bytes may come from anywhere (a file, a pickle), so loading trusts nothing:
// every count is checked against the bytes that remain before anything is
// allocated, every field is read with a bounds check, a checksum catches
// accidental corruption, and the result goes through Program::validate(),
// which guarantees replay stays inside its arrays. Any failure throws
// invalid_program with a message naming what is wrong.
//
// Format (all integers little-endian, doubles as IEEE-754 bit patterns):
//
//   "TAPEGRAD"                       8 bytes of magic
//   u32 version                      format_version
//   (version 3:) the numbering this file uses, by name:
//     u32 n, n × (u8 code, u8 length, name)   the opcodes it uses ("add",
//                                    "add_vc", "entry", ...), each code the
//                                    writer's row; the loader maps names to
//                                    its own rows and refuses a name it lacks
//     u32 n, n × (u8 code, u8 length, name)   the same for entry kinds
//   u32 count                        programs in the bundle (1..max_programs)
//   count × program:
//     u64 nodes, inputs, outputs, guards, args, sites
//     args × (u32 ndim, ndim × u64)  the argument shapes
//     u32 ndim, ndim × u64           the output shape
//     nodes × u8                     opcodes
//     nodes × (u32, u32)             parents
//     nodes × f64                    constants
//     inputs × u32, outputs × u32    input and output nodes
//     guards × (u8 kind, u8 flags, u32 a, u32 b, f64 constant)
//                                    flags: bit 0 b is a constant, bit 1 outcome
//     sites × (u32 length, bytes)    source lines (debug), UTF-8 without NUL
//     (version 2, 3:) array entries
//     u64 entries, geometry, constants, weights, indices   counts
//     entries × (u8 kind, op, reducer, ndim, split, flags,
//                u32 first, size, a, b, u64 geometry, data, weights, f64 scalar)
//     geometry × i64, constants × f64, indices × u32
//                                    (weights: only their count, the size of
//                                    replay's own reduction workspace)
//   u64 checksum                     FNV-1a 64 of every byte before it
//
// A bundle holds several programs when compile(..., retrace=True) recorded one
// per branch pattern. Opcodes appear in three places (nodes, elementwise
// entries, fused entries' instructions), entry kinds in one: all are mapped.
// Versions 1 and 2 name nothing: their numbers are read through the tables
// of the builds that wrote them (format_history.hpp).
//
// A loaded program may ask for no more work per evaluation, and no more
// scratch memory beyond its slots, than Limits allows (by default an amount
// the file's own size pays for): a few forged bytes (a stride-0 operand over
// 2^32 elements) cannot make a call run for minutes or allocate gigabytes.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "format_history.hpp"
#include "program.hpp"

namespace tapegrad::serial {

inline constexpr char magic[8] = {'T', 'A', 'P', 'E', 'G', 'R', 'A', 'D'};
inline constexpr std::uint32_t format_version = 3;  // 2: array entries; 3: ops and entry kinds by name
inline constexpr std::uint32_t max_programs = 1u << 16;

// FNV-1a: a change of any single byte always changes the sum (each step is a
// bijection of the running state), which is what a checksum here is for.
inline std::uint64_t checksum(const std::uint8_t* data, std::size_t size) noexcept {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (std::size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 0x100000001b3ull;
    return h;
}

class Writer {
public:
    void u8(std::uint8_t x) { out_.push_back(static_cast<char>(x)); }
    void u32(std::uint32_t x) { for (int k = 0; k < 4; ++k) u8(static_cast<std::uint8_t>(x >> (8 * k))); }
    void u64(std::uint64_t x) { for (int k = 0; k < 8; ++k) u8(static_cast<std::uint8_t>(x >> (8 * k))); }
    void f64(double x) { std::uint64_t b; std::memcpy(&b, &x, 8); u64(b); }
    void bytes(const void* p, std::size_t n) { out_.append(static_cast<const char*>(p), n); }
    void shape(const Shape& s) { u32(static_cast<std::uint32_t>(s.size())); for (auto d : s) u64(d); }
    std::string& str() { return out_; }

private:
    std::string out_;
};

class Reader {
public:
    Reader(const std::uint8_t* data, std::size_t size) : p_(data), n_(size) {}
    std::size_t remaining() const { return n_ - pos_; }
    void need(std::uint64_t bytes) const {
        if (bytes > remaining()) detail::reject("the bytes end early (truncated, or a size field is wrong)");
    }
    // `count` items of at least `each` bytes must fit in what remains: checked
    // before allocating, so a forged count cannot ask for terabytes.
    void need(std::uint64_t count, std::uint64_t each) const {
        if (count > remaining() / each) detail::reject("the bytes end early (truncated, or a size field is wrong)");
    }
    std::uint8_t u8() { need(1); return p_[pos_++]; }
    std::uint32_t u32() { need(4); std::uint32_t x = 0; for (int k = 0; k < 4; ++k) x |= std::uint32_t(p_[pos_++]) << (8 * k); return x; }
    std::uint64_t u64() { need(8); std::uint64_t x = 0; for (int k = 0; k < 8; ++k) x |= std::uint64_t(p_[pos_++]) << (8 * k); return x; }
    double f64() { const std::uint64_t b = u64(); double x; std::memcpy(&x, &b, 8); return x; }
    std::string bytes(std::size_t n) { need(n); std::string s(reinterpret_cast<const char*>(p_ + pos_), n); pos_ += n; return s; }
    Shape shape() {
        const std::uint32_t ndim = u32();
        if (ndim > 32) detail::reject("a shape with more than 32 dimensions");
        need(ndim, 8);
        Shape s(ndim);
        for (auto& d : s) d = u64();
        return s;
    }

private:
    const std::uint8_t* p_;
    std::size_t n_;
    std::size_t pos_ = 0;
};

// ---- the numbering of a file --------------------------------------------------

// An opcode's name in files: the op-table name, with _vc/_cv for the variants
// with a constant operand (each binary row gives three opcodes).
inline std::string op_file_name(Op op) {
    const OpInfo& i = info(op);
    return std::string(i.name) + (i.arity == Arity::binary_vc ? "_vc" : i.arity == Arity::binary_cv ? "_cv" : "");
}

// What the codes of one file mean in this build: code -> today's number, or
// `unnamed` (the file names no such code) / `unknown` (a name this build lacks).
struct CodeMap {
    static constexpr int unnamed = -1, unknown = -2;
    std::uint32_t version = format_version;
    int op[256], kind[256];
    std::string op_name[256], kind_name[256];
    CodeMap() { for (int k = 0; k < 256; ++k) op[k] = kind[k] = unnamed; }

    void name_op(int code, const std::string& name) {
        op_name[code] = name;
        op[code] = unknown;
        for (int r = 0; r < static_cast<int>(Op::count); ++r)
            if (op_file_name(static_cast<Op>(r)) == name) op[code] = r;
    }
    void name_kind(int code, const std::string& name) {
        kind_name[code] = name;
        kind[code] = unknown;
        for (int k = 0; k < entry_kind_count; ++k)
            if (name == entry_kind_name(static_cast<EntryKind>(k))) kind[code] = k;
    }
    template <std::size_t N>
    static CodeMap historical(std::uint32_t version, const char* const (&ops)[N]) {
        CodeMap m;
        m.version = version;
        for (std::size_t k = 0; k < N; ++k) m.name_op(static_cast<int>(k), ops[k]);
        for (std::size_t k = 0; k < sizeof history::format2_entry_kinds / sizeof *history::format2_entry_kinds; ++k)
            m.name_kind(static_cast<int>(k), history::format2_entry_kinds[k]);
        return m;
    }

    std::uint8_t op_of(std::int64_t code, const std::string& where) const {
        const int r = code >= 0 && code < 256 ? op[code] : unnamed;
        if (r == unknown)
            detail::reject("the file uses the op '" + op_name[code] + "' (format version " + std::to_string(version) +
                           "), which this build of tapegrad does not have: upgrade tapegrad");
        if (r == unnamed)
            detail::reject("unknown opcode " + std::to_string(code) + " at " + where +
                           (version >= 3 ? " (not named in the file's header)" : ""));
        return static_cast<std::uint8_t>(r);
    }
    EntryKind kind_of(int code) const {
        const int k = kind[code];
        if (k == unknown)
            detail::reject("the file uses array entries of kind '" + kind_name[code] + "' (format version " +
                           std::to_string(version) + "), which this build of tapegrad does not have: upgrade tapegrad");
        if (k == unnamed) detail::reject("an array entry of unknown kind " + std::to_string(code));
        return static_cast<EntryKind>(k);
    }
};

// The instruction records of a fused entry (4 words each, the op first), or
// null where its geometry is out of bounds (validation then refuses it).
template <class Words>
inline auto* fused_instructions(Words& geometry, const Entry& e, int& count) {
    using P = decltype(geometry.data());
    count = 0;
    const std::size_t size = geometry.size();
    if (e.geometry > size || size - e.geometry < 2) return P(nullptr);
    const auto* g = geometry.data() + e.geometry;
    const std::int64_t L = g[0], I = g[1], nd = e.ndim;
    if (L < 1 || L > entries::fused::max_leaves || I < 1 || I > entries::fused::max_instructions || nd < 1 ||
        nd > max_dims)
        return P(nullptr);
    const std::uint64_t at = std::uint64_t(2 + nd + L * (2 + nd));
    if (size - e.geometry < at + 4 * std::uint64_t(I)) return P(nullptr);
    count = static_cast<int>(I);
    return geometry.data() + e.geometry + at;
}

// Replace a file's codes by this build's, before validation: every opcode
// and entry kind goes through `m` (a code it does not know is refused).
inline void renumber(Program& p, const CodeMap& m) {
    for (std::size_t i = 0; i < p.ops.size(); ++i) p.ops[i] = m.op_of(p.ops[i], "node " + std::to_string(i));
    for (Entry& e : p.entries.list) {
        e.kind = m.kind_of(static_cast<std::uint8_t>(e.kind));
        if (e.kind == EntryKind::elementwise)
            e.op = static_cast<Op>(m.op_of(static_cast<std::uint8_t>(e.op), "the entry at slot " + std::to_string(e.first)));
        else
            e.op = Op::sink;  // unused
        int count = 0;
        if (e.kind == EntryKind::fused)
            if (std::int64_t* code = fused_instructions(p.entries.geometry, e, count))
                for (int k = 0; k < count; ++k)
                    code[4 * k] = m.op_of(code[4 * k], "the fused entry at slot " + std::to_string(e.first));
    }
}

// The codes a bundle uses, for the header of a format 3 file.
inline void write_names(Writer& w, const std::vector<const Program*>& programs) {
    bool op_used[256] = {}, kind_used[256] = {};
    for (const Program* p : programs) {
        for (std::uint8_t op : p->ops) op_used[op] = true;
        for (const Entry& e : p->entries.list) {
            kind_used[static_cast<std::uint8_t>(e.kind)] = true;
            if (e.kind == EntryKind::elementwise) op_used[static_cast<std::uint8_t>(e.op)] = true;
            int count = 0;
            if (e.kind == EntryKind::fused)
                if (const std::int64_t* code = fused_instructions(p->entries.geometry, e, count))
                    for (int k = 0; k < count; ++k) op_used[static_cast<std::uint8_t>(code[4 * k])] = true;
        }
    }
    auto table = [&](const bool (&used)[256], auto name_of) {
        std::uint32_t n = 0;
        for (bool u : used) n += u;
        w.u32(n);
        for (int c = 0; c < 256; ++c) {
            if (!used[c]) continue;
            const std::string name = name_of(c);
            w.u8(static_cast<std::uint8_t>(c));
            w.u8(static_cast<std::uint8_t>(name.size()));
            w.bytes(name.data(), name.size());
        }
    };
    // A forged program (the fuzz writes them) may hold codes no build knows.
    table(op_used, [](int c) { return is_known(static_cast<std::uint8_t>(c)) ? op_file_name(static_cast<Op>(c))
                                                                             : "unknown_" + std::to_string(c); });
    table(kind_used, [](int c) { return std::string(entry_kind_name(static_cast<EntryKind>(c))); });
}

inline CodeMap read_names(Reader& r) {
    CodeMap m;
    for (int table = 0; table < 2; ++table) {
        const std::uint32_t n = r.u32();
        if (n > 256) detail::reject("a name table of more than 256 codes");
        bool seen[256] = {};
        for (std::uint32_t k = 0; k < n; ++k) {
            const std::uint8_t code = r.u8(), length = r.u8();
            std::string name = r.bytes(length);
            const bool plain = !name.empty() && length <= 64 &&
                               std::all_of(name.begin(), name.end(), [](char c) {
                                   return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
                               });
            if (!plain) detail::reject("a name in the file's header that is not a plain identifier");
            if (seen[code]) detail::reject("a code named twice in the file's header");
            seen[code] = true;
            table == 0 ? m.name_op(code, name) : m.name_kind(code, name);
        }
    }
    return m;
}

// ---- what a loaded program may demand -------------------------------------------

// Limits on what one evaluation of a loaded program may ask for; 0: the
// default, which the file's own size pays for (see default_max_*).
struct Limits {
    std::uint64_t max_work = 0;    // element operations per evaluated point
    std::uint64_t max_memory = 0;  // bytes of scratch beyond the slots (reduction weights, dense scratch)
};

// The defaults: a fixed allowance (about a second of work, 256 MiB) plus an
// amount proportional to the file: 1024 element operations per slot it
// holds (a matmul does K per output, a fused sum its summed axes per output:
// real tapes stay far below this), 64 bytes of scratch per byte of file.
inline std::uint64_t default_max_work(std::uint64_t slots) { return (std::uint64_t(1) << 28) + 1024 * slots; }
inline std::uint64_t default_max_memory(std::uint64_t file_bytes) { return (std::uint64_t(1) << 28) + 64 * file_bytes; }

inline std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) {
    return a && b > UINT64_MAX / a ? UINT64_MAX : a * b;
}
inline std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) { return b > UINT64_MAX - a ? UINT64_MAX : a + b; }

// Element operations of one evaluation (forward; the backward is a small
// multiple): nodes, plus each entry's iteration space. Of a validated program.
inline std::uint64_t program_work(const Program& p) {
    std::uint64_t work = p.num_nodes();
    const ProgramEntries& l = p.entries;
    for (const Entry& e : l.list) {
        const std::int64_t* g = l.geometry.data() + e.geometry;
        std::uint64_t w = e.size;
        if (e.kind == EntryKind::reduce || e.kind == EntryKind::fused) {
            const int first = e.kind == EntryKind::fused ? 2 : 0;  // a fused record starts with L, I
            w = 1;
            for (int d = 0; d < e.ndim; ++d) w = saturating_mul(w, std::uint64_t(g[first + d]));
            if (e.kind == EntryKind::fused) w = saturating_mul(w, std::uint64_t(g[0] + g[1]));
        } else if (e.kind == EntryKind::matmul || e.kind == EntryKind::dense) {
            w = saturating_mul(saturating_mul(std::uint64_t(g[0]), std::uint64_t(g[1])), std::uint64_t(g[2]));
        } else if (e.kind == EntryKind::inputs) {
            w = 0;
        }
        work = saturating_add(work, w);
    }
    return work;
}

// Scratch bytes one evaluation allocates beyond its slots (dual numbers: 16
// bytes a number): reduction weights and the largest dense scratch.
inline std::uint64_t program_scratch(const Program& p) {
    std::uint64_t dense = 0;
    for (const Entry& e : p.entries.list)
        if (e.kind == EntryKind::dense)
            dense = std::max<std::uint64_t>(dense, entries::dense_scratch_size(p.entries.geometry.data() + e.geometry));
    return saturating_mul(saturating_add(p.entries.weight_count, 3 * dense), 16);
}

inline void check_limits(const std::vector<Program>& programs, std::uint64_t file_bytes, const Limits& limits) {
    for (const Program& p : programs) {
        const std::uint64_t max_work = limits.max_work ? limits.max_work : default_max_work(p.num_nodes());
        const std::uint64_t max_memory = limits.max_memory ? limits.max_memory : default_max_memory(file_bytes);
        const std::uint64_t work = program_work(p), scratch = program_scratch(p);
        const char* which = limits.max_work ? "the max_work given" : "the default for a tape of this size";
        if (work > max_work)
            detail::reject("one evaluation would do about " + std::to_string(work) +
                           " element operations, more than " + std::to_string(max_work) + " (" + which +
                           "; a forged size?). If you trust this file, pass max_work=" + std::to_string(work) +
                           " to tapegrad.load or CompiledFunction.from_bytes");
        which = limits.max_memory ? "the max_memory given" : "the default for a file of this size";
        if (scratch > max_memory)
            detail::reject("one evaluation would allocate about " + std::to_string(scratch) +
                           " bytes of scratch, more than " + std::to_string(max_memory) + " (" + which +
                           "; a forged size?). If you trust this file, pass max_memory=" + std::to_string(scratch) +
                           " to tapegrad.load or CompiledFunction.from_bytes");
    }
}

// Source lines are shown in messages: UTF-8 (no overlong forms, no
// surrogates, at most U+10FFFF) without NUL, so that a message is never cut
// short or undecodable.
inline bool is_clean_utf8(const std::string& s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    for (std::size_t i = 0; i < n;) {
        const unsigned c = p[i];
        if (c == 0) return false;
        if (c < 0x80) { ++i; continue; }
        int more;
        std::uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) more = 1, cp = c & 0x1F, min = 0x80;
        else if ((c & 0xF0) == 0xE0) more = 2, cp = c & 0x0F, min = 0x800;
        else if ((c & 0xF8) == 0xF0) more = 3, cp = c & 0x07, min = 0x10000;
        else return false;
        if (n - i <= std::size_t(more)) return false;
        for (int k = 1; k <= more; ++k) {
            if ((p[i + k] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += more + 1;
    }
    return true;
}

// ---- programs --------------------------------------------------------------------

inline void write_entries(Writer& w, const ProgramEntries& l) {
    for (std::uint64_t c : {std::uint64_t(l.list.size()), std::uint64_t(l.geometry.size()),
                            std::uint64_t(l.constants.size()), l.weight_count, std::uint64_t(l.indices.size())})
        w.u64(c);
    for (std::size_t k = 0; k < l.list.size(); ++k) {
        const Entry& e = l.list[k];
        // An op only where it is one (elementwise): the header names no other.
        const Op op = e.kind == EntryKind::elementwise ? e.op : Op::sink;
        for (std::uint8_t b : {static_cast<std::uint8_t>(e.kind), static_cast<std::uint8_t>(op),
                               static_cast<std::uint8_t>(e.reducer), e.ndim, e.split, e.flags})
            w.u8(b);
        for (index_t x : {e.first, e.size, e.a, e.b}) w.u32(x);
        for (std::uint64_t x : {e.geometry, e.data, e.weights}) w.u64(x);
        w.f64(e.scalar);
    }
    for (std::size_t k = 0; k < l.geometry.size(); ++k) w.u64(static_cast<std::uint64_t>(l.geometry[k]));
    for (std::size_t k = 0; k < l.constants.size(); ++k) w.f64(l.constants[k]);
    for (std::size_t k = 0; k < l.indices.size(); ++k) w.u32(l.indices[k]);
}

// Entries as written above; Program::validate checks them (the weight count
// too: no more than the reductions use).
inline void read_entries(Reader& r, ProgramEntries& l) {
    const std::uint64_t n = r.u64(), n_geometry = r.u64(), n_constants = r.u64(), n_weights = r.u64(),
                        n_indices = r.u64();
    constexpr std::uint64_t entry_bytes = 6 + 4 * 4 + 3 * 8 + 8;
    r.need(n, entry_bytes);
    l.list.resize(n);
    for (std::uint64_t k = 0; k < n; ++k) {
        Entry& e = l.list[k];
        e = Entry{};
        e.kind = static_cast<EntryKind>(r.u8());
        e.op = static_cast<Op>(r.u8());
        e.reducer = static_cast<Reducer>(r.u8());
        e.ndim = r.u8();
        e.split = r.u8();
        e.flags = r.u8();
        e.first = r.u32(); e.size = r.u32(); e.a = r.u32(); e.b = r.u32();
        e.geometry = r.u64(); e.data = r.u64(); e.weights = r.u64();
        e.scalar = r.f64();
    }
    l.weight_count = n_weights;
    r.need(n_geometry, 8);
    l.geometry.resize(n_geometry);
    for (std::uint64_t k = 0; k < n_geometry; ++k) l.geometry[k] = static_cast<std::int64_t>(r.u64());
    r.need(n_constants, 8);
    l.constants.resize(n_constants);
    for (std::uint64_t k = 0; k < n_constants; ++k) l.constants[k] = r.f64();
    r.need(n_indices, 4);
    l.indices.resize(n_indices);
    for (std::uint64_t k = 0; k < n_indices; ++k) l.indices[k] = r.u32();
}

inline void write_program(Writer& w, const Program& p) {
    const std::size_t n = p.num_nodes();
    for (std::uint64_t c : {std::uint64_t(n), std::uint64_t(p.inputs.size()), std::uint64_t(p.outputs.size()),
                            std::uint64_t(p.guards.size()), std::uint64_t(p.arg_shapes.size()),
                            std::uint64_t(p.sites.size())})
        w.u64(c);
    for (const Shape& s : p.arg_shapes) w.shape(s);
    w.shape(p.out_shape);
    w.bytes(p.ops.data(), n);
    for (const Parents& q : p.parents) { w.u32(q.a); w.u32(q.b); }
    for (double c : p.constants) w.f64(c);
    for (index_t s : p.inputs) w.u32(s);
    for (index_t s : p.outputs) w.u32(s);
    for (const Comparison& g : p.guards) {
        w.u8(static_cast<std::uint8_t>(g.kind));
        w.u8(static_cast<std::uint8_t>(g.b_is_constant | (g.outcome << 1)));
        w.u32(g.a);
        w.u32(g.b);
        w.f64(g.constant);
    }
    for (const std::string& s : p.sites) { w.u32(static_cast<std::uint32_t>(s.size())); w.bytes(s.data(), s.size()); }
    write_entries(w, p.entries);
}

inline Program read_program(Reader& r, const CodeMap& codes) {
    Program p;
    const std::uint64_t n = r.u64(), n_in = r.u64(), n_out = r.u64(), n_guards = r.u64(), n_args = r.u64(),
                        n_sites = r.u64();
    if (n > max_nodes) detail::reject("more than 2^32 - 1 nodes");
    r.need(n_args, 4);
    p.arg_shapes.resize(n_args);
    for (Shape& s : p.arg_shapes) s = r.shape();
    p.out_shape = r.shape();
    r.need(n, 1 + 8 + 8);
    p.ops.resize(n);
    for (auto& op : p.ops) op = r.u8();
    p.parents.resize(n);
    for (auto& q : p.parents) { q.a = r.u32(); q.b = r.u32(); }
    p.constants.resize(n);
    for (double& c : p.constants) c = r.f64();
    r.need(n_in, 4);
    p.inputs.resize(n_in);
    for (index_t& s : p.inputs) s = r.u32();
    r.need(n_out, 4);
    p.outputs.resize(n_out);
    for (index_t& s : p.outputs) s = r.u32();
    r.need(n_guards, 18);
    p.guards.resize(n_guards);
    for (Comparison& g : p.guards) {
        const std::uint8_t kind = r.u8(), flags = r.u8();
        if (flags > 3) detail::reject("a comparison with unknown flags");
        g.kind = static_cast<Compare>(kind);
        g.b_is_constant = flags & 1;
        g.outcome = (flags >> 1) & 1;
        g.a = r.u32();
        g.b = r.u32();
        g.constant = r.f64();
    }
    r.need(n_sites, 4);
    p.sites.resize(n_sites);
    for (std::string& s : p.sites) {
        const std::uint32_t len = r.u32();
        if (len > 4096) detail::reject("a source line longer than 4096 bytes");
        s = r.bytes(len);
        if (!is_clean_utf8(s)) detail::reject("a source line that is not UTF-8 text, or holds a NUL byte");
    }
    if (codes.version >= 2) read_entries(r, p.entries);
    renumber(p, codes);
    p.validate();
    return p;
}

inline std::string save(const std::vector<const Program*>& programs) {
    Writer w;
    w.bytes(magic, sizeof magic);
    w.u32(format_version);
    write_names(w, programs);
    w.u32(static_cast<std::uint32_t>(programs.size()));
    for (const Program* p : programs) write_program(w, *p);
    std::string& s = w.str();
    w.u64(checksum(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
    return std::move(s);
}

// The programs of a bundle, read through `codes`.
inline std::vector<Program> read_bundle(Reader r, const CodeMap& codes) {
    const std::uint32_t count = r.u32();
    if (count == 0 || count > max_programs) detail::reject("a bundle of " + std::to_string(count) + " programs");
    std::vector<Program> programs;
    for (std::uint32_t k = 0; k < count; ++k) programs.push_back(read_program(r, codes));
    if (r.remaining() != 0) detail::reject("unexpected bytes after the last program");
    for (const Program& q : programs)  // one function: every recorded branch has its signature
        if (q.arg_shapes != programs[0].arg_shapes || q.out_shape != programs[0].out_shape)
            detail::reject("the programs of a bundle disagree about the argument or output shapes");
    return programs;
}

// Format 1 under both tables that wrote it (format_history.hpp): a file valid
// under exactly one of them was written by that one (each build wrote only
// files valid under its own table); one valid under both could mean either
// function, so it is refused rather than guessed.
inline std::vector<Program> read_format1(const Reader& r) {
    const CodeMap before = CodeMap::historical(1, history::format1_ops_before_entry);
    const CodeMap with = CodeMap::historical(1, history::format1_ops_with_entry);
    std::vector<Program> a, b;
    try { a = read_bundle(r, before); } catch (const invalid_program&) {}
    try { b = read_bundle(r, with); } catch (const invalid_program&) { if (a.empty()) throw; }
    if (a.empty()) return b;
    if (b.empty()) return a;
    bool same = a.size() == b.size();
    for (std::size_t k = 0; same && k < a.size(); ++k) same = a[k].ops == b[k].ops;
    if (!same)
        detail::reject("format version 1 files were written by two tapegrad builds that numbered their ops "
                       "differently (before and after the array entries, November 2026), and this file is valid "
                       "under both, so which function it holds cannot be told. Compile the function again and save "
                       "it with this version (format " + std::to_string(format_version) + ")");
    return b;
}

inline std::vector<Program> load(const std::uint8_t* data, std::size_t size, const Limits& limits = {}) {
    if (size < sizeof magic || std::memcmp(data, magic, sizeof magic) != 0)
        detail::reject("these bytes are not a tapegrad compiled tape (no TAPEGRAD header)");
    Reader head(data + sizeof magic, size - sizeof magic);
    const std::uint32_t version = head.u32();
    if (version == 0 || version > format_version)
        detail::reject("format version " + std::to_string(version) + ", but this tapegrad reads versions 1 to " +
                       std::to_string(format_version) + (version > format_version ? ": upgrade tapegrad" : ""));
    if (size < sizeof magic + 4 + 4 + 8) detail::reject("the bytes end early (truncated)");
    std::uint64_t stored = 0;
    for (int k = 0; k < 8; ++k) stored |= std::uint64_t(data[size - 8 + k]) << (8 * k);
    if (stored != checksum(data, size - 8))
        detail::reject("checksum mismatch: the bytes were corrupted or truncated");

    Reader r(data + sizeof magic + 4, size - sizeof magic - 4 - 8);
    std::vector<Program> programs;
    if (version == 1) programs = read_format1(r);
    else if (version == 2) programs = read_bundle(r, CodeMap::historical(2, history::format1_ops_with_entry));
    else {
        const CodeMap codes = read_names(r);
        programs = read_bundle(r, codes);
    }
    check_limits(programs, size, limits);
    return programs;
}

}  // namespace tapegrad::serial
