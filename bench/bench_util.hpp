// Helpers shared by the benchmark binaries: the machine and command a run is recorded with.
#pragma once

#include <embedkit/embedkit.hpp>

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

}  // namespace embedkit_bench
