// Recording a fused entry (entries/fused.hpp): begin_fused validates the
// program, copies its constants into the tape, coalesces its space and
// reserves its outputs; run_entry / commit_entry (arrays.hpp) do the rest.
#pragma once
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "arrays.hpp"
#include "entries/fused.hpp"

namespace tapegrad {

// A program over the space shape[nd]:
//   leaves l < L: kind[l] (fused::slots: a view of slots starting at
//     first[l]; fused::constant: the float64 data[l], which the walk never
//     reaches below), walked with strides[l * nd + d] over the space;
//   instructions k < I: code[4k] an op-table row, code[4k + 1], code[4k + 2]
//     its operand registers (leaves 0..L-1, instruction k' at L + k', k' < k;
//     a unary or _vc/_cv row reads only the first), code[4k + 3] the bits of
//     a _vc/_cv row's number; the last instruction is the result.
// With `sum`, the outputs are the sums over the trailing nd - nkept axes times
// `scale` (one per element of the kept axes); else one per element of the space.
inline Entry begin_fused(Tape& t, int nd, const std::int64_t* shape, int nkept, bool sum, double scale, int L,
                         const std::int64_t* kind, const std::int64_t* first, const double* const* data,
                         const std::int64_t* strides, int I, const std::int64_t* code) {
    namespace fused = entries::fused;
    detail::check_ndim(nd);
    if (L < 1 || L > fused::max_leaves || I < 1 || I > fused::max_instructions)
        throw std::invalid_argument("tapegrad: a fused program has 1.." + std::to_string(fused::max_leaves) +
                                    " leaves and 1.." + std::to_string(fused::max_instructions) + " instructions");
    if (!sum) nkept = nd;
    if (nkept < 0 || nkept > nd) throw std::invalid_argument("tapegrad: bad number of kept axes");
    for (int k = 0; k < I; ++k) {
        const std::uint8_t op = static_cast<std::uint8_t>(code[4 * k]);
        const Arity arity = code[4 * k] >= 0 && code[4 * k] < 256 && is_known(op) ? info(Op(op)).arity : Arity::none;
        if (arity != Arity::unary && arity != Arity::binary && arity != Arity::binary_vc && arity != Arity::binary_cv)
            throw std::invalid_argument("tapegrad: a fused instruction is not an op-table row");
        for (int w = 0; w < (arity == Arity::binary ? 2 : 1); ++w)
            if (code[4 * k + 1 + w] < 0 || code[4 * k + 1 + w] >= L + k)
                throw std::invalid_argument("tapegrad: a fused instruction reads a register not yet computed");
    }
    // the space (+ one trailing axis of 1, see below) and every leaf's walk
    std::int64_t sh[max_dims + 1], st[fused::max_leaves][max_dims + 1];
    for (int d = 0; d < nd; ++d) sh[d] = shape[d];
    for (int l = 0; l < L; ++l) {
        if (kind[l] != fused::slots && kind[l] != fused::constant)
            throw std::invalid_argument("tapegrad: a fused leaf is slots or a constant");
        if (kind[l] == fused::constant && !data[l]) throw std::invalid_argument("tapegrad: a constant leaf without data");
        for (int d = 0; d < nd; ++d) st[l][d] = strides[l * nd + d];
    }
    const index_t M = detail::entry_size(sh, nkept);
    const index_t R = detail::entry_size(sh + nkept, nd - nkept);
    Entry e = detail::new_entry(EntryKind::fused, sum ? M : detail::entry_size(sh, nd));
    e.first = t.size();
    if (e.size == 0) return e;
    std::int64_t extent[fused::max_leaves] = {};
    if (R) {
        for (int l = 0; l < L; ++l) {
            std::int64_t lo, hi;
            walk_extent(nd, sh, st[l], lo, hi);
            if (kind[l] == fused::slots) detail::check_walk(t, static_cast<index_t>(first[l]), nd, sh, st[l]);
            else if (lo < 0) throw std::invalid_argument("tapegrad: a constant leaf walks below its data");
            extent[l] = hi + 1;
        }
    }
    // Coalesce the kept and the summed axes apart (runtime K: the generic
    // coalesce<K> wants a compile-time count). A run must lie in one group,
    // so a sum keeps at least one summed axis, and the walk at least one axis.
    auto coalesce_part = [&](std::int64_t* s, int n, int at) {  // axes [at, at + n) -> compacted at `at`
        int out = 0;
        for (int d = 0; d < n; ++d) {
            if (s[at + d] == 1) continue;
            bool merge = out > 0;
            for (int l = 0; l < L && merge; ++l) merge = st[l][at + out - 1] == st[l][at + d] * s[at + d];
            const int to = merge ? out - 1 : out;
            if (merge) s[at + to] *= s[at + d];
            else s[at + to] = s[at + d];
            for (int l = 0; l < L; ++l) st[l][at + to] = st[l][at + d];
            if (!merge) ++out;
        }
        return out;
    };
    const int nk = coalesce_part(sh, nkept, 0);
    int nr = 0;
    if (sum) {
        std::int64_t rs[max_dims + 1];
        std::int64_t rst[fused::max_leaves][max_dims + 1];
        for (int d = 0; d < nd - nkept; ++d) {
            rs[d] = sh[nkept + d];
            for (int l = 0; l < L; ++l) rst[l][d] = st[l][nkept + d];
        }
        for (int d = 0; d < nd - nkept; ++d) {  // move the summed part right after the coalesced kept part
            sh[nk + d] = rs[d];
            for (int l = 0; l < L; ++l) st[l][nk + d] = rst[l][d];
        }
        nr = coalesce_part(sh, nd - nkept, nk);
    }
    int n = nk + nr;
    if ((sum && nr == 0) || n == 0) {  // see above: a trailing axis of 1
        sh[n] = 1;
        for (int l = 0; l < L; ++l) st[l][n] = 0;
        if (sum) ++nr;
        ++n;
    }
    if (n > max_dims) throw std::invalid_argument("tapegrad: too many axes");
    e.ndim = static_cast<std::uint8_t>(n);
    e.split = static_cast<std::uint8_t>(nk);
    e.flags = sum ? entry_flags::fused_sum : 0;
    e.scalar = sum ? scale : 1.0;
    e.first = t.push_block(e.size);
    // constants into the tape's arena, so the entry owns them
    std::int64_t base[fused::max_leaves];
    std::size_t nconst = 0;
    for (int l = 0; l < L; ++l)
        if (kind[l] == fused::constant) nconst += static_cast<std::size_t>(extent[l]);
    t.with_entries([&](EntryList& list) {
        std::size_t at = list.constants.extend(nconst);
        for (int l = 0; l < L; ++l) {
            if (kind[l] == fused::slots) {
                base[l] = first[l];
            } else {
                base[l] = static_cast<std::int64_t>(at);
                if (extent[l]) std::memcpy(list.constants.data() + at, data[l], extent[l] * sizeof(double));
                at += static_cast<std::size_t>(extent[l]);
            }
        }
        return 0;
    });
    const std::size_t words = 2 + n + std::size_t(L) * (2 + n) + 4 * std::size_t(I);
    e.geometry = t.with_entries([&](EntryList& list) {
        const std::size_t at = list.geometry.extend(words);
        std::int64_t* g = list.geometry.data() + at;
        *g++ = L;
        *g++ = I;
        for (int d = 0; d < n; ++d) *g++ = sh[d];
        for (int l = 0; l < L; ++l) {
            *g++ = kind[l];
            *g++ = base[l];
            for (int d = 0; d < n; ++d) *g++ = st[l][d];
        }
        for (int k = 0; k < I; ++k) {
            const bool two = info(Op(code[4 * k])).arity == Arity::binary;
            *g++ = code[4 * k];
            *g++ = code[4 * k + 1];
            *g++ = two ? code[4 * k + 2] : code[4 * k + 1];
            *g++ = code[4 * k + 3];
        }
        return static_cast<std::uint64_t>(at);
    });
    return e;
}

}  // namespace tapegrad
