// The loader fuzz of the test suite as a standalone program, to run under
// AddressSanitizer and UndefinedBehaviorSanitizer:
//
//   cmake -S . -B build/asan -DTAPEGRAD_SANITIZE=ON && cmake --build build/asan --target fuzz_load
//   build/asan/fuzz_load 100000
//
// Exit status 1 if any case misbehaved (see tapegrad/testing/fuzz.hpp); the
// sanitizers abort on any out-of-bounds access or undefined behaviour.
#include <cstdio>
#include <cstdlib>

#include "tapegrad/testing/fuzz.hpp"

int main(int argc, char** argv) {
    const unsigned long long cases = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000;
    const unsigned long long seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 20240611;
    const auto r = tapegrad::testing::fuzz_load(cases, seed);
    std::printf("%llu cases: %llu rejected, %llu accepted and replayed, %llu violations%s%s\n",
                static_cast<unsigned long long>(r.cases), static_cast<unsigned long long>(r.rejected),
                static_cast<unsigned long long>(r.accepted), static_cast<unsigned long long>(r.violations),
                r.violations ? ": " : "", r.first_violation.c_str());
    return r.violations ? 1 : 0;
}
