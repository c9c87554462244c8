// C++ test of replay with no Python: the worked example replayed at new
// points against a fresh recording and the hand-derived derivatives,
// batches against single points, and the serialized form.
#include <atomic>
#include <cmath>
#include <cstdio>
#include <vector>

#include "tapegrad/record.hpp"
#include "tapegrad/replay.hpp"
#include "tapegrad/serialize.hpp"

#include "check.hpp"

using namespace tapegrad;

// f(x) = sqrt(x^2 + exp(x^2)) + cos(x^2 + exp(x^2)), recorded at x0.
struct Seed {
    Tape tape;
    index_t x, out;
    explicit Seed(double x0) {
        x = tape.push_input(x0);
        const index_t a = record_power_vc(tape, x, 2.0);
        const index_t c = record_add(tape, a, record_exp(tape, a));
        out = record_add(tape, record_sqrt(tape, c), record_cos(tape, c));
    }
    double grad() const {
        std::vector<double> adj(tape.size(), 0.0);
        adj[out] = 1.0;
        tape.sweep(out, adj.data());
        return adj[x];
    }
};

static double second_derivative(double x) {
    const double e = std::exp(x * x), c = x * x + e;
    const double dc = 2 * x * (1 + e), ddc = 2 * (1 + e) + 4 * x * x * e;
    return (-0.25 * std::pow(c, -1.5) - std::cos(c)) * dc * dc + (0.5 / std::sqrt(c) - std::sin(c)) * ddc;
}

static void seed_example_replays() {
    Seed rec(0.5);
    const Program p = program_from_tape(rec.tape, {rec.x}, {rec.out}, {Shape{}}, Shape{}, {});
    const std::vector<double> xs = {-1.3, -0.5, 0.0, 0.25, 0.9, 1.7};
    const std::size_t B = xs.size();
    std::vector<double> Y(B), G(B), W(B, 1.0), V(B, 1.0), HV(B), Ydot(B);
    replay::Request r;
    r.rows = B; r.X = xs.data(); r.W = W.data(); r.V = V.data();
    r.Y = Y.data(); r.G = G.data(); r.HV = HV.data(); r.Ydot = Ydot.data();
    CHECK(!replay::run<replay::Mode::vjp>(p, r));
    for (std::size_t k = 0; k < B; ++k) {
        const Seed fresh(xs[k]);
        CHECK(Y[k] == fresh.tape.value(fresh.out));  // the same formulas: bit for bit
        CHECK(G[k] == fresh.grad());
        replay::Request one = r;  // the single-point path agrees with the lanes
        double y1 = 0, g1 = 0;
        one.rows = 1; one.X = &xs[k]; one.Y = &y1; one.G = &g1;
        replay::run<replay::Mode::vjp>(p, one);
        CHECK(y1 == Y[k] && g1 == G[k]);
    }
    CHECK(!replay::run<replay::Mode::hvp>(p, r));
    CHECK(!replay::run<replay::Mode::jvp>(p, r));
    for (std::size_t k = 0; k < B; ++k) {
        CHECK_NEAR(HV[k], second_derivative(xs[k]), 1e-13);
        CHECK_NEAR(Ydot[k], G[k], 1e-14);
    }
}

// Threads split a batch into ranges of whole chunks; the numbers do not change.
static void threads_split_batches() {
    Seed rec(0.5);
    const Program p = program_from_tape(rec.tape, {rec.x}, {rec.out}, {Shape{}}, Shape{}, {});
    const std::size_t B = 20001;  // not a multiple of any chunk
    std::vector<double> X(B), W(B, 1.0), Y1(B), G1(B), Y3(B), G3(B);
    for (std::size_t k = 0; k < B; ++k) X[k] = -1.5 + 3.0 * double(k) / B;
    replay::Request r;
    r.rows = B; r.X = X.data(); r.W = W.data(); r.Y = Y1.data(); r.G = G1.data();
    replay::run<replay::Mode::vjp>(p, r, 1);
    r.Y = Y3.data(); r.G = G3.data();
    replay::run<replay::Mode::vjp>(p, r, 3);
    CHECK(Y1 == Y3 && G1 == G3);
}

static void branch_guard() {
    Tape t;
    const index_t x = t.push_input(1.0);
    t.record_comparison(Compare::gt, x, 0, 0.0, true, true);  // recorded: x > 0 was true
    const index_t y = record_multiply(t, x, x);
    const Program p = program_from_tape(t, {x}, {y}, {Shape{}}, Shape{}, {});
    std::vector<double> X = {2.0, -1.0, 3.0}, Y(3);
    replay::Request r;
    r.rows = 3; r.X = X.data(); r.Y = Y.data();
    const replay::BranchChange c = replay::run<replay::Mode::value>(p, r);
    CHECK(c && c.row == 1 && c.guard == 0 && c.a == -1.0);
    std::vector<std::int32_t> status(3);
    r.status = status.data();
    CHECK(!replay::run<replay::Mode::value>(p, r));
    CHECK(status[0] == -1 && status[1] == 0 && status[2] == -1 && Y[2] == 9.0);
}

static void serialization_round_trip_and_rejection() {
    Seed rec(0.5);
    const Program p = program_from_tape(rec.tape, {rec.x}, {rec.out}, {Shape{}}, Shape{}, {});
    const std::string bytes = serial::save({&p});
    const auto data = reinterpret_cast<const std::uint8_t*>(bytes.data());
    const auto back = serial::load(data, bytes.size());
    CHECK(back.size() == 1 && serial::save({&back[0]}) == bytes);
    int rejected = 0;
    for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
        try {
            serial::load(data, cut);
        } catch (const invalid_program&) {
            ++rejected;
        }
    }
    CHECK(rejected == static_cast<int>(bytes.size()));
}

// A batch handed an Interrupt that is requested stops with `interrupted`, on
// one thread and on two; the program replays as before afterwards.
static void interrupted_batch() {
    Seed rec(0.5);
    const Program p = program_from_tape(rec.tape, {rec.x}, {rec.out}, {Shape{}}, Shape{}, {});
    const std::size_t B = 100000;
    std::vector<double> X(B, 0.25), Y(B);
    replay::Request r;
    r.rows = B; r.X = X.data(); r.Y = Y.data();
    std::atomic<std::uint64_t> signals{0};
    const Interrupt stop(signals);
    signals.fetch_add(1);
    for (unsigned threads : {1u, 2u}) {
        bool threw = false;
        try {
            replay::run<replay::Mode::value>(p, r, threads, &stop);
        } catch (const interrupted&) {
            threw = true;
        }
        CHECK(threw);
    }
    replay::run<replay::Mode::value>(p, r, 2);
    CHECK(Y[B - 1] == Seed(0.25).tape.value(Seed(0.25).out));
}

int main() {
    interrupted_batch();
    seed_example_replays();
    threads_split_batches();
    branch_guard();
    serialization_round_trip_and_rejection();
    if (failures) {
        std::printf("%d check(s) failed\n", failures);
        return 1;
    }
    std::printf("all C++ replay checks passed\n");
    return 0;
}
