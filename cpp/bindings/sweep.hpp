// The tape's reverse sweep for every binding that sweeps, compiled once
// (sweep.cpp). Its entry kernels are not compiled here: the tape runs them
// through the EntrySweep that commit_entry sets (tape.hpp, arrays.hpp), whose
// functions the package compiles once (kernel_backward.cpp).
#pragma once
#include "tapegrad/interrupt.hpp"
#include "tapegrad/tape.hpp"

namespace tapegrad::bindings {

void sweep(const Tape& t, index_t out, double* adjoint, const Interrupt* stop);

}  // namespace tapegrad::bindings
