// Optimisers: Adam (with optional decoupled weight decay) and SGD with momentum, both with
// optional gradient-norm clipping; state kept by parameter position, one step counter.
#pragma once

#include "../linalg/elementwise.hpp"
#include "layer.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

namespace embedkit::nn {

/// Base of the optimisers. `step(params)` applies one update from the gradients stored in
/// `params`; the state (moments, step counter) is keyed by position in `params`, so the same
/// model must pass its parameters in the same order every step (models do).
template <class Scalar = float>
class Optimizer {
public:
    static_assert(is_supported_scalar_v<Scalar>,
                  "embedkit::nn optimisers support float and double");
    virtual ~Optimizer() = default;

    /// One update of every parameter. Throws ArgumentError when the parameter list does not
    /// match the one the state was built for (count or sizes).
    virtual void step(const std::vector<Parameter<Scalar>>& params) = 0;
    /// "adam" or "sgd".
    virtual std::string name() const = 0;
    /// The learning rate of the next step.
    virtual double learning_rate() const noexcept = 0;
    /// Changes the learning rate of later steps (schedules: FitOptions::learning_rate); the
    /// rest of the state is kept. Throws ArgumentError unless positive and finite.
    virtual void set_learning_rate(double learning_rate) = 0;
    /// Number of steps taken so far.
    std::uint64_t steps() const noexcept { return steps_; }
    /// Forgets all state (moments and step counter).
    void reset() noexcept {
        steps_ = 0;
        slots_.clear();
    }

    /// The state vectors: per parameter (in `step`'s order) slots_per_parameter() vectors of
    /// the parameter's size (Adam: m, v; SGD: the momentum buffer). Empty before the first step.
    const std::vector<std::vector<Vector<Scalar>>>& slots() const noexcept { return slots_; }
    /// Number of state vectors per parameter (Adam: 2, SGD: 1).
    virtual std::size_t slots_per_parameter() const noexcept = 0;

    /// What is wrong with `values` as state vector `k` of a parameter, or an empty string
    /// when nothing is: a NaN or Inf anywhere, or a negative value where the optimiser keeps
    /// squares (Adam's second moment v, whose square root would be NaN).
    std::string slot_problem(std::size_t k, const Vector<Scalar>& values) const {
        if (!values.allFinite()) return "holds NaN or Inf";
        if (slot_is_nonnegative(k) && values.size() > 0 && values.minCoeff() < Scalar(0))
            return "holds a negative value (" +
                   detail::format_number(static_cast<double>(values.minCoeff())) +
                   "), it keeps squares and must be >= 0";
        return {};
    }

    /// Replaces the state (what a checkpoint restores; models/persistence.hpp reads it from
    /// files) for the parameter list `params` that `step` will get. Everything is checked
    /// before any of it is used, so no state that `step` would turn into NaN is accepted.
    /// Throws ArgumentError when `slots` is not empty and does not hold
    /// slots_per_parameter() vectors of each parameter's size, when a vector has a problem
    /// (slot_problem), when no state is given after steps were taken (that would silently
    /// restart the moments), or when `steps` is 2^64 - 1, which the next step could not
    /// increment.
    void set_state(std::uint64_t steps, std::vector<std::vector<Vector<Scalar>>> slots,
                   const std::vector<Parameter<Scalar>>& params) {
        const std::string fn = "embedkit::nn::Optimizer::set_state: ";
        if (steps == std::numeric_limits<std::uint64_t>::max())
            throw ArgumentError(
                fn + "a step count of 2^64 - 1 could not be incremented by the next step");
        if (slots.size() != params.size() && !(slots.empty() && steps == 0))
            throw ArgumentError(fn + "the state holds " + std::to_string(slots.size()) +
                                " parameters after " + std::to_string(steps) +
                                " steps, the model has " + std::to_string(params.size()));
        for (std::size_t i = 0; i < slots.size(); ++i) {
            if (slots[i].size() != slots_per_parameter())
                throw ArgumentError(fn + "parameter " + std::to_string(i) + " has " +
                                    std::to_string(slots[i].size()) + " state vectors, " + name() +
                                    " keeps " + std::to_string(slots_per_parameter()));
            for (std::size_t k = 0; k < slots[i].size(); ++k) {
                if (slots[i][k].size() != params[i].size())
                    throw ArgumentError(
                        fn + "state vector " + std::to_string(k) + " of parameter " +
                        std::to_string(i) + " ('" + params[i].name + "') has " +
                        std::to_string(slots[i][k].size()) + " values, the parameter has " +
                        std::to_string(params[i].size()));
                const std::string problem = slot_problem(k, slots[i][k]);
                if (!problem.empty())
                    throw ArgumentError(fn + "state vector " + std::to_string(k) +
                                        " of parameter " + std::to_string(i) + " ('" +
                                        params[i].name + "') " + problem);
            }
        }
        steps_ = steps;
        slots_ = std::move(slots);
    }

protected:
    /// True when state vector `k` holds squares, so a negative value can only come from a
    /// damaged file (Adam's second moment v; its square root would be NaN).
    virtual bool slot_is_nonnegative(std::size_t) const noexcept { return false; }

    /// Sizes the state on the first step and checks it on later ones.
    void prepare(const std::vector<Parameter<Scalar>>& params, const char* fn) {
        if (slots_.empty() && !params.empty()) {
            slots_.resize(params.size());
            for (std::size_t i = 0; i < params.size(); ++i)
                slots_[i].assign(slots_per_parameter(), Vector<Scalar>::Zero(params[i].size()));
        }
        if (slots_.size() != params.size())
            throw ArgumentError(
                std::string("embedkit::nn::") + fn + ": got " + std::to_string(params.size()) +
                " parameters, the state was built for " + std::to_string(slots_.size()));
        for (std::size_t i = 0; i < params.size(); ++i)
            if (slots_[i].empty() || slots_[i][0].size() != params[i].size())
                throw ArgumentError(std::string("embedkit::nn::") + fn + ": parameter " +
                                    std::to_string(i) + " ('" + params[i].name + "') has " +
                                    std::to_string(params[i].size()) + " values, its state has " +
                                    std::to_string(slots_[i].empty() ? 0 : slots_[i][0].size()));
    }

    /// The factor that scales the gradients to a global L2 norm of at most `clip_norm`
    /// (1 when clipping is off or not needed).
    static double clip_scale(const std::vector<Parameter<Scalar>>& params, double clip_norm) {
        if (!(clip_norm > 0)) return 1.0;
        double sq = 0;
        for (const auto& p : params) sq += static_cast<double>(p.gradient().squaredNorm());
        const double norm = std::sqrt(sq);
        return norm > clip_norm ? clip_norm / norm : 1.0;
    }

    static void check_options(const char* fn, double lr, double clip_norm, double weight_decay) {
        if (!(lr > 0) || !std::isfinite(lr))
            throw ArgumentError(std::string("embedkit::nn::") + fn +
                                ": learning rate must be positive and finite, got " +
                                detail::format_number(lr));
        if (!(clip_norm >= 0) || !std::isfinite(clip_norm))
            throw ArgumentError(std::string("embedkit::nn::") + fn +
                                ": clip_norm must be >= 0 (0 = off), got " +
                                detail::format_number(clip_norm));
        if (!(weight_decay >= 0) || !std::isfinite(weight_decay))
            throw ArgumentError(std::string("embedkit::nn::") + fn +
                                ": weight_decay must be >= 0, got " +
                                detail::format_number(weight_decay));
    }

    // Updates run over chunks that fit in L1, so the several passes an Eigen expression per
    // state vector needs touch memory once.
    static constexpr Eigen::Index chunk = 1024;

    std::uint64_t steps_ = 0;
    std::vector<std::vector<Vector<Scalar>>> slots_;
};

/// Adam's settings; the defaults are Keras's (lr 1e-3, beta1 0.9, beta2 0.999, eps 1e-7,
/// epsilon in Keras's "epsilon hat" placement).
struct AdamOptions {
    double learning_rate = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double epsilon = 1e-7;
    /// Where epsilon enters. true (Keras, TensorFlow): it is the paper's "epsilon hat",
    /// added to sqrt(v) before bias correction: p -= lr_t m / (sqrt(v) + eps). false (the
    /// paper's Algorithm 1, PyTorch): added to sqrt(v_hat): p -= lr m_hat / (sqrt(v_hat) + eps).
    /// The two differ only while sqrt(1 - beta2^t) is far from 1 (the first few thousand steps).
    bool epsilon_hat = true;
    /// Decoupled weight decay (AdamW, Loshchilov & Hutter 2019): p -= lr * weight_decay * p
    /// each step, separate from the gradient. 0 = off.
    double weight_decay = 0;
    /// Scale all gradients together so their global L2 norm is at most this. 0 = off.
    double clip_norm = 0;
};

/// Adam (Kingma & Ba, 2015):
///   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g²,
///   p -= lr_t m / (sqrt(v) + eps_t),  lr_t = lr sqrt(1 - b2^t) / (1 - b1^t),
/// with eps_t = eps in Keras's form (AdamOptions::epsilon_hat, the default) or
/// eps_t = eps sqrt(1 - b2^t) in Algorithm 1's (= lr m_hat / (sqrt(v_hat) + eps), PyTorch).
template <class Scalar = float>
class Adam final : public Optimizer<Scalar> {
public:
    explicit Adam(AdamOptions options = {}) : options_(options) {
        this->check_options("Adam", options.learning_rate, options.clip_norm, options.weight_decay);
        if (!(options.beta1 >= 0 && options.beta1 < 1) ||
            !(options.beta2 >= 0 && options.beta2 < 1))
            throw ArgumentError("embedkit::nn::Adam: betas must lie in [0, 1), got " +
                                detail::format_number(options.beta1) + " and " +
                                detail::format_number(options.beta2));
        if (!(options.epsilon > 0))
            throw ArgumentError("embedkit::nn::Adam: epsilon must be positive, got " +
                                detail::format_number(options.epsilon));
    }
    /// Adam with the given learning rate and the other settings at their defaults.
    explicit Adam(double learning_rate) : Adam(AdamOptions{learning_rate}) {}

    const AdamOptions& options() const noexcept { return options_; }
    std::string name() const override { return "adam"; }
    double learning_rate() const noexcept override { return options_.learning_rate; }
    void set_learning_rate(double learning_rate) override {
        this->check_options("Adam", learning_rate, options_.clip_norm, options_.weight_decay);
        options_.learning_rate = learning_rate;
    }

    void step(const std::vector<Parameter<Scalar>>& params) override {
        this->prepare(params, "Adam::step");
        ++this->steps_;
        const double t = static_cast<double>(this->steps_);
        const double c1 = 1.0 - std::pow(options_.beta1, t);
        const double c2 = std::sqrt(1.0 - std::pow(options_.beta2, t));
        const auto lr_t = static_cast<Scalar>(options_.learning_rate * c2 / c1);
        const auto eps_t =
            static_cast<Scalar>(options_.epsilon_hat ? options_.epsilon : options_.epsilon * c2);
        const auto b1 = static_cast<Scalar>(options_.beta1),
                   b2 = static_cast<Scalar>(options_.beta2);
        const auto gs = static_cast<Scalar>(this->clip_scale(params, options_.clip_norm));
        const auto a1 = static_cast<Scalar>(1 - options_.beta1) * gs;
        const auto a2 = static_cast<Scalar>(1 - options_.beta2) * gs * gs;
        const auto decay =
            static_cast<Scalar>(1.0 - options_.learning_rate * options_.weight_decay);
        const linalg::detail::ElementwiseKernels* kernels = nullptr;
        if constexpr (std::is_same_v<Scalar, float>)
            kernels = linalg::detail::elementwise_kernels(simd::active());
        for (std::size_t i = 0; i < params.size(); ++i) {
            const Eigen::Index n = params[i].size();
            Scalar* p = params[i].value;
            const Scalar* g = params[i].grad;
            Scalar* m = this->slots_[i][0].data();
            Scalar* v = this->slots_[i][1].data();
            if constexpr (std::is_same_v<Scalar, float>) {
                if (kernels != nullptr) {
                    const float no_decay = 1.0f;
                    kernels->adam(
                        {b1, a1, b2, a2, lr_t, eps_t, options_.weight_decay > 0 ? decay : no_decay},
                        p, g, m, v, n);
                    continue;
                }
            }
            for (Eigen::Index s = 0; s < n; s += this->chunk) {
                const Eigen::Index len = std::min(this->chunk, n - s);
                Eigen::Map<Eigen::Array<Scalar, Eigen::Dynamic, 1>> pa(p + s, len), ma(m + s, len),
                    va(v + s, len);
                Eigen::Map<const Eigen::Array<Scalar, Eigen::Dynamic, 1>> ga(g + s, len);
                ma = b1 * ma + a1 * ga;
                va = b2 * va + a2 * ga.square();
                if (options_.weight_decay > 0) pa *= decay;
                pa -= lr_t * ma / (va.sqrt() + eps_t);
            }
        }
    }

    std::size_t slots_per_parameter() const noexcept override { return 2; }

private:
    bool slot_is_nonnegative(std::size_t k) const noexcept override { return k == 1; }
    AdamOptions options_;
};

/// SGD's settings.
struct SGDOptions {
    double learning_rate = 0.01;
    double momentum = 0;      ///< 0 = plain SGD
    bool nesterov = false;    ///< Nesterov momentum (needs momentum > 0)
    double weight_decay = 0;  ///< L2 penalty added to the gradient: g += weight_decay * p
    double clip_norm = 0;     ///< global gradient-norm clip, 0 = off
};

/// Stochastic gradient descent with optional (Nesterov) momentum, in PyTorch's convention:
///   b = momentum b + g;  p -= lr * (nesterov ? g + momentum b : b).
template <class Scalar = float>
class SGD final : public Optimizer<Scalar> {
public:
    explicit SGD(SGDOptions options = {}) : options_(options) {
        this->check_options("SGD", options.learning_rate, options.clip_norm, options.weight_decay);
        if (!(options.momentum >= 0 && options.momentum < 1))
            throw ArgumentError("embedkit::nn::SGD: momentum must lie in [0, 1), got " +
                                detail::format_number(options.momentum));
        if (options.nesterov && options.momentum == 0)
            throw ArgumentError("embedkit::nn::SGD: Nesterov momentum needs momentum > 0");
    }
    explicit SGD(double learning_rate, double momentum = 0)
        : SGD(SGDOptions{learning_rate, momentum}) {}

    const SGDOptions& options() const noexcept { return options_; }
    std::string name() const override { return "sgd"; }
    double learning_rate() const noexcept override { return options_.learning_rate; }
    void set_learning_rate(double learning_rate) override {
        this->check_options("SGD", learning_rate, options_.clip_norm, options_.weight_decay);
        options_.learning_rate = learning_rate;
    }

    void step(const std::vector<Parameter<Scalar>>& params) override {
        this->prepare(params, "SGD::step");
        ++this->steps_;
        const auto lr = static_cast<Scalar>(options_.learning_rate);
        const auto mu = static_cast<Scalar>(options_.momentum);
        const auto wd = static_cast<Scalar>(options_.weight_decay);
        const auto gs = static_cast<Scalar>(this->clip_scale(params, options_.clip_norm));
        for (std::size_t i = 0; i < params.size(); ++i) {
            const Eigen::Index n = params[i].size();
            for (Eigen::Index s = 0; s < n; s += this->chunk) {
                const Eigen::Index len = std::min(this->chunk, n - s);
                Eigen::Map<Eigen::Array<Scalar, Eigen::Dynamic, 1>> pa(params[i].value + s, len);
                Eigen::Map<Eigen::Array<Scalar, Eigen::Dynamic, 1>> ba(
                    this->slots_[i][0].data() + s, len);
                Eigen::Map<const Eigen::Array<Scalar, Eigen::Dynamic, 1>> ga(params[i].grad + s,
                                                                             len);
                if (mu == Scalar(0)) {
                    pa -= lr * (gs * ga + wd * pa);
                } else {
                    ba = mu * ba + (gs * ga + wd * pa);
                    if (options_.nesterov)
                        pa -= lr * (gs * ga + wd * pa + mu * ba);
                    else
                        pa -= lr * ba;
                }
            }
        }
    }

    // Plain SGD keeps one (unused) zero vector per parameter so that checkpoints have the
    // same layout whatever the momentum.
    std::size_t slots_per_parameter() const noexcept override { return 1; }

private:
    SGDOptions options_;
};

}  // namespace embedkit::nn
