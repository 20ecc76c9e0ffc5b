// The libtorch peer of bench_train (issue 5, "Benchmarks"): the classic Keras MNIST VAE, trained
// with libtorch on one thread, timed one epoch at a time.
//
// Model (the same as embedkit's models::VAE with latent size 2):
//   encoder  784 -> 256 ReLU -> 128 ReLU -> two heads 128 -> 2: mu and log-variance
//   sampling z = mu + exp(0.5 * logvar) * eps, eps ~ N(0, 1)
//   decoder  2 -> 128 ReLU -> 256 ReLU -> 784 logits
//   loss     per sample: sum over the 784 pixels of binary cross-entropy from the logits plus
//            KL = -0.5 * sum(1 + logvar - mu^2 - exp(logvar)); averaged over the batch
//   init     Glorot-uniform weights, zero biases (the Keras defaults)
//   Adam     lr 1e-3, betas (0.9, 0.999), eps 1e-7 (the Keras defaults)
// Data: the 60,000 MNIST training images (embedkit::io::load_mnist) from $EMBEDKIT_MNIST_DIR,
// default ./data/mnist (as the examples); batches of 100 in an order reshuffled every epoch from a
// fixed seed. Missing data skips the training row with an error message.
//
// Rows:
//   vae_epoch/libtorch     one training epoch per iteration (no validation), 6 repetitions
//                          after one untimed warm-up epoch per process; the model keeps
//                          training across repetitions, so each repetition is the next epoch.
//                          Counters: seconds (the epoch), gflops (144.3e9 FLOP / seconds: the
//                          exact GEMM count of an epoch), loss (mean training loss of the
//                          epoch, as Keras prints it), last_batch_loss, epoch (1 = warm-up).
//   sgemm/libtorch/1024    torch::mm (out= form, no allocation) of two 1024 x 1024 float
//                          matrices; counter gflops = 2 * 1024^3 per iteration / time.
// Both rows use manual time (a steady clock around the timed work only).
//
// Threads: torch::set_num_threads(1), torch::set_num_interop_threads(1), OpenBLAS forced to 1
// thread when loaded; pin the process as well (taskset -c 1). The context records libtorch's
// build configuration (its BLAS), its parallel settings and the BLAS libraries actually mapped.
#include "bench_util.hpp"

#include <embedkit/io/mnist.hpp>

#include <benchmark/benchmark.h>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <initializer_list>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>

namespace {

constexpr std::int64_t kPixels = 784;
constexpr std::int64_t kHidden1 = 256;
constexpr std::int64_t kHidden2 = 128;
constexpr std::int64_t kLatent = 2;
constexpr std::int64_t kBatch = 100;
constexpr double kEpochFlop = 144.3e9;  // issue 5: forward + backward GEMMs of one epoch
constexpr std::int64_t kGemmN = 1024;
constexpr std::uint64_t kInitSeed = 42;     // weights
constexpr std::uint64_t kShuffleSeed = 43;  // batch order, one permutation per epoch
constexpr std::uint64_t kNoiseSeed = 44;    // eps of the reparameterisation
constexpr std::uint64_t kGemmSeed = 45;     // sgemm operands
constexpr const char* kDefaultMnistDir = "data/mnist";

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}


std::string mnist_dir() { return embedkit_bench::env_or("EMBEDKIT_MNIST_DIR", kDefaultMnistDir); }

// ---- The model.

// A Linear layer initialised as Keras' Dense: Glorot-uniform weights, zero bias.
torch::nn::Linear keras_linear(std::int64_t in, std::int64_t out) {
    torch::nn::Linear layer(in, out);
    torch::nn::init::xavier_uniform_(layer->weight);
    torch::nn::init::zeros_(layer->bias);
    return layer;
}

struct VaeImpl : torch::nn::Module {
    VaeImpl()
        : enc1(register_module("enc1", keras_linear(kPixels, kHidden1))),
          enc2(register_module("enc2", keras_linear(kHidden1, kHidden2))),
          mu_head(register_module("mu", keras_linear(kHidden2, kLatent))),
          logvar_head(register_module("logvar", keras_linear(kHidden2, kLatent))),
          dec1(register_module("dec1", keras_linear(kLatent, kHidden2))),
          dec2(register_module("dec2", keras_linear(kHidden2, kHidden1))),
          dec3(register_module("dec3", keras_linear(kHidden1, kPixels))) {}

    torch::nn::Linear enc1, enc2, mu_head, logvar_head, dec1, dec2, dec3;
};
TORCH_MODULE(Vae);

// The trained state: data, model, optimiser and generators, created once per process (the
// repetitions of vae_epoch/libtorch continue the same training run).
class Trainer {
public:
    explicit Trainer(torch::Tensor images)
        : images_(std::move(images)),
          model_(make_model()),
          adam_(model_->parameters(), torch::optim::AdamOptions(1e-3)
                                          .betas(std::make_tuple(0.9, 0.999))
                                          .eps(1e-7)),
          shuffle_gen_(at::make_generator<at::CPUGeneratorImpl>(kShuffleSeed)),
          noise_gen_(at::make_generator<at::CPUGeneratorImpl>(kNoiseSeed)) {}

    struct EpochResult {
        double mean_loss = 0.0;  // per-sample loss averaged over the epoch's samples
        double last_batch_loss = 0.0;
    };

    // One epoch of training: a fresh permutation, then Adam steps on batches of kBatch.
    EpochResult run_epoch() {
        const std::int64_t n = images_.size(0);
        const torch::Tensor order = torch::randperm(n, shuffle_gen_, torch::kLong);
        EpochResult result;
        double weighted_sum = 0.0;
        for (std::int64_t start = 0; start < n; start += kBatch) {
            const std::int64_t rows = std::min(kBatch, n - start);
            const torch::Tensor x = images_.index_select(0, order.narrow(0, start, rows));
            const torch::Tensor loss = batch_loss(x);
            adam_.zero_grad();
            loss.backward();
            adam_.step();
            result.last_batch_loss = loss.item<double>();
            weighted_sum += result.last_batch_loss * double(rows);
        }
        result.mean_loss = weighted_sum / double(n);
        ++epochs_;
        return result;
    }

    int epochs() const { return epochs_; }
    bool warmed_up() const { return epochs_ > 0; }

private:
    static Vae make_model() {
        torch::manual_seed(kInitSeed);  // the initialisers draw from the default generator
        return Vae();
    }

    // Mean over the batch of (summed binary cross-entropy over the pixels + KL).
    torch::Tensor batch_loss(const torch::Tensor& x) {
        const double rows = double(x.size(0));
        torch::Tensor h = torch::relu(model_->enc1(x));
        h = torch::relu(model_->enc2(h));
        const torch::Tensor mu = model_->mu_head(h);
        const torch::Tensor logvar = model_->logvar_head(h);
        const torch::Tensor eps = torch::randn(mu.sizes(), noise_gen_, mu.options());
        const torch::Tensor z = mu + torch::exp(0.5 * logvar) * eps;
        torch::Tensor d = torch::relu(model_->dec1(z));
        d = torch::relu(model_->dec2(d));
        const torch::Tensor logits = model_->dec3(d);
        const torch::Tensor reconstruction =
            torch::binary_cross_entropy_with_logits(logits, x, {}, {}, at::Reduction::Sum) / rows;
        const torch::Tensor kl =
            -0.5 * torch::sum(1.0 + logvar - mu.pow(2) - torch::exp(logvar)) / rows;
        return reconstruction + kl;
    }

    torch::Tensor images_;
    Vae model_;
    torch::optim::Adam adam_;
    at::Generator shuffle_gen_;
    at::Generator noise_gen_;
    int epochs_ = 0;
};

// The process's trainer, or nullptr with the reason in *error (data missing or unreadable).
Trainer* trainer(std::string* error) {
    static std::unique_ptr<Trainer> instance;
    static std::string failure;
    static bool tried = false;
    if (!tried) {
        tried = true;
        const std::string dir = mnist_dir();
        try {
            auto data = embedkit::io::load_mnist(dir, embedkit::io::MnistSplit::train);
            const auto rows = std::int64_t(data.images.rows());
            const auto cols = std::int64_t(data.images.cols());
            if (rows == 0 || cols != kPixels) {
                failure = "bench_train_torch: expected MNIST training images with " +
                          std::to_string(kPixels) + " pixels in " + dir + ", got " +
                          std::to_string(rows) + " x " + std::to_string(cols);
            } else {
                // Row-major floats in [0, 1], one image per row: the layout torch expects.
                torch::Tensor images =
                    torch::from_blob(data.images.data(), {rows, cols}, torch::kFloat).clone();
                instance = std::make_unique<Trainer>(std::move(images));
            }
        } catch (const std::exception& e) {
            failure = "bench_train_torch: no MNIST training set in " + dir +
                      " (the folder comes from EMBEDKIT_MNIST_DIR, default " + kDefaultMnistDir +
                      "): " + e.what();
        }
    }
    if (!instance && error) *error = failure;
    return instance.get();
}

// ---- Benchmarks.

void bm_vae_epoch(benchmark::State& state) {
    std::string error;
    Trainer* t = trainer(&error);
    if (!t) {
        state.SkipWithError(error.c_str());
        return;
    }
    if (!t->warmed_up()) t->run_epoch();  // untimed warm-up, once per process

    double total_seconds = 0.0;
    Trainer::EpochResult last;
    for (auto _ : state) {
        const Clock::time_point start = Clock::now();
        last = t->run_epoch();
        const double seconds = seconds_since(start);
        state.SetIterationTime(seconds);
        total_seconds += seconds;
    }
    if (!std::isfinite(last.mean_loss)) {
        state.SkipWithError("bench_train_torch: the training loss is not finite");
        return;
    }
    const double seconds = total_seconds / double(state.iterations());
    state.counters["seconds"] = seconds;
    state.counters["gflops"] = kEpochFlop / seconds * 1e-9;
    state.counters["loss"] = last.mean_loss;
    state.counters["last_batch_loss"] = last.last_batch_loss;
    state.counters["epoch"] = double(t->epochs());
}

void bm_sgemm(benchmark::State& state) {
    const at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(kGemmSeed);
    const torch::Tensor a = torch::rand({kGemmN, kGemmN}, gen, torch::kFloat) * 2.0 - 1.0;
    const torch::Tensor b = torch::rand({kGemmN, kGemmN}, gen, torch::kFloat) * 2.0 - 1.0;
    torch::Tensor c = torch::empty({kGemmN, kGemmN}, torch::kFloat);
    torch::mm_out(c, a, b);  // first touch of the output, outside the timing
    double total_seconds = 0.0;
    for (auto _ : state) {
        const Clock::time_point start = Clock::now();
        torch::mm_out(c, a, b);
        benchmark::DoNotOptimize(c.data_ptr<float>());
        benchmark::ClobberMemory();
        const double seconds = seconds_since(start);
        state.SetIterationTime(seconds);
        total_seconds += seconds;
    }
    const double flop = 2.0 * double(kGemmN) * double(kGemmN) * double(kGemmN);
    state.counters["gflops"] = flop * double(state.iterations()) / total_seconds * 1e-9;
}

// ---- Context: libtorch's version, build configuration, threads and the BLAS it loaded.

// The lines of a multi-line text that contain one of the keys, trimmed and joined with "; ".
std::string lines_with(const std::string& text, std::initializer_list<const char*> keys) {
    std::istringstream in(text);
    std::string line, out;
    while (std::getline(in, line)) {
        bool wanted = false;
        for (const char* key : keys) wanted = wanted || line.find(key) != std::string::npos;
        const std::size_t first = line.find_first_not_of(" \t-");
        if (!wanted || first == std::string::npos) continue;
        out += (out.empty() ? "" : "; ") + line.substr(first);
    }
    return out.empty() ? "unknown" : out;
}

// What libtorch's GEMM and kernels are: from at::show_config(), the oneDNN version, the CPU
// capability of its vectorised kernels and the build settings naming its BLAS and LAPACK (the
// compiler flags are left out).
std::string torch_build() {
    const std::string config = at::show_config();
    std::string out = lines_with(config, {"MKL-DNN", "CPU capability"});
    const std::string marker = "Build settings: ";
    const std::size_t at_settings = config.find(marker);
    if (at_settings == std::string::npos) return out;
    std::istringstream settings(
        config.substr(at_settings + marker.size(),
                      config.find('\n', at_settings) - at_settings - marker.size()));
    std::string item;
    while (std::getline(settings, item, ',')) {
        const std::size_t first = item.find_first_not_of(' ');
        if (first == std::string::npos) continue;
        item = item.substr(first);
        for (const char* key : {"BLAS_INFO=", "LAPACK_INFO=", "BUILD_TYPE=", "USE_MKLDNN=",
                                "USE_OPENMP=", "PERF_WITH_AVX512="}) {
            if (item.rfind(key, 0) == 0) out += "; " + item;
        }
    }
    return out;
}

void add_context(const std::string& command) {
    benchmark::AddCustomContext("command", command);
    benchmark::AddCustomContext("cpu_model", embedkit_bench::cpu_model());
    benchmark::AddCustomContext("compiler", EMBEDKIT_BENCH_COMPILER);
    benchmark::AddCustomContext("flags", EMBEDKIT_BENCH_FLAGS);
    benchmark::AddCustomContext("embedkit_version", embedkit::version());
    benchmark::AddCustomContext("torch_version", TORCH_VERSION);
    benchmark::AddCustomContext("torch_build", torch_build());
    benchmark::AddCustomContext("torch_parallel",
                                lines_with(at::get_parallel_info(), {"threads", "backend"}));
    benchmark::AddCustomContext("gemm_backend", "libtorch");
    benchmark::AddCustomContext("openblas", embedkit_bench::openblas_status());
    benchmark::AddCustomContext("blas_libraries_loaded", embedkit_bench::loaded_libraries());
    benchmark::AddCustomContext("env_OPENBLAS_NUM_THREADS", embedkit_bench::env_or("OPENBLAS_NUM_THREADS", "unset"));
    benchmark::AddCustomContext("env_OMP_NUM_THREADS", embedkit_bench::env_or("OMP_NUM_THREADS", "unset"));
    benchmark::AddCustomContext("env_OPENBLAS_CORETYPE", embedkit_bench::env_or("OPENBLAS_CORETYPE", "unset"));
    benchmark::AddCustomContext("mnist_dir", mnist_dir());
}

}  // namespace

int main(int argc, char** argv) {
    // Recorded before Initialize() strips the --benchmark_* flags from argv.
    const std::string command = embedkit_bench::shell_command(argc, argv);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

    // One thread: ATen's intra-op pool (OpenMP), its inter-op pool (must be set before any
    // inter-op work) and OpenBLAS (forced in embedkit_bench::openblas_status()).
    torch::set_num_threads(1);
    torch::set_num_interop_threads(1);
    add_context(command);

    benchmark::RegisterBenchmark("vae_epoch/libtorch", bm_vae_epoch)
        ->Iterations(1)
        ->Repetitions(6)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("sgemm/libtorch/1024", bm_sgemm)
        ->Repetitions(6)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);

    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
