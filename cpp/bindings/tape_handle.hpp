#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <utility>

#include "tapegrad/tape.hpp"

namespace tapegrad::bindings {

// Where an adjoint workspace lent out as a gradient array (see pullback in
// register_arrays.cpp) comes back when that array dies, so that the next
// sweep reuses its pages instead of faulting in fresh ones. Shared with the
// arrays, which may outlive their tape.
struct ReturnedWorkspace {
    void give_back(Buffer<double>&& b) {
        std::lock_guard<std::mutex> hold(m);
        if (b.capacity() > spare.capacity()) spare = std::move(b);  // the smaller one is freed
    }
    // The spare, if it holds at least n doubles (else an empty buffer).
    Buffer<double> take(std::size_t n) {
        std::lock_guard<std::mutex> hold(m);
        return spare.capacity() >= n ? std::move(spare) : Buffer<double>();
    }
    std::size_t bytes() {
        std::lock_guard<std::mutex> hold(m);
        return spare.bytes();
    }

    std::mutex m;
    Buffer<double> spare;
};

// What a Python Tape owns: the C++ tape and the adjoint workspace its sweeps
// reuse. Keeping the workspace saves a fresh allocation per gradient, whose
// page faults cost more than the sweep itself on a large tape.
struct TapeHandle {
    explicit TapeHandle(std::uint64_t limit) : tape(limit) {}

    std::size_t nbytes() const {
        constexpr std::size_t page = 4096;
        const std::size_t adj = std::min(adjoint.bytes(), (adjoint_high_water * sizeof(double) + page - 1) / page * page);
        return tape.nbytes() + adj + returned->bytes();
    }

    // Whether a sweep may run long for its size in nodes: an array entry
    // does a whole array's work in one slot (a fused sum of 10^6 elements).
    bool has_entries() const {
        auto hold = tape.lock_storage();  // a recording thread may be appending one
        return !tape.entries().empty();
    }

    Tape tape;
    Buffer<double> adjoint;
    std::size_t adjoint_high_water = 0;
    std::mutex adjoint_mutex;
    std::shared_ptr<ReturnedWorkspace> returned = std::make_shared<ReturnedWorkspace>();
};

// One reverse sweep (or a run of them) in progress: holds the tape's storage
// lock, so growth and reset wait for it, and the adjoint workspace, whose
// first n entries zeroed(n) hands out ready to seed. Every binding that sweeps
// goes through this, so none can forget a lock or the workspace's bookkeeping.
class SweepScope {
public:
    explicit SweepScope(TapeHandle& h)
        : h_(h), storage_(h.tape.lock_storage()), workspace_(h.adjoint_mutex) {}

    double* zeroed(std::size_t n) {
        if (h_.adjoint.capacity() < n) {  // lent out as a gradient (or too small): a returned one will do
            Buffer<double> back = h_.returned->take(n);
            if (back.data()) h_.adjoint = std::move(back);
        }
        h_.adjoint.reserve(n);  // kept between sweeps: no page faults on the next one
        h_.adjoint_high_water = std::max(h_.adjoint_high_water, n);
        double* adj = h_.adjoint.data();
        std::memset(adj, 0, n * sizeof(double));
        return adj;
    }

    // The workspace itself, for a caller that hands it over (h.adjoint is
    // then empty until the next zeroed()).
    Buffer<double> lend() { return std::move(h_.adjoint); }

private:
    TapeHandle& h_;
    std::unique_lock<std::mutex> storage_;
    std::lock_guard<std::mutex> workspace_;
};

}  // namespace tapegrad::bindings
