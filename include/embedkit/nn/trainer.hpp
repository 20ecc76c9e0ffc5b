// The training loop: shuffled mini-batches, validation, a NaN guard, and callbacks (progress,
// checkpoints, the caller's own) at the start of the run, after every batch and every epoch.
#pragma once

#include "../core/denormals.hpp"
#include "../core/error.hpp"
#include "../core/profile.hpp"
#include "../core/progress.hpp"
#include "../core/random.hpp"
#include "../core/detail/set_view.hpp"
#include "layer.hpp"
#include "optim.hpp"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

namespace embedkit::nn {

/// What one epoch produced.
struct EpochStats {
    int epoch = 0;    ///< 1-based
    double loss = 0;  ///< mean training loss over the epoch's batches (weighted by rows)
    double val_loss = std::numeric_limits<double>::quiet_NaN();  ///< NaN without validation data
    double seconds = 0;      ///< training time, validation excluded
    double val_seconds = 0;  ///< validation time
    /// A model's validation accuracy where it has one (Siamese: test pair accuracy), else NaN.
    double val_accuracy = std::numeric_limits<double>::quiet_NaN();
    /// The optimiser's learning rate during the epoch (NaN when read from an older checkpoint).
    double learning_rate = std::numeric_limits<double>::quiet_NaN();
};

/// One entry per epoch run so far (a resumed run includes the epochs before the restart).
using History = std::vector<EpochStats>;

/// Hooks into the fit loop, in the style of ensmallen's callbacks: override what you need.
/// The loop calls them in the order of FitOptions::callbacks; an exception from a callback
/// ends the run and reaches the caller of `fit`.
class FitCallback {
public:
    virtual ~FitCallback() = default;
    /// Before the first epoch. A callback that restores an interrupted run (the checkpoint
    /// callback of models/persistence.hpp) fills `history` with the epochs already trained and
    /// sets the model's, optimiser's and Rng's state; the loop then continues after them.
    virtual void on_fit_begin(History& history) { (void)history; }
    /// At the start of epoch `epoch` (1-based) of `epochs`, which runs `batches` batches.
    virtual void on_epoch_begin(int epoch, int epochs, Eigen::Index batches) {
        (void)epoch, (void)epochs, (void)batches;
    }
    /// After batch `batch` (1-based) of the epoch and its optimiser step; `mean_loss` is the
    /// epoch's mean loss so far.
    virtual void on_batch_end(int epoch, Eigen::Index batch, double mean_loss) {
        (void)epoch, (void)batch, (void)mean_loss;
    }
    /// After an epoch and its validation; `history` already ends with `stats`.
    virtual void on_epoch_end(const EpochStats& stats, const History& history) {
        (void)stats, (void)history;
    }
};

/// Settings of a training run (the loop's own; models::FitOptions adds progress display and
/// checkpoints, which the models wire in as callbacks).
struct FitOptions {
    int epochs = 1;                ///< total epochs (a resumed run continues up to this count)
    Eigen::Index batch_size = 32;  ///< rows per batch; the last batch of an epoch may be shorter
    bool shuffle = true;           ///< new order every epoch, drawn from the run's Rng
    /// Called after every epoch (after the callbacks).
    std::function<void(const EpochStats&)> on_epoch_end;
    /// Further callbacks, called in this order (see FitCallback).
    std::vector<std::shared_ptr<FitCallback>> callbacks;
    /// Seed of the sampling inside validation (e.g. the VAE's z), fixed so that validation
    /// losses of different epochs compare the model, not the noise.
    std::uint64_t validation_seed = 0x5eedULL;
    /// Learning-rate schedule: when set, called with the 1-based epoch at the start of every
    /// epoch, and the optimiser's learning rate is set to the result (also after a resume, so
    /// a resumed run follows the same schedule). Empty: the optimiser's own rate throughout.
    /// See step_decay.
    std::function<double(int epoch)> learning_rate;
};

/// Shows the run's progress: per epoch a bar with the running loss and ETA on a terminal, one
/// line per epoch with its losses (and accuracy, where the model has one) elsewhere.
class ProgressCallback final : public FitCallback {
public:
    explicit ProgressCallback(ProgressOptions options = {}) : options_(options) {}

    void on_epoch_begin(int epoch, int epochs, Eigen::Index batches) override {
        title_ = "epoch " + std::to_string(epoch) + "/" + std::to_string(epochs);
        bar_ = std::make_unique<ProgressBar>(title_, batches, options_);
    }
    void on_batch_end(int, Eigen::Index batch, double mean_loss) override {
        if (bar_) bar_->update(batch, "loss " + format_loss(mean_loss));
    }
    void on_epoch_end(const EpochStats& stats, const History&) override {
        if (!bar_) return;
        std::string summary = title_ + ": loss " + format_loss(stats.loss);
        if (std::isfinite(stats.val_loss)) summary += " - val_loss " + format_loss(stats.val_loss);
        if (std::isfinite(stats.val_accuracy)) {
            char buf[48];
            std::snprintf(buf, sizeof buf, " - val_accuracy %.2f%%", 100.0 * stats.val_accuracy);
            summary += buf;
        }
        bar_->finish(summary);
        bar_.reset();
    }

private:
    static std::string format_loss(double v) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.4f", v);
        return buf;
    }

    ProgressOptions options_;
    std::string title_;
    std::unique_ptr<ProgressBar> bar_;
};

/// A step schedule for FitOptions::learning_rate: `base`, multiplied by `factor` once for
/// every entry of `drop_at` that is <= the epoch. Example: step_decay(1e-3, {5}) trains
/// epochs 1-4 at 1e-3 and epoch 5 on at 1e-4. Throws ArgumentError for a base or factor that
/// is not positive and finite, or a drop epoch < 1.
inline std::function<double(int)> step_decay(double base, std::vector<int> drop_at,
                                             double factor = 0.1) {
    if (!(base > 0) || !std::isfinite(base) || !(factor > 0) || !std::isfinite(factor))
        throw ArgumentError(
            "embedkit::nn::step_decay: base and factor must be positive and finite, got " +
            detail::format_number(base) + " and " + detail::format_number(factor));
    for (int e : drop_at)
        if (e < 1)
            throw ArgumentError("embedkit::nn::step_decay: drop epochs are 1-based, got " +
                                std::to_string(e));
    return [base, factor, drop_at = std::move(drop_at)](int epoch) {
        double lr = base;
        for (int e : drop_at)
            if (epoch >= e) lr *= factor;
        return lr;
    };
}

namespace detail {

// A resume must continue the same run: the learning rate of every epoch already trained must
// be the one this run's schedule gives it (or, without a schedule, the last epoch's rate must
// be the optimiser's).
inline void check_resumed_rates(const History& history, const FitOptions& options,
                                double optimizer_rate, const std::string& fn) {
    for (const auto& e : history) {
        if (std::isnan(e.learning_rate)) continue;
        const bool last = e.epoch == static_cast<int>(history.size());
        if (!options.learning_rate && !last) continue;
        const double now = options.learning_rate ? options.learning_rate(e.epoch) : optimizer_rate;
        if (now != e.learning_rate)
            throw ArgumentError(fn + ": epoch " + std::to_string(e.epoch) +
                                " ran at learning rate " + format_number(e.learning_rate) +
                                ", this run " + (options.learning_rate ? "schedules " : "uses ") +
                                format_number(now) + (options.learning_rate ? " for it" : "") +
                                "; resuming would not continue the same run");
    }
}

/// Mean loss of `model.evaluate_batch` over `data` in batches (weighted by rows).
template <class Model>
double evaluate_in_batches(Model& model,
                           const embedkit::detail::SetView<typename Model::Scalar>& data,
                           Eigen::Index batch_size, Rng& rng,
                           RowMatrix<typename Model::Scalar>& buffer) {
    double total = 0;
    for (Eigen::Index s = 0; s < data.rows; s += batch_size) {
        const Eigen::Index rows = std::min(batch_size, data.rows - s);
        buffer.resize(rows, data.cols);
        for (Eigen::Index r = 0; r < rows; ++r)
            std::memcpy(buffer.row(r).data(), data.row(s + r),
                        sizeof(typename Model::Scalar) * static_cast<std::size_t>(data.cols));
        total += model.evaluate_batch(buffer, rng) * static_cast<double>(rows);
    }
    return total / static_cast<double>(data.rows);
}

/// Checks the settings every training loop shares.
inline void check_fit_options(const FitOptions& options) {
    if (options.epochs < 0)
        throw ArgumentError("embedkit::nn::fit: epochs must be >= 0, got " +
                            std::to_string(options.epochs));
    if (options.batch_size <= 0)
        throw ArgumentError("embedkit::nn::fit: batch_size must be positive, got " +
                            std::to_string(options.batch_size));
}

/// The epoch loop every model's `fit` runs: the callbacks' on_fit_begin (a resume), then per
/// epoch `start_epoch(rng)` (shuffles, pair generation), `batches` calls of
/// `run_batch(b, rng) -> {mean loss, rows}` (forward + backward) each followed by an
/// optimiser step and a NaN/Inf check, then (outside the epoch's clock) `validate(stats)` and
/// the callbacks' on_epoch_end. The model provides `parameters()`.
template <class Model, class StartEpoch, class RunBatch, class Validate>
History run_epochs(Model& model, const FitOptions& options,
                   Optimizer<typename Model::Scalar>& optimizer, Rng& rng, Eigen::Index batches,
                   StartEpoch&& start_epoch, RunBatch&& run_batch, Validate&& validate) {
    // Denormals cost Intel cores a microcode assist per operation, and training drives Adam's
    // moments and the gradients of always-zero inputs into that range (epochs 2+ ran 1.75x
    // slower than epoch 1); restored on every exit, exceptions included.
    const ScopedFlushDenormals flush_denormals;
    for (const auto& c : options.callbacks)
        if (!c)
            throw ArgumentError("embedkit::nn::fit: FitOptions::callbacks holds a null callback");
    History history;
    for (const auto& c : options.callbacks) c->on_fit_begin(history);
    if (!history.empty())
        check_resumed_rates(history, options, optimizer.learning_rate(),
                            "embedkit::nn::fit: the resumed run's");
    auto params = model.parameters();
    for (int epoch = static_cast<int>(history.size()) + 1; epoch <= options.epochs; ++epoch) {
        if (options.learning_rate) optimizer.set_learning_rate(options.learning_rate(epoch));
        const auto start = std::chrono::steady_clock::now();
        start_epoch(rng);
        for (const auto& c : options.callbacks) c->on_epoch_begin(epoch, options.epochs, batches);
        double total = 0;
        Eigen::Index seen = 0;
        for (Eigen::Index b = 0; b < batches; ++b) {
            const auto [loss, rows] = run_batch(b, rng);
            if (!std::isfinite(loss))
                throw NumericError("embedkit::nn::fit: the loss became " +
                                   std::string(std::isnan(loss) ? "NaN" : "infinite") +
                                   " at epoch " + std::to_string(epoch) + ", batch " +
                                   std::to_string(b + 1) + " of " + std::to_string(batches));
            {
                profile::Scope phase(profile::Phase::optimizer);
                optimizer.step(params);
            }
            total += loss * static_cast<double>(rows);
            seen += rows;
            for (const auto& c : options.callbacks)
                c->on_batch_end(epoch, b + 1, total / static_cast<double>(seen));
        }
        EpochStats stats;
        stats.epoch = epoch;
        stats.learning_rate = optimizer.learning_rate();
        stats.loss = seen > 0 ? total / static_cast<double>(seen) : 0.0;
        stats.seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const auto vstart = std::chrono::steady_clock::now();
        {
            const profile::Pause not_training;
            validate(stats);
        }
        stats.val_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - vstart).count();
        history.push_back(stats);
        for (const auto& c : options.callbacks) c->on_epoch_end(stats, history);
        if (options.on_epoch_end) options.on_epoch_end(stats);
    }
    return history;
}

/// Copies rows `order[first .. first + rows)` of `data` into `batch` (resized).
template <class Scalar, class Index>
void gather_rows(const embedkit::detail::SetView<Scalar>& data, const std::vector<Index>& order,
                 std::size_t first, Eigen::Index rows, RowMatrix<Scalar>& batch) {
    batch.resize(rows, data.cols);
    const auto row_bytes = sizeof(Scalar) * static_cast<std::size_t>(data.cols);
    for (Eigen::Index r = 0; r < rows; ++r)
        std::memcpy(batch.row(r).data(),
                    data.row(static_cast<Eigen::Index>(order[first + static_cast<std::size_t>(r)])),
                    row_bytes);
}

/// The `fit` of models trained on one data matrix (Autoencoder, VAE).
///
/// The Model provides: `Scalar`, `input_size()`, `train_batch(batch, rng)` (forward +
/// backward, returns the batch's mean loss), `evaluate_batch(batch, rng)`, `parameters()` and
/// `check_data(fn, what, view)`.
template <class Model, class DT, class DV>
History fit_on_rows(Model& model, const Eigen::MatrixBase<DT>& train,
                    const Eigen::MatrixBase<DV>& validation, const FitOptions& options,
                    Optimizer<typename Model::Scalar>& optimizer, Rng& rng) {
    using Scalar = typename Model::Scalar;
    static_assert(
        std::is_same_v<typename DT::Scalar, Scalar> && std::is_same_v<typename DV::Scalar, Scalar>,
        "embedkit::nn::fit: the data must have the model's scalar type");
    const char* fn = "fit";
    const auto train_view = embedkit::detail::view_set(fn, "training data", train);
    const auto val_view = embedkit::detail::view_set(fn, "validation data", validation);
    check_fit_options(options);
    if (train_view.rows == 0) throw ArgumentError("embedkit::nn::fit: the training data is empty");
    if (train_view.cols != model.input_size())
        throw DimensionError("embedkit::nn::fit: the model takes " +
                             std::to_string(model.input_size()) +
                             " columns, the training data has " + std::to_string(train_view.cols));
    if (val_view.rows > 0 && val_view.cols != model.input_size())
        throw DimensionError("embedkit::nn::fit: the model takes " +
                             std::to_string(model.input_size()) +
                             " columns, the validation data has " + std::to_string(val_view.cols));
    model.check_data(fn, "training data", train_view);
    if (val_view.rows > 0) model.check_data(fn, "validation data", val_view);

    const Eigen::Index n = train_view.rows;
    const Eigen::Index batch_size = options.batch_size;
    std::vector<Eigen::Index> order(static_cast<std::size_t>(n));
    RowMatrix<Scalar> batch;
    auto start_epoch = [&](Rng& r) {
        std::iota(order.begin(), order.end(), Eigen::Index(0));
        if (options.shuffle) r.shuffle(order);
    };
    auto run_batch = [&](Eigen::Index b, Rng& r) {
        const Eigen::Index first = b * batch_size;
        const Eigen::Index rows = std::min(batch_size, n - first);
        {
            profile::Scope phase(profile::Phase::other);
            gather_rows(train_view, order, static_cast<std::size_t>(first), rows, batch);
        }
        return std::make_pair(model.train_batch(batch, r), rows);
    };
    auto validate = [&](EpochStats& stats) {
        if (val_view.rows == 0) return;
        Rng val_rng(options.validation_seed);
        stats.val_loss = evaluate_in_batches(model, val_view, batch_size, val_rng, batch);
    };
    return run_epochs(model, options, optimizer, rng, (n + batch_size - 1) / batch_size,
                      start_epoch, run_batch, validate);
}

}  // namespace detail

}  // namespace embedkit::nn
