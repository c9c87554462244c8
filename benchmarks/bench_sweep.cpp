// The reverse sweep alone, in C++, on the random DAG of benchmarks/dag.py
// (same recipe, C++ random numbers): ops + - * sin exp tanh over parents among
// the last 32 values, 100 inputs, a result outside [-2, 2] squashed by one more
// tanh node. Prints record and sweep ns/node and bytes per node; the Python
// benchmark (bench_foundation.py) measures the same through a gradient call.
//
//   cmake -S . -B build/cpp && cmake --build build/cpp --target bench_sweep
//   build/cpp/bench_sweep [nodes=10000000] [repeat=7]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "tapegrad/record.hpp"

using namespace tapegrad;
using clock_type = std::chrono::steady_clock;

static double ns_per(clock_type::time_point a, clock_type::time_point b, double n) {
    return std::chrono::duration<double, std::nano>(b - a).count() / n;
}

int main(int argc, char** argv) {
    const long n_nodes = argc > 1 ? std::atol(argv[1]) : 10000000;
    const int repeat = argc > 2 ? std::atoi(argv[2]) : 7;
    constexpr int window = 32, n_inputs = 100;

    Tape tape;
    std::mt19937_64 rng(0);
    std::uniform_real_distribution<double> uniform(-2.0, 2.0);
    std::vector<index_t> ring;
    const auto t0 = clock_type::now();
    for (int k = 0; k < n_inputs; ++k) ring.push_back(tape.push_input(uniform(rng)));
    ring.erase(ring.begin(), ring.end() - window);
    std::size_t head = 0;  // ring[head] is the oldest of the last `window` values
    while (tape.size() < static_cast<index_t>(n_nodes)) {
        const index_t a = ring[(head + window - 1 - rng() % window) % window];
        const index_t b = ring[(head + window - 1 - rng() % window) % window];
        index_t v = 0;
        switch (rng() % 6) {
            case 0: v = record_add(tape, a, b); break;
            case 1: v = record_subtract(tape, a, b); break;
            case 2: v = record_multiply(tape, a, b); break;
            case 3: v = record_sin(tape, a); break;
            case 4: v = record_exp(tape, a); break;
            default: v = record_tanh(tape, a); break;
        }
        if (!(std::fabs(tape.value(v)) <= 2.0)) v = record_tanh(tape, v);
        ring[head] = v;
        head = (head + 1) % window;
    }
    const auto t1 = clock_type::now();
    const index_t out = ring[(head + window - 1) % window];
    const double nodes = tape.size();

    Buffer<double> adjoint;
    adjoint.reserve(out + 1);
    std::vector<double> zeroing, sweeping;
    for (int r = 0; r < repeat; ++r) {
        const auto s0 = clock_type::now();
        std::memset(adjoint.data(), 0, (out + 1) * sizeof(double));
        adjoint[out] = 1.0;
        const auto s1 = clock_type::now();
        tape.sweep(out, adjoint.data());
        const auto s2 = clock_type::now();
        zeroing.push_back(ns_per(s0, s1, nodes));
        sweeping.push_back(ns_per(s1, s2, nodes));
    }
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    std::printf("| measure (C++, %.0f nodes) | value |\n|---|---|\n", nodes);
    std::printf("| record, ns/node (first touch of fresh memory included) | %.1f |\n", ns_per(t0, t1, nodes));
    std::printf("| zero the adjoints, median ns/node | %.2f |\n", median(zeroing));
    std::printf("| sweep loop, min ns/node | %.2f |\n", *std::min_element(sweeping.begin(), sweeping.end()));
    std::printf("| sweep loop, median ns/node | %.2f |\n", median(sweeping));
    std::printf("| partials all finite (fast loop) | %s |\n", tape.all_partials_finite() ? "yes" : "no");
    std::printf("| tape bytes per node | %.2f |\n", tape.nbytes() / nodes);
    std::printf("| checksum d out / d input 0 | %.6g |\n", adjoint[first_node]);
    return 0;
}
