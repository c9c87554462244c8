// A growable array of trivially copyable T whose growth never copies.
//
// On Linux the storage is an anonymous mapping that mremap() enlarges by
// moving page-table entries, not bytes: growing a 3 GB tape never needs 6 GB,
// and pages that are reserved but not yet written cost no RAM. Elsewhere it
// falls back to realloc, which may copy.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <new>
#include <type_traits>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace tapegrad {

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
    // Throws std::bad_alloc when the system refuses.
    void reserve(std::size_t count) {
        if (count <= capacity()) return;
        if (count > SIZE_MAX / sizeof(T)) throw std::bad_alloc();
        std::size_t want = count * sizeof(T);
#if defined(__linux__)
        const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
        want = (want + page - 1) / page * page;
        void* p = data_ ? mremap(data_, bytes_, want, MREMAP_MAYMOVE)
                        : mmap(nullptr, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw std::bad_alloc();
        // Transparent huge pages: a page fault costs microseconds in a VM, and
        // 2 MB pages cut the faults of a large tape 512-fold (and TLB misses
        // of the sweep with them). Only advice: ignored where THP is off.
        if (want >= (std::size_t(2) << 20)) madvise(p, want, MADV_HUGEPAGE);
#else
        void* p = std::realloc(data_, want);
        if (!p) throw std::bad_alloc();
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
