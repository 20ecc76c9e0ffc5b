// Training speed on one thread: one VAE epoch on MNIST (60,000 images, batch 100, Adam), one
// Siamese epoch (120,000 pairs, batch 128, contrastive loss, Adam), each with a breakdown of
// where the time goes, and the same binary's SGEMM rate at 1024³.
//
// The drift rows (vae_drift, siamese_drift) train a fresh model for 5 epochs in one fit and
// report epoch 5's time over epoch 2's: a slowdown that grows with training (denormal moments
// and gradients, which cost a microcode assist per operation on Intel cores) shows there.
//
// Built twice: bench_train (Eigen's own GEMM, rows "embedkit_eigen") and bench_train_blas
// (EIGEN_USE_BLAS on OpenBLAS, rows "embedkit_blas"). The libtorch peer is bench_train_torch;
// scripts/bench_train runs all three in one session and scripts/bench_train_summary.py makes
// the table in docs/BENCHMARKS.md.
#include "bench_util.hpp"

#include <embedkit/data/pairs.hpp>
#include <embedkit/io/mnist.hpp>
#include <embedkit/models/siamese.hpp>
#include <embedkit/models/vae.hpp>

#include <cstdlib>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ek = embedkit;

namespace {

#if defined(EIGEN_USE_BLAS)
constexpr const char* backend = "embedkit_blas";
#else
constexpr const char* backend = "embedkit_eigen";
#endif

// Exact GEMM work of one epoch: 600 batches x (forward + weight gradients + input gradients
// except the first layer's) of the 784-256-128-(2+2) / 2-128-256-784 network, 2 flops per
// multiply-add. Derivation in docs/BENCHMARKS.md.
constexpr double epoch_flops = 144.3e9;
// The Siamese epoch: 240,000 images through the 784-512-256-128 tower (565,248 weights), forward,
// weight gradients, and input gradients of all layers but the first (163,840 weights).
constexpr double siamese_epoch_flops = 621.0e9;

std::string mnist_dir() { return embedkit_bench::env_or("EMBEDKIT_MNIST_DIR", "data/mnist"); }

struct Session {
    ek::RowMatrixF images;
    ek::Rng rng{42};
    std::unique_ptr<ek::models::VAE<float>> vae;
    std::unique_ptr<ek::nn::Adam<float>> adam;
    std::string error;
};

Session& session() {
    static Session s = [] {
        Session out;
        try {
            out.images = ek::io::load_mnist(mnist_dir(), ek::io::MnistSplit::train).images;
            out.vae = std::make_unique<ek::models::VAE<float>>(ek::models::VAEOptions{}, out.rng);
            out.adam = std::make_unique<ek::nn::Adam<float>>();
        } catch (const std::exception& e) {
            out.error = e.what();
        }
        return out;
    }();
    return s;
}

// Silent fit options: every row times its epochs, none draws a progress bar.
ek::models::FitOptions silent_fit(int epochs, Eigen::Index batch_size) {
    ek::models::FitOptions f;
    f.epochs = epochs;
    f.batch_size = batch_size;
    f.progress.style = ek::ProgressOptions::Style::silent;
    return f;
}

ek::nn::History run_epoch(Session& s) {
    return s.vae->fit(s.images, silent_fit(1, 100), *s.adam, s.rng);
}

// The timed part both training rows share: skip when the data is missing, one untimed warm-up
// epoch per process (page faults, first-touch buffers, caches), then one epoch per iteration
// on the trainer's own clock, with the rate and the breakdown (the library's profiler hook,
// core/profile.hpp) as counters. `run()` trains one epoch and returns its history. Returns
// false when the row was skipped.
template <class Run>
bool time_epochs(benchmark::State& state, const std::string& error, bool& warmed, double flops,
                 Run&& run) {
    if (!error.empty()) {
        state.SkipWithError(("MNIST not loaded (set EMBEDKIT_MNIST_DIR): " + error).c_str());
        return false;
    }
    if (!warmed) {
        run();
        warmed = true;
    }
    ek::profile::Timings t;
    double loss = 0, seconds = 0;
    for (auto _ : state) {
        t.reset();
        const ek::profile::Collect collect(t);
        const auto h = run();
        seconds = h.back().seconds;
        state.SetIterationTime(seconds);
        loss = h.back().loss;
    }
    state.counters["seconds"] = seconds;
    state.counters["GFLOPs"] = benchmark::Counter(
        flops * static_cast<double>(state.iterations()) * 1e-9, benchmark::Counter::kIsRate);
    state.counters["loss"] = loss;
    state.counters["t_gemm"] = t.gemm;
    state.counters["t_activation"] = t.activation;
    state.counters["t_loss"] = t.loss;
    state.counters["t_optimizer"] = t.optimizer;
    state.counters["t_other"] = t.other;
    return true;
}

void bm_vae_epoch(benchmark::State& state) {
    Session& s = session();
    static bool warmed = false;
    time_epochs(state, s.error, warmed, epoch_flops, [&] { return run_epoch(s); });
}

struct SiameseSession {
    ek::io::MnistData train, test;
    ek::data::Pairs test_pairs;
    ek::Rng rng{42};
    std::unique_ptr<ek::models::Siamese<float>> model;
    std::unique_ptr<ek::nn::Adam<float>> adam;
    std::string error;
};

SiameseSession& siamese_session() {
    static SiameseSession s = [] {
        SiameseSession out;
        try {
            out.train = ek::io::load_mnist(mnist_dir(), ek::io::MnistSplit::train);
            out.test = ek::io::load_mnist(mnist_dir(), ek::io::MnistSplit::test);
            ek::Rng pair_rng(42);
            out.test_pairs = ek::data::make_pairs(out.test.labels, pair_rng);
            out.model =
                std::make_unique<ek::models::Siamese<float>>(ek::models::SiameseOptions{}, out.rng);
            out.adam = std::make_unique<ek::nn::Adam<float>>();
        } catch (const std::exception& e) {
            out.error = e.what();
        }
        return out;
    }();
    return s;
}

ek::nn::History run_siamese_epoch(SiameseSession& s) {
    const ek::models::FitOptions f = silent_fit(1, 128);
    // No test pairs inside fit: evaluation stays out of the timed epoch.
    return s.model->fit(s.train.images, s.train.labels, ek::RowMatrixF(0, 784), ek::data::Pairs{},
                        f, ek::models::SiameseTraining{}, *s.adam, s.rng);
}

void bm_siamese_epoch(benchmark::State& state) {
    SiameseSession& s = siamese_session();
    static bool warmed = false;
    if (!time_epochs(state, s.error, warmed, siamese_epoch_flops,
                     [&] { return run_siamese_epoch(s); }))
        return;
    // Outside the timed region: test pair accuracy at distance < 0.5, so a reader sees it learns.
    const auto d = s.model->pair_distances(s.test.images, s.test_pairs);
    state.counters["pair_accuracy"] = ek::eval::pair_accuracy(d, s.test_pairs.similar, 0.5f);
}

double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// One fit of 5 epochs of a fresh model; epochs 2 and 5 on the trainer's clock and in this
// thread's CPU time (which a busy shared machine disturbs less), and their ratios, as counters.
// `run(on_epoch_end)` trains with that callback and returns the history.
template <class Run>
void time_drift(benchmark::State& state, const std::string& error, Run&& run) {
    if (!error.empty()) {
        state.SkipWithError(("MNIST not loaded (set EMBEDKIT_MNIST_DIR): " + error).c_str());
        return;
    }
    ek::nn::History h;
    std::vector<double> cpu;  // thread CPU seconds at the start and after every epoch
    for (auto _ : state) {
        cpu.assign(1, thread_cpu_seconds());
        h = run([&](const ek::nn::EpochStats&) { cpu.push_back(thread_cpu_seconds()); });
        double total = 0;
        for (const auto& e : h) total += e.seconds;
        state.SetIterationTime(total);
    }
    state.counters["epoch2_s"] = h.at(1).seconds;
    state.counters["epoch5_s"] = h.at(4).seconds;
    state.counters["ratio_5_to_2"] = h.at(4).seconds / h.at(1).seconds;
    state.counters["epoch2_cpu_s"] = cpu.at(2) - cpu.at(1);
    state.counters["epoch5_cpu_s"] = cpu.at(5) - cpu.at(4);
    state.counters["cpu_ratio_5_to_2"] = (cpu.at(5) - cpu.at(4)) / (cpu.at(2) - cpu.at(1));
    state.counters["loss"] = h.back().loss;
}

void bm_vae_drift(benchmark::State& state) {
    Session& s = session();
    time_drift(state, s.error, [&](std::function<void(const ek::nn::EpochStats&)> on_epoch_end) {
        ek::Rng rng(7);
        ek::models::VAE<float> vae(ek::models::VAEOptions{}, rng);
        ek::nn::Adam<float> adam;
        ek::models::FitOptions f = silent_fit(5, 100);
        f.on_epoch_end = std::move(on_epoch_end);
        return vae.fit(s.images, f, adam, rng);
    });
}

void bm_siamese_drift(benchmark::State& state) {
    SiameseSession& s = siamese_session();
    time_drift(state, s.error, [&](std::function<void(const ek::nn::EpochStats&)> on_epoch_end) {
        ek::Rng rng(7);
        ek::models::Siamese<float> model(ek::models::SiameseOptions{}, rng);
        ek::nn::Adam<float> adam;
        ek::models::FitOptions f = silent_fit(5, 128);
        f.on_epoch_end = std::move(on_epoch_end);
        return model.fit(s.train.images, s.train.labels, ek::RowMatrixF(0, 784), ek::data::Pairs{},
                         f, ek::models::SiameseTraining{}, adam, rng);
    });
}

void bm_sgemm(benchmark::State& state) {
    const Eigen::Index n = state.range(0);
    ek::Rng rng(1);
    ek::RowMatrixF a(n, n), b(n, n), c(n, n);
    for (Eigen::Index i = 0; i < a.size(); ++i) {
        a.data()[i] = static_cast<float>(rng.uniform(-1, 1));
        b.data()[i] = static_cast<float>(rng.uniform(-1, 1));
    }
    for (auto _ : state) {
        c.noalias() = a * b;
        benchmark::DoNotOptimize(c.data());
        benchmark::ClobberMemory();
    }
    state.counters["GFLOPs"] = benchmark::Counter(
        2.0 * static_cast<double>(n * n * n) * static_cast<double>(state.iterations()) * 1e-9,
        benchmark::Counter::kIsRate);
}

}  // namespace

int main(int argc, char** argv) {
    const std::string command = embedkit_bench::shell_command(argc, argv);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    Eigen::setNbThreads(1);
    benchmark::AddCustomContext("command", command);
    benchmark::AddCustomContext("cpu_model", embedkit_bench::cpu_model());
    benchmark::AddCustomContext("compiler", EMBEDKIT_BENCH_COMPILER);
    benchmark::AddCustomContext("flags", EMBEDKIT_BENCH_FLAGS);
    benchmark::AddCustomContext("gemm_backend", backend);
    benchmark::AddCustomContext("eigen_simd", Eigen::SimdInstructionSetsInUse());
    benchmark::AddCustomContext("embedkit_version", ek::version());
    benchmark::AddCustomContext("openblas", embedkit_bench::openblas_status());
    benchmark::AddCustomContext("blas_libraries_loaded", embedkit_bench::loaded_libraries());
    benchmark::AddCustomContext("env_OPENBLAS_NUM_THREADS",
                                embedkit_bench::env_or("OPENBLAS_NUM_THREADS", "unset"));
    benchmark::AddCustomContext("env_OPENBLAS_CORETYPE",
                                embedkit_bench::env_or("OPENBLAS_CORETYPE", "unset"));
    const std::string name = std::string("vae_epoch/") + backend;
    benchmark::RegisterBenchmark(name.c_str(), bm_vae_epoch)
        ->UseManualTime()
        ->Iterations(1)
        ->Repetitions(6)
        ->Unit(benchmark::kSecond);
    const std::string siamese = std::string("siamese_epoch/") + backend;
    benchmark::RegisterBenchmark(siamese.c_str(), bm_siamese_epoch)
        ->UseManualTime()
        ->Iterations(1)
        ->Repetitions(6)
        ->Unit(benchmark::kSecond);
    // Not in the default run (scripts/bench_train): select with --benchmark_filter=drift.
    const std::string vae_drift = std::string("vae_drift/") + backend;
    benchmark::RegisterBenchmark(vae_drift.c_str(), bm_vae_drift)
        ->UseManualTime()
        ->Iterations(1)
        ->Unit(benchmark::kSecond);
    const std::string siamese_drift = std::string("siamese_drift/") + backend;
    benchmark::RegisterBenchmark(siamese_drift.c_str(), bm_siamese_drift)
        ->UseManualTime()
        ->Iterations(1)
        ->Unit(benchmark::kSecond);
    const std::string gemm = std::string("sgemm/") + backend + "/1024";
    benchmark::RegisterBenchmark(gemm.c_str(), bm_sgemm)
        ->Arg(1024)
        ->Unit(benchmark::kMillisecond)
        ->MinTime(1.0);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
