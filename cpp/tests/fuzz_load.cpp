// The loader fuzz of the test suite as a standalone program, to run under
// AddressSanitizer and UndefinedBehaviorSanitizer:
//
//   cmake -S . -B build/asan -DTAPEGRAD_SANITIZE=ON && cmake --build build/asan --target fuzz_load
//   build/asan/fuzz_load 100000
//
// Exit status 1 if any case misbehaved (see tapegrad/testing/fuzz.hpp); the
// sanitizers abort on any out-of-bounds access or undefined behaviour.
//
// Dense entries need a BLAS, which tapegrad never links: with
// TAPEGRAD_FUZZ_BLAS=<path to a shared library with scipy_cblas_dgemm or
// cblas_dgemm> (e.g. the scipy-openblas32 wheel's, see tapegrad._blas) the
// fuzz loads it and includes dense entries too.
#include <cstdio>
#include <cstdlib>
#if defined(__unix__) || defined(__APPLE__)
#include <dlfcn.h>
#endif

#include "tapegrad/testing/fuzz.hpp"

static void load_blas() {
#if defined(__unix__) || defined(__APPLE__)
    const char* path = std::getenv("TAPEGRAD_FUZZ_BLAS");
    if (!path || !*path) return;
    void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    void* f = lib ? dlsym(lib, "scipy_cblas_dgemm") : nullptr;
    if (lib && !f) f = dlsym(lib, "cblas_dgemm");
    if (!f) {
        std::fprintf(stderr, "TAPEGRAD_FUZZ_BLAS: no cblas_dgemm in %s\n", path);
        std::exit(2);
    }
    tapegrad::blas::set_dgemm(reinterpret_cast<tapegrad::blas::dgemm_fn>(f));
    std::printf("dense entries on %s\n", path);
#endif
}

int main(int argc, char** argv) {
    load_blas();
    const unsigned long long cases = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000;
    const unsigned long long seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 20240611;
    const auto r = tapegrad::testing::fuzz_load(cases, seed);
    std::printf("%llu cases: %llu rejected, %llu accepted and replayed, %llu violations%s%s\n",
                static_cast<unsigned long long>(r.cases), static_cast<unsigned long long>(r.rejected),
                static_cast<unsigned long long>(r.accepted), static_cast<unsigned long long>(r.violations),
                r.violations ? ": " : "", r.first_violation.c_str());
    return r.violations ? 1 : 0;
}
