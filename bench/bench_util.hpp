// Helpers shared by the benchmark binaries: the machine and command a run is recorded with.
#pragma once

#include <embedkit/embedkit.hpp>

#include <benchmark/benchmark.h>

#if defined(EMBEDKIT_BENCH_HAVE_FAISS)
#include <faiss/Index.h>
#endif

#include <fstream>
#include <string>

#ifndef EMBEDKIT_BENCH_FLAGS
#define EMBEDKIT_BENCH_FLAGS "unknown (built outside CMake)"
#endif
#ifndef EMBEDKIT_BENCH_COMPILER
#define EMBEDKIT_BENCH_COMPILER __VERSION__
#endif

namespace embedkit_bench {

// The CPU's marketing name from /proc/cpuinfo (Linux); Google Benchmark's own context has the
// core count, frequency and caches but not the model.
inline std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) == 0 || line.rfind("Model", 0) == 0) {
            const std::size_t colon = line.find(':');
            if (colon != std::string::npos && colon + 2 <= line.size())
                return line.substr(colon + 2);
        }
    }
    return "unknown";
}

// argv as a command a POSIX shell would run again (arguments with special characters quoted).
inline std::string shell_command(int argc, char** argv) {
    std::string out;
    for (int i = 0; i < argc; ++i) {
        const std::string arg = argv[i];
        if (i > 0) out += ' ';
        const char* safe =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+=.,/:@%";
        const bool plain = !arg.empty() && arg.find_first_not_of(safe) == std::string::npos;
        if (plain) {
            out += arg;
        } else {
            out += '\'';
            for (char c : arg) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
            out += '\'';
        }
    }
    return out;
}

inline std::string supported_levels() {
    std::string out;
    for (embedkit::simd::Level level : embedkit::simd::supported()) {
        if (!out.empty()) out += ',';
        out += embedkit::simd::level_name(level);
    }
    return out;
}

// Records which peers this binary carries (hnswlib, FAISS) in the benchmark context.
inline void add_peer_context() {
#if defined(EMBEDKIT_BENCH_HAVE_HNSWLIB)
    benchmark::AddCustomContext("hnswlib", "header-only, compiled with the flags above");
#else
    benchmark::AddCustomContext("hnswlib", "not found (Debian: libhnswlib-dev)");
#endif
#if defined(EMBEDKIT_BENCH_HAVE_FAISS)
    benchmark::AddCustomContext("faiss", std::to_string(FAISS_VERSION_MAJOR) + "." +
                                             std::to_string(FAISS_VERSION_MINOR) + "." +
                                             std::to_string(FAISS_VERSION_PATCH) +
                                             " (Debian's prebuilt library, its own flags)");
#else
    benchmark::AddCustomContext("faiss", "not found (Debian: libfaiss-dev)");
#endif
}

}  // namespace embedkit_bench
