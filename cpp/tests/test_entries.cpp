// C++ test of array entries with no Python: every entry kind, recorded between
// scalar nodes, its gradient against central differences of its own values.
#include <atomic>
#include <cmath>
#include <cstdio>
#include <functional>
#include <vector>

#include <cstring>

#include "tapegrad/arrays.hpp"
#include "tapegrad/dual.hpp"
#include "tapegrad/record.hpp"
#include "tapegrad/record_fused.hpp"

#include "check.hpp"

using namespace tapegrad;

static index_t record(Tape& t, const Entry& e) {
    run_entry(t, e);
    commit_entry(t, e);
    return e.first;
}

// f records on a fresh tape from the inputs x (slots first..first+n) and
// returns its scalar output slot.
using Fn = std::function<index_t(Tape&, index_t)>;

static double value_at(const Fn& f, const std::vector<double>& x) {
    Tape t;
    const index_t in = t.push_inputs(x.data(), static_cast<index_t>(x.size()));
    return t.value(f(t, in));
}

static void check_gradient(const char* name, const Fn& f, std::vector<double> x) {
    Tape t;
    const index_t in = t.push_inputs(x.data(), static_cast<index_t>(x.size()));
    const index_t out = f(t, in);
    std::vector<double> adj(out + 1, 0.0);
    adj[out] = 1.0;
    t.sweep(out, adj.data());
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double h = 1e-6 * std::max(1.0, std::fabs(x[i]));
        auto xp = x, xm = x;
        xp[i] += h;
        xm[i] -= h;
        const double fd = (value_at(f, xp) - value_at(f, xm)) / (2 * h);
        if (!(std::fabs(adj[in + i] - fd) <= 1e-6 * (1 + std::fabs(fd)))) {
            std::printf("FAIL %s: d/dx%zu = %.12g, central difference %.12g\n", name, i, adj[in + i], fd);
            ++failures;
        }
    }
}

static const std::int64_t c1[1] = {1}, c0[1] = {0};

// sum of a contiguous vector of n slots
static index_t sum(Tape& t, index_t first, std::int64_t n) {
    return record(t, begin_reduce(t, Reducer::sum, 1, 0, &n, first, c1, 1.0));
}

int main() {
    const std::vector<double> x6 = {0.3, -1.2, 0.7, 2.0, -0.4, 1.1};

    // Rows where ops.def's rule for infinite values can fire (found by probing
    // the formulas): the fused backward recomputes y only for these.
    using entries::fused::infinity_rule_matters;
    for (Op op : {Op::log, Op::sqrt, Op::cbrt, Op::hypot, Op::maximum, Op::power, Op::power_vc, Op::arcsinh})
        CHECK(infinity_rule_matters(op));
    for (Op op : {Op::add, Op::subtract_cv, Op::multiply, Op::multiply_vc, Op::square, Op::exp, Op::sin, Op::tanh})
        CHECK(!infinity_rule_matters(op));

    // elementwise unary, binary with broadcasting, constants; scalar nodes around
    check_gradient("elementwise", [](Tape& t, index_t x) {
        const std::int64_t shape[2] = {2, 3}, sa[2] = {3, 1}, row[2] = {0, 1};
        const index_t s = record_square(t, x + 5);  // a scalar node between entries
        const index_t e1 = record(t, begin_elementwise(t, Op::sin, 2, shape, x, sa, 0, nullptr, 0, nullptr, nullptr));
        // e1 (2x3) * x[0:3] broadcast over rows
        const index_t e2 = record(t, begin_elementwise(t, Op::multiply, 2, shape, e1, sa, x, row, 0, nullptr, nullptr));
        const double k[3] = {2.0, -1.0, 0.5};
        const std::int64_t kstride[2] = {0, 1};
        const index_t e3 = record(t, begin_elementwise(t, Op::subtract_cv, 2, shape, e2, sa, 0, nullptr, 0, k, kstride));
        const index_t e4 = record(t, begin_elementwise(t, Op::power_vc, 2, shape, e3, sa, 0, nullptr, 3.0, nullptr, nullptr));
        return record_multiply(t, sum(t, e4, 6), s);
    }, x6);

    // every reducer over axis 1 of a 2x3 view, and a transposed view
    for (Reducer how : {Reducer::sum, Reducer::prod, Reducer::max, Reducer::min, Reducer::logsumexp, Reducer::norm}) {
        check_gradient("reduce", [how](Tape& t, index_t x) {
            const std::int64_t shape[2] = {2, 3}, sa[2] = {3, 1}, tshape[2] = {3, 2}, ta[2] = {1, 3};
            const index_t r = record(t, begin_reduce(t, how, 2, 1, shape, x, sa, 1.0));
            const index_t q = record(t, begin_reduce(t, how, 2, 1, tshape, x, ta, 1.0));
            const std::int64_t two = 2, three = 3;
            const index_t w = record(t, begin_elementwise(t, Op::exp, 1, &two, r, c1, 0, nullptr, 0, nullptr, nullptr));
            return record_add(t, sum(t, w, two), sum(t, q, three));
        }, x6);
    }

    // gather with a constant, then matmul (variable and constant operands), cumsum
    check_gradient("gather matmul cumsum", [](Tape& t, index_t x) {
        const std::int64_t src[4] = {x + 4, 0, x + 1, x + 4};
        const double consts[4] = {0, 7.5, 0, 0};
        const index_t g = record(t, begin_gather(t, 4, src, consts));
        CHECK(t.value(g + 1) == 7.5 && t.value(g) == t.value(x + 4));
        // (2x3 x) @ (3x2 x^T-ish view), then constant (2x2) @ result
        const index_t m = record(t, begin_matmul(t, 2, 3, 2, x, 3, 1, nullptr, x, 1, 3, nullptr));
        const double C[4] = {1.0, -2.0, 0.5, 3.0};
        const index_t m2 = record(t, begin_matmul(t, 2, 2, 2, 0, 0, 0, C, m, 2, 1, nullptr));
        const std::int64_t shape[2] = {2, 2}, sa[2] = {2, 1};
        const index_t cs = record(t, begin_cumsum(t, 2, shape, m2, sa));
        const std::int64_t four = 4;
        const index_t w = record(t, begin_elementwise(t, Op::multiply, 1, &four, g, c1, cs, c1, 0, nullptr, nullptr));
        return sum(t, w, 4);
    }, x6);

    // a sweep that starts inside an entry sees only the outputs up to its start
    {
        Tape t;
        const index_t x = t.push_inputs(x6.data(), 6);
        const std::int64_t n = 6;
        const index_t y = record(t, begin_elementwise(t, Op::square, 1, &n, x, c1, 0, nullptr, 0, nullptr, nullptr));
        std::vector<double> adj(y + 3, 0.0);
        adj[y + 2] = 1.0;
        t.sweep(y + 2, adj.data());
        for (int i = 0; i < 6; ++i) CHECK(adj[x + i] == (i == 2 ? 2 * x6[2] : 0.0));
    }

    // a dead output with an infinite partial passes exactly 0
    {
        Tape t;
        const double z[2] = {0.0, 1.0};
        const index_t x = t.push_inputs(z, 2);
        const std::int64_t n = 2;
        const index_t y = record(t, begin_elementwise(t, Op::log, 1, &n, x, c1, 0, nullptr, 0, nullptr, nullptr));
        const index_t out = record_add(t, y + 1, x);
        std::vector<double> adj(out + 1, 0.0);
        adj[out] = 1.0;
        t.sweep(out, adj.data());
        CHECK(adj[x] == 1.0 && adj[x + 1] == 1.0);
    }

    // fused: sum over the last axis of exp(x[:, ::-1]) * x[0, :] + 2 - x (a
    // 2x3 space; leaves: a reversed view, a broadcast row, x itself; a number
    // in a _cv instruction), then the two sums times a scalar node
    auto fused_program = [](Tape& t, index_t x, bool sum) {
        const std::int64_t shape[2] = {2, 3};
        const std::int64_t kind[3] = {0, 0, 0}, first[3] = {x + 2, x, x};
        const double* data[3] = {nullptr, nullptr, nullptr};
        const std::int64_t strides[6] = {3, -1, 0, 1, 3, 1};
        const double two = 2.0;
        std::int64_t bits;
        std::memcpy(&bits, &two, sizeof bits);
        const std::int64_t code[16] = {std::int64_t(Op::exp), 0, 0, 0,       std::int64_t(Op::multiply), 3, 1, 0,
                                       std::int64_t(Op::add_cv), 4, 4, bits, std::int64_t(Op::subtract), 5, 2, 0};
        return begin_fused(t, 2, shape, 1, sum, 0.5, 3, kind, first, data, strides, 4, code);
    };
    auto unfused_program = [](Tape& t, index_t x) {  // the same with one entry per op
        const std::int64_t shape[2] = {2, 3}, rev[2] = {3, -1}, row[2] = {0, 1}, id[2] = {3, 1};
        const index_t a = record(t, begin_elementwise(t, Op::exp, 2, shape, x + 2, rev, 0, nullptr, 0, nullptr, nullptr));
        const index_t b = record(t, begin_elementwise(t, Op::multiply, 2, shape, a, id, x, row, 0, nullptr, nullptr));
        const index_t c = record(t, begin_elementwise(t, Op::add_cv, 2, shape, b, id, 0, nullptr, 2.0, nullptr, nullptr));
        const index_t d = record(t, begin_elementwise(t, Op::subtract, 2, shape, c, id, x, id, 0, nullptr, nullptr));
        return record(t, begin_reduce(t, Reducer::sum, 2, 1, shape, d, id, 0.5));
    };
    for (bool sum_it : {true, false}) {
        check_gradient(sum_it ? "fused sum" : "fused", [&](Tape& t, index_t x) {
            const index_t s = record_square(t, x + 1);
            const index_t f = record(t, fused_program(t, x, sum_it));
            const std::int64_t two = 2, six = 6;
            const index_t r = sum_it ? f : record(t, begin_reduce(t, Reducer::sum, 1, 0, &six, f, c1, 1.0));
            return record_multiply(t, sum_it ? sum(t, r, two) : r, s);
        }, x6);
    }
    {   // fused and unfused values and gradients agree; a sweep from inside the fused sum sees its first output only
        Tape t, u;
        const index_t x = t.push_inputs(x6.data(), 6), xu = u.push_inputs(x6.data(), 6);
        const index_t f = record(t, fused_program(t, x, true)), g = unfused_program(u, xu);
        for (int k = 0; k < 2; ++k) CHECK(std::fabs(t.value(f + k) - u.value(g + k)) <= 1e-15 * std::fabs(u.value(g + k)));
        std::vector<double> a(f + 2, 0.0), b(g + 2, 0.0);
        a[f] = b[g] = 1.0;
        t.sweep(f, a.data());
        u.sweep(g, b.data());
        for (int i = 0; i < 6; ++i) CHECK(std::fabs(a[x + i] - b[xu + i]) <= 1e-15 * (1 + std::fabs(b[xu + i])));
        CHECK(a[x + 3] == 0.0 && a[x + 4] == 0.0);  // row 1 only feeds output 1
        // forward on dual numbers: the tangent of output 0 along x[2] is d out0 / d x2
        std::vector<Dual> vals(t.size());
        for (index_t i = 0; i < t.size(); ++i) vals[i] = Dual(t.value(i), i == x + 2 ? 1.0 : 0.0);
        const Entry& e = t.entries().list[t.entries().list.size() - 1];
        CHECK(e.kind == EntryKind::fused);
        const EntryList& L = t.entries();
        CHECK(entries::check_fused(e, L.geometry.data(), L.geometry.size(), L.constants.size(), first_node) == nullptr);
        {   // a forged program is caught: a register read before it is computed, a leaf past the entry
            std::vector<std::int64_t> forged(L.geometry.data(), L.geometry.data() + L.geometry.size());
            const entries::fused::Program p = entries::fused::program(e, forged.data() + e.geometry);
            const std::size_t code_at = std::size_t(p.code - forged.data()), leaf_at = std::size_t(p.leaf - forged.data());
            forged[code_at + 1] = p.L + 2;
            CHECK(entries::check_fused(e, forged.data(), forged.size(), 0, first_node) != nullptr);
            forged[code_at + 1] = 0;
            forged[leaf_at + 1] = e.first;  // leaf 0 starting at the entry's own outputs
            CHECK(entries::check_fused(e, forged.data(), forged.size(), 0, first_node) != nullptr);
            CHECK(entries::check_fused(e, forged.data(), e.geometry + 3, 0, first_node) != nullptr);  // truncated
        }
        Poll never(nullptr);
        entries::forward_fused<Dual>(e, t.entries().geometry.data() + e.geometry, t.entries().constants.data(), vals.data(),
                                     never);
        CHECK(std::fabs(vals[f].v - t.value(f)) <= 1e-15 * std::fabs(t.value(f)));
        CHECK(std::fabs(vals[f].t - a[x + 2]) <= 1e-14 * (1 + std::fabs(a[x + 2])));
        // backward on dual numbers (forward-over-reverse): value parts equal the double sweep's
        std::vector<Dual> dadj(t.size(), Dual(0.0)), dg = {Dual(1.0), Dual(0.0)};
        entries::fused::reserve_scratch();
        entries::backward_fused<Dual>(e, t.entries().geometry.data() + e.geometry, t.entries().constants.data(),
                                      vals.data(), dg.data(), 2, dadj.data(), never);
        for (int i = 0; i < 6; ++i) CHECK(std::fabs(dadj[x + i].v - a[x + i]) <= 1e-15 * (1 + std::fabs(a[x + i])));
    }
    {   // bad programs are refused before anything is reserved
        Tape t;
        const index_t x = t.push_inputs(x6.data(), 6);
        const std::int64_t n = 6, kind[1] = {0}, first[1] = {x}, st[1] = {1};
        const double* data[1] = {nullptr};
        const std::int64_t forward_ref[4] = {std::int64_t(Op::exp), 1, 1, 0}, not_a_row[4] = {std::int64_t(Op::input), 0, 0, 0};
        const index_t size = t.size();
        for (const std::int64_t* code : {forward_ref, not_a_row}) {
            bool threw = false;
            try { begin_fused(t, 1, &n, 1, false, 1.0, 1, kind, first, data, st, 1, code); } catch (const std::invalid_argument&) { threw = true; }
            CHECK(threw && t.size() == size);
        }
        const std::int64_t too_far[1] = {x + 1};  // x[1:7] reaches past the tape
        bool threw = false;
        const std::int64_t exp_code[4] = {std::int64_t(Op::exp), 0, 0, 0};
        try { begin_fused(t, 1, &n, 1, false, 1.0, 1, kind, too_far, data, st, 1, exp_code); } catch (const std::out_of_range&) { threw = true; }
        CHECK(threw);
    }

    // views outside the tape and oversized arrays are refused
    {
        Tape t;
        const index_t x = t.push_inputs(x6.data(), 6);
        const std::int64_t n = 7;
        bool threw = false;
        try { begin_elementwise(t, Op::exp, 1, &n, x, c1, 0, nullptr, 0, nullptr, nullptr); } catch (const std::out_of_range&) { threw = true; }
        CHECK(threw);
        const std::int64_t huge[2] = {1 << 20, 1 << 20};
        threw = false;
        try { begin_elementwise(t, Op::exp, 2, huge, x, c0, 0, nullptr, 0, nullptr, nullptr); } catch (const std::overflow_error&) { threw = true; }
        CHECK(threw);
        CHECK(t.entries().list.size() == 1);  // only the input block
        t.reset();
        CHECK(t.entries().empty() && t.size() == Tape::num_sinks);
    }

    {   // Ctrl-C: an entry asked to stop stops early and says so; run again, it is whole
        Tape t;
        const std::int64_t n = 1 << 20;
        std::vector<double> x(n, 0.5);
        const index_t in = t.push_inputs(x.data(), static_cast<index_t>(n));
        const std::int64_t shape[1] = {n}, s1[1] = {1};
        const Entry e = begin_elementwise(t, Op::sin, 1, shape, in, s1, 0, nullptr, 0, nullptr, nullptr);
        std::atomic<std::uint64_t> counter{0};
        const Interrupt stop(counter);
        CHECK(run_entry(t, e, &stop));  // not asked: runs to the end
        CHECK(t.value(e.first + n - 1) == std::sin(0.5));
        for (std::int64_t j = 0; j < n; ++j) t.mutable_values()[e.first + j] = 0.0;
        counter.fetch_add(1);  // the signal came
        CHECK(!run_entry(t, e, &stop));
        CHECK(t.value(e.first) == std::sin(0.5));  // the first piece ran,
        CHECK(t.value(e.first + n - 1) == 0.0);    // the last did not
        const Interrupt later(counter);  // a new call: not asked
        CHECK(run_entry(t, e, &later));
        CHECK(t.value(e.first + n - 1) == std::sin(0.5));
        commit_entry(t, e);
        // the sweep through it throws `interrupted` when asked, and not otherwise
        std::vector<double> adj(t.size(), 0.0);
        adj[e.first + n - 1] = 1.0;
        bool threw = false;
        try { t.sweep(e.first + n - 1, adj.data(), &stop); } catch (const interrupted&) { threw = true; }
        CHECK(threw);
        std::fill(adj.begin(), adj.end(), 0.0);
        adj[e.first + n - 1] = 1.0;
        t.sweep(e.first + n - 1, adj.data(), &later);
        CHECK(adj[in + n - 1] == std::cos(0.5));
    }

    if (failures) {
        std::printf("%d failure(s)\n", failures);
        return 1;
    }
    std::printf("test_entries: all passed\n");
    return 0;
}
