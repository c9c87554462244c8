// C++ test of dense-layer entries with no Python. The kernel takes any
// function with the CBLAS dgemm signature (blas.hpp), so this test hands it a
// plain reference product as its BLAS (the oracle here; the package itself
// always runs OpenBLAS) and checks values and adjoints by hand and by central
// differences, with strided operands and a sweep that starts inside the entry.
#include <cmath>
#include <cstdio>
#include <vector>

#include "tapegrad/record_dense.hpp"

#include "check.hpp"

using namespace tapegrad;

// Row-major C = alpha op(A) op(B) + beta C, element by element.
static void reference_dgemm(int, int ta, int tb, int m, int n, int k, double alpha, const double* a, int lda,
                            const double* b, int ldb, double beta, double* c, int ldc) {
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
            double s = 0.0;
            for (int l = 0; l < k; ++l) {
                const double av = ta == blas::trans ? a[l * lda + i] : a[i * lda + l];
                const double bv = tb == blas::trans ? b[j * ldb + l] : b[l * ldb + j];
                s += av * bv;
            }
            c[i * ldc + j] = alpha * s + (beta == 0.0 ? 0.0 : beta * c[i * ldc + j]);
        }
}

// tanh(X W + b) for X (2 x 3) stored transposed (a strided view), W (3 x 2),
// b (2) stored backwards; output slot `pick` of the entry as the result.
struct Layer {
    Tape t;
    index_t xs, ws, bs, out;
};

static void record_layer(Layer& L, const std::vector<double>& xt, const std::vector<double>& w,
                         const std::vector<double>& b_reversed) {
    L.xs = L.t.push_inputs(xt.data(), 6);  // X^T, 3 x 2 row-major: X(i, k) at k * 2 + i
    L.ws = L.t.push_inputs(w.data(), 6);
    L.bs = L.t.push_inputs(b_reversed.data(), 2);
    const DenseOperand x{L.xs, 1, 2, nullptr}, wv{L.ws, 2, 1, nullptr}, bv{L.bs + 1, -1, 0, nullptr};
    const Entry e = begin_dense(L.t, 2, 3, 2, x, wv, true, bv, activation::Kind::tanh);
    run_entry(L.t, e);
    commit_entry(L.t, e);
    L.out = e.first;
}

static void dense_values_and_adjoints() {
    const std::vector<double> xt = {0.5, -1.0, 0.25, 2.0, -0.75, 0.1};
    const std::vector<double> w = {0.3, -0.2, 0.8, 0.5, -0.6, 0.4};
    const std::vector<double> b_rev = {0.05, -0.1};  // b = (-0.1, 0.05)
    Layer L;
    record_layer(L, xt, w, b_rev);
    const double b[2] = {-0.1, 0.05};
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) {
            double z = b[j];
            for (int k = 0; k < 3; ++k) z += xt[k * 2 + i] * w[k * 2 + j];
            CHECK_NEAR(L.t.value(L.out + i * 2 + j), std::tanh(z), 1e-15);
        }
    // d Y(1, 0) / d everything, from a sweep starting at that output (inside the entry)
    const index_t out = L.out + 2;
    std::vector<double> adj(L.t.size(), 7.0);  // past `out` a sweep must read nothing: make it garbage
    std::fill(adj.begin(), adj.begin() + out + 1, 0.0);
    adj[out] = 1.0;
    L.t.sweep(out, adj.data());
    double z = b[0];
    for (int k = 0; k < 3; ++k) z += xt[k * 2 + 1] * w[k * 2];
    const double dz = 1 - std::tanh(z) * std::tanh(z);
    for (int k = 0; k < 3; ++k) {
        CHECK_NEAR(adj[L.xs + k * 2 + 1], dz * w[k * 2], 1e-14);  // dX(1, k) = dz W(k, 0)
        CHECK_NEAR(adj[L.xs + k * 2], 0.0, 1e-14);                // row 0 of X is off the path
        CHECK_NEAR(adj[L.ws + k * 2], dz * xt[k * 2 + 1], 1e-14);  // dW(k, 0) = X(1, k) dz
        CHECK_NEAR(adj[L.ws + k * 2 + 1], 0.0, 1e-14);
    }
    CHECK_NEAR(adj[L.bs + 1], dz, 1e-14);  // b(0) sits at the second slot
    CHECK_NEAR(adj[L.bs], 0.0, 1e-14);

    // every input against central differences of the sum of the outputs
    auto total = [&](const std::vector<double>& in) {
        Layer M;
        record_layer(M, {in.begin(), in.begin() + 6}, {in.begin() + 6, in.begin() + 12}, {in.begin() + 12, in.end()});
        double s = 0.0;
        for (int i = 0; i < 4; ++i) s += M.t.value(M.out + i);
        return s;
    };
    std::vector<double> all(xt);
    all.insert(all.end(), w.begin(), w.end());
    all.insert(all.end(), b_rev.begin(), b_rev.end());
    std::vector<double> g(L.t.size(), 0.0);
    for (int i = 0; i < 4; ++i) g[L.out + i] = 1.0;
    L.t.sweep(L.out + 3, g.data());
    for (std::size_t i = 0; i < all.size(); ++i) {
        auto p = all, m = all;
        p[i] += 1e-6;
        m[i] -= 1e-6;
        CHECK_NEAR(g[L.xs + i], (total(p) - total(m)) / 2e-6, 1e-7);
    }
}

int main() {
    blas::set_dgemm(&reference_dgemm);
    dense_values_and_adjoints();
    if (failures) {
        std::printf("%d check(s) failed\n", failures);
        return 1;
    }
    std::printf("dense entries: all checks passed\n");
    return 0;
}
