// The checks of the C++ tests: each failed check prints where and why and is
// counted in `failures`; main() returns non-zero if any failed.
#pragma once
#include <cmath>
#include <cstdio>

static int failures = 0;

#define CHECK_NEAR(got, want, tol)                                                             \
    do {                                                                                       \
        const double g_ = (got), w_ = (want);                                                  \
        if (!(std::fabs(g_ - w_) <= (tol) * (1 + std::fabs(w_)))) {                            \
            std::printf("FAIL %s:%d  %s = %.17g, want %.17g\n", __FILE__, __LINE__, #got, g_, w_); \
            ++failures;                                                                        \
        }                                                                                      \
    } while (0)

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond)) {                                                             \
            std::printf("FAIL %s:%d  %s\n", __FILE__, __LINE__, #cond);            \
            ++failures;                                                            \
        }                                                                          \
    } while (0)
