#include "sweep.hpp"

namespace tapegrad::bindings {

void sweep(const Tape& t, index_t out, double* adjoint, const Interrupt* stop) { t.sweep(out, adjoint, stop); }

}  // namespace tapegrad::bindings
