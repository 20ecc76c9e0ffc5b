// Compact sets (core/compact.hpp, distance/compact.hpp), one thread:
//   pair/<type>/<metric>/<dim>/<who>   one pair of stored rows, data in L1: embedkit's kernel of
//                                      the active level against SimSIMD's (its C headers, when
//                                      the build found them: scripts/get-simsimd), dims 384, 1536
//   scan/<what>/1000000x384            one float query against 1,000,000 rows (top_k, k = 10):
//                                      read/<type> is a plain read of the same bytes (the
//                                      memory-bandwidth bar), f32 embedkit's float scan
// Counters: pairs/s (items) or GB/s of stored bytes (bytes).
#include "bench_util.hpp"

#include <embedkit/embedkit.hpp>

#include <benchmark/benchmark.h>

#if EMBEDKIT_ARCH_X86
#include <immintrin.h>
#endif

#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#ifdef EMBEDKIT_BENCH_HAVE_SIMSIMD
#include <simsimd/simsimd.h>
#endif

namespace {

namespace ek = embedkit;
using Index = Eigen::Index;

// ---- Pairs.

struct PairData {
    ek::CompactSet f16, bf16, int8, binary;
    ek::RowMatrixF f32;
    explicit PairData(Index dim) {
        std::mt19937 rng(5);
        std::normal_distribution<float> n(0.0f, 1.0f);
        f32.resize(2, dim);
        for (Index i = 0; i < f32.size(); ++i) f32.data()[i] = n(rng);
        f16 = ek::encode(f32, ek::Storage::f16);
        bf16 = ek::encode(f32, ek::Storage::bf16);
        int8 = ek::encode(f32, ek::Storage::int8);
        binary = ek::encode(f32, ek::Storage::binary);
    }
};

template <class F>
void run_pairs(benchmark::State& state, F&& f) {
    for (auto _ : state) benchmark::DoNotOptimize(f());
    state.SetItemsProcessed(state.iterations());
}

void register_pairs(Index dim) {
    const auto data = std::make_shared<PairData>(dim);
    const std::string d = "/" + std::to_string(dim);
    const auto dm = static_cast<std::size_t>(dim);
    const auto reg = [&](const std::string& name, auto f) {
        benchmark::RegisterBenchmark(name.c_str(), [f](benchmark::State& s) { run_pairs(s, f); });
    };
    // The table is fetched once, as SimSIMD's kernel pointer is below.
    const ek::detail::CompactTable* t = &ek::detail::active_compact_table();
    const PairData* p = data.get();
    static std::vector<std::shared_ptr<PairData>> keep;
    keep.push_back(data);
    reg("pair/f32/dot" + d + "/embedkit", [p, dm] {
        return ek::simd::detail::active_table<float>().dot(p->f32.row(0).data(),
                                                           p->f32.row(1).data(), dm);
    });
    // Each row calls the kernel through a function pointer held by value, as SimSIMD's rows do.
    const auto pair_row = [&](const std::string& name, ek::detail::CompactPairFn fn,
                              const ek::CompactSet& set) {
        const unsigned char* a = set.row(0);
        const unsigned char* b = set.row(1);
        reg(name, [fn, a, b, dm] { return fn(a, b, dm); });
    };
    pair_row("pair/f16/dot" + d + "/embedkit", t->f16_pair_dot, p->f16);
    pair_row("pair/f16/l2sq" + d + "/embedkit", t->f16_pair_l2_squared, p->f16);
    // The kernel pairwise() takes for these rows (AVX-512 BF16's where the CPU has it: the
    // rows have no values below 2^-40).
    pair_row("pair/bf16/dot" + d + "/embedkit",
             ek::detail::bf16_pair_dot_for(*t, p->bf16.has_small_values()), p->bf16);
    pair_row("pair/bf16/l2sq" + d + "/embedkit", t->bf16_pair_l2_squared, p->bf16);
    {
        const ek::detail::Int8DotFn dot = t->int8_dot_codes;
        const ek::detail::Int8SumsFn sums = t->int8_sums;
        const unsigned char* a = p->int8.row(0);
        const unsigned char* b = p->int8.row(1);
        reg("pair/i8/dot" + d + "/embedkit", [dot, a, b, dm] { return dot(a, b, dm); });
        reg("pair/i8/cos" + d + "/embedkit", [sums, a, b, dm] {
            const ek::detail::Int8Sums s = sums(a, b, dm);
            return double(s.ab) / std::sqrt(double(s.aa) * double(s.bb));
        });
    }
    const std::size_t bytes = p->binary.row_bytes();
    {
        const ek::detail::HammingFn hamming = t->hamming;
        const ek::detail::JaccardFn jaccard = t->jaccard;
        const unsigned char* a = p->binary.row(0);
        const unsigned char* b = p->binary.row(1);
        reg("pair/b8/hamming" + d + "/embedkit",
            [hamming, a, b, bytes] { return hamming(a, b, bytes); });
        reg("pair/b8/jaccard" + d + "/embedkit",
            [jaccard, a, b, bytes] { return jaccard(a, b, bytes); });
    }
#ifdef EMBEDKIT_BENCH_HAVE_SIMSIMD
    const simsimd_capability_t caps = simsimd_capabilities();
    const auto peer = [&](const std::string& name, simsimd_metric_kind_t kind,
                          simsimd_datatype_t type, const void* a, const void* b, std::size_t n) {
        simsimd_kernel_punned_t found = nullptr;
        simsimd_capability_t used = simsimd_cap_serial_k;
        simsimd_find_kernel_punned(kind, type, caps, simsimd_cap_any_k, &found, &used);
        if (found == nullptr) return;
        benchmark::AddCustomContext("simsimd_capability_" + name, std::to_string(int(used)));
        // Through void (*)(void), the generic function pointer type GCC does not warn about.
        const auto fn = reinterpret_cast<simsimd_metric_dense_punned_t>(
            reinterpret_cast<void (*)(void)>(found));
        reg(name, [fn, a, b, n] {
            simsimd_distance_t r;
            fn(a, b, n, &r);
            return r;
        });
    };
    peer("pair/f32/dot" + d + "/simsimd", simsimd_metric_dot_k, simsimd_datatype_f32_k,
         p->f32.row(0).data(), p->f32.row(1).data(), dm);
    peer("pair/f16/dot" + d + "/simsimd", simsimd_metric_dot_k, simsimd_datatype_f16_k,
         p->f16.row(0), p->f16.row(1), dm);
    peer("pair/f16/l2sq" + d + "/simsimd", simsimd_metric_l2sq_k, simsimd_datatype_f16_k,
         p->f16.row(0), p->f16.row(1), dm);
    peer("pair/bf16/dot" + d + "/simsimd", simsimd_metric_dot_k, simsimd_datatype_bf16_k,
         p->bf16.row(0), p->bf16.row(1), dm);
    peer("pair/bf16/l2sq" + d + "/simsimd", simsimd_metric_l2sq_k, simsimd_datatype_bf16_k,
         p->bf16.row(0), p->bf16.row(1), dm);
    peer("pair/i8/dot" + d + "/simsimd", simsimd_metric_dot_k, simsimd_datatype_i8_k,
         p->int8.row(0), p->int8.row(1), dm);
    peer("pair/i8/cos" + d + "/simsimd", simsimd_metric_cos_k, simsimd_datatype_i8_k,
         p->int8.row(0), p->int8.row(1), dm);
    peer("pair/b8/hamming" + d + "/simsimd", simsimd_metric_hamming_k, simsimd_datatype_b8_k,
         p->binary.row(0), p->binary.row(1), bytes);
    peer("pair/b8/jaccard" + d + "/simsimd", simsimd_metric_jaccard_k, simsimd_datatype_b8_k,
         p->binary.row(0), p->binary.row(1), bytes);
#endif
}

// ---- Scans.

constexpr Index kScanRows = 1000000;
constexpr Index kScanDim = 384;

struct ScanData {
    ek::RowMatrixF f32;
    ek::CompactSet f16, bf16, int8, binary;
    Eigen::VectorXf query;
    ScanData() {
        std::mt19937 rng(9);
        std::normal_distribution<float> n(0.0f, 1.0f);
        f32.resize(kScanRows, kScanDim);
        for (Index i = 0; i < f32.size(); ++i) f32.data()[i] = n(rng);
        query.resize(kScanDim);
        for (Index i = 0; i < kScanDim; ++i) query(i) = n(rng);
        f16 = ek::encode(f32, ek::Storage::f16);
        bf16 = ek::encode(f32, ek::Storage::bf16);
        int8 = ek::encode(f32, ek::Storage::int8);
        binary = ek::encode(f32, ek::Storage::binary);
    }
};

const ScanData& scan_data() {
    static const ScanData d;
    return d;
}

// Sums the bytes as 64-bit words: the plain read a scan of those bytes cannot beat. Each line
// is requested as far ahead as the scans request theirs (scan_prefetch_distance), so the
// kernels' prefetch does not make them look faster than a read; --read_prefetch=0 reads
// without.
bool read_prefetch = true;

#if EMBEDKIT_ARCH_X86
EMBEDKIT_TARGET_AVX2 std::uint64_t read_bytes(const unsigned char* p, std::size_t n) {
    __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
    std::size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        if (read_prefetch) __builtin_prefetch(p + i + ek::detail::scan_prefetch_distance);
        a0 = _mm256_add_epi64(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
        a1 = _mm256_add_epi64(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    }
    alignas(32) std::uint64_t lanes[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), _mm256_add_epi64(a0, a1));
    std::uint64_t s = lanes[0] + lanes[1] + lanes[2] + lanes[3];
    for (; i < n; ++i) s += p[i];
    return s;
}
#else
std::uint64_t read_bytes(const unsigned char* p, std::size_t n) {
    std::uint64_t s = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (read_prefetch && i % 64 == 0)
            __builtin_prefetch(p + i + ek::detail::scan_prefetch_distance);
        s += p[i];
    }
    return s;
}
#endif

void register_scans() {
    const std::string tail = "/" + std::to_string(kScanRows) + "x" + std::to_string(kScanDim);
    const struct {
        const char* name;
        int which;  // 0 f32, 1 f16, 2 bf16, 3 int8, 4 binary
    } types[] = {{"f32", 0}, {"f16", 1}, {"bf16", 2}, {"int8", 3}, {"binary", 4}};
    for (const auto& ty : types) {
        const int which = ty.which;
        const auto bytes_of =
            [which](const ScanData& d) -> std::pair<const unsigned char*, std::size_t> {
            switch (which) {
                case 0:
                    return {reinterpret_cast<const unsigned char*>(d.f32.data()),
                            std::size_t(d.f32.size()) * sizeof(float)};
                case 1:
                    return {d.f16.data(), d.f16.data_bytes()};
                case 2:
                    return {d.bf16.data(), d.bf16.data_bytes()};
                case 3:
                    return {d.int8.data(), d.int8.data_bytes()};
                default:
                    return {d.binary.data(), d.binary.data_bytes()};
            }
        };
        benchmark::RegisterBenchmark(("scan/read/" + std::string(ty.name) + tail).c_str(),
                                     [bytes_of](benchmark::State& s) {
                                         const auto [p, n] = bytes_of(scan_data());
                                         for (auto _ : s)
                                             benchmark::DoNotOptimize(read_bytes(p, n));
                                         s.SetBytesProcessed(s.iterations() * std::int64_t(n));
                                     });
        benchmark::RegisterBenchmark(
            ("scan/" + std::string(ty.name) + tail).c_str(),
            [which, bytes_of](benchmark::State& s) {
                const ScanData& d = scan_data();
                const std::size_t n = bytes_of(d).second;
                const ek::CompactSet* sets[] = {nullptr, &d.f16, &d.bf16, &d.int8, &d.binary};
                for (auto _ : s) {
                    if (which == 0)
                        benchmark::DoNotOptimize(ek::top_k(d.query, d.f32, 10, ek::Metric::dot));
                    else if (which == 4)
                        benchmark::DoNotOptimize(
                            ek::top_k(d.query, *sets[which], 10, ek::BitMetric::hamming));
                    else
                        benchmark::DoNotOptimize(
                            ek::top_k(d.query, *sets[which], 10, ek::Metric::dot));
                }
                s.SetBytesProcessed(s.iterations() * std::int64_t(n));
            });
    }
}

}  // namespace

int main(int argc, char** argv) {
    const std::string command = embedkit_bench::shell_command(argc, argv);
    int kept = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--read_prefetch=0" || arg == "--read_prefetch=1")
            read_prefetch = arg.back() == '1';
        else
            argv[kept++] = argv[i];
    }
    argc = kept;
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    ek::set_num_threads(1);
    benchmark::AddCustomContext("command", command);
    benchmark::AddCustomContext("read_prefetch", read_prefetch ? "yes" : "no");
    benchmark::AddCustomContext("cpu_model", embedkit_bench::cpu_model());
    benchmark::AddCustomContext("compiler", EMBEDKIT_BENCH_COMPILER);
    benchmark::AddCustomContext("flags", EMBEDKIT_BENCH_FLAGS);
    benchmark::AddCustomContext("embedkit_simd_supported", embedkit_bench::supported_levels());
    benchmark::AddCustomContext("embedkit_compact_kernels",
                                ek::detail::active_compact_table().name);
#ifdef EMBEDKIT_BENCH_HAVE_SIMSIMD
    benchmark::AddCustomContext("simsimd", std::to_string(SIMSIMD_VERSION_MAJOR) + "." +
                                               std::to_string(SIMSIMD_VERSION_MINOR) + "." +
                                               std::to_string(SIMSIMD_VERSION_PATCH));
#else
    benchmark::AddCustomContext("simsimd", "not found (scripts/get-simsimd)");
#endif
    register_pairs(384);
    register_pairs(1536);
    register_scans();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
