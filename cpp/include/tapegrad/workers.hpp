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
// threads of its own, as before. After fork() the child starts a new set (the
// parent's threads do not exist there). The threads live until the process
// exits, idle on a condition variable; the set is never destroyed, so that
// nothing waits on them during static destruction.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include <unistd.h>

namespace tapegrad::workers {

class Kept {
public:
    // job(0) on the calling thread and job(1) .. job(parts - 1) on kept
    // threads, returning when all are done; job must not throw. False (and
    // nothing run) if another caller is using the kept threads.
    bool try_run(std::size_t parts, const std::function<void(std::size_t)>& job) {
        std::unique_lock<std::mutex> use(in_use_, std::try_to_lock);
        if (!use) return false;
        {
            std::lock_guard<std::mutex> hold(m_);
            for (; started_ + 1 < parts; ++started_) {  // std::system_error here: the caller starts its own
                const std::size_t k = started_ + 1;
                std::thread([this, k] { serve(k); }).detach();
            }
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
    void serve(std::size_t k) {
        std::unique_lock<std::mutex> hold(m_);
        std::uint64_t seen = 0;  // a thread started for a round joins that round
        for (;;) {
            wake_.wait(hold, [&] { return round_ != seen; });
            seen = round_;
            if (k >= parts_) continue;  // this round needs fewer threads
            const std::function<void(std::size_t)>* job = job_;
            hold.unlock();
            (*job)(k);
            hold.lock();
            if (--pending_ == 0) done_.notify_one();
        }
    }

    std::mutex in_use_;  // held by the one caller using the threads
    std::mutex m_;       // guards everything below
    std::condition_variable wake_, done_;
    std::size_t started_ = 0;
    const std::function<void(std::size_t)>* job_ = nullptr;
    std::size_t parts_ = 0, pending_ = 0;
    std::uint64_t round_ = 0;
};

// This process's kept threads (a new set in a child after fork()).
inline Kept& kept() {
    static std::mutex guard;
    static Kept* set = nullptr;
    static pid_t owner = 0;
    std::lock_guard<std::mutex> hold(guard);
    if (!set || owner != getpid()) {
        set = new Kept;  // never deleted (see above); a forked child's old set is abandoned
        owner = getpid();
    }
    return *set;
}

}  // namespace tapegrad::workers
