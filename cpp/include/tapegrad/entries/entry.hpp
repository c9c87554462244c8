// Array entries: one tape entry per whole-array operation.
//
// An entry owns a contiguous range of NEW slots [first, first + size) of the
// tape: their values are the array's elements (so scalar code reads them like
// any node), their opcode is Op::entry and their parents are sinks. The
// per-element partials of an elementwise entry sit in partials[slot].a/.b of
// its own output slots, so sweeping it is a vectorisable loop with no parent
// indices at all. What an entry needs beyond that (shape and strides of its
// operands, reduction weights, constant matrices, gather sources) lives in the
// arenas of an EntryList, referenced by offset.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "../buffer.hpp"
#include "../config.hpp"
#include "../dual.hpp"
#include "../interrupt.hpp"
#include "../ops.hpp"

namespace tapegrad {

// Saved files number entry kinds (format 2) or name them (format 3): append
// new kinds at the end, never insert or reorder (tests/data/format_tables.json).
enum class EntryKind : std::uint8_t {
    elementwise,  // an op-table row applied elementwise, operands broadcast
    reduce,       // a reduction over trailing axes of its space (see Reducer)
    gather,       // out[j] = in[src[j]] or a constant: fancy indexing, concatenate, stack, where, clip
    matmul,       // (M x K) @ (K x N); vectors are 1-row or 1-column views
    cumsum,       // running sum along the last axis of its space
    inputs,       // a block of input nodes (Op::input): nothing to sweep, so the sweep skips it
    dense,        // act(X @ W + b) on BLAS (entries/dense.hpp): dense layers, large matmuls
    fused,        // a program of elementwise rows over leaves, optionally summed (entries/fused.hpp)
};

inline constexpr int entry_kind_count = static_cast<int>(EntryKind::fused) + 1;

// The kind's name, as Python shows it (entry counts, branch messages).
inline const char* entry_kind_name(EntryKind k) noexcept {
    switch (k) {
        case EntryKind::elementwise: return "elementwise";
        case EntryKind::reduce: return "reduce";
        case EntryKind::gather: return "gather";
        case EntryKind::matmul: return "matmul";
        case EntryKind::cumsum: return "cumsum";
        case EntryKind::inputs: return "inputs";
        case EntryKind::dense: return "dense";
        case EntryKind::fused: return "fused";
    }
    return "array";  // not a kind (a program is validated before any message names one)
}

// Stored as numbers in saved files: append only.
enum class Reducer : std::uint8_t { sum, prod, max, min, logsumexp, norm };

namespace entry_flags {
// elementwise _vc/_cv: the constant differs per element; each output keeps its
// own in partials[slot].b (else it is Entry::scalar, copied there too).
inline constexpr std::uint8_t constant_per_element = 1;
inline constexpr std::uint8_t a_constant = 2;  // matmul: A is in EntryList::constants
inline constexpr std::uint8_t b_constant = 4;  // matmul: B is in EntryList::constants
inline constexpr std::uint8_t fused_sum = 8;   // fused: outputs are sums over the trailing axes, times Entry::scalar
}  // namespace entry_flags

// The partials of one slot, on any number type (replay runs entries on dual
// numbers too); on doubles the tape's own Partials has the same layout.
template <class T>
struct PartialPair { T a, b; };

struct Entry {
    EntryKind kind;
    Op op;                   // elementwise: the op-table opcode (name, name_vc or name_cv)
    Reducer reducer;         // reduce
    std::uint8_t ndim;       // axes of the iteration space
    std::uint8_t split;      // reduce: the leading `split` axes are kept (one output each), the rest reduced
    std::uint8_t flags;      // entry_flags
    index_t first, size;     // the output slots [first, first + size), contiguous over the space
    index_t a, b;            // first slot of the variable operand(s)
    std::uint64_t geometry;  // EntryList::geometry offset: shape[ndim], then one stride vector per operand walk
    std::uint64_t data;      // EntryList::constants (matmul) or EntryList::indices (gather) offset
    std::uint64_t weights;   // EntryList::weights offset: reduce's per-input partials
    double scalar;           // elementwise: the scalar constant; reduce sum: the uniform partial (1 or 1/n)
};

// A growable array whose growth never copies (Buffer), addressed by offset
// because its storage may move.
template <class T>
class Arena {
public:
    std::size_t size() const noexcept { return size_; }
    T* data() noexcept { return buf_.data(); }
    const T* data() const noexcept { return buf_.data(); }
    T& operator[](std::size_t i) noexcept { return buf_[i]; }
    const T& operator[](std::size_t i) const noexcept { return buf_[i]; }

    // Room for n more elements (uninitialised); returns the offset of the first.
    std::size_t extend(std::size_t n) {
        if (n > buf_.capacity() - size_) buf_.reserve(std::max({size_ + n, 2 * buf_.capacity(), std::size_t(256)}));
        const std::size_t at = size_;
        size_ += n;
        high_water_ = std::max(high_water_, size_);
        return at;
    }
    void clear() noexcept { size_ = 0; }
    // RAM held: the pages written so far (kept across clear()).
    std::size_t bytes() const noexcept {
        constexpr std::size_t page = 4096;
        return std::min(buf_.bytes(), (high_water_ * sizeof(T) + page - 1) / page * page);
    }

private:
    Buffer<T> buf_;
    std::size_t size_ = 0, high_water_ = 0;
};

struct EntryList {
    Arena<Entry> list;               // sorted by first slot: recording order
    Arena<std::int64_t> geometry;    // shapes and strides
    Arena<double> constants;         // constant operands the partials cannot hold (matmul)
    Arena<double> weights;           // partials that do not fit in the output slots (reduce)
    Arena<index_t> indices;          // gather sources

    bool empty() const noexcept { return list.size() == 0; }
    void clear() noexcept {
        list.clear(); geometry.clear(); constants.clear(); weights.clear(); indices.clear();
    }
    std::size_t bytes() const noexcept {
        return list.bytes() + geometry.bytes() + constants.bytes() + weights.bytes() + indices.bytes();
    }
};

}  // namespace tapegrad
