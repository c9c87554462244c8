// replay::run for each mode, compiled in two translation units of their own
// (replay_double.cpp: value and vjp; replay_dual.cpp: jvp and hvp, on dual
// numbers) rather than in every binding that replays: each instantiation
// compiles every entry kind's kernels (on doubles, the cloned ones are
// compiled once for the package: kernel_forward.cpp, kernel_backward.cpp).
#pragma once
#include "tapegrad/replay.hpp"

namespace tapegrad::replay {

#define TG_REPLAY_MODE(prefix, mode) \
    prefix template BranchChange run<Mode::mode>(const Program&, const Request&, unsigned, const Interrupt*);
TG_REPLAY_MODE(extern, value)
TG_REPLAY_MODE(extern, vjp)
TG_REPLAY_MODE(extern, jvp)
TG_REPLAY_MODE(extern, hvp)

}  // namespace tapegrad::replay
