// C++ test of the core with no Python: hand-built tapes with known adjoints.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "check.hpp"
#include "tapegrad/record.hpp"

using namespace tapegrad;

static std::vector<double> gradient(const Tape& t, index_t out) {
    std::vector<double> adj(t.size(), 0.0);
    adj[out] = 1.0;
    t.sweep(out, adj.data());
    return adj;
}

// The seed example f(x) = sqrt(x^2 + exp(x^2)) + cos(x^2 + exp(x^2)).
static void seed_example() {
    Tape t;
    const double xv = 0.5;
    const index_t x = t.push_input(xv);
    const index_t a = record_square(t, x);
    const index_t b = record_exp(t, a);
    const index_t c = record_add(t, a, b);
    const index_t d = record_sqrt(t, c);
    const index_t e = record_cos(t, c);
    const index_t f = record_add(t, d, e);
    CHECK(t.size() == Tape::num_sinks + 7);  // sinks, x, a..f

    const double av = xv * xv, bv = std::exp(av), cv = av + bv;
    CHECK_NEAR(t.value(f), std::sqrt(cv) + std::cos(cv), 1e-15);

    const auto adj = gradient(t, f);
    const double fd = 1.0, fe = 1.0;                                  // f = d + e
    const double fc = fd * 0.5 / std::sqrt(cv) + fe * -std::sin(cv);  // d = sqrt c, e = cos c
    const double fb = fc;                                             // c = a + b
    const double fa = fc + fb * bv;                                   // c = a + b, b = exp a
    const double fx = fa * 2 * xv;                                    // a = x^2
    CHECK_NEAR(adj[d], fd, 1e-15);
    CHECK_NEAR(adj[e], fe, 1e-15);
    CHECK_NEAR(adj[c], fc, 1e-14);
    CHECK_NEAR(adj[b], fb, 1e-14);
    CHECK_NEAR(adj[a], fa, 1e-14);
    CHECK_NEAR(adj[x], fx, 1e-14);
}

// Constants cost no node, and the sink absorbs what flows to them.
static void constants_and_sharing() {
    Tape t;
    const index_t x = t.push_input(3.0);
    const index_t y = t.push_input(-2.0);
    const index_t p = record_multiply_vc(t, x, 2.5);   // 2.5 x
    const index_t q = record_divide_cv(t, 1.0, y);     // 1 / y
    const index_t r = record_multiply(t, p, p);        // shared operand: 6.25 x^2
    const index_t s = record_add(t, r, q);
    CHECK(t.size() == Tape::num_sinks + 6);
    const auto adj = gradient(t, s);
    CHECK_NEAR(adj[x], 2 * 6.25 * 3.0, 1e-15);
    CHECK_NEAR(adj[y], -1.0 / 4.0, 1e-15);
}

static void reset_keeps_memory_and_limit_errors() {
    Tape t(100);
    for (int i = 0; i < 92; ++i) t.push_input(i);
    const std::size_t held = t.nbytes();
    const std::uint32_t gen = t.generation();
    bool threw = false;
    try {
        t.push_input(1.0);
    } catch (const std::overflow_error&) {
        threw = true;
    }
    CHECK(threw);
    t.reset();
    CHECK(t.size() == Tape::num_sinks);
    CHECK(t.generation() != gen);
    CHECK(t.nbytes() == held);
    for (int i = 0; i < 50; ++i) t.push_input(i);
    CHECK(t.nbytes() == held);
}

// A long chain: the sweep is a loop, not a recursion.
static void long_chain() {
    Tape t;
    index_t v = t.push_input(0.0);
    const index_t x = v;
    const int n = 1000000;
    for (int i = 0; i < n; ++i) v = record_add_vc(t, v, 1e-6);
    const auto adj = gradient(t, v);
    CHECK_NEAR(t.value(v), 1.0, 1e-9);
    CHECK_NEAR(adj[x], 1.0, 0);
}

// A sweep handed an Interrupt stops (throws) once it is requested, and a
// sweep after that, with a fresh adjoint, gives the whole answer.
static void interrupted_sweep_restarts() {
    Tape t;
    const index_t x = t.push_input(1.0);
    index_t y = x;
    const std::size_t n = 3 * Interrupt::check_every;  // several chunks between checks
    for (std::size_t i = 0; i < n; ++i) y = record_multiply_vc(t, y, 1.0);
    std::atomic<std::uint64_t> signals{0};
    const Interrupt stop(signals);
    std::vector<double> adj(t.size(), 0.0);
    adj[y] = 1.0;
    t.sweep(y, adj.data(), &stop);  // not requested: runs to the end
    CHECK(adj[x] == 1.0);
    signals.fetch_add(1);
    bool threw = false;
    std::fill(adj.begin(), adj.end(), 0.0);
    adj[y] = 1.0;
    try {
        t.sweep(y, adj.data(), &stop);
    } catch (const interrupted&) {
        threw = true;
    }
    CHECK(threw);
    CHECK(adj[x] == 0.0);  // stopped before reaching the input
    std::fill(adj.begin(), adj.end(), 0.0);
    adj[y] = 1.0;
    t.sweep(y, adj.data());
    CHECK(adj[x] == 1.0);
}

int main() {
    interrupted_sweep_restarts();
    seed_example();
    constants_and_sharing();
    reset_keeps_memory_and_limit_errors();
    long_chain();
    if (failures) {
        std::printf("%d check(s) failed\n", failures);
        return 1;
    }
    std::printf("all C++ tape checks passed\n");
    return 0;
}
