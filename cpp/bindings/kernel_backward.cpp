// The backward kernels of array entries, compiled once for the whole package
// (TAPEGRAD_SHARED_KERNELS, config.hpp): entries::backward_fused_double
// (entries/fused.hpp, cloned), which the tape's sweep and replay's vjp call,
// and the tape sweep's kernels of every entry kind (arrays.hpp's
// entry_sweep, which commit_entry sets on a tape, in whichever module records).
#define TAPEGRAD_COMPILE_BACKWARD_KERNELS
#include "tapegrad/arrays.hpp"
