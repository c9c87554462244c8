// Running C++ without the GIL, safely: at interpreter exit, and under Ctrl-C.
//
// without_gil(f): f runs with the GIL released. A daemon thread that comes
// back from f after Python began to shut down must not take the GIL again:
// Python 3.11-3.13 end such a thread with pthread_exit inside
// PyEval_RestoreThread, and that unwinding through a C++ destructor (as in
// py::gil_scoped_release's) calls std::terminate -- the process aborted
// with exit code 134 instead of Python's own status. So the GIL is taken back
// from a plain function (no destructor on the way), and a thread that sees
// the interpreter finalising waits there for the process to end, as Python
// 3.14 itself does with such threads.
//
// interruptible(f, watch): as without_gil, and Ctrl-C stops f. While it runs
// (when `watch`: the caller expects a long run), SIGINT's handler is wrapped
// by one that also bumps a counter, and f receives an Interrupt watching that
// counter (tapegrad/interrupt.hpp: its loops check it once per chunk of
// work). When f stops, the GIL is taken back and Python's handler runs
// (PyErr_CheckSignals): KeyboardInterrupt propagates; a handler that does
// not raise lets f run again from the start (every interruptible operation
// is restartable). The wrapper is installed per long call, not once at
// import, because signal.signal() in Python replaces whatever is installed.
#pragma once
#include <Python.h>
#include <pybind11/pybind11.h>

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>

#include "tapegrad/interrupt.hpp"
#include "tapegrad/python.hpp"

namespace tapegrad::bindings {

namespace detail {

inline bool python_finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsFinalizing();
#else
    return _Py_IsFinalizing();
#endif
}

[[noreturn]] inline void wait_for_process_exit() {
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

}  // namespace detail

template <class F>
void without_gil(F&& f) {
    std::exception_ptr error;
    PyThreadState* state = PyEval_SaveThread();
    try {
        f();
    } catch (...) {
        error = std::current_exception();
    }
    if (detail::python_finalizing()) detail::wait_for_process_exit();
    PyEval_RestoreThread(state);
    if (error) std::rethrow_exception(error);
}

namespace sigint {

// Bumped by every SIGINT while a call watches (lock-free: async-signal-safe).
inline std::atomic<std::uint64_t>& count() {
    static std::atomic<std::uint64_t> c{0};
    return c;
}

struct State {
    std::mutex m;
    int watchers = 0;
    struct sigaction previous {};  // the handler ours wraps (Python's)
};

inline void on_sigint(int sig, siginfo_t* info, void* context);

// fork(): the child has none of the calls that watch, so it puts Python's
// handler back and starts counting watchers from 0; the lock is held across
// fork() so that the child never inherits it held by a thread it lacks.
inline void before_fork();
inline void after_fork_in_parent();
inline void after_fork_in_child();

inline State& state() {
    static State* s = [] {
        auto* made = new State;  // never destroyed: a late signal may still read it
        pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child);
        return made;
    }();
    return *s;
}

inline bool ours_installed() {
    struct sigaction current {};
    return sigaction(SIGINT, nullptr, &current) == 0 && (current.sa_flags & SA_SIGINFO) &&
           current.sa_sigaction == on_sigint;
}

inline void before_fork() { state().m.lock(); }
inline void after_fork_in_parent() { state().m.unlock(); }
inline void after_fork_in_child() {
    State& s = state();
    if (s.watchers && ours_installed()) sigaction(SIGINT, &s.previous, nullptr);
    s.watchers = 0;
    s.m.unlock();
}

inline void on_sigint(int sig, siginfo_t* info, void* context) {
    count().fetch_add(1, std::memory_order_relaxed);
    const struct sigaction& p = state().previous;
    if (p.sa_flags & SA_SIGINFO)
        p.sa_sigaction(sig, info, context);
    else
        p.sa_handler(sig);
}

// Wrap SIGINT's handler so that it also bumps count(), or count one more
// watcher if it is wrapped already. False, and nothing done, where SIGINT has
// no handler function to wrap (default or ignored).
inline bool start_watching() {
    State& s = state();
    std::lock_guard<std::mutex> hold(s.m);
    if (s.watchers == 0) {
        struct sigaction current {};
        if (sigaction(SIGINT, nullptr, &current) != 0) return false;
        const bool function = (current.sa_flags & SA_SIGINFO) ? current.sa_sigaction != nullptr
                                                               : current.sa_handler != SIG_DFL &&
                                                                     current.sa_handler != SIG_IGN;
        if (!function) return false;
        s.previous = current;
        struct sigaction ours {};
        ours.sa_sigaction = on_sigint;
        ours.sa_mask = current.sa_mask;
        ours.sa_flags = SA_SIGINFO | (current.sa_flags & (SA_ONSTACK | SA_RESTART));
        if (sigaction(SIGINT, &ours, nullptr) != 0) return false;
    }
    ++s.watchers;
    return true;
}

// The end of a start_watching() that returned true: the last watcher puts
// Python's handler back, unless someone installed another meanwhile.
inline void stop_watching() {
    State& s = state();
    std::lock_guard<std::mutex> hold(s.m);
    if (--s.watchers) return;
    if (ours_installed()) sigaction(SIGINT, &s.previous, nullptr);
}

// While alive (and `on`), SIGINT also bumps count().
class Watch {
public:
    explicit Watch(bool on) : on_(on && start_watching()) {}
    ~Watch() {
        if (on_) stop_watching();
    }
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;

private:
    bool on_;
};

// The same, for tapegrad's Cython module, which runs array entries without
// the GIL: it reaches these through a capsule (module.cpp) rather than
// wrapping SIGINT on its own, since two wrappers of two modules would nest
// and could be taken off out of order.
inline python::SigintHooks hooks() { return {&count(), start_watching, stop_watching}; }

}  // namespace sigint

// Node evaluations from which a call is worth watching for Ctrl-C (about a
// millisecond; installing the handler costs two system calls, about a
// microsecond). Tapes and programs with array entries are always watched:
// an entry does a whole array's work in one slot.
inline constexpr std::size_t watch_from = Interrupt::check_every;

// f(const Interrupt*) with the GIL released; see the top of this file. The
// Interrupt is null when `watch` is false.
template <class F>
void interruptible(F&& f, bool watch) {
    for (;;) {
        sigint::Watch w(watch);
        const Interrupt stop(sigint::count());
        bool stopped = false;
        without_gil([&] {
            try {
                f(watch ? &stop : nullptr);
            } catch (const interrupted&) {
                stopped = true;
            }
        });
        if (!stopped) return;
        if (PyErr_CheckSignals() != 0) throw pybind11::error_already_set();
    }
}

}  // namespace tapegrad::bindings
