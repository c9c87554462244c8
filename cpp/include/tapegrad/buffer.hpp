// A growable array of trivially copyable T whose growth never copies.
//
// On Linux the storage is an anonymous mapping that mremap() enlarges by
// moving page-table entries, not bytes: growing a 3 GB tape never needs 6 GB,
// and pages that are reserved but not yet written cost no RAM. Elsewhere it
// falls back to realloc, which may copy.
#pragma once
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <type_traits>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace tapegrad {

// std::bad_alloc that says how much was asked for and what to do (tapegrad's
// MemoryError carries this message). No std::string inside: copying the
// exception must not allocate when memory is what ran out.
class out_of_memory : public std::bad_alloc {
public:
    explicit out_of_memory(std::size_t bytes) noexcept : bytes_(bytes) {
        std::snprintf(message_, sizeof message_,
                      "tapegrad: out of memory: could not allocate %.3g GB (%zu bytes) for a tape or replay "
                      "workspace. Record less per tape (reset() it between independent computations), evaluate "
                      "a batch in smaller pieces, use fewer threads, or free memory.",
                      static_cast<double>(bytes) / 1e9, bytes);
    }
    const char* what() const noexcept override { return message_; }
    std::size_t bytes() const noexcept { return bytes_; }

private:
    std::size_t bytes_;
    char message_[320];
};

template <class T>
class Buffer {
    static_assert(std::is_trivially_copyable_v<T>, "Buffer holds plain data only");

public:
    Buffer() = default;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    Buffer(Buffer&& o) noexcept : data_(o.data_), bytes_(o.bytes_) { o.data_ = nullptr; o.bytes_ = 0; }
    Buffer& operator=(Buffer&& o) noexcept {
        if (this != &o) { release(); data_ = o.data_; bytes_ = o.bytes_; o.data_ = nullptr; o.bytes_ = 0; }
        return *this;
    }
    ~Buffer() { release(); }

    T* data() noexcept { return data_; }
    const T* data() const noexcept { return data_; }
    T& operator[](std::size_t i) noexcept { return data_[i]; }
    const T& operator[](std::size_t i) const noexcept { return data_[i]; }
    std::size_t capacity() const noexcept { return bytes_ / sizeof(T); }
    std::size_t bytes() const noexcept { return bytes_; }

    // Make room for at least `count` elements, keeping the contents.
    // Throws out_of_memory (a std::bad_alloc) when the system refuses.
    void reserve(std::size_t count) {
        if (count <= capacity()) return;
        if (count > SIZE_MAX / sizeof(T)) throw out_of_memory(SIZE_MAX);
        std::size_t want = count * sizeof(T);
#if defined(__linux__)
        const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
        want = (want + page - 1) / page * page;
        void* p = data_ ? mremap(data_, bytes_, want, MREMAP_MAYMOVE)
                        : mmap(nullptr, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw out_of_memory(want);
        // Transparent huge pages: a page fault costs microseconds in a VM, and
        // 2 MB pages cut the faults of a large tape 512-fold (and TLB misses
        // of the sweep with them). Only advice: ignored where THP is off.
        if (want >= (std::size_t(2) << 20)) madvise(p, want, MADV_HUGEPAGE);
#else
        void* p = std::realloc(data_, want);
        if (!p) throw out_of_memory(want);
#endif
        data_ = static_cast<T*>(p);
        bytes_ = want;
    }

private:
    void release() noexcept {
        if (!data_) return;
#if defined(__linux__)
        munmap(data_, bytes_);
#else
        std::free(data_);
#endif
        data_ = nullptr;
        bytes_ = 0;
    }

    T* data_ = nullptr;
    std::size_t bytes_ = 0;
};

}  // namespace tapegrad
