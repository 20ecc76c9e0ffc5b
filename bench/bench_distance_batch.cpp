// Batched distances, all-pairs and exact top-k: embedkit against FAISS, hnswlib, a naive loop
// and a plain read of the same memory, on one thread (the scan_2threads rows: on two).
//
// Rows are named <bench>/<impl>/<metric>/<shape> (the plain reads: <bench>/<impl>/<shape>):
//   scan/...      1 query against a 100,000 x 768 float set (307 MB, far beyond any cache),
//                 one pass over the set per iteration; search rows take k = 10
//   allpairs/...  all pairs between 1,000 and 10,000 rows at dim 128 and 768, the whole
//                 1,000 x 10,000 matrix per iteration
//   topk/...      100 queries against 100,000 x 128, k = 10, all queries per iteration
//   scan_2threads/...  1 query against 1,000,000 x 128 floats (512 MB), k = 10, with
//                 set_num_threads(2), beside a plain read of the same memory split over 2
//                 std::threads; the ratio row times both in alternation in every iteration
//                 and reports top_k's speed as a share of the read's (issue 12: >= 0.85)
// Every row records its work per iteration in the counters work_bytes (bytes of the set read)
// and work_items (rows scanned, pairs or queries); the summariser turns them into GB/s,
// pairs/s and queries/s with the median time.
//
// The same source is built twice (bench/CMakeLists.txt): bench_distance_batch runs Eigen's own
// GEMM, bench_distance_batch_blas is compiled with EIGEN_USE_BLAS and linked to OpenBLAS. The
// context entry gemm_backend says which one ran. A program must not mix the two settings (the
// Eigen product templates would differ between translation units), hence two binaries.
#include "bench_util.hpp"

#include <embedkit/embedkit.hpp>

#include <benchmark/benchmark.h>

#include <Eigen/Core>

#if defined(EMBEDKIT_BENCH_HAVE_HNSWLIB)
#include <hnswlib/hnswlib.h>
#endif
#if defined(EMBEDKIT_BENCH_HAVE_FAISS)
#include <faiss/IndexFlat.h>
#include <faiss/utils/distances.h>
#endif
#if defined(EMBEDKIT_BENCH_HAVE_OPENMP)
#include <omp.h>
#endif

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

namespace ek = embedkit;
using Index = Eigen::Index;

// ---- Sizes (issue 4, "Benchmarks").
constexpr Index kScanRows = 100000;
constexpr Index kScanDim = 768;
constexpr Index kPairsA = 1000;
constexpr Index kPairsB = 10000;
constexpr Index kPairDims[] = {128, 768};
constexpr Index kTopkQueries = 100;
constexpr Index kTopkRows = 100000;
constexpr Index kTopkDim = 128;
constexpr Index kK = 10;
constexpr Index kScan2Rows = 1000000;
constexpr Index kScan2Dim = 128;

// ---- Data: fixed seeds, components uniform in [-1, 1], built on first use and kept.
const ek::RowMatrixF& dataset(Index rows, Index cols, std::uint64_t seed) {
    static std::map<std::tuple<Index, Index, std::uint64_t>, std::unique_ptr<ek::RowMatrixF>> cache;
    auto& slot = cache[{rows, cols, seed}];
    if (!slot) {
        slot = std::make_unique<ek::RowMatrixF>(rows, cols);
        std::mt19937_64 gen(seed);
        std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
        float* p = slot->data();
        for (Index i = 0; i < slot->size(); ++i) p[i] = uniform(gen);
    }
    return *slot;
}

const ek::RowMatrixF& scan_set() { return dataset(kScanRows, kScanDim, 1); }
const ek::RowMatrixF& scan_query() { return dataset(1, kScanDim, 2); }
const ek::RowMatrixF& pairs_a(Index dim) { return dataset(kPairsA, dim, 3); }
const ek::RowMatrixF& pairs_b(Index dim) { return dataset(kPairsB, dim, 4); }
const ek::RowMatrixF& topk_set() { return dataset(kTopkRows, kTopkDim, 5); }
const ek::RowMatrixF& topk_queries() { return dataset(kTopkQueries, kTopkDim, 6); }

// One peer index at a time (FAISS and hnswlib copy the set: 307 MB for the scan): built when
// a row first asks for it, kept while the following rows (and repetitions) use the same one,
// freed when a row asks for another.
class PeerSlot {
public:
    template <class T, class Make>
    T& get(const std::string& key, Make make) {
        if (key != key_) {
            object_.reset();
            object_ = std::shared_ptr<T>(make());
            key_ = key;
        }
        return *static_cast<T*>(object_.get());
    }

private:
    std::string key_;
    std::shared_ptr<void> object_;
};

PeerSlot& peer_slot() {
    static PeerSlot slot;
    return slot;
}

std::string shape(Index a, Index b) { return std::to_string(a) + "x" + std::to_string(b); }
std::string shape(Index a, Index b, Index c) { return shape(a, b) + "x" + std::to_string(c); }

void set_work(benchmark::State& state, double bytes, double items) {
    const auto iterations = static_cast<double>(state.iterations());
    if (bytes > 0) state.SetBytesProcessed(static_cast<std::int64_t>(iterations * bytes));
    state.SetItemsProcessed(static_cast<std::int64_t>(iterations * items));
    state.counters["work_bytes"] = bytes;
    state.counters["work_items"] = items;
}

template <class Fn>
void add(const std::string& name, Fn fn) {
    benchmark::RegisterBenchmark(name.c_str(), fn)->Unit(benchmark::kMillisecond);
}

// ---- Plain reads: the rate the memory system delivers to one core, the ceiling of a scan.

// 64 independent float accumulators: the compiler turns the inner loop into four 16-lane (or
// eight 8-lane) vector adds with no dependency between them, so the loop is limited by loads,
// not by the latency of one add chain.
float sum64(const float* p, std::size_t n) {
    constexpr std::size_t lanes = 64;
    float acc[lanes] = {};
    std::size_t i = 0;
    for (; i + lanes <= n; i += lanes)
        for (std::size_t j = 0; j < lanes; ++j) acc[j] += p[i + j];
    float total = 0;
    for (; i < n; ++i) total += p[i];
    for (float a : acc) total += a;
    return total;
}

double scan_bytes() { return double(kScanRows) * double(kScanDim) * sizeof(float); }

void register_scan() {
    const std::string s = shape(kScanRows, kScanDim);
    add("scan/read_eigen_sum/" + s, [](benchmark::State& state) {
        const ek::RowMatrixF& set = scan_set();
        const Eigen::Map<const Eigen::VectorXf> all(set.data(), set.size());
        for (auto _ : state) {
            float total = all.sum();
            benchmark::DoNotOptimize(total);
        }
        set_work(state, scan_bytes(), double(kScanRows));
    });
    add("scan/read_sum64/" + s, [](benchmark::State& state) {
        const ek::RowMatrixF& set = scan_set();
        for (auto _ : state) {
            float total = sum64(set.data(), static_cast<std::size_t>(set.size()));
            benchmark::DoNotOptimize(total);
        }
        set_work(state, scan_bytes(), double(kScanRows));
    });
    for (ek::Metric metric : {ek::Metric::l2_squared, ek::Metric::dot}) {
        const std::string m(ek::metric_name(metric));
        add("scan/embedkit_distances/" + m + "/" + s, [metric](benchmark::State& state) {
            const ek::RowMatrixF& set = scan_set();
            const auto query = scan_query().row(0);
            for (auto _ : state) {
                ek::VectorF d = ek::distances(query, set, metric);
                benchmark::DoNotOptimize(d.data());
                benchmark::ClobberMemory();
            }
            set_work(state, scan_bytes(), double(kScanRows));
        });
        add("scan/embedkit_top_k/" + m + "/" + s, [metric](benchmark::State& state) {
            const ek::RowMatrixF& set = scan_set();
            const ek::RowMatrixF& query = scan_query();
            for (auto _ : state) {
                ek::TopK<float> r = ek::top_k(query, set, kK, metric);
                benchmark::DoNotOptimize(r.indices.data());
                benchmark::DoNotOptimize(r.scores.data());
                benchmark::ClobberMemory();
            }
            set_work(state, scan_bytes(), double(kScanRows));
        });
#if defined(EMBEDKIT_BENCH_HAVE_FAISS)
        const bool l2 = metric == ek::Metric::l2_squared;
        add(std::string("scan/") + (l2 ? "faiss_IndexFlatL2/" : "faiss_IndexFlatIP/") + m + "/" + s,
            [l2](benchmark::State& state) {
                const ek::RowMatrixF& set = scan_set();
                const ek::RowMatrixF& query = scan_query();
                faiss::IndexFlat& index = peer_slot().get<faiss::IndexFlat>(
                    l2 ? "scan/faiss_l2" : "scan/faiss_ip", [&set, l2] {
                        auto* idx =
                            l2 ? static_cast<faiss::IndexFlat*>(new faiss::IndexFlatL2(kScanDim))
                               : static_cast<faiss::IndexFlat*>(new faiss::IndexFlatIP(kScanDim));
                        idx->add(set.rows(), set.data());
                        return idx;
                    });
                std::vector<float> dist(kK);
                std::vector<faiss::Index::idx_t> labels(kK);
                for (auto _ : state) {
                    index.search(1, query.data(), kK, dist.data(), labels.data());
                    benchmark::DoNotOptimize(dist.data());
                    benchmark::DoNotOptimize(labels.data());
                    benchmark::ClobberMemory();
                }
                set_work(state, scan_bytes(), double(kScanRows));
            });
#endif
    }
#if defined(EMBEDKIT_BENCH_HAVE_HNSWLIB)
    // hnswlib stores an 8-byte label after every row, so it reads 0.3 % more than the set.
    add("scan/hnswlib_bruteforce/l2_squared/" + s, [](benchmark::State& state) {
        struct Peer {
            hnswlib::L2Space space{static_cast<std::size_t>(kScanDim)};
            hnswlib::BruteforceSearch<float> index{&space, static_cast<std::size_t>(kScanRows)};
        };
        const ek::RowMatrixF& set = scan_set();
        const ek::RowMatrixF& query = scan_query();
        Peer& peer = peer_slot().get<Peer>("scan/hnswlib_l2", [&set] {
            auto* p = new Peer;
            for (Index i = 0; i < set.rows(); ++i)
                p->index.addPoint(set.row(i).data(), static_cast<hnswlib::labeltype>(i));
            return p;
        });
        for (auto _ : state) {
            auto result = peer.index.searchKnn(query.data(), kK);
            benchmark::DoNotOptimize(result);
        }
        set_work(state, scan_bytes(), double(kScanRows));
    });
#endif
}

// ---- One query, two threads: top_k's chunked scan against a 2-thread plain read.

const ek::RowMatrixF& scan2_set() { return dataset(kScan2Rows, kScan2Dim, 7); }
const ek::RowMatrixF& scan2_query() { return dataset(1, kScan2Dim, 8); }
double scan2_bytes() { return double(kScan2Rows) * double(kScan2Dim) * sizeof(float); }

// The plain read on two threads: each sums one half with sum64. The second thread is started
// per call, as top_k starts its own, so both pay the same start-up.
float read_sum64_2threads(const float* p, std::size_t n) {
    float upper = 0;
    std::thread other([&] { upper = sum64(p + n / 2, n - n / 2); });
    const float lower = sum64(p, n / 2);
    other.join();
    return lower + upper;
}

// set_num_threads for one row; every other row runs on one thread (main).
class RowThreads {
public:
    explicit RowThreads(int n) { ek::set_num_threads(n); }
    ~RowThreads() { ek::set_num_threads(1); }
    RowThreads(const RowThreads&) = delete;
    RowThreads& operator=(const RowThreads&) = delete;
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n == 0 ? 0.0 : (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
}

template <class M>
bool same_bits(const M& a, const M& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() &&
           std::memcmp(a.data(), b.data(), sizeof(typename M::Scalar) * std::size_t(a.size())) == 0;
}

void register_scan_2threads() {
    const std::string s = shape(kScan2Rows, kScan2Dim);
    add("scan_2threads/read_sum64_2threads/" + s, [](benchmark::State& state) {
        const ek::RowMatrixF& set = scan2_set();
        for (auto _ : state) {
            float total = read_sum64_2threads(set.data(), static_cast<std::size_t>(set.size()));
            benchmark::DoNotOptimize(total);
        }
        set_work(state, scan2_bytes(), double(kScan2Rows));
    });
    add("scan_2threads/embedkit_top_k_2threads/l2_squared/" + s, [](benchmark::State& state) {
        const ek::RowMatrixF& set = scan2_set();
        const ek::RowMatrixF& query = scan2_query();
        const RowThreads two(2);
        for (auto _ : state) {
            ek::TopK<float> r = ek::top_k(query, set, kK, ek::Metric::l2_squared);
            benchmark::DoNotOptimize(r.indices.data());
            benchmark::DoNotOptimize(r.scores.data());
            benchmark::ClobberMemory();
        }
        set_work(state, scan2_bytes(), double(kScan2Rows));
    });
    // Both in every iteration, alternating which goes first, so a busy machine slows both
    // alike; ratio = median read time / median top_k time (top_k's speed as a share of the
    // read's). identical_to_1_thread: the 2-thread result equals the 1-thread one bit for bit.
    add("scan_2threads/ratio_top_k_to_read_2threads/l2_squared/" + s, [](benchmark::State& state) {
        const ek::RowMatrixF& set = scan2_set();
        const ek::RowMatrixF& query = scan2_query();
        ek::TopK<float> one;
        {
            const RowThreads single(1);
            one = ek::top_k(query, set, kK, ek::Metric::l2_squared);
        }
        const RowThreads two(2);
        const ek::TopK<float> both = ek::top_k(query, set, kK, ek::Metric::l2_squared);
        std::vector<double> read_s, topk_s;
        bool read_first = true;
        using clock = std::chrono::steady_clock;
        for (auto _ : state) {
            for (int part = 0; part < 2; ++part) {
                const auto t0 = clock::now();
                if ((part == 0) == read_first) {
                    float total =
                        read_sum64_2threads(set.data(), static_cast<std::size_t>(set.size()));
                    benchmark::DoNotOptimize(total);
                    read_s.push_back(std::chrono::duration<double>(clock::now() - t0).count());
                } else {
                    ek::TopK<float> r = ek::top_k(query, set, kK, ek::Metric::l2_squared);
                    benchmark::DoNotOptimize(r.indices.data());
                    benchmark::ClobberMemory();
                    topk_s.push_back(std::chrono::duration<double>(clock::now() - t0).count());
                }
            }
            read_first = !read_first;
        }
        const double read_med = median(read_s);
        const double topk_med = median(topk_s);
        state.counters["read_ms"] = read_med * 1e3;
        state.counters["top_k_ms"] = topk_med * 1e3;
        state.counters["read_GBps"] = scan2_bytes() / read_med * 1e-9;
        state.counters["top_k_GBps"] = scan2_bytes() / topk_med * 1e-9;
        state.counters["ratio"] = read_med / topk_med;
        state.counters["identical_to_1_thread"] =
            same_bits(one.indices, both.indices) && same_bits(one.scores, both.scores) ? 1 : 0;
    });
}

// ---- All pairs.

double pairs() { return double(kPairsA) * double(kPairsB); }

// The output the pair loop writes: allocated once per run of a row, outside the timed loop.
template <class PairFn>
void naive_loop(benchmark::State& state, Index dim, PairFn fn) {
    const ek::RowMatrixF& a = pairs_a(dim);
    const ek::RowMatrixF& b = pairs_b(dim);
    ek::RowMatrixF out(a.rows(), b.rows());
    const auto d = static_cast<std::size_t>(dim);
    for (auto _ : state) {
        for (Index i = 0; i < a.rows(); ++i) {
            const float* ai = a.row(i).data();
            float* oi = out.row(i).data();
            for (Index j = 0; j < b.rows(); ++j) oi[j] = fn(ai, b.row(j).data(), d);
        }
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    set_work(state, 0, pairs());
}

void register_allpairs() {
    for (Index dim : kPairDims) {
        const std::string s = shape(kPairsA, kPairsB, dim);
        for (ek::Metric metric : {ek::Metric::l2_squared, ek::Metric::cosine}) {
            const std::string m(ek::metric_name(metric));
            // pairwise returns its matrix by value: allocating it is part of the call measured.
            add("allpairs/embedkit/" + m + "/" + s, [dim, metric](benchmark::State& state) {
                const ek::RowMatrixF& a = pairs_a(dim);
                const ek::RowMatrixF& b = pairs_b(dim);
                for (auto _ : state) {
                    ek::RowMatrixF out = ek::pairwise(a, b, metric);
                    benchmark::DoNotOptimize(out.data());
                    benchmark::ClobberMemory();
                }
                set_work(state, 0, pairs());
            });
#if defined(EMBEDKIT_BENCH_HAVE_FAISS)
            if (metric == ek::Metric::l2_squared) {
                add("allpairs/faiss_pairwise_L2sqr/" + m + "/" + s, [dim](benchmark::State& state) {
                    const ek::RowMatrixF& a = pairs_a(dim);
                    const ek::RowMatrixF& b = pairs_b(dim);
                    ek::RowMatrixF out(a.rows(), b.rows());
                    for (auto _ : state) {
                        faiss::pairwise_L2sqr(dim, a.rows(), a.data(), b.rows(), b.data(),
                                              out.data());
                        benchmark::DoNotOptimize(out.data());
                        benchmark::ClobberMemory();
                    }
                    set_work(state, 0, pairs());
                });
            }
#endif
            if (metric == ek::Metric::l2_squared) {
                add("allpairs/naive_loop/" + m + "/" + s, [dim](benchmark::State& state) {
                    naive_loop(state, dim, [](const float* x, const float* y, std::size_t n) {
                        return ek::l2_squared(x, y, n);
                    });
                });
            } else {
                add("allpairs/naive_loop/" + m + "/" + s, [dim](benchmark::State& state) {
                    naive_loop(state, dim, [](const float* x, const float* y, std::size_t n) {
                        return ek::cosine_similarity(x, y, n);
                    });
                });
            }
        }
        // The matrix product alone into a matrix allocated outside the loop: the floor of the
        // matrix-product metrics with this binary's GEMM, and pairwise(dot) minus it is the
        // cost of returning a fresh matrix.
        add("allpairs/embedkit/dot/" + s, [dim](benchmark::State& state) {
            const ek::RowMatrixF& a = pairs_a(dim);
            const ek::RowMatrixF& b = pairs_b(dim);
            for (auto _ : state) {
                ek::RowMatrixF out = ek::pairwise(a, b, ek::Metric::dot);
                benchmark::DoNotOptimize(out.data());
                benchmark::ClobberMemory();
            }
            set_work(state, 0, pairs());
        });
        add("allpairs/gemm_only/dot/" + s, [dim](benchmark::State& state) {
            const ek::RowMatrixF& a = pairs_a(dim);
            const ek::RowMatrixF& b = pairs_b(dim);
            ek::RowMatrixF out(a.rows(), b.rows());
            for (auto _ : state) {
                out.noalias() = a * b.transpose();
                benchmark::DoNotOptimize(out.data());
                benchmark::ClobberMemory();
            }
            set_work(state, 0, pairs());
        });
    }
}

// ---- Top-k with many queries (the matrix-product path of top_k).

void register_topk() {
    const std::string s = shape(kTopkQueries, kTopkRows, kTopkDim);
    for (ek::Metric metric : {ek::Metric::l2_squared, ek::Metric::dot}) {
        const std::string m(ek::metric_name(metric));
        add("topk/embedkit_top_k/" + m + "/" + s, [metric](benchmark::State& state) {
            const ek::RowMatrixF& set = topk_set();
            const ek::RowMatrixF& queries = topk_queries();
            for (auto _ : state) {
                ek::TopK<float> r = ek::top_k(queries, set, kK, metric);
                benchmark::DoNotOptimize(r.indices.data());
                benchmark::DoNotOptimize(r.scores.data());
                benchmark::ClobberMemory();
            }
            set_work(state, 0, double(kTopkQueries));
        });
#if defined(EMBEDKIT_BENCH_HAVE_FAISS)
        const bool l2 = metric == ek::Metric::l2_squared;
        add(std::string("topk/") + (l2 ? "faiss_IndexFlatL2/" : "faiss_IndexFlatIP/") + m + "/" + s,
            [l2, metric](benchmark::State& state) {
                const ek::RowMatrixF& set = topk_set();
                const ek::RowMatrixF& queries = topk_queries();
                faiss::IndexFlat& index = peer_slot().get<faiss::IndexFlat>(
                    l2 ? "topk/faiss_l2" : "topk/faiss_ip", [&set, l2] {
                        auto* idx =
                            l2 ? static_cast<faiss::IndexFlat*>(new faiss::IndexFlatL2(kTopkDim))
                               : static_cast<faiss::IndexFlat*>(new faiss::IndexFlatIP(kTopkDim));
                        idx->add(set.rows(), set.data());
                        return idx;
                    });
                std::vector<float> dist(static_cast<std::size_t>(kTopkQueries * kK));
                std::vector<faiss::Index::idx_t> labels(dist.size());
                for (auto _ : state) {
                    index.search(kTopkQueries, queries.data(), kK, dist.data(), labels.data());
                    benchmark::DoNotOptimize(dist.data());
                    benchmark::DoNotOptimize(labels.data());
                    benchmark::ClobberMemory();
                }
                set_work(state, 0, double(kTopkQueries));
                // Both libraries must find the same neighbours: the share of (query, rank)
                // slots where FAISS's index equals embedkit's (1 unless near-ties swap).
                const ek::TopK<float> ref = ek::top_k(queries, set, kK, metric);
                double same = 0;
                for (Index i = 0; i < kTopkQueries; ++i)
                    for (Index r = 0; r < kK; ++r)
                        same += ref.indices(i, r) == labels[std::size_t(i * kK + r)] ? 1 : 0;
                state.counters["agree_with_embedkit"] = same / double(kTopkQueries * kK);
            });
#endif
    }
}

// ---- Context: what ran, with which GEMM and BLAS, on how many threads.

void add_context(const std::string& command) {
    benchmark::AddCustomContext("command", command);
    benchmark::AddCustomContext("cpu_model", embedkit_bench::cpu_model());
    benchmark::AddCustomContext("compiler", EMBEDKIT_BENCH_COMPILER);
    benchmark::AddCustomContext("flags", EMBEDKIT_BENCH_FLAGS);
    benchmark::AddCustomContext("embedkit_version", ek::version());
    benchmark::AddCustomContext("embedkit_simd_active",
                                std::string(ek::simd::level_name(ek::simd::active())));
    benchmark::AddCustomContext("embedkit_simd_supported", embedkit_bench::supported_levels());
#if defined(EIGEN_USE_BLAS)
    benchmark::AddCustomContext("gemm_backend", "openblas");
#else
    benchmark::AddCustomContext("gemm_backend", "eigen");
#endif
    benchmark::AddCustomContext("eigen_version", std::to_string(EIGEN_WORLD_VERSION) + "." +
                                                     std::to_string(EIGEN_MAJOR_VERSION) + "." +
                                                     std::to_string(EIGEN_MINOR_VERSION));
    benchmark::AddCustomContext("eigen_simd", Eigen::SimdInstructionSetsInUse());
    benchmark::AddCustomContext("eigen_threads", std::to_string(Eigen::nbThreads()));
    benchmark::AddCustomContext("embedkit_threads",
                                std::to_string(ek::num_threads()) + " (scan_2threads rows: 2)");
    benchmark::AddCustomContext("embedkit_parallel_backend",
                                std::string(ek::detail::parallel_backend()));
    benchmark::AddCustomContext("openblas", embedkit_bench::openblas_status());
    benchmark::AddCustomContext("blas_libraries_loaded", embedkit_bench::loaded_libraries());
    benchmark::AddCustomContext("env_OPENBLAS_NUM_THREADS",
                                embedkit_bench::env_or("OPENBLAS_NUM_THREADS", "unset"));
    benchmark::AddCustomContext("env_OMP_NUM_THREADS",
                                embedkit_bench::env_or("OMP_NUM_THREADS", "unset"));
#if defined(EMBEDKIT_BENCH_HAVE_OPENMP)
    benchmark::AddCustomContext("omp_max_threads", std::to_string(omp_get_max_threads()));
#else
    benchmark::AddCustomContext("omp_max_threads", "OpenMP not linked");
#endif
    embedkit_bench::add_peer_context();
}

}  // namespace

int main(int argc, char** argv) {
    // Recorded before Initialize() strips the --benchmark_* flags from argv.
    const std::string command = embedkit_bench::shell_command(argc, argv);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

        // One thread everywhere: FAISS's OpenMP loops, Eigen (threads only under OpenMP) and
        // OpenBLAS (also forced in embedkit_bench::openblas_status(); set OPENBLAS_NUM_THREADS=1 as
        // well, which OpenBLAS reads when it is loaded, before main).
#if defined(EMBEDKIT_BENCH_HAVE_OPENMP)
    omp_set_num_threads(1);
#endif
    Eigen::setNbThreads(1);
    // embedkit's own threads too; the scan_2threads rows set 2 for themselves.
    ek::set_num_threads(1);

    add_context(command);
    register_scan();
    register_allpairs();
    register_topk();
    register_scan_2threads();

    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
