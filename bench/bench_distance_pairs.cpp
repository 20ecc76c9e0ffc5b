// One-to-one distance benchmark: embedkit at every SIMD level against Eigen, hnswlib and FAISS.
//
// Rows are named <metric>/<impl>/<dim> for float and <metric>/<impl>/<dim>/f64 for double.
// One iteration computes the distance of one pair of vectors, so the reported time is ns/pair.
// The pairs come from a pool that fits in L1 and is walked cyclically: the kernels are measured,
// not the memory system. Rows for levels this CPU lacks and peers that were not found are
// simply not registered.
#include "bench_util.hpp"

#include <embedkit/embedkit.hpp>

#include <benchmark/benchmark.h>

#include <Eigen/Core>

#if defined(EMBEDKIT_BENCH_HAVE_HNSWLIB)
#include <hnswlib/hnswlib.h>
#endif
#if defined(EMBEDKIT_BENCH_HAVE_FAISS)
#include <faiss/Index.h>
#include <faiss/utils/distances.h>
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

namespace {

namespace ek = embedkit;

// Every pool holds at most this many bytes of vector data. 32 KiB is the L1 data cache of most
// current x86-64 and aarch64 cores (a few have 48 or 64 KiB), so after the first lap the whole
// pool stays in L1. The largest pair (1536 doubles: 24 KiB) still fits, alone.
constexpr std::size_t kPoolBytes = 32 * 1024;

constexpr std::size_t kDims[] = {2, 16, 128, 384, 768, 1536};

// Pairs of random vectors with components in [-1, 1], stored like a RowMatrix (pair i is rows
// 2i and 2i+1), so consecutive vectors are as contiguous and as (un)aligned as the rows of a
// user's embedding matrix.
template <class Scalar>
class PairPool {
public:
    explicit PairPool(std::size_t dim)
        : dim_(dim), pairs_(std::max<std::size_t>(1, kPoolBytes / (2 * dim * sizeof(Scalar)))) {
        data_.resize(static_cast<Eigen::Index>(2 * pairs_), static_cast<Eigen::Index>(dim));
        std::mt19937_64 gen(0x9e3779b97f4a7c15ull ^ dim);
        std::uniform_real_distribution<Scalar> uniform(Scalar(-1), Scalar(1));
        for (Eigen::Index i = 0; i < data_.size(); ++i) data_.data()[i] = uniform(gen);
    }

    std::size_t dim() const noexcept { return dim_; }
    std::size_t pairs() const noexcept { return pairs_; }
    std::size_t bytes_per_pair() const noexcept { return 2 * dim_ * sizeof(Scalar); }
    const Scalar* a(std::size_t i) const noexcept { return data_.data() + (2 * i) * dim_; }
    const Scalar* b(std::size_t i) const noexcept { return data_.data() + (2 * i + 1) * dim_; }

private:
    std::size_t dim_;
    std::size_t pairs_;
    ek::RowMatrix<Scalar> data_;
};

// The timed loop shared by every row: one pair per iteration, the pool walked cyclically,
// every result kept alive. Nothing here allocates; whatever an implementation needs (a forced
// level, an hnswlib space) is set up by the caller before the loop.
template <class Scalar, class Distance>
void walk_pairs(benchmark::State& state, const PairPool<Scalar>& pool, Distance distance) {
    const std::size_t n = pool.pairs();
    const std::size_t dim = pool.dim();
    std::size_t i = 0;
    for (auto _ : state) {
        Scalar result = distance(pool.a(i), pool.b(i), dim);
        benchmark::DoNotOptimize(result);
        i = (i + 1 == n) ? 0 : i + 1;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                            static_cast<std::int64_t>(pool.bytes_per_pair()));
}

template <class Scalar>
using ConstMap = Eigen::Map<const ek::Vector<Scalar>>;

template <class Scalar>
ConstMap<Scalar> map(const Scalar* p, std::size_t n) {
    return ConstMap<Scalar>(p, static_cast<Eigen::Index>(n));
}

// One struct per metric: embedkit's pointer form and the Eigen expression a user would write.
struct L2Squared {
    static constexpr const char* name = "l2_squared";
    template <class S>
    static S embedkit(const S* a, const S* b, std::size_t n) noexcept {
        return ek::l2_squared(a, b, n);
    }
    template <class S>
    static S eigen(const S* a, const S* b, std::size_t n) {
        return (map(a, n) - map(b, n)).squaredNorm();
    }
};

struct Dot {
    static constexpr const char* name = "dot";
    template <class S>
    static S embedkit(const S* a, const S* b, std::size_t n) noexcept {
        return ek::dot(a, b, n);
    }
    template <class S>
    static S eigen(const S* a, const S* b, std::size_t n) {
        return map(a, n).dot(map(b, n));
    }
};

struct L1 {
    static constexpr const char* name = "l1";
    template <class S>
    static S embedkit(const S* a, const S* b, std::size_t n) noexcept {
        return ek::l1(a, b, n);
    }
    template <class S>
    static S eigen(const S* a, const S* b, std::size_t n) {
        return (map(a, n) - map(b, n)).template lpNorm<1>();
    }
};

struct CosineSimilarity {
    static constexpr const char* name = "cosine_similarity";
    template <class S>
    static S embedkit(const S* a, const S* b, std::size_t n) noexcept {
        return ek::cosine_similarity(a, b, n);
    }
    template <class S>
    static S eigen(const S* a, const S* b, std::size_t n) {
        const auto va = map(a, n);
        const auto vb = map(b, n);
        return va.dot(vb) / (va.norm() * vb.norm());
    }
};

std::string row_name(const char* metric, const std::string& impl, std::size_t dim,
                     const char* suffix) {
    return std::string(metric) + "/" + impl + "/" + std::to_string(dim) + suffix;
}

template <class Scalar>
const char* scalar_suffix() {
    return std::is_same_v<Scalar, float> ? "" : "/f64";
}

template <class Scalar, class Distance>
void add_row(const std::string& name, const PairPool<Scalar>* pool, Distance distance) {
    benchmark::RegisterBenchmark(name.c_str(), [pool, distance](benchmark::State& state) {
        walk_pairs(state, *pool, distance);
    });
}

// embedkit at every level this CPU supports (forced for the whole run of the row) and at the
// level dispatch picks by itself, then the Eigen expression.
template <class Metric, class Scalar>
void add_embedkit_and_eigen(const PairPool<Scalar>* pool) {
    const char* suffix = scalar_suffix<Scalar>();
    const auto embedkit = [](const Scalar* a, const Scalar* b, std::size_t n) noexcept {
        return Metric::embedkit(a, b, n);
    };
    for (ek::simd::Level level : ek::simd::supported()) {
        const std::string impl = "embedkit_" + std::string(ek::simd::level_name(level));
        benchmark::RegisterBenchmark(row_name(Metric::name, impl, pool->dim(), suffix).c_str(),
                                     [pool, level, embedkit](benchmark::State& state) {
                                         ek::simd::Scoped forced(level);
                                         walk_pairs(state, *pool, embedkit);
                                     });
    }
    add_row(row_name(Metric::name, "embedkit_auto", pool->dim(), suffix), pool, embedkit);
    add_row(row_name(Metric::name, "eigen", pool->dim(), suffix), pool,
            [](const Scalar* a, const Scalar* b, std::size_t n) { return Metric::eigen(a, b, n); });
}

#if defined(EMBEDKIT_BENCH_HAVE_HNSWLIB)
// hnswlib's distance functions as its index calls them: through the space's function pointer
// with the dimension passed by pointer. The inner-product space returns 1 - a.b, the same work.
template <class Space>
void add_hnswlib(const char* metric, const PairPool<float>* pool) {
    benchmark::RegisterBenchmark(
        row_name(metric, "hnswlib", pool->dim(), "").c_str(), [pool](benchmark::State& state) {
            Space space(pool->dim());
            const hnswlib::DISTFUNC<float> fn = space.get_dist_func();
            const void* param = space.get_dist_func_param();
            walk_pairs(state, *pool, [fn, param](const float* a, const float* b, std::size_t) {
                return fn(a, b, param);
            });
        });
}
#endif

#if defined(EMBEDKIT_BENCH_HAVE_FAISS)
void add_faiss(const char* metric, const PairPool<float>* pool,
               float (*fn)(const float*, const float*, std::size_t)) {
    add_row(row_name(metric, "faiss", pool->dim(), ""), pool, fn);
}
#endif

void register_all(const std::vector<std::unique_ptr<PairPool<float>>>& f32,
                  const std::vector<std::unique_ptr<PairPool<double>>>& f64) {
    // Rows of one metric and dimension are registered next to each other so that they run
    // back to back, under the same machine conditions.
    for (const auto& pool : f32) {
        add_embedkit_and_eigen<L2Squared>(pool.get());
#if defined(EMBEDKIT_BENCH_HAVE_HNSWLIB)
        add_hnswlib<hnswlib::L2Space>(L2Squared::name, pool.get());
#endif
#if defined(EMBEDKIT_BENCH_HAVE_FAISS)
        add_faiss(L2Squared::name, pool.get(), &faiss::fvec_L2sqr);
#endif
    }
    for (const auto& pool : f32) {
        add_embedkit_and_eigen<Dot>(pool.get());
#if defined(EMBEDKIT_BENCH_HAVE_HNSWLIB)
        add_hnswlib<hnswlib::InnerProductSpace>(Dot::name, pool.get());
#endif
#if defined(EMBEDKIT_BENCH_HAVE_FAISS)
        add_faiss(Dot::name, pool.get(), &faiss::fvec_inner_product);
#endif
    }
    for (const auto& pool : f32) {
        add_embedkit_and_eigen<L1>(pool.get());
#if defined(EMBEDKIT_BENCH_HAVE_FAISS)
        add_faiss(L1::name, pool.get(), &faiss::fvec_L1);
#endif
    }
    for (const auto& pool : f32) add_embedkit_and_eigen<CosineSimilarity>(pool.get());

    for (const auto& pool : f64) add_embedkit_and_eigen<L2Squared>(pool.get());
    for (const auto& pool : f64) add_embedkit_and_eigen<Dot>(pool.get());
    for (const auto& pool : f64) add_embedkit_and_eigen<L1>(pool.get());
    for (const auto& pool : f64) add_embedkit_and_eigen<CosineSimilarity>(pool.get());
}

void add_context(const std::string& command) {
    benchmark::AddCustomContext("command", command);
    benchmark::AddCustomContext("cpu_model", embedkit_bench::cpu_model());
    benchmark::AddCustomContext("compiler", EMBEDKIT_BENCH_COMPILER);
    benchmark::AddCustomContext("flags", EMBEDKIT_BENCH_FLAGS);
    benchmark::AddCustomContext("embedkit_version", ek::version());
    benchmark::AddCustomContext("embedkit_simd_active",
                                std::string(ek::simd::level_name(ek::simd::active())));
    benchmark::AddCustomContext("embedkit_simd_supported", embedkit_bench::supported_levels());
    benchmark::AddCustomContext("pool_bytes", std::to_string(kPoolBytes));
    benchmark::AddCustomContext("eigen_version", std::to_string(EIGEN_WORLD_VERSION) + "." +
                                                     std::to_string(EIGEN_MAJOR_VERSION) + "." +
                                                     std::to_string(EIGEN_MINOR_VERSION));
    benchmark::AddCustomContext("eigen_simd", Eigen::SimdInstructionSetsInUse());
    embedkit_bench::add_peer_context();
}

}  // namespace

int main(int argc, char** argv) {
    // Recorded before Initialize() strips the --benchmark_* flags from argv.
    const std::string command = embedkit_bench::shell_command(argc, argv);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

    // The pools live until every benchmark has run; the registered rows point into them.
    std::vector<std::unique_ptr<PairPool<float>>> f32;
    std::vector<std::unique_ptr<PairPool<double>>> f64;
    for (std::size_t dim : kDims) {
        f32.push_back(std::make_unique<PairPool<float>>(dim));
        f64.push_back(std::make_unique<PairPool<double>>(dim));
    }
    add_context(command);
    register_all(f32, f64);

    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
