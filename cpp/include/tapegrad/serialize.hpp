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
//     sites × (u32 length, bytes)    source lines (debug), UTF-8
//     (version 2:) array entries
//     u64 entries, geometry, constants, weights, indices   counts
//     entries × (u8 kind, op, reducer, ndim, split, flags,
//                u32 first, size, a, b, u64 geometry, data, weights, f64 scalar)
//     geometry × i64, constants × f64, indices × u32
//                                    (weights: only their count, the size of
//                                    replay's own reduction workspace)
//   u64 checksum                     FNV-1a 64 of every byte before it
//
// A bundle holds several programs when compile(..., retrace=True) recorded one
// per branch pattern.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "program.hpp"

namespace tapegrad::serial {

inline constexpr char magic[8] = {'T', 'A', 'P', 'E', 'G', 'R', 'A', 'D'};
inline constexpr std::uint32_t format_version = 2;  // 2: array entries
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

inline void write_entries(Writer& w, const ProgramEntries& l) {
    for (std::uint64_t c : {std::uint64_t(l.list.size()), std::uint64_t(l.geometry.size()),
                            std::uint64_t(l.constants.size()), l.weight_count, std::uint64_t(l.indices.size())})
        w.u64(c);
    for (std::size_t k = 0; k < l.list.size(); ++k) {
        const Entry& e = l.list[k];
        for (std::uint8_t b : {static_cast<std::uint8_t>(e.kind), static_cast<std::uint8_t>(e.op),
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

inline Program read_program(Reader& r, std::uint32_t version) {
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
    }
    if (version >= 2) read_entries(r, p.entries);
    p.validate();
    return p;
}

inline std::string save(const std::vector<const Program*>& programs) {
    Writer w;
    w.bytes(magic, sizeof magic);
    w.u32(format_version);
    w.u32(static_cast<std::uint32_t>(programs.size()));
    for (const Program* p : programs) write_program(w, *p);
    std::string& s = w.str();
    w.u64(checksum(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
    return std::move(s);
}

inline std::vector<Program> load(const std::uint8_t* data, std::size_t size) {
    if (size < sizeof magic || std::memcmp(data, magic, sizeof magic) != 0)
        detail::reject("these bytes are not a tapegrad compiled tape (no TAPEGRAD header)");
    Reader head(data + sizeof magic, size - sizeof magic);
    const std::uint32_t version = head.u32();
    if (version == 0 || version > format_version)
        detail::reject("format version " + std::to_string(version) + ", but this tapegrad reads version " +
                       std::to_string(format_version) + (version > format_version ? ": upgrade tapegrad" : ""));
    if (size < sizeof magic + 4 + 4 + 8) detail::reject("the bytes end early (truncated)");
    std::uint64_t stored = 0;
    for (int k = 0; k < 8; ++k) stored |= std::uint64_t(data[size - 8 + k]) << (8 * k);
    if (stored != checksum(data, size - 8))
        detail::reject("checksum mismatch: the bytes were corrupted or truncated");

    Reader r(data + sizeof magic + 4, size - sizeof magic - 4 - 8);
    const std::uint32_t count = r.u32();
    if (count == 0 || count > max_programs) detail::reject("a bundle of " + std::to_string(count) + " programs");
    std::vector<Program> programs;
    for (std::uint32_t k = 0; k < count; ++k) programs.push_back(read_program(r, version));
    if (r.remaining() != 0) detail::reject("unexpected bytes after the last program");
    for (const Program& q : programs)  // one function: every recorded branch has its signature
        if (q.arg_shapes != programs[0].arg_shapes || q.out_shape != programs[0].out_shape)
            detail::reject("the programs of a bundle disagree about the argument or output shapes");
    return programs;
}

}  // namespace tapegrad::serial
