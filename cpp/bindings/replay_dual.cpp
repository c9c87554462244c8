// Replay on dual numbers: forward mode and Hessian-vector products (see
// replay_modes.hpp).
#include "replay_modes.hpp"

namespace tapegrad::replay {
TG_REPLAY_MODE(, jvp)
TG_REPLAY_MODE(, hvp)
}  // namespace tapegrad::replay
