// Replay on doubles: values and reverse mode (see replay_modes.hpp).
#include "replay_modes.hpp"

namespace tapegrad::replay {
TG_REPLAY_MODE(, value)
TG_REPLAY_MODE(, vjp)
}  // namespace tapegrad::replay
