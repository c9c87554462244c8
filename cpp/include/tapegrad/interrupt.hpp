// Stopping a long loop early (Ctrl-C), without the GIL and at nearly no cost.
//
// A caller that wants a loop to be interruptible hands it an Interrupt: a
// snapshot of a counter that something else bumps (the Python bindings bump
// it from a SIGINT handler, cpp/bindings/gil.hpp). The loop asks
// `requested()` -- one relaxed load and compare -- once per chunk of work
// (`check_every` nodes, a chunk of lanes, one batch row), never per node, and
// throws `interrupted` when the counter moved (array kernels, which must not
// throw, stop early instead: Poll, below). Loops given no Interrupt (nullptr,
// the default for C++ users) never check.
//
// Every interruptible operation is restartable: it writes only into its own
// workspace and outputs, so the tape or program it reads stays usable, and
// running it again gives the full answer.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>

namespace tapegrad {

// Thrown by an interruptible loop that was asked to stop; the caller decides
// what it means (the bindings raise KeyboardInterrupt, or run again).
struct interrupted : std::exception {
    const char* what() const noexcept override { return "tapegrad: interrupted"; }
};

class Interrupt {
public:
    explicit Interrupt(const std::atomic<std::uint64_t>& counter) noexcept
        : counter_(&counter), start_(counter.load(std::memory_order_relaxed)) {}

    bool requested() const noexcept { return counter_->load(std::memory_order_relaxed) != start_; }
    void check() const {
        if (requested()) throw interrupted();
    }

    // Scalar nodes a sweep or forward pass runs between two checks: about a
    // millisecond of work, so a check costs nothing measurable.
    static constexpr std::size_t check_every = std::size_t(1) << 20;

private:
    const std::atomic<std::uint64_t>* counter_;
    std::uint64_t start_;
};

// Convenience for loops that take an optional Interrupt.
inline void check(const Interrupt* stop) {
    if (stop) stop->check();
}
inline bool requested(const Interrupt* stop) noexcept { return stop && stop->requested(); }

// The kernels of array entries run inside code that must not throw (a
// reverse sweep cannot fail once started), and one entry may be a whole
// array's work: so they do not throw on Ctrl-C, they stop early. A Poll
// counts the elements a kernel has done and asks its Interrupt once per
// `every` of them; once it said stop it keeps saying so, the kernel returns
// with its outputs partial, and its caller, which may throw, calls
// check(stop). Without an Interrupt a Poll never stops.
class Poll {
public:
    // Elements between two questions: tens of microseconds of a fused
    // program's work, a few of an elementwise one's.
    static constexpr std::int64_t every = std::int64_t(1) << 16;

    explicit Poll(const Interrupt* stop) noexcept : stop_(stop) {}

    // After `work` more elements: stop now?
    bool stop_after(std::int64_t work) noexcept {
        if (!stop_ || stopped_) return stopped_;
        done_ += work;
        if (done_ < every) return false;
        done_ = 0;
        return stopped_ = stop_->requested();
    }
    bool stopped() const noexcept { return stopped_; }

private:
    const Interrupt* stop_;
    std::int64_t done_ = 0;
    bool stopped_ = false;
};

}  // namespace tapegrad
