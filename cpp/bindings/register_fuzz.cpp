// The loader's fuzz, for the test suite (tests/test_file_format.py): its own
// translation unit, since it records every entry kind (the forward kernels).
#include <pybind11/pybind11.h>
#include <pybind11/typing.h>

#include <cstdint>

#include "gil.hpp"
#include "register.hpp"
#include "replay_modes.hpp"
#include "tapegrad/testing/fuzz.hpp"

namespace py = pybind11;
using namespace pybind11::literals;

namespace tapegrad::bindings {

void register_fuzz(py::module_& m) {
    m.def("_fuzz_load", [](std::uint64_t cases, std::uint64_t seed) {
        testing::FuzzReport rep;
        without_gil([&] { rep = testing::fuzz_load(cases, seed); });  // pure C++
        using Report = py::typing::Dict<py::str, py::typing::Union<py::int_, py::str>>;
        return Report(py::dict("cases"_a = rep.cases, "rejected"_a = rep.rejected, "accepted"_a = rep.accepted,
                               "violations"_a = rep.violations, "first_violation"_a = rep.first_violation));
    }, py::arg("cases"), py::arg("seed"),
       "Fuzz the loader with truncated, bit-flipped and hand-crafted bytes (for the test suite).");
}

}  // namespace tapegrad::bindings
