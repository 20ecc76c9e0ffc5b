// Creates a new file under a fresh name with the permissions the umask gives, without ever
// reading or changing the process umask (which is shared by all threads).
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

namespace embedkit::detail {

/// Opens a new file `prefix` + 16 lower-case hex digits for writing (O_CREAT | O_EXCL, mode
/// 0666, so the kernel applies the umask as for any new file) and stores its name in `path`.
/// mkstemp would create it 0600, and fixing that afterwards needs the umask, which umask(2)
/// can only read by changing it for every thread. Returns the descriptor, or -1 with errno set
/// (EEXIST only after 100 taken names in a row).
inline int create_unique_file(const std::string& prefix, std::string& path) {
    // The name mixes the clock, the process, the thread and a stack address through the
    // SplitMix64 finaliser; O_EXCL, not the mixing, is what makes the name ours.
    const std::uint64_t seed =
        static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
        (static_cast<std::uint64_t>(::getpid()) << 32) ^
        static_cast<std::uint64_t>(std::hash<std::thread::id>{}(std::this_thread::get_id())) ^
        static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(&path));
    for (std::uint64_t attempt = 0; attempt < 100; ++attempt) {
        std::uint64_t z = seed + (attempt + 1) * 0x9E3779B97F4A7C15ull;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        static const char hex[] = "0123456789abcdef";
        path = prefix;
        for (int shift = 60; shift >= 0; shift -= 4) path.push_back(hex[(z >> shift) & 0xF]);
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    return -1;
}

}  // namespace embedkit::detail
