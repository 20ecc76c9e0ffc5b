// Peak memory of top_k over a memory-mapped set: the set is searched in place, so the peak
// resident set should exceed the set file's size by only O(queries * k + block).
//
//   topk_memory make FILE [ROWS=1000000] [DIM=128]   write a random float32 .npy, in chunks
//   topk_memory measure FILE [QUERIES=100] [K=10]    map it, run top_k, report VmHWM
//
// Run the two steps as separate processes: writing the file would otherwise count toward the
// peak of the measuring process.
#include <embedkit/embedkit.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>

namespace {

namespace ek = embedkit;

long status_kib(const char* field) {
    std::ifstream f("/proc/self/status");
    std::string line;
    const std::string key = std::string(field) + ":";
    while (std::getline(f, line))
        if (line.compare(0, key.size(), key) == 0)
            return std::strtol(line.c_str() + key.size(), nullptr, 10);
    return -1;
}

int make(const std::string& path, long rows, long dim) {
    ek::io::NpyWriter<float> w(path,
                               {static_cast<std::uint64_t>(rows), static_cast<std::uint64_t>(dim)});
    std::mt19937 gen(7);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    const long chunk_rows = 4096;
    ek::RowMatrixF chunk(chunk_rows, dim);
    for (long r0 = 0; r0 < rows; r0 += chunk_rows) {
        const long n = std::min(chunk_rows, rows - r0);
        for (long i = 0; i < n * dim; ++i) chunk.data()[i] = u(gen);
        w.append(chunk.data(), static_cast<std::size_t>(n * dim));
    }
    w.commit();
    std::printf("wrote %s: %ld x %ld float32\n", path.c_str(), rows, dim);
    return 0;
}

int measure(const std::string& path, long nq, long k) {
    const long before = status_kib("VmHWM");
    const ek::io::MappedNpy<float> set = ek::io::map_npy<float>(path);
    std::mt19937 gen(11);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    ek::RowMatrixF queries(nq, set.cols());
    for (long i = 0; i < queries.size(); ++i) queries.data()[i] = u(gen);
    const auto t0 = std::chrono::steady_clock::now();
    const ek::TopK<float> result = ek::top_k(queries, set.matrix(), k, ek::Metric::l2_squared);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const long hwm = status_kib("VmHWM");
    const double file_mb = static_cast<double>(set.file_size()) / 1e6;
    const double hwm_mb = static_cast<double>(hwm) * 1024.0 / 1e6;
    std::printf("set %s: %ld x %ld float32, file %.1f MB\n", path.c_str(),
                static_cast<long>(set.rows()), static_cast<long>(set.cols()), file_mb);
    std::printf("top_k: %ld queries, k=%ld, l2_squared, level %s, %.3f s, first hit %ld (%.4f)\n",
                nq, k, std::string(ek::simd::level_name(ek::simd::active())).c_str(), seconds,
                static_cast<long>(result.indices(0, 0)), static_cast<double>(result.scores(0, 0)));
    std::printf("VmHWM before %.1f MB, after %.1f MB; after minus file size: %.1f MB\n",
                static_cast<double>(before) * 1024.0 / 1e6, hwm_mb, hwm_mb - file_mb);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const std::string mode = argc > 1 ? argv[1] : "";
        if (mode == "make" && argc >= 3)
            return make(argv[2], argc > 3 ? std::atol(argv[3]) : 1000000,
                        argc > 4 ? std::atol(argv[4]) : 128);
        if (mode == "measure" && argc >= 3)
            return measure(argv[2], argc > 3 ? std::atol(argv[3]) : 100,
                           argc > 4 ? std::atol(argv[4]) : 10);
        std::fprintf(stderr,
                     "usage: topk_memory make FILE [ROWS] [DIM] | measure FILE [QUERIES] [K]\n");
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "topk_memory: %s\n", e.what());
        return 1;
    }
}
