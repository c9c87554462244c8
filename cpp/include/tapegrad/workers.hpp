// Threads kept for batched replay (replay.hpp), so that `threads=2` pays off
// on batches of 10^4 points.
//
// Measured before this existed (bench_replay.py, seed example, B = 10^4, 2
// cores): 25 ns/point on one thread, 41 on two. A call that starts a
// std::thread pays for the clone and exit, and the new thread's thread_local
// replay workspace (about 0.5 MB) is fresh every time, so its pages fault in
// again: together more than the half of a 250 us batch that the thread saved.
// Kept threads keep their workspaces and only need a wake-up.
//
// One caller at a time uses the kept threads; a second caller meanwhile (two
// Python threads replaying at once, GIL released) gets `false` and starts
// threads of its own, as before. The threads live until the process exits,
// idle on a condition variable; the set is never destroyed, so that nothing
// waits on them during static destruction.
//
// fork(): the child has none of the parent's threads, so it forgets the
// parent's set (never destroying it: its std::thread objects are joinable,
// and its locks may be held by threads that do not exist there) and makes a
// new one on first use. pthread_atfork keeps the one lock that guards the
// set's pointer from being copied into the child while another thread holds it.
//
// A thread the system refuses (a limit on threads or on memory) ends the
// call with thread_start_error, after stopping the threads that call started:
// the process keeps no more threads than before.
#pragma once
#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <pthread.h>

namespace tapegrad::workers {

// "could not start thread k of n" (the calling thread is thread 1): the
// system's limit was reached.
class thread_start_error : public std::runtime_error {
public:
    thread_start_error(std::size_t k, std::size_t n, const std::system_error& e)
        : std::runtime_error("tapegrad: could not start thread " + std::to_string(k) + " of the " + std::to_string(n) +
                             " this call asked for (" + e.what() +
                             "): the system's limit on threads or on memory was reached (see ulimit -u and "
                             "ulimit -v). Ask for fewer threads, e.g. threads=" +
                             std::to_string(std::max<std::size_t>(1, std::thread::hardware_concurrency())) +
                             " (the cores here); no thread of this call is left running.") {}
};

class Kept {
public:
    // job(0) on the calling thread and job(1) .. job(parts - 1) on kept
    // threads, returning when all are done; job must not throw. False (and
    // nothing run) if another caller is using the kept threads. Throws
    // thread_start_error (nothing run) if a thread cannot be started.
    bool try_run(std::size_t parts, const std::function<void(std::size_t)>& job) {
        std::unique_lock<std::mutex> use(in_use_, std::try_to_lock);
        if (!use) return false;
        grow(parts - 1);
        {
            std::lock_guard<std::mutex> hold(m_);
            job_ = &job;
            parts_ = parts;
            pending_ = parts - 1;
            ++round_;
        }
        wake_.notify_all();
        job(0);
        std::unique_lock<std::mutex> hold(m_);
        done_.wait(hold, [&] { return pending_ == 0; });
        job_ = nullptr;
        return true;
    }

private:
    // At least `count` kept threads, or as many as before and an exception.
    void grow(std::size_t count) {
        const std::size_t before = threads_.size();
        try {
            std::lock_guard<std::mutex> hold(m_);
            threads_.reserve(count);
            while (threads_.size() < count) {
                const std::size_t k = threads_.size() + 1;
                threads_.emplace_back([this, k, seen = round_] { serve(k, seen); });
            }
        } catch (const std::system_error& e) {
            const std::size_t refused = threads_.size() + 2;  // the caller is thread 1
            retire(before);
            throw thread_start_error(refused, count + 1, e);
        } catch (...) {
            retire(before);
            throw;
        }
    }

    // Stop and join the threads from number keep + 1 on (idle: no round runs).
    void retire(std::size_t keep) {
        {
            std::lock_guard<std::mutex> hold(m_);
            keep_ = keep;
            ++round_;
        }
        wake_.notify_all();
        for (std::size_t k = keep; k < threads_.size(); ++k) threads_[k].join();
        threads_.resize(keep);
        std::lock_guard<std::mutex> hold(m_);
        keep_ = SIZE_MAX;
    }

    // Thread k (1-based) serves every round after `seen`, the one it was started in.
    void serve(std::size_t k, std::uint64_t seen) {
        std::unique_lock<std::mutex> hold(m_);
        for (;;) {
            wake_.wait(hold, [&] { return round_ != seen; });
            seen = round_;
            if (k > keep_) return;                 // retired
            if (!job_ || k >= parts_) continue;    // no job (a retirement), or this round needs fewer threads
            const std::function<void(std::size_t)>* job = job_;
            hold.unlock();
            (*job)(k);
            hold.lock();
            if (--pending_ == 0) done_.notify_one();
        }
    }

    std::mutex in_use_;  // held by the one caller using the threads
    std::vector<std::thread> threads_;  // changed only by the caller holding in_use_
    std::mutex m_;       // guards everything below
    std::condition_variable wake_, done_;
    const std::function<void(std::size_t)>* job_ = nullptr;
    std::size_t parts_ = 0, pending_ = 0;
    std::size_t keep_ = SIZE_MAX;  // threads numbered above this exit (retire)
    std::uint64_t round_ = 0;
};

namespace detail {

// The process's set, behind the lock that the fork handlers hold across fork().
struct KeptSet {
    std::mutex guard;
    Kept* set = nullptr;
};

inline KeptSet& kept_set() {
    static KeptSet* s = new KeptSet;  // never destroyed (see above)
    return *s;
}

inline void before_fork() { kept_set().guard.lock(); }
inline void after_fork_in_parent() { kept_set().guard.unlock(); }
inline void after_fork_in_child() {
    KeptSet& s = kept_set();
    s.set = nullptr;  // the parent's threads do not exist here: forget (never destroy) them
    s.guard.unlock();  // held by this thread since before_fork
}

}  // namespace detail

// This process's kept threads (a new set in a child after fork()).
inline Kept& kept() {
    static const int registered =
        pthread_atfork(detail::before_fork, detail::after_fork_in_parent, detail::after_fork_in_child);
    (void)registered;
    detail::KeptSet& s = detail::kept_set();
    std::lock_guard<std::mutex> hold(s.guard);
    if (!s.set) s.set = new Kept;  // never deleted (see above)
    return *s.set;
}

}  // namespace tapegrad::workers
