// The tape's reverse sweep for every binding that sweeps, compiled once
// (sweep.cpp): its kernels -- every entry kind, the fused backward built per
// instruction set -- are the largest part of the build, and a translation
// unit that called Tape::sweep itself would compile them all again.
#pragma once
#include "tapegrad/interrupt.hpp"
#include "tapegrad/tape.hpp"

namespace tapegrad::bindings {

void sweep(const Tape& t, index_t out, double* adjoint, const Interrupt* stop);

}  // namespace tapegrad::bindings
