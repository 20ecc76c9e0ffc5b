// Matrix products of the encoder's linear layers (linalg/packed_linear.hpp): y = x W^T + b with
// W [N, K] as PyTorch stores it, on the shapes of all-MiniLM-L6-v2 (K, N from {384, 1152, 1536})
// for M = 14 rows (one short sentence), 448 (a batch of 32 short ones) and 1024 (a pass of long
// passages). Rows, one thread:
//   packed/<level>  PackedLinear at each SIMD level this CPU has (forced)
//   bf16/<kernel>, int8/<kernel>  PackedLinear in bf16 or int8 (GOPS: the same 2 M K N): at
//                   avx512 with the BF16 / VNNI kernel when the CPU has it ("avx512+bf16",
//                   "avx512+vnni"), and the decoded float path at each level (the speed of a CPU
//                   without those instructions)
//   eigen           Eigen's product x * W.transpose() plus the bias, at the build's own level
//                   (what the encoder used before PackedLinear)
//   openblas        sgemm_ (W^T x^T in column-major terms, beta 1 over rows of the bias), when
//                   the build found OpenBLAS
// Counter GFLOPS: 2 M K N per iteration.
#include "bench_util.hpp"

#include <embedkit/embedkit.hpp>

#include <benchmark/benchmark.h>

#include <cstddef>
#include <string>
#include <vector>

#ifdef EMBEDKIT_BENCH_SGEMM
extern "C" void sgemm_(const char* transa, const char* transb, const int* m, const int* n,
                       const int* k, const float* alpha, const float* a, const int* lda,
                       const float* b, const int* ldb, const float* beta, float* c, const int* ldc);
#endif

namespace {

namespace ek = embedkit;
using Index = Eigen::Index;

struct Shape {
    Index m, k, n;
};

const Shape kShapes[] = {{14, 384, 1152},   {14, 384, 384},   {14, 384, 1536},  {14, 1536, 384},
                         {448, 384, 1152},  {448, 384, 384},  {448, 384, 1536}, {448, 1536, 384},
                         {1024, 384, 1152}, {1024, 1536, 384}};

struct Problem {
    ek::RowMatrixF x, w, y;
    ek::VectorF b;
    explicit Problem(const Shape& s)
        : x(ek::RowMatrixF::Random(s.m, s.k)),
          w(ek::RowMatrixF::Random(s.n, s.k)),
          y(s.m, s.n),
          b(ek::VectorF::Random(s.n)) {}
};

void set_counters(benchmark::State& state, const Shape& s) {
    state.counters["GFLOPS"] =
        benchmark::Counter(2.0 * double(s.m) * double(s.k) * double(s.n) / 1e9,
                           benchmark::Counter::kIsIterationInvariantRate);
}

void register_shape(const Shape& s) {
    const std::string tail =
        "/" + std::to_string(s.m) + "x" + std::to_string(s.k) + "x" + std::to_string(s.n);
    for (const ek::simd::Level level : ek::simd::supported()) {
        benchmark::RegisterBenchmark(
            ("packed/" + std::string(ek::simd::level_name(level)) + tail).c_str(),
            [s, level](benchmark::State& state) {
                Problem p(s);
                const ek::linalg::PackedLinear lin(p.w, p.b);
                const ek::simd::Scoped forced(level);
                for (auto _ : state) {
                    lin.apply(p.x, p.y);
                    benchmark::DoNotOptimize(p.y.data());
                    benchmark::ClobberMemory();
                }
                set_counters(state, s);
            });
    }
    const ek::CpuFeatures cpu = ek::cpu_features();
    for (const ek::linalg::Precision prec :
         {ek::linalg::Precision::bf16, ek::linalg::Precision::int8})
        for (const ek::simd::Level level : ek::simd::supported())
            for (const bool native : {false, true}) {
                const bool has =
                    prec == ek::linalg::Precision::bf16 ? cpu.avx512bf16 : cpu.avx512vnni;
                if (native && (level != ek::simd::Level::avx512 || !has)) continue;
                ek::CpuFeatures f = cpu;
                if (!native) f.avx512bf16 = f.avx512vnni = false;
                const std::string kernel =
                    std::string(ek::simd::level_name(level)) +
                    (native ? (prec == ek::linalg::Precision::bf16 ? "+bf16" : "+vnni") : "");
                benchmark::RegisterBenchmark(
                    (std::string(ek::linalg::precision_name(prec)) + "/" + kernel + tail).c_str(),
                    [s, level, f, prec](benchmark::State& state) {
                        Problem p(s);
                        const ek::linalg::PackedLinear lin(p.w, p.b, prec);
                        for (auto _ : state) {
                            lin.apply_using(level, f, p.x.data(), s.m, s.k, p.y.data(), s.n);
                            benchmark::DoNotOptimize(p.y.data());
                            benchmark::ClobberMemory();
                        }
                        set_counters(state, s);
                    });
            }
    benchmark::RegisterBenchmark(("eigen" + tail).c_str(), [s](benchmark::State& state) {
        Problem p(s);
        for (auto _ : state) {
            p.y.noalias() = p.x * p.w.transpose();
            p.y.rowwise() += p.b.transpose();
            benchmark::DoNotOptimize(p.y.data());
            benchmark::ClobberMemory();
        }
        set_counters(state, s);
    });
#ifdef EMBEDKIT_BENCH_SGEMM
    benchmark::RegisterBenchmark(("openblas" + tail).c_str(), [s](benchmark::State& state) {
        Problem p(s);
        const int m = int(s.n), n = int(s.m), k = int(s.k);
        const float one = 1.0f;
        for (auto _ : state) {
            p.y.rowwise() = p.b.transpose();  // beta = 1 adds the product to the bias
            sgemm_("T", "N", &m, &n, &k, &one, p.w.data(), &k, p.x.data(), &k, &one, p.y.data(),
                   &m);
            benchmark::DoNotOptimize(p.y.data());
            benchmark::ClobberMemory();
        }
        set_counters(state, s);
    });
#endif
}

}  // namespace

int main(int argc, char** argv) {
    const std::string command = embedkit_bench::shell_command(argc, argv);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::AddCustomContext("command", command);
    benchmark::AddCustomContext("cpu_model", embedkit_bench::cpu_model());
    benchmark::AddCustomContext("compiler", EMBEDKIT_BENCH_COMPILER);
    benchmark::AddCustomContext("flags", EMBEDKIT_BENCH_FLAGS);
    benchmark::AddCustomContext("embedkit_simd_supported", embedkit_bench::supported_levels());
    benchmark::AddCustomContext("eigen_simd", Eigen::SimdInstructionSetsInUse());
#ifdef EMBEDKIT_BENCH_SGEMM
    benchmark::AddCustomContext("openblas", embedkit_bench::openblas_status());
    benchmark::AddCustomContext("blas_libraries", embedkit_bench::loaded_libraries());
#endif
    for (const Shape& s : kShapes) register_shape(s);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
