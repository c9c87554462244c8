// The tape: one node per elementary operation, stored as flat arrays.
//
// Per node: opcode (1 byte), two parent indices (2 x 4), two partials (2 x 8)
// and the value (8): 33 bytes. The first `num_sinks` slots are sinks: a unary
// op's second parent, a constant operand's "parent" and an input's parents
// point at one, so the reverse sweep never branches on arity or opcode.
//
// Why eight sinks and not one: every unary node adds 0 * g into its sink, a
// read-modify-write. With a single sink those updates form one serial chain
// through memory (store-to-load forwarding plus an add, ~9 cycles a node) and
// that chain, not bandwidth, bounded the sweep: 2.3-3.6 ns/node on the random
// DAG benchmark. Node i uses sink i % 8, so consecutive updates hit different
// addresses and overlap: 1.7-1.9 ns/node on the same DAG.
#pragma once
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "buffer.hpp"
#include "config.hpp"
#include "entries/entry.hpp"  // the descriptor only: the kernels are arrays.hpp's (EntrySweep)
#include "interrupt.hpp"
#include "ops.hpp"

namespace tapegrad {

struct Parents { index_t a, b; };
// Slots below this are sinks (see above); the first real node has this index.
inline constexpr index_t first_node = 8;
struct Partials { double a, b; };
static_assert(sizeof(Parents) == 8 && sizeof(Partials) == 16, "packed node fields");

// A comparison made while recording (`v < w`, `v > 0.5`, `if v:`), or a value
// that left the tape through float(v) / int(v) (`escape`). Comparisons return
// plain bools, so the tape alone cannot tell which branch a recording took:
// replay re-checks these and refuses to reuse a tape whose branch would change.
enum class Compare : std::uint8_t { lt, le, gt, ge, eq, ne, escape, count };
struct Comparison {
    index_t a, b;         // operand nodes; b is unused when b_is_constant
    double constant;      // the right operand when it is a number (escape: the value taken)
    Compare kind;
    bool b_is_constant;
    bool outcome;         // what the comparison gave while recording
};

inline bool compare(Compare kind, double a, double b) noexcept {
    switch (kind) {
        case Compare::lt: return a < b;
        case Compare::le: return a <= b;
        case Compare::gt: return a > b;
        case Compare::ge: return a >= b;
        case Compare::eq: return a == b;
        case Compare::ne: return a != b;
        default: return false;
    }
}

namespace detail {

// x where mask is all ones, +0.0 where it is zero: a select without a branch.
inline double masked(double x, std::uint64_t mask) noexcept {
    std::uint64_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    bits &= mask;
    std::memcpy(&x, &bits, sizeof bits);
    return x;
}

// The loop of the chain rule, over nodes out..lo. A free function so
// that `restrict` sits on parameters, where GCC honours it (measured: 1.85 vs
// 2.4 ns/node as a member loop over local restrict pointers).
//
// A node off the output's path has adjoint 0, and 0 * inf would be NaN: with a
// non-finite partial on the tape such nodes must pass exactly 0 to their
// parents. Masking costs ~20% of the sweep (the mask joins the dependency
// chain), so it runs only on tapes that need it, which recording tracks.
template <bool MaskDeadNodes>
inline void sweep_loop(const Parents* TG_RESTRICT par, const Partials* TG_RESTRICT d,
                       double* TG_RESTRICT adjoint, index_t out, index_t lo = first_node) noexcept {
    for (index_t i = out; i >= lo; --i) {
        const double g = adjoint[i];
        if constexpr (MaskDeadNodes) {
            const std::uint64_t live = -static_cast<std::uint64_t>(g != 0.0);  // all ones or zero
            adjoint[par[i].a] += masked(d[i].a * g, live);
            adjoint[par[i].b] += masked(d[i].b * g, live);
        } else {
            adjoint[par[i].a] += d[i].a * g;
            adjoint[par[i].b] += d[i].b * g;
        }
    }
}

// An id of the calling thread that costs one instruction: its thread pointer,
// distinct for every live thread. Recording compares it on every push.
inline std::uintptr_t this_thread_id() noexcept {
#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__)
    std::uintptr_t tp;
    asm("mov %%fs:0, %0" : "=r"(tp));  // the x86-64 TLS ABI keeps the thread pointer at %fs:0
    return tp;
#elif defined(__GNUC__) && defined(__aarch64__)
    std::uintptr_t tp;
    asm("mrs %0, tpidr_el0" : "=r"(tp));
    return tp;
#else
    static thread_local const char token = 0;
    return reinterpret_cast<std::uintptr_t>(&token);
#endif
}

}  // namespace detail

// Thrown when a thread records on a tape that another thread is recording on
// (see "Threads" in class Tape).
class tape_thread_error : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

// How the sweep runs array entries (other than blocks of inputs, which it
// skips): their kernels are compiled with the code that records them, which
// sets this on the tape as it commits an entry (arrays.hpp, commit_entry), so
// that the scalar core (this header, scalar.hpp) compiles none of them.
struct EntrySweep {
    // Before the sweep touches an adjoint (may throw std::bad_alloc).
    void (*prepare)(const EntryList& list);
    // adj[operands] += (d outputs / d operands)^T g for the first `count` outputs of e.
    void (*backward)(const Entry& e, const EntryList& list, const Partials* partials, const double* values,
                     const double* g, std::int64_t count, double* adj, const Interrupt* stop) noexcept;
};

inline constexpr std::size_t bytes_per_node =
    sizeof(std::uint8_t) + sizeof(Parents) + sizeof(Partials) + sizeof(double);

class Tape {
public:
    // `limit` caps the number of nodes (sink included); tests lower it to reach
    // the "tape full" error without recording four billion nodes.
    explicit Tape(std::uint64_t limit = max_nodes)
        : limit_(static_cast<index_t>(std::min<std::uint64_t>(limit, max_nodes))) {
        if (limit_ < num_sinks)
            throw std::invalid_argument("tapegrad: a tape needs room for at least its " +
                                        std::to_string(num_sinks) + " sink nodes");
        reset();
    }

    static constexpr index_t num_sinks = first_node;

    index_t size() const noexcept { return n_; }
    index_t limit() const noexcept { return limit_; }
    // Changes on every reset(): a front-end variable remembers the generation it
    // was made in, so using it after a reset is detected instead of reading a
    // slot that now holds something else.
    std::uint32_t generation() const noexcept { return generation_; }

    const std::uint8_t* ops() const noexcept { return op_.data(); }
    const Parents* parents() const noexcept { return parents_.data(); }
    const Partials* partials() const noexcept { return partials_.data(); }
    const double* values() const noexcept { return value_.data(); }
    double value(index_t i) const noexcept { return value_[i]; }
    Op op(index_t i) const noexcept { return static_cast<Op>(op_[i]); }

    // Append one node and return its index. Amortised O(1); never allocates
    // per node. Always inlined: it is the hot path of every recorder, and
    // GCC's inliner gave up on it in the Cython module (a PLT call per node).
    TG_ALWAYS_INLINE index_t push(Op op, index_t pa, index_t pb, double da, double db, double v) {
        // One branch for both rare cases: the arrays are full, or this thread
        // is not (yet) the tape's recording thread.
        if (TG_UNLIKELY((n_ == capacity_) |
                        (recorder_.load(std::memory_order_relaxed) != detail::this_thread_id())))
            prepare_push();
        const index_t i = n_++;
        op_[i] = static_cast<std::uint8_t>(op);
        parents_[i] = Parents{pa, pb};
        partials_[i] = Partials{da, db};
        value_[i] = v;
        all_partials_finite_ &= std::isfinite(da) & std::isfinite(db);  // no branch
        return i;
    }

    // A node with one parent `pa`; its second parent is a sink, whose partial
    // slot `db` is free to keep a constant operand (the sweep adds db * g into
    // the sink, which nobody reads).
    index_t push_unary(Op op, index_t pa, double da, double db, double v) {
        return push(op, pa, sink_of(n_), da, db, v);
    }

    index_t push_input(double v) { return push(Op::input, sink_of(n_), sink_of(n_), 0.0, 0.0, v); }

    // ---- array entries (entries.hpp; recorded by arrays.hpp) ----

    // `count` input nodes holding values[0..count) in one go; returns the
    // first. A block of them is also an entry (EntryKind::inputs) that the
    // sweep skips: the scalar loop would spend ~2 ns a node adding zeros into sinks.
    // Nothing reads an input's partials, so a block leaves them unwritten: at
    // a training step's million parameters they were 16 of its 33 bytes a node.
    index_t push_inputs(const double* values, index_t count) {
        const index_t first = reserve_slots(count, Op::input);
        if (count == 1) partials_[first] = Partials{0.0, 0.0};  // a lone input is swept by the scalar loop
        if (count) std::memcpy(value_.data() + first, values, count * sizeof(double));
        if (count > 1) {
            Entry e{};
            e.kind = EntryKind::inputs;
            e.first = first;
            e.size = count;
            std::lock_guard<std::mutex> hold(storage_mutex_);  // a sweep in another thread reads the list
            entries_.list[entries_.list.extend(1)] = e;
        }
        return first;
    }

    // The output slots of an entry: `count` slots with opcode Op::entry and
    // sink parents (so the scalar loop would be a no-op over them); the
    // recorder writes their values and partials. Returns the first.
    index_t push_block(index_t count) { return reserve_slots(count, Op::entry); }

    double* mutable_values() noexcept { return value_.data(); }
    Partials* mutable_partials() noexcept { return partials_.data(); }
    const EntryList& entries() const noexcept { return entries_; }

    // Grow the entry arenas or append an entry: f(EntryList&) runs under the
    // storage lock, because a sweep in another thread reads them.
    template <class F>
    auto with_entries(F&& f) {
        std::lock_guard<std::mutex> hold(storage_mutex_);
        return f(entries_);
    }

    void note_partials_finite(bool finite) noexcept { all_partials_finite_ &= finite; }

    // The kernels the sweep runs entries with (EntrySweep): set by commit_entry,
    // under the storage lock (with_entries).
    void set_entry_sweep(const EntrySweep* kernels) noexcept { entry_sweep_ = kernels; }

    static constexpr index_t sink_of(index_t i) noexcept { return i % num_sinks; }
    static constexpr bool is_sink(index_t i) noexcept { return i < num_sinks; }

    // Forget every node but keep the memory, so recording again allocates nothing.
    void reset() {
        std::lock_guard<std::mutex> hold(storage_mutex_);
        high_water_ = std::max(high_water_, n_);
        n_ = 0;
        ++generation_;
        recorder_.store(0, std::memory_order_relaxed);
        all_partials_finite_ = true;
        comparisons_.clear();
        entries_.clear();
        for (index_t k = 0; k < num_sinks; ++k) {
            if (n_ == capacity_) grow_locked();
            op_[n_] = static_cast<std::uint8_t>(Op::sink);
            parents_[n_] = Parents{k, k};
            partials_[n_] = Partials{0.0, 0.0};
            value_[n_] = 0.0;
            ++n_;
        }
    }

    // Threads: recording (push) is for one thread at a time, but a sweep of
    // nodes 0..out may run in another thread meanwhile: new nodes land beyond
    // `out`, and the two operations that would pull the arrays from under a
    // sweep (growing, which may move them, and reset) wait for this lock, which
    // a sweeper holds for the whole sweep.
    std::unique_lock<std::mutex> lock_storage() const { return std::unique_lock<std::mutex>(storage_mutex_); }

    // The first push after a reset makes the pushing thread the tape's
    // recording thread; a push from any other thread then throws
    // tape_thread_error instead of racing it, until reset() or
    // release_thread(). The check is one compare in push, and lets every
    // front end (Python, Cython without the GIL, C++) detect the misuse.
    void release_thread() noexcept { recorder_.store(0, std::memory_order_release); }
    // True when no thread has recorded since the last reset()/release_thread().
    bool has_recording_thread() const noexcept { return recorder_.load(std::memory_order_relaxed) != 0; }

    // Reverse sweep. `adjoint` holds at least out + 1 entries, zero except the
    // seeds the caller set (adjoint[out] = 1 for a gradient). Afterwards
    // adjoint[i] is d(seeded outputs)/d(node i) for every non-sink i <= out.
    // Throws (std::bad_alloc) only before touching any adjoint, and
    // `interrupted` when `stop` (optional, see interrupt.hpp) asks for it;
    // then the adjoints are partial, and the tape is as it was.
    void sweep(index_t out, double* TG_RESTRICT adjoint, const Interrupt* stop = nullptr) const {
        if (!entries_.empty()) {
            if (entry_sweep_) {
                entry_sweep_->prepare(entries_);
            } else {
                for (std::size_t k = 0; k < entries_.list.size(); ++k)
                    if (entries_.list[k].kind != EntryKind::inputs)
                        throw std::logic_error("tapegrad: an array entry was added without commit_entry (arrays.hpp)");
            }
            all_partials_finite_ ? sweep_segments<false>(out, adjoint, stop)
                                 : sweep_segments<true>(out, adjoint, stop);
        } else if (all_partials_finite_) {
            sweep_nodes<false>(out, first_node, adjoint, stop);
        } else {
            sweep_nodes<true>(out, first_node, adjoint, stop);
        }
    }

    // False once a node stored an infinite or NaN partial (log at 0, x * inf).
    bool all_partials_finite() const noexcept { return all_partials_finite_; }

    // RAM the arrays occupy: the pages written so far (kept across reset).
    // Address space reserved ahead of recording is not counted: on Linux it
    // costs nothing until written.
    std::size_t nbytes() const noexcept {
        const std::size_t nodes = std::max(high_water_, n_);
        return held(op_, nodes) + held(parents_, nodes) + held(partials_, nodes) + held(value_, nodes) +
               entries_.bytes();
    }

    // Comparisons recorded so far, in order (see Comparison). Kept beside the
    // node arrays so that the arithmetic hot path does not change.
    void record_comparison(Compare kind, index_t a, index_t b, double constant, bool b_is_constant, bool outcome) {
        comparisons_.push_back(Comparison{a, b, constant, kind, b_is_constant, outcome});
    }
    const std::vector<Comparison>& comparisons() const noexcept { return comparisons_; }
    // Set by compile(debug=True): the front end then also notes each
    // comparison's source line (it keeps those strings itself).
    bool record_sites = false;

private:
    // The scalar loop over nodes hi..lo. With `stop`, in chunks of
    // Interrupt::check_every nodes with a check between two (Ctrl-C).
    template <bool Mask>
    void sweep_nodes(index_t hi, index_t lo, double* TG_RESTRICT adjoint, const Interrupt* stop) const {
        if (hi < lo) return;
        while (stop && hi - lo >= Interrupt::check_every) {
            const index_t chunk_lo = hi - static_cast<index_t>(Interrupt::check_every - 1);
            detail::sweep_loop<Mask>(parents_.data(), partials_.data(), adjoint, hi, chunk_lo);
            stop->check();
            hi = chunk_lo - 1;
        }
        detail::sweep_loop<Mask>(parents_.data(), partials_.data(), adjoint, hi, lo);
    }

    // With array entries the sweep alternates: the scalar loop over the nodes
    // between two entries, then the entry's own backward when it is reached
    // (all its outputs' adjoints are complete then: their users come later).
    template <bool Mask>
    void sweep_segments(index_t out, double* TG_RESTRICT adjoint, const Interrupt* stop) const {
        const Entry* begin = entries_.list.data();
        const Entry* it = std::upper_bound(begin, begin + entries_.list.size(), out,
                                           [](index_t slot, const Entry& e) { return slot < e.first; });
        index_t hi = out;  // the highest slot not yet swept
        while (it != begin) {
            const Entry& e = *--it;
            const index_t last = e.first + e.size - 1;
            if (hi > last) sweep_nodes<Mask>(hi, last + 1, adjoint, stop);
            // A sweep that starts inside e has adjoints for its outputs up to `out` only.
            const index_t count = std::min(hi, last) - e.first + 1;
            if (e.kind != EntryKind::inputs)  // (a block of inputs has no parents)
                entry_sweep_->backward(e, entries_, partials_.data(), value_.data(), adjoint + e.first, count,
                                       adjoint, stop);
            check(stop);  // (an entry's kernel stops early when asked; it does not throw)
            hi = e.first - 1;
        }
        sweep_nodes<Mask>(hi, first_node, adjoint, stop);
    }

    index_t reserve_slots(index_t count, Op op) {
        if (recorder_.load(std::memory_order_relaxed) != detail::this_thread_id()) claim_thread();
        while (capacity_ - n_ < count) grow();  // throws "tape is full" past the limit
        const index_t first = n_, end = n_ + count;
        std::memset(op_.data() + first, static_cast<int>(op), count);
        // parents {i % 8, i % 8}, copied eight at a time from one pattern (a
        // per-slot loop cost a third of recording an elementwise entry)
        static constexpr Parents sinks[num_sinks] = {{0, 0}, {1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 5}, {6, 6}, {7, 7}};
        index_t i = first;
        for (; i < end && i % num_sinks; ++i) parents_[i] = sinks[i % num_sinks];
        for (; end - i >= num_sinks; i += num_sinks) std::memcpy(&parents_[i], sinks, sizeof sinks);
        for (; i < end; ++i) parents_[i] = sinks[i % num_sinks];
        n_ = end;
        return first;
    }

    template <class T>
    static std::size_t held(const Buffer<T>& b, std::size_t nodes) noexcept {
        constexpr std::size_t page = 4096;
        return std::min(b.bytes(), (nodes * sizeof(T) + page - 1) / page * page);
    }

    // The rare half of push(): claim the tape for this thread, grow it.
    TG_NOINLINE void prepare_push() {
        claim_thread();
        if (n_ == capacity_) grow();
    }

    // Make the calling thread the tape's recording thread, or throw if another
    // thread is.
    void claim_thread() {
        const std::uintptr_t me = detail::this_thread_id();
        std::uintptr_t owner = recorder_.load(std::memory_order_acquire);
        if (owner != me && (owner != 0 || !recorder_.compare_exchange_strong(owner, me)))
            throw tape_thread_error(
                "tapegrad: another thread is recording on this tape. A tape records in one thread at a "
                "time: give each thread its own tape (tapegrad.grad does), or have the other thread "
                "release it first (reset(), or release_thread() to keep its nodes).");
    }

    TG_NOINLINE void grow() {
        std::lock_guard<std::mutex> hold(storage_mutex_);
        grow_locked();
    }

    void grow_locked() {
        if (capacity_ >= limit_) {
            throw std::overflow_error("tapegrad: the tape is full (" + std::to_string(limit_) +
                                      " nodes). Record less per tape: reset() it between "
                                      "independent computations, or split the work over several tapes.");
        }
        // Doubling reserves address space, not RAM (see Buffer), so it is cheap.
        const std::uint64_t want = std::max<std::uint64_t>(std::uint64_t(capacity_) * 2, 1u << 12);
        const index_t cap = static_cast<index_t>(std::min<std::uint64_t>(want, limit_));
        op_.reserve(cap);
        parents_.reserve(cap);
        partials_.reserve(cap);
        value_.reserve(cap);
        capacity_ = cap;
    }

    Buffer<std::uint8_t> op_;
    Buffer<Parents> parents_;
    Buffer<Partials> partials_;
    Buffer<double> value_;
    index_t n_ = 0;
    index_t capacity_ = 0;
    index_t high_water_ = 0;
    index_t limit_;
    std::uint32_t generation_ = 0;
    bool all_partials_finite_ = true;
    std::atomic<std::uintptr_t> recorder_{0};  // this_thread_id() of the recording thread, 0 for none
    std::vector<Comparison> comparisons_;
    EntryList entries_;
    const EntrySweep* entry_sweep_ = nullptr;  // set once an entry other than inputs is committed
    mutable std::mutex storage_mutex_;
};

}  // namespace tapegrad
