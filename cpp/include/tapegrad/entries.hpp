// Array entries: the descriptor (entries/entry.hpp), one header per kind, and
// the two dispatchers the rest of tapegrad calls:
//
//   forward_entry<T>(e, list, values, partials, weights, stop)
//       values and partials of e's output slots from its operands' values.
//       Recording runs it on doubles; replay may run it again, on doubles or
//       dual numbers, with arrays of its own (slot-indexed, like the tape's).
//       Two kinds also READ partials they keep constants in: an elementwise
//       _vc/_cv entry flagged constant_per_element (each constant in
//       partials[slot].b) and a gather (partials {1, 0} for a copy, {0, c} for
//       a constant). A replay into fresh arrays copies those from the tape first.
//       A dense entry writes partials[first].a (whether X W + b was finite),
//       which its backward reads; on dual numbers it runs entries/dense_dual.hpp.
//   backward_entry<T>(e, list, partials, values, weights, g, count, adj, stop)
//       adj[operands] += (d outputs / d operands)^T g, for the first `count`
//       outputs; what the reverse sweep runs when it reaches e (the tape on
//       doubles, replay on doubles or dual numbers). An output with
//       adjoint 0 always passes exactly 0 (even through an inf/NaN partial):
//       unlike the scalar loop, whose dependency chain the mask lengthens,
//       these loops are streams where the mask costs little, so there is no
//       unmasked variant to choose.
//
// Both take an optional Interrupt (Ctrl-C, interrupt.hpp): when it asks, the
// kernel stops early and returns, its outputs partial; the caller throws.
//
// A new EntryKind is one case in each switch below (and in
// program_entries.hpp's validation): a templated forward (any T: double and
// Dual, partials PP = Partials or PartialPair<T>) and a templated backward
// (adjoints, values and partials of that T), reading only its own output
// slots, operand slots below e.first and its arenas.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "entries/cumsum.hpp"
#include "entries/dense.hpp"
#include "entries/dense_dual.hpp"
#include "entries/elementwise.hpp"
#include "entries/entry.hpp"
#include "entries/fused.hpp"
#include "entries/gather.hpp"
#include "entries/matmul.hpp"
#include "entries/reduce.hpp"

namespace tapegrad {

// `List` is the tape's EntryList or a compiled Program's ProgramEntries: what
// has geometry, constants and indices arrays with data().
template <class T, class PP, class List>
inline void forward_entry(const Entry& e, const List& list, T* values, PP* partials, T* weights,
                          const Interrupt* stop = nullptr) {
    const std::int64_t* geometry = list.geometry.data() + e.geometry;
    const double* constants = list.constants.data();
    Poll poll(stop);
    switch (e.kind) {
        case EntryKind::elementwise: entries::forward_elementwise(e, geometry, values, partials, poll); return;
        case EntryKind::reduce: entries::forward_reduce(e, geometry, values, weights, poll); return;
        case EntryKind::gather: entries::forward_gather(e, list.indices.data(), values, partials, poll); return;
        case EntryKind::matmul: entries::forward_matmul(e, geometry, constants, values, poll); return;
        case EntryKind::cumsum: entries::forward_cumsum(e, geometry, values, poll); return;
        case EntryKind::inputs: return;  // their values are given
        case EntryKind::dense:
            if constexpr (std::is_same_v<T, double>)
                entries::forward_dense(e, geometry, constants, values, partials, poll);
            else
                entries::forward_dense_dual(e, geometry, constants, values, partials, poll);
            return;
        case EntryKind::fused: entries::forward_fused(e, geometry, constants, values, poll); return;
    }
}

// The arenas forward_entry reads, as plain pointers: what the tape's
// EntryList and a compiled Program's ProgramEntries both give, so that one
// copy of the cloned kernel below serves recording and replay.
struct EntryArenas {
    template <class E>
    struct Ptr {
        const E* p;
        const E* data() const noexcept { return p; }
    };
    Ptr<std::int64_t> geometry;
    Ptr<double> constants;
    Ptr<index_t> indices;

    template <class List>
    static EntryArenas of(const List& list) noexcept {
        return {{list.geometry.data()}, {list.constants.data()}, {list.indices.data()}};
    }
};

// forward_entry on doubles, built for AVX2 and for any x86-64
// (TG_CLONED_KERNEL; where it compiles: TG_KERNEL_INLINE in config.hpp).
// Recording (arrays.hpp's run_entry: the tape's Partials have the layout of
// PartialPair<double>) and replay on doubles (replay.hpp) both run it.
// Measured: the elementwise forward loops run 1.3x faster with AVX2, the
// Rosenbrock benchmark (n = 10^4) 4% faster.
#if defined(TAPEGRAD_SHARED_KERNELS) && !defined(TAPEGRAD_COMPILE_FORWARD_KERNEL)
void forward_entry_double(const Entry& e, const EntryArenas& list, double* values, PartialPair<double>* partials,
                          double* weights, const Interrupt* stop);
#else
TG_CLONED_KERNEL TG_KERNEL_INLINE void forward_entry_double(const Entry& e, const EntryArenas& list, double* values,
                                                            PartialPair<double>* partials, double* weights,
                                                            const Interrupt* stop) {
    forward_entry<double>(e, list, values, partials, weights, stop);
}
#endif

// Generic over the number type T of values, adjoints and reduction weights
// (double, or Dual when replay runs forward-over-reverse); `weights` is what
// forward_entry<T> filled (on the tape: list.weights).
template <class T, class PP, class List>
inline void backward_entry(const Entry& e, const List& list, const PP* partials, const T* values,
                           const T* weights, const T* g, std::int64_t count, T* adj,
                           const Interrupt* stop = nullptr) {
    const std::int64_t* geometry = list.geometry.data() + e.geometry;
    const double* constants = list.constants.data();
    Poll poll(stop);
    switch (e.kind) {
        case EntryKind::elementwise:
            entries::backward_elementwise<true>(e, geometry, partials, g, count, adj, poll);
            return;
        case EntryKind::reduce: entries::backward_reduce(e, geometry, weights, g, count, adj, poll); return;
        case EntryKind::gather:
            entries::backward_gather<true>(e, list.indices.data(), partials, g, count, adj, poll);
            return;
        case EntryKind::matmul: entries::backward_matmul(e, geometry, constants, values, g, count, adj, poll); return;
        case EntryKind::cumsum: entries::backward_cumsum(e, geometry, g, count, adj, poll); return;
        case EntryKind::inputs: return;  // no parents
        case EntryKind::dense:
            if constexpr (std::is_same_v<T, double>)
                entries::backward_dense(e, geometry, constants, partials, values, g, count, adj, poll);
            else
                entries::backward_dense_dual(e, geometry, constants, partials, values, g, count, adj, poll);
            return;
        case EntryKind::fused:
            if constexpr (std::is_same_v<T, double>)
                entries::backward_fused_double(e, geometry, constants, values, g, count, adj, poll);
            else
                entries::backward_fused<T>(e, geometry, constants, values, g, count, adj, poll);
            return;
    }
}

// The tape's sweep: doubles, reduction weights in the list's own arena.
template <class PP>
inline void backward_entry(const Entry& e, const EntryList& list, const PP* partials, const double* values,
                           const double* g, std::int64_t count, double* adj, const Interrupt* stop) noexcept {
    backward_entry<double>(e, list, partials, values, list.weights.data(), g, count, adj, stop);
}

// What a sweep must do before it starts, since it cannot fail once started:
// give this thread the scratch memory the BLAS-backed entries will use (a
// std::bad_alloc from here leaves every adjoint untouched).
template <class List>
inline void prepare_sweep(const List& list) {
    std::size_t need = 0;
    for (std::size_t i = 0; i < list.list.size(); ++i) {
        if (list.list[i].kind == EntryKind::dense)
            need = std::max(need, entries::dense_scratch_size(list.geometry.data() + list.list[i].geometry));
        if (list.list[i].kind == EntryKind::fused) entries::fused::reserve_scratch();
    }
    if (need) blas::reserve_scratch(need);
}

}  // namespace tapegrad
