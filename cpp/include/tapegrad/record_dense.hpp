// Recording a dense-layer entry (entries/dense.hpp), in the three steps of
// arrays.hpp: begin_dense (validate, reserve the output slots, keep geometry
// and constants; needs the GIL), run_entry (the BLAS forward; the caller
// releases the GIL), commit_entry.
#pragma once
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "arrays.hpp"

namespace tapegrad {

// One operand of a dense entry: a strided view of slots (first, row and
// column stride; or first and stride for a bias), or a row-major constant
// array when `constant` is given (then first and strides are unused).
struct DenseOperand {
    index_t first = 0;
    std::int64_t rs = 0, cs = 0;
    const double* constant = nullptr;
};

// act(X (M x K) @ W (K x N) + b) as one entry; `has_bias` false means no b.
// Any operand may be a constant, as long as one is not.
inline Entry begin_dense(Tape& t, std::int64_t M, std::int64_t K, std::int64_t N, const DenseOperand& x,
                         const DenseOperand& w, bool has_bias, const DenseOperand& b, activation::Kind act) {
    if (M < 0 || K < 0 || N < 0) throw std::invalid_argument("tapegrad: negative dimension");
    if (static_cast<int>(act) >= activation::count)
        throw std::invalid_argument("tapegrad: unknown activation code");
    const std::int64_t out_shape[2] = {M, N};
    Entry e = detail::new_entry(EntryKind::dense, detail::entry_size(out_shape, 2));
    e.first = t.size();
    if (e.size == 0) return e;
    const entries::Bias bias =
        !has_bias ? entries::Bias::none : b.constant ? entries::Bias::constant : entries::Bias::variable;
    if (x.constant && w.constant && bias != entries::Bias::variable)
        throw std::invalid_argument("tapegrad: a dense entry needs a variable operand");
    const std::int64_t xshape[2] = {M, K}, xstr[2] = {x.rs, x.cs}, wshape[2] = {K, N}, wstr[2] = {w.rs, w.cs};
    if (K && !x.constant) detail::check_walk(t, x.first, 2, xshape, xstr);
    if (K && !w.constant) detail::check_walk(t, w.first, 2, wshape, wstr);
    if (bias == entries::Bias::variable) detail::check_walk(t, b.first, 1, &N, &b.rs);
    e.a = x.first;
    e.b = w.first;
    e.flags = (x.constant ? entry_flags::a_constant : 0) | (w.constant ? entry_flags::b_constant : 0);
    e.first = t.push_block(e.size);
    const std::int64_t geometry[entries::dense_geometry_size] = {
        M, K, N, x.rs, x.cs, w.rs, w.cs, b.first, b.rs, static_cast<std::int64_t>(bias), static_cast<std::int64_t>(act)};
    e.geometry = detail::store_geometry(t, {{geometry, entries::dense_geometry_size}});
    const std::size_t nx = x.constant ? std::size_t(M * K) : 0, nw = w.constant ? std::size_t(K * N) : 0,
                      nb = bias == entries::Bias::constant ? std::size_t(N) : 0;
    if (nx + nw + nb) {
        e.data = t.with_entries([&](EntryList& list) {
            const std::size_t at = list.constants.extend(nx + nw + nb);
            double* c = list.constants.data() + at;
            if (nx) std::memcpy(c, x.constant, nx * sizeof(double));
            if (nw) std::memcpy(c + nx, w.constant, nw * sizeof(double));
            if (nb) std::memcpy(c + nx + nw, b.constant, nb * sizeof(double));
            return static_cast<std::uint64_t>(at);
        });
    }
    return e;
}

}  // namespace tapegrad
