#pragma once
#include <algorithm>
#include <cstdint>
#include <mutex>

#include "tapegrad/tape.hpp"

namespace tapegrad::bindings {

// What a Python Tape owns: the C++ tape and the adjoint workspace its sweeps
// reuse. Keeping the workspace saves a fresh allocation per gradient, whose
// page faults cost more than the sweep itself on a large tape.
struct TapeHandle {
    explicit TapeHandle(std::uint64_t limit) : tape(limit) {}

    std::size_t nbytes() const {
        constexpr std::size_t page = 4096;
        const std::size_t adj = std::min(adjoint.bytes(), (adjoint_high_water * sizeof(double) + page - 1) / page * page);
        return tape.nbytes() + adj;
    }

    Tape tape;
    Buffer<double> adjoint;
    std::size_t adjoint_high_water = 0;
    std::mutex adjoint_mutex;
};

}  // namespace tapegrad::bindings
