#pragma once
#include <pybind11/pybind11.h>

#include "initialised.hpp"  // before any binding: every TU must see the same casters

namespace tapegrad::bindings {
void register_ops(pybind11::module_& m);
void register_tape(pybind11::module_& m);
void register_graph(pybind11::module_& m);  // after register_tape: adds to its Tape
void register_replay(pybind11::module_& m);
void register_arrays(pybind11::module_& m);
void register_dense(pybind11::module_& m);
void register_fuzz(pybind11::module_& m);
}  // namespace tapegrad::bindings
