// C++ test of the Scalar front end (scalar.hpp), no Python: every op of the
// table against central differences, constants, errors, and threads.
#include <atomic>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <thread>
#include <vector>

#include "check.hpp"
#include "tapegrad/scalar.hpp"

using namespace tapegrad;

template <class E, class F>
static bool throws(F f) {
    try {
        f();
    } catch (const E&) {
        return true;
    }
    return false;
}

// Test points inside an op's domain [lo, hi] (ops.def), away from its ends,
// and different for the two operands of a binary op (a tie of maximum is a kink).
static const double fractions_a[] = {0.23, 0.61, 0.87};
static const double fractions_b[] = {0.71, 0.37, 0.13};
static double point(double lo, double hi, double f) { return lo + (hi - lo) * f; }

static double central_difference_1(double (*f)(double), double x) {
    const double h = 1e-6 * (1 + std::fabs(x));
    return (f(x + h) - f(x - h)) / (2 * h);
}

// Every op of the table: the value matches eval_<op>, and the gradient
// through Scalar matches a central difference of eval_<op>, in all three
// forms of a binary op (both recorded, constant second, constant first).
static void every_op_against_finite_differences() {
    int ops = 0;
#define TG_UNARY(name, py_, value_, partial_, lo, hi, doc_)                                   \
    for (double f : fractions_a) {                                                          \
        const double xv = point(lo, hi, f);                                                 \
        Tape t;                                                                             \
        const Scalar x = Scalar::input(t, xv);                                              \
        const Scalar y = name(x);                                                           \
        CHECK(y.is_recorded() && t.size() == first_node + 2);                               \
        CHECK_NEAR(y.value(), eval_##name(xv), 0);                                          \
        CHECK_NEAR(gradient(y)[x], central_difference_1(eval_##name, xv), 1e-6);            \
        CHECK(!name(Scalar(xv)).is_recorded());                                             \
        CHECK_NEAR(name(Scalar(xv)).value(), eval_##name(xv), 0);                           \
    }                                                                                       \
    ++ops;
#define TG_BINARY(name, py_, value_, pa_, pb_, alo, ahi, blo, bhi, doc_)                        \
    for (int k = 0; k < 3; ++k) {                                                           \
        const double av = point(alo, ahi, fractions_a[k]), bv = point(blo, bhi, fractions_b[k]); \
        const double ha = 1e-6 * (1 + std::fabs(av)), hb = 1e-6 * (1 + std::fabs(bv));      \
        const double da = (eval_##name(av + ha, bv) - eval_##name(av - ha, bv)) / (2 * ha); \
        const double db = (eval_##name(av, bv + hb) - eval_##name(av, bv - hb)) / (2 * hb); \
        Tape t;                                                                             \
        const Scalar a = Scalar::input(t, av), b = Scalar::input(t, bv);                    \
        const Scalar both = name(a, b), vc = name(a, bv), cv = name(av, b);                 \
        CHECK(t.size() == first_node + 5);                                                  \
        CHECK(t.op(vc.index()) == Op::name##_vc && t.op(cv.index()) == Op::name##_cv);      \
        for (const Scalar& y : {both, vc, cv}) CHECK_NEAR(y.value(), eval_##name(av, bv), 0); \
        const Adjoints g = gradient(both);                                                  \
        CHECK_NEAR(g[a], da, 1e-6);                                                         \
        CHECK_NEAR(g[b], db, 1e-6);                                                         \
        CHECK_NEAR(gradient(vc)[a], da, 1e-6);                                              \
        CHECK(gradient(vc)[b] == 0.0);                                                      \
        CHECK_NEAR(gradient(cv)[b], db, 1e-6);                                              \
        CHECK(gradient(cv)[a] == 0.0);                                                      \
        CHECK(!name(Scalar(av), Scalar(bv)).is_recorded());                                 \
    }                                                                                       \
    ++ops;
#include "tapegrad/ops.def"
    CHECK(ops > 30);
}

// The worked example through operators, against the derivative by hand.
static void seed_example() {
    Tape t;
    const double xv = 0.5;
    const Scalar x = Scalar::input(t, xv);
    const Scalar a = x * x;
    const Scalar b = exp(a);
    const Scalar c = a + b;
    const Scalar f = sqrt(c) + cos(c);
    const double cv = xv * xv + std::exp(xv * xv);
    const double want = (0.5 / std::sqrt(cv) - std::sin(cv)) * (1 + std::exp(xv * xv)) * 2 * xv;
    CHECK_NEAR(f.value(), std::sqrt(cv) + std::cos(cv), 1e-15);
    CHECK_NEAR(gradient(f)[x], want, 1e-14);
}

// Generic numeric code written once for double and Scalar: Rosenbrock.
template <class T>
static T rosenbrock(const std::vector<T>& x) {
    T s = 0.0;
    for (std::size_t i = 0; i + 1 < x.size(); ++i) {
        const T d = x[i + 1] - x[i] * x[i];
        s += 100.0 * d * d + (1.0 - x[i]) * (1.0 - x[i]);
    }
    return s;
}

static std::vector<double> rosenbrock_gradient(const std::vector<double>& x) {
    std::vector<double> g(x.size(), 0.0);
    for (std::size_t i = 0; i + 1 < x.size(); ++i) {
        const double d = x[i + 1] - x[i] * x[i];
        g[i] += -400.0 * x[i] * d - 2.0 * (1.0 - x[i]);
        g[i + 1] += 200.0 * d;
    }
    return g;
}

static bool rosenbrock_matches(int n, double shift) {
    Tape t;
    std::vector<double> xv(n);
    std::vector<Scalar> x;
    for (int i = 0; i < n; ++i) {
        xv[i] = std::sin(i + shift);
        x.push_back(Scalar::input(t, xv[i]));
    }
    const Scalar y = rosenbrock(x);
    const Adjoints g = gradient(y);
    const auto want = rosenbrock_gradient(xv);
    bool ok = std::fabs(y.value() - rosenbrock(xv)) <= 1e-12 * std::fabs(y.value());
    for (int i = 0; i < n; ++i) ok &= std::fabs(g[x[i]] - want[i]) <= 1e-12 * (1 + std::fabs(want[i]));
    return ok;
}

static void constants_and_reuse() {
    Tape t;
    const Scalar x = Scalar::input(t, 3.0);
    const index_t before = t.size();
    const Scalar k = exp(Scalar(1.0)) * 2.0 + 1.0;  // constants only: no node
    CHECK(!k.is_recorded() && t.size() == before);
    Scalar y = x;
    y *= k;
    y -= 1.0;
    y /= x;
    CHECK(t.size() == before + 3);
    CHECK_NEAR(gradient(y)[x], 1.0 / 9.0, 1e-15);  // y = k - 1/x
    CHECK(gradient(Scalar(2.0))[x] == 0.0);          // a constant depends on nothing
    CHECK(gradient(y)[Scalar(2.0)] == 0.0);
    CHECK(x < y && y > 1.0 && !(y == x));

    Adjoints g;  // one workspace for many sweeps
    for (int i = 0; i < 3; ++i) {
        const Scalar z = x * double(i);
        g.sweep(z);
        CHECK(g[x] == double(i));
    }
    const Scalar later = x + 1.0;  // recorded after z: z does not depend on it
    CHECK(g[later] == 0.0);
}

static void errors() {
    Tape t1, t2;
    const Scalar a = Scalar::input(t1, 1.0), b = Scalar::input(t2, 2.0);
    CHECK(throws<tape_mismatch_error>([&] { (void)(a + b); }));
    CHECK(throws<tape_mismatch_error>([&] { (void)gradient(a)[b]; }));
    CHECK(throws<std::out_of_range>([&] { (void)Scalar::at(t1, 3); }));
    CHECK(throws<std::out_of_range>([&] { (void)Scalar::at(t1, t1.size()); }));
    CHECK(Scalar::at(t1, a.index()).value() == 1.0);
    const Adjoints g = gradient(a);
    t1.reset();
    CHECK(throws<stale_scalar_error>([&] { (void)sin(a); }));
    CHECK(throws<stale_scalar_error>([&] { (void)(a * 2.0); }));
    CHECK(throws<stale_scalar_error>([&] { (void)gradient(a); }));
    CHECK(throws<stale_scalar_error>([&] { (void)g[a]; }));
    const Scalar c = Scalar::input(t1, 1.0);
    CHECK(throws<stale_scalar_error>([&] { (void)(a + c); }));
}

// Threads recording and sweeping their own tapes at once give exact results.
static void threads_with_their_own_tapes() {
    std::atomic<int> wrong{0};
    std::vector<std::thread> pool;
    for (int w = 0; w < 4; ++w)
        pool.emplace_back([&wrong, w] {
            for (int it = 0; it < 200; ++it)
                if (!rosenbrock_matches(50 + it % 7, w + 0.01 * it)) ++wrong;
        });
    for (auto& th : pool) th.join();
    CHECK(wrong == 0);
}

// A second thread recording on a tape that another thread is recording on
// throws instead of racing it; reset() or release_thread() hands it over.
static void one_recording_thread_per_tape() {
    Tape t;
    const Scalar x = Scalar::input(t, 2.0);  // this thread now records on t
    bool threw = false, threw_input = false;
    std::thread other([&] {
        threw = throws<tape_thread_error>([&] { (void)(x * x); });
        threw_input = throws<tape_thread_error>([&] { (void)Scalar::input(t, 1.0); });
    });
    other.join();
    CHECK(threw && threw_input);
    const index_t size = t.size();
    CHECK(size == first_node + 1);  // nothing was recorded by the refused pushes

    // A sweep is not recording: another thread may take gradients meanwhile.
    const Scalar y = x * x;
    double dy = 0;
    std::thread sweeper([&] { dy = gradient(y)[x]; });
    sweeper.join();
    CHECK(dy == 4.0);

    t.release_thread();  // hand the tape over without losing its nodes
    Scalar z;
    std::thread next([&] { z = y * x; });
    next.join();
    CHECK(z.value() == 8.0);
    CHECK(throws<tape_thread_error>([&] { (void)(x + 1.0); }));  // the tape stays `next`'s until released
    t.reset();
    const Scalar again = Scalar::input(t, 1.0);  // after a reset any thread may record
    CHECK(again.value() == 1.0);
}

int main() {
    every_op_against_finite_differences();
    seed_example();
    CHECK(rosenbrock_matches(100, 0.0));
    constants_and_reuse();
    errors();
    threads_with_their_own_tapes();
    one_recording_thread_per_tape();
    if (failures) {
        std::printf("%d check(s) failed\n", failures);
        return 1;
    }
    std::printf("all C++ Scalar checks passed\n");
    return 0;
}
