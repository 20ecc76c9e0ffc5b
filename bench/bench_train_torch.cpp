// The libtorch peers of bench_train: the classic Keras MNIST VAE (issue 5, "Benchmarks") and the
// MNIST Siamese network trained with the contrastive loss (issue 6, "Benchmarks"), each trained
// with libtorch on one thread and timed one epoch at a time.
//
// VAE (the same as embedkit's models::VAE with latent size 2):
//   encoder  784 -> 256 ReLU -> 128 ReLU -> two heads 128 -> 2: mu and log-variance
//   sampling z = mu + exp(0.5 * logvar) * eps, eps ~ N(0, 1)
//   decoder  2 -> 128 ReLU -> 256 ReLU -> 784 logits
//   loss     per sample: sum over the 784 pixels of binary cross-entropy from the logits plus
//            KL = -0.5 * sum(1 + logvar - mu^2 - exp(logvar)); averaged over the batch
//   data     the 60,000 training images in batches of 100, in an order reshuffled every epoch
// Siamese (the same as embedkit's models::Siamese with its defaults):
//   tower    784 -> 512 ReLU -> 256 ReLU -> 128 (linear), shared by both members of a pair
//   pairs    for every training image one positive partner (uniform among the other images of
//            its digit) and one negative partner (uniform among the images of the other
//            digits): 120,000 pairs, drawn afresh every epoch from a fixed-seed generator and
//            shuffled; batches of 128 pairs (the last one shorter). A batch's 2 x 128 images go
//            through the tower as one 256-row forward. The rule is embedkit's data::make_pairs,
//            the draws are not (they come from torch's generator, vectorised, not embedkit::Rng).
//   loss     d = Euclidean distance of the two embeddings, computed as sqrt(max(sum of squares,
//            1e-12)) so that the backward is finite at d = 0; per pair y d^2 + (1 - y) max(0,
//            1 - d)^2 with y = 1 for the same digit (margin 1); averaged over the batch
//   test     20,000 pairs of the 10,000 test images by the same rule (torch generator, seed 42); a
//            pair counts as "same" when d < 0.5 (pair accuracy)
// Both models: Glorot-uniform weights and zero biases (the Keras defaults, as embedkit), Adam
// lr 1e-3, betas (0.9, 0.999), eps 1e-7 (the Keras defaults). Data: MNIST (embedkit::io::
// load_mnist) from $EMBEDKIT_MNIST_DIR, default ./data/mnist (as the examples); missing data
// skips the training rows with an error message.
//
// Rows:
//   vae_epoch/libtorch     one training epoch per iteration (no validation), 6 repetitions
//                          after one untimed warm-up epoch per process; the model keeps
//                          training across repetitions, so each repetition is the next epoch.
//                          Counters: seconds (the epoch), gflops (144.3e9 FLOP / seconds: the
//                          exact GEMM count of an epoch), loss (mean training loss of the
//                          epoch, as Keras prints it), last_batch_loss, epoch (1 = warm-up).
//   siamese_epoch/libtorch one training epoch (pair generation included) per iteration, 6
//                          repetitions after one untimed warm-up epoch per process, each the
//                          next epoch. Counters: seconds (the epoch), gflops (621e9 FLOP /
//                          seconds: the dense-equivalent count of issue 6, 240,000 images x
//                          (2 x 565,248 forward + 2 x 565,248 weight gradients + 2 x 163,840
//                          input gradients of the second and third layers)), loss (mean
//                          training loss of the epoch's pairs), pair_accuracy (fraction of the
//                          20,000 test pairs classified right after the epoch, measured outside
//                          the timed region), epoch (1 = warm-up).
//   sgemm/libtorch/1024    torch::mm (out= form, no allocation) of two 1024 x 1024 float
//                          matrices; counter gflops = 2 * 1024^3 per iteration / time.
// All rows use manual time (a steady clock around the timed work only).
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
#include <stdexcept>
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

// The Siamese network of issue 6.
constexpr std::int64_t kTower1 = 512;
constexpr std::int64_t kTower2 = 256;
constexpr std::int64_t kEmbedding = 128;
constexpr std::int64_t kPairBatch = 128;
constexpr double kMargin = 1.0;
constexpr double kThreshold = 0.5;             // d < threshold: the pair is called "same digit"
constexpr double kMinSquaredDistance = 1e-12;  // keeps sqrt's derivative finite at d = 0
// 240,000 images x (2 x 565,248 forward + 2 x 565,248 weight gradients + 2 x 163,840 input
// gradients of the layers after the first) = 621.3e9, rounded as issue 6 states it.
constexpr double kSiameseEpochFlop = 621e9;
constexpr std::uint64_t kSiameseInitSeed = 46;  // tower weights
constexpr std::uint64_t kPairSeed = 47;         // training pairs and their order, every epoch
constexpr std::uint64_t kTestPairSeed = 42;     // the fixed test pairs (issue 6)
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
class VaeTrainer {
public:
    explicit VaeTrainer(torch::Tensor images)
        : images_(std::move(images)),
          model_(make_model()),
          adam_(model_->parameters(),
                torch::optim::AdamOptions(1e-3).betas(std::make_tuple(0.9, 0.999)).eps(1e-7)),
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

// One MNIST split as tensors: images n x 784 float in [0, 1] (row-major, one image per row, the
// layout torch expects) and labels n int64.
struct MnistTensors {
    torch::Tensor images;
    torch::Tensor labels;
};

// The split from $EMBEDKIT_MNIST_DIR, loaded once per process; nullptr with the reason in *error
// when the files are missing or unreadable.
const MnistTensors* mnist(embedkit::io::MnistSplit split, std::string* error) {
    struct Cached {
        bool tried = false;
        std::unique_ptr<MnistTensors> tensors;
        std::string failure;
    };
    static Cached cache[2];
    const bool train = split == embedkit::io::MnistSplit::train;
    Cached& c = cache[train ? 0 : 1];
    if (!c.tried) {
        c.tried = true;
        const std::string dir = mnist_dir();
        const std::string what = train ? "training" : "test";
        try {
            auto data = embedkit::io::load_mnist(dir, split);
            const auto rows = std::int64_t(data.images.rows());
            const auto cols = std::int64_t(data.images.cols());
            if (rows == 0 || cols != kPixels || std::int64_t(data.labels.size()) != rows) {
                c.failure = "bench_train_torch: expected MNIST " + what + " images with " +
                            std::to_string(kPixels) + " pixels and one label each in " + dir +
                            ", got " + std::to_string(rows) + " x " + std::to_string(cols) +
                            " images and " + std::to_string(data.labels.size()) + " labels";
            } else {
                auto t = std::make_unique<MnistTensors>();
                t->images =
                    torch::from_blob(data.images.data(), {rows, cols}, torch::kFloat).clone();
                t->labels =
                    torch::from_blob(data.labels.data(), {rows}, torch::kUInt8).to(torch::kLong);
                c.tensors = std::move(t);
            }
        } catch (const std::exception& e) {
            c.failure = "bench_train_torch: no MNIST " + what + " set in " + dir +
                        " (the folder comes from EMBEDKIT_MNIST_DIR, default " + kDefaultMnistDir +
                        "): " + e.what();
        }
    }
    if (!c.tensors && error) *error = c.failure;
    return c.tensors.get();
}

// The process's VAE trainer, or nullptr with the reason in *error (data missing or unreadable).
VaeTrainer* vae_trainer(std::string* error) {
    static std::unique_ptr<VaeTrainer> instance;
    static std::string failure;
    static bool tried = false;
    if (!tried) {
        tried = true;
        if (const MnistTensors* train = mnist(embedkit::io::MnistSplit::train, &failure))
            instance = std::make_unique<VaeTrainer>(train->images);
    }
    if (!instance && error) *error = failure;
    return instance.get();
}

// ---- The Siamese network (issue 6).

struct TowerImpl : torch::nn::Module {
    TowerImpl()
        : fc1(register_module("fc1", keras_linear(kPixels, kTower1))),
          fc2(register_module("fc2", keras_linear(kTower1, kTower2))),
          fc3(register_module("fc3", keras_linear(kTower2, kEmbedding))) {}

    // n x 784 images -> n x 128 embeddings.
    torch::Tensor forward(const torch::Tensor& x) {
        return fc3(torch::relu(fc2(torch::relu(fc1(x)))));
    }

    torch::nn::Linear fc1, fc2, fc3;
};
TORCH_MODULE(Tower);

// Pairs of sample indices: pair p is (first[p], second[p]) (int64), similar[p] is 1 for the same
// label, else 0 (float, the y of the contrastive loss).
struct PairTensors {
    torch::Tensor first, second, similar;
};

// Throws std::runtime_error unless every label present has at least two samples and at least
// two labels are present (what make_pairs needs to find a positive and a negative partner).
void check_pair_labels(const torch::Tensor& labels, const std::string& what) {
    const torch::Tensor counts = torch::bincount(labels);
    const torch::Tensor present = counts.masked_select(counts > 0);
    if (present.size(0) < 2 || present.min().item<std::int64_t>() < 2)
        throw std::runtime_error("bench_train_torch: the " + what +
                                 " labels need two or more samples per digit and two or more "
                                 "digits to form pairs, got " +
                                 std::to_string(present.size(0)) + " digits");
}

// n uniform integers, element i in [0, bound[i]) (every bound >= 1), from a double in [0, 1).
torch::Tensor uniform_below(const torch::Tensor& bound, at::Generator& gen) {
    const torch::Tensor u = torch::rand(bound.sizes(), gen, torch::kDouble);
    return torch::minimum((u * bound.to(torch::kDouble)).floor().to(torch::kLong), bound - 1);
}

// For every sample i (labels: n int64, checked by check_pair_labels) one positive pair (i, j),
// j uniform among the other samples with i's label, and one negative pair (i, k), k uniform
// among the samples with another label; 2n pairs, the n positives first. Vectorised: the
// samples grouped by label (a stable sort), each sample's block of same-label samples and its
// rank inside it.
PairTensors make_pairs(const torch::Tensor& labels, at::Generator& gen) {
    const std::int64_t n = labels.size(0);
    const torch::Tensor by_label =
        std::get<1>(torch::sort(labels, /*stable=*/true, /*dim=*/0, /*descending=*/false));
    const torch::Tensor counts = torch::bincount(labels);
    const torch::Tensor offsets = counts.cumsum(0) - counts;
    const torch::Tensor count = counts.index_select(0, labels);    // size of i's block
    const torch::Tensor offset = offsets.index_select(0, labels);  // where i's block starts
    const torch::Tensor index = torch::arange(n, labels.options());
    const torch::Tensor rank = torch::empty_like(index).scatter_(0, by_label, index) - offset;

    // Positive: a uniform position among the count - 1 others, skipping i's own position.
    torch::Tensor r = uniform_below(count - 1, gen);
    r = r + (r >= rank).to(torch::kLong);
    const torch::Tensor positive = by_label.index_select(0, offset + r);
    // Negative: a uniform position among the n - count samples outside i's block.
    torch::Tensor q = uniform_below(n - count, gen);
    q = q + (q >= offset).to(torch::kLong) * count;
    const torch::Tensor negative = by_label.index_select(0, q);

    const torch::TensorOptions real = torch::TensorOptions().dtype(torch::kFloat);
    return {torch::cat({index, index}), torch::cat({positive, negative}),
            torch::cat({torch::ones({n}, real), torch::zeros({n}, real)})};
}

// Euclidean distance of the rows of a and b (n x k each): n distances, sqrt of the sum of
// squares clamped at kMinSquaredDistance (the clamp only guards the backward at d = 0).
torch::Tensor pair_distance(const torch::Tensor& a, const torch::Tensor& b) {
    return torch::sqrt(torch::clamp_min((a - b).pow(2).sum(1), kMinSquaredDistance));
}

// Contrastive loss (Hadsell, Chopra & LeCun 2006) averaged over the pairs:
// y d^2 + (1 - y) max(0, margin - d)^2, y = 1 for the same digit.
torch::Tensor contrastive_loss(const torch::Tensor& d, const torch::Tensor& y) {
    return (y * d.pow(2) + (1.0 - y) * torch::relu(kMargin - d).pow(2)).mean();
}

// The trained state of siamese_epoch/libtorch: data, test pairs, tower, optimiser, generator.
class SiameseTrainer {
public:
    SiameseTrainer(const MnistTensors& train, const MnistTensors& test)
        : train_(train),
          test_(test),
          tower_(make_tower()),
          adam_(tower_->parameters(),
                torch::optim::AdamOptions(1e-3).betas(std::make_tuple(0.9, 0.999)).eps(1e-7)),
          pair_gen_(at::make_generator<at::CPUGeneratorImpl>(kPairSeed)) {
        check_pair_labels(train_.labels, "training");
        check_pair_labels(test_.labels, "test");
        at::Generator test_gen = at::make_generator<at::CPUGeneratorImpl>(kTestPairSeed);
        test_pairs_ = make_pairs(test_.labels, test_gen);
    }

    // One epoch of training: fresh pairs in a fresh order, then Adam steps on batches of
    // kPairBatch pairs. Returns the loss averaged over the epoch's pairs.
    double run_epoch() {
        const PairTensors drawn = make_pairs(train_.labels, pair_gen_);
        const std::int64_t n = drawn.first.size(0);
        const torch::Tensor order = torch::randperm(n, pair_gen_, torch::kLong);
        const torch::Tensor first = drawn.first.index_select(0, order);
        const torch::Tensor second = drawn.second.index_select(0, order);
        const torch::Tensor similar = drawn.similar.index_select(0, order);
        double weighted_sum = 0.0;
        for (std::int64_t start = 0; start < n; start += kPairBatch) {
            const std::int64_t rows = std::min(kPairBatch, n - start);
            // The batch's first members, then its second members: one 2 * rows forward.
            const torch::Tensor x = train_.images.index_select(
                0, torch::cat({first.narrow(0, start, rows), second.narrow(0, start, rows)}));
            const torch::Tensor e = tower_->forward(x);
            const torch::Tensor loss =
                contrastive_loss(pair_distance(e.narrow(0, 0, rows), e.narrow(0, rows, rows)),
                                 similar.narrow(0, start, rows));
            adam_.zero_grad();
            loss.backward();
            adam_.step();
            weighted_sum += loss.item<double>() * double(rows);
        }
        ++epochs_;
        return weighted_sum / double(n);
    }

    // The fraction of the test pairs classified right (same digit exactly when d < kThreshold).
    double pair_accuracy() {
        const torch::NoGradGuard no_grad;
        const torch::Tensor e = tower_->forward(test_.images);
        const torch::Tensor d = pair_distance(e.index_select(0, test_pairs_.first),
                                              e.index_select(0, test_pairs_.second));
        const torch::Tensor right = (d < kThreshold) == (test_pairs_.similar > 0.5);
        return right.to(torch::kDouble).mean().item<double>();
    }

    int epochs() const { return epochs_; }
    bool warmed_up() const { return epochs_ > 0; }

private:
    static Tower make_tower() {
        torch::manual_seed(kSiameseInitSeed);  // the initialisers draw from the default generator
        return Tower();
    }

    MnistTensors train_, test_;
    Tower tower_;
    torch::optim::Adam adam_;
    at::Generator pair_gen_;
    PairTensors test_pairs_;
    int epochs_ = 0;
};

// The process's Siamese trainer, or nullptr with the reason in *error.
SiameseTrainer* siamese_trainer(std::string* error) {
    static std::unique_ptr<SiameseTrainer> instance;
    static std::string failure;
    static bool tried = false;
    if (!tried) {
        tried = true;
        const MnistTensors* train = mnist(embedkit::io::MnistSplit::train, &failure);
        const MnistTensors* test =
            train ? mnist(embedkit::io::MnistSplit::test, &failure) : nullptr;
        if (train && test) {
            try {
                instance = std::make_unique<SiameseTrainer>(*train, *test);
            } catch (const std::exception& e) {
                failure = e.what();
            }
        }
    }
    if (!instance && error) *error = failure;
    return instance.get();
}

// ---- Benchmarks.

void bm_vae_epoch(benchmark::State& state) {
    std::string error;
    VaeTrainer* t = vae_trainer(&error);
    if (!t) {
        state.SkipWithError(error.c_str());
        return;
    }
    if (!t->warmed_up()) t->run_epoch();  // untimed warm-up, once per process

    double total_seconds = 0.0;
    VaeTrainer::EpochResult last;
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

void bm_siamese_epoch(benchmark::State& state) {
    std::string error;
    SiameseTrainer* t = siamese_trainer(&error);
    if (!t) {
        state.SkipWithError(error.c_str());
        return;
    }
    if (!t->warmed_up()) t->run_epoch();  // untimed warm-up, once per process

    double total_seconds = 0.0;
    double loss = 0.0;
    for (auto _ : state) {
        const Clock::time_point start = Clock::now();
        loss = t->run_epoch();
        const double seconds = seconds_since(start);
        state.SetIterationTime(seconds);
        total_seconds += seconds;
    }
    if (!std::isfinite(loss)) {
        state.SkipWithError("bench_train_torch: the Siamese training loss is not finite");
        return;
    }
    const double seconds = total_seconds / double(state.iterations());
    state.counters["seconds"] = seconds;
    state.counters["gflops"] = kSiameseEpochFlop / seconds * 1e-9;
    state.counters["loss"] = loss;
    state.counters["pair_accuracy"] = t->pair_accuracy();  // outside the timed region
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
    std::istringstream settings(config.substr(
        at_settings + marker.size(), config.find('\n', at_settings) - at_settings - marker.size()));
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
    benchmark::AddCustomContext("env_OPENBLAS_NUM_THREADS",
                                embedkit_bench::env_or("OPENBLAS_NUM_THREADS", "unset"));
    benchmark::AddCustomContext("env_OMP_NUM_THREADS",
                                embedkit_bench::env_or("OMP_NUM_THREADS", "unset"));
    benchmark::AddCustomContext("env_OPENBLAS_CORETYPE",
                                embedkit_bench::env_or("OPENBLAS_CORETYPE", "unset"));
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
    benchmark::RegisterBenchmark("siamese_epoch/libtorch", bm_siamese_epoch)
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
