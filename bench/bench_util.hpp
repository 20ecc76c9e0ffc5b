// Helpers shared by the benchmark binaries: the machine and command a run is recorded with.
#pragma once

#include <embedkit/embedkit.hpp>

#include <benchmark/benchmark.h>

#if defined(EMBEDKIT_BENCH_HAVE_FAISS)
#include <faiss/Index.h>
#endif

#include <cstdlib>
#include <fstream>
#include <set>
#include <string>

#include <dlfcn.h>

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

// Shared libraries of the process whose file name mentions BLAS, LAPACK, oneDNN, MKL or an
// OpenMP runtime, as the dynamic loader actually mapped them (symbolic links resolved).
inline std::string loaded_libraries() {
    std::ifstream maps("/proc/self/maps");
    std::set<std::string> found;
    std::string line;
    while (std::getline(maps, line)) {
        const std::size_t slash = line.find('/');
        if (slash == std::string::npos) continue;
        const std::string path = line.substr(slash);
        const std::string file = path.substr(path.rfind('/') + 1);
        for (const char* key : {"blas", "lapack", "dnnl", "mkl", "gomp", "libomp"}) {
            if (file.find(key) != std::string::npos) {
                found.insert(path);
                break;
            }
        }
    }
    std::string out;
    for (const std::string& p : found) out += (out.empty() ? "" : ", ") + p;
    return out.empty() ? "none" : out;
}

// OpenBLAS, wherever it came from (EIGEN_USE_BLAS, FAISS's or libtorch's libblas.so.3), is
// looked up at run time so a binary without it still links; its thread count is forced to 1.
inline std::string openblas_status() {
    using set_threads_fn = void (*)(int);
    using get_threads_fn = int (*)();
    using get_config_fn = char* (*)();
    auto set_threads =
        reinterpret_cast<set_threads_fn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    auto get_threads =
        reinterpret_cast<get_threads_fn>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
    auto get_config = reinterpret_cast<get_config_fn>(dlsym(RTLD_DEFAULT, "openblas_get_config"));
    if (!set_threads || !get_threads) return "not loaded";
    set_threads(1);
    std::string out = get_config ? std::string(get_config()) : std::string("OpenBLAS");
    return out + "; threads " + std::to_string(get_threads());
}

// The value of an environment variable, or `fallback` when it is unset.
inline std::string env_or(const char* name, const char* fallback) {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string(fallback);
}

}  // namespace embedkit_bench
