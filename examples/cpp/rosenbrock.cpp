// Gradient of the Rosenbrock function in plain C++ with tapegrad::Scalar:
// the same templated function runs on doubles and on Scalars, and one reverse
// sweep gives every partial derivative. Exits non-zero if any differs from the
// derivative worked out by hand.
#include <cmath>
#include <cstdio>
#include <vector>

#include "tapegrad/scalar.hpp"

template <class T>
T rosenbrock(const std::vector<T>& x) {
    T s = 0.0;
    for (std::size_t i = 0; i + 1 < x.size(); ++i) {
        const T d = x[i + 1] - x[i] * x[i];
        s += 100.0 * d * d + (1.0 - x[i]) * (1.0 - x[i]);
    }
    return s;
}

int main() {
    const int n = 1000;
    tapegrad::Tape tape;
    std::vector<double> xv(n);
    std::vector<tapegrad::Scalar> x;
    for (int i = 0; i < n; ++i) {
        xv[i] = 0.5 + 0.4 * std::sin(i);
        x.push_back(tapegrad::Scalar::input(tape, xv[i]));
    }
    const tapegrad::Scalar y = rosenbrock(x);
    const tapegrad::Adjoints g = tapegrad::gradient(y);  // one reverse sweep

    // By hand: d/dx_i of 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2, and of the previous term.
    double worst = 0.0;
    for (int i = 0; i < n; ++i) {
        double want = 0.0;
        if (i + 1 < n) want += -400.0 * xv[i] * (xv[i + 1] - xv[i] * xv[i]) - 2.0 * (1.0 - xv[i]);
        if (i > 0) want += 200.0 * (xv[i] - xv[i - 1] * xv[i - 1]);
        worst = std::fmax(worst, std::fabs(g[x[i]] - want) / (1.0 + std::fabs(want)));
    }
    std::printf("rosenbrock(x) = %.12g with n = %d (plain doubles: %.12g)\n", y.value(), n, rosenbrock(xv));
    std::printf("dy/dx[0..2] = %.12g %.12g %.12g\n", g[x[0]], g[x[1]], g[x[2]]);
    std::printf("%d nodes on the tape; largest relative difference to the hand-derived gradient: %.1e\n",
                int(tape.size()), worst);
    return worst < 1e-12 ? 0 : 1;
}
