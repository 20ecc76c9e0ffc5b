// Variational autoencoder (Kingma & Welling, 2014) with dense encoder and decoder.
#pragma once

#include "../core/profile.hpp"
#include "../core/random.hpp"
#include "../nn/loss.hpp"
#include "../nn/optim.hpp"
#include "../nn/trainer.hpp"
#include "detail/model_support.hpp"
#include "networks.hpp"
#include "persistence.hpp"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace embedkit::models {

/// Architecture of a VAE. The defaults are the classic Keras MNIST VAE: encoder
/// 784-256-128 (ReLU) into mu and log-variance heads of size 2; decoder 2-128-256-784
/// (ReLU, then a sigmoid output, trained from its logits).
struct VAEOptions {
    Eigen::Index input = 784;                       ///< input width (pixels)
    std::vector<Eigen::Index> hidden = {256, 128};  ///< encoder widths; the decoder mirrors them
    Eigen::Index latent = 2;                        ///< size of z
    nn::Init init = nn::Init::glorot_uniform;       ///< weight initialisation
};

/// Variational autoencoder for inputs in [0, 1].
///
/// Loss per sample = BCE summed over the input features (784 · Keras's mean BCE) + KL of
/// N(mu, exp(log_var)) from N(0, I), averaged over the batch. The latent sample is
/// z = mu + exp(log_var / 2) · eps, eps ~ N(0, I): the standard deviation is exp(log_var / 2).
/// (The original Keras example sampled with exp(log_var), i.e. used the variance as the
/// standard deviation; its KL term then describes a different distribution from the one it
/// samples, and the reported loss is lower than the true ELBO bound. This one is consistent.)
///
/// Shapes: inputs n x input, embeddings (mu) n x latent, one sample per row.
template <class ScalarType = float>
class VAE : public Persistent<VAE<ScalarType>> {
public:
    using Scalar = ScalarType;
    using Options = VAEOptions;
    static_assert(is_supported_scalar_v<Scalar>, "embedkit::models::VAE supports float and double");
    using Matrix = RowMatrix<Scalar>;

    /// A new model with weights drawn from `rng`. Throws ArgumentError for empty or
    /// non-positive sizes.
    VAE(const VAEOptions& options, Rng& rng)
        : options_(options), net_(layout(options), options.init, rng) {}
    /// A model with zero weights, to be loaded (see models/persistence.hpp); no random numbers.
    VAE(const VAEOptions& options, nn::ZeroWeights)
        : options_(options), net_(layout(options), nn::zero_weights) {}

    /// The model-file kind, "embedkit.vae".
    static std::string kind() { return "embedkit.vae"; }
    /// The options a model file records.
    template <class O, class Field>
    static void architecture(O& o, Field&& field) {
        field("input", o.input);
        field("hidden", o.hidden);
        field("latent", o.latent);
    }
    /// The networks: "encoder" (input, hidden...; ReLU), the linear heads "mu" and "log_var"
    /// (to latent), and "decoder" (latent, hidden reversed..., input; ReLU, linear logits).
    static Layout layout(const VAEOptions& o) {
        if (o.input <= 0 || o.latent <= 0)
            throw ArgumentError(
                "embedkit::models::VAE: input and latent sizes must be positive, got " +
                std::to_string(o.input) + " and " + std::to_string(o.latent));
        if (o.hidden.empty())
            throw ArgumentError(
                "embedkit::models::VAE: the architecture has no hidden layers (at least one is "
                "needed)");
        for (Eigen::Index h : o.hidden)
            if (h <= 0)
                throw ArgumentError("embedkit::models::VAE: hidden sizes must be positive, got " +
                                    std::to_string(h));
        std::vector<Eigen::Index> widths{o.input};
        widths.insert(widths.end(), o.hidden.begin(), o.hidden.end());
        const auto encoder = dense_chain(widths, nn::Activation::relu, nn::Activation::relu);
        const Eigen::Index last = o.hidden.back();
        const DenseSpec head{last, o.latent, nn::Activation::identity};
        widths.push_back(o.latent);
        std::reverse(widths.begin(), widths.end());
        return {{"encoder", encoder},
                {"mu", {head}},
                {"log_var", {head}},
                {"decoder", dense_chain(widths, nn::Activation::relu, nn::Activation::identity)}};
    }

    const VAEOptions& options() const noexcept { return options_; }
    Eigen::Index input_size() const noexcept { return options_.input; }
    Eigen::Index latent_size() const noexcept { return options_.latent; }
    /// Trains on `train` (n x input, values in [0, 1]), reporting the loss on `validation`
    /// (may have 0 rows) after every epoch; see FitOptions. Throws DimensionError,
    /// ArgumentError (empty data, values outside [0, 1], NaN), NumericError (the loss became
    /// NaN or Inf; names epoch and batch).
    template <class DT, class DV>
    nn::History fit(const Eigen::MatrixBase<DT>& train, const Eigen::MatrixBase<DV>& validation,
                    const FitOptions& options, nn::Optimizer<Scalar>& optimizer, Rng& rng) {
        return fit_with_callbacks(
            *this, options, optimizer, rng, train.rows(), [&](const nn::FitOptions& run) {
                return nn::detail::fit_on_rows(*this, train, validation, run, optimizer, rng);
            });
    }
    /// Trains without validation data.
    template <class DT>
    nn::History fit(const Eigen::MatrixBase<DT>& train, const FitOptions& options,
                    nn::Optimizer<Scalar>& optimizer, Rng& rng) {
        return fit(train, Matrix(0, options_.input), options, optimizer, rng);
    }

    /// The embeddings: mu of every row of `data` (n x input), as an n x latent matrix,
    /// computed in batches of `batch_size` rows.
    template <class D>
    Matrix encode(const Eigen::MatrixBase<D>& data, Eigen::Index batch_size = 1000) const {
        const auto view = check_input("encode", data, batch_size);
        Matrix hidden;
        return detail::map_in_batches<Scalar>(view, batch_size, options_.latent,
                                              [&](const Matrix& b, Matrix& out) {
                                                  encoder().infer(b, hidden);
                                                  mu_net().infer(hidden, out);
                                              });
    }

    /// Decoded images (probabilities in [0, 1]) of latent points `z` (n x latent).
    template <class D>
    Matrix decode(const Eigen::MatrixBase<D>& z, Eigen::Index batch_size = 1000) const {
        const auto view = embedkit::detail::view_set("models::VAE::decode", "z", z);
        if (view.cols != options_.latent)
            throw DimensionError("embedkit::models::VAE::decode: z must have " +
                                 std::to_string(options_.latent) + " columns, got " +
                                 std::to_string(view.cols));
        if (batch_size <= 0)
            throw ArgumentError("embedkit::models::VAE::decode: batch_size must be positive");
        return detail::map_in_batches<Scalar>(
            view, batch_size, options_.input, [&](const Matrix& b, Matrix& out) {
                decoder().infer(b, out);
                nn::apply_activation(nn::Activation::sigmoid, out);
            });
    }

    /// decode(encode(data)): the reconstruction through the mean embedding.
    template <class D>
    Matrix reconstruct(const Eigen::MatrixBase<D>& data, Eigen::Index batch_size = 1000) const {
        const Matrix z = encode(data, batch_size);
        return decode(z, batch_size);
    }

    /// `n` new samples: decode(z) with z ~ N(0, I) drawn from `rng`.
    Matrix sample(Eigen::Index n, Rng& rng) const {
        if (n <= 0)
            throw ArgumentError("embedkit::models::VAE::sample: n must be positive, got " +
                                std::to_string(n));
        Matrix z(n, options_.latent);
        for (Eigen::Index i = 0; i < z.size(); ++i) z.data()[i] = static_cast<Scalar>(rng.normal());
        return decode(z);
    }

    // ---- The training interface used by nn::detail::fit_on_rows (public for custom loops).

    /// Every parameter in a fixed order: encoder, mu head, log-variance head, decoder.
    std::vector<nn::Parameter<Scalar>> parameters() { return net_.parameters(); }
    std::vector<nn::ConstParameter<Scalar>> parameters() const { return net_.parameters(); }

    /// Forward and backward pass on one batch; gradients land in parameters(). Returns the
    /// batch's mean loss (BCE sum + KL).
    double train_batch(const Matrix& x, Rng& rng) { return run(x, rng, true); }
    /// The batch's mean loss, no gradients.
    double evaluate_batch(const Matrix& x, Rng& rng) { return run(x, rng, false); }

    template <class S>
    void check_data(const char* fn, const char* what, const embedkit::detail::SetView<S>& v) const {
        detail::check_values("VAE", fn, what, v, detail::bce_targets());
    }

private:
    template <class D>
    embedkit::detail::SetView<Scalar> check_input(const char* fn, const Eigen::MatrixBase<D>& data,
                                                  Eigen::Index batch_size) const {
        const std::string name = std::string("models::VAE::") + fn;
        const auto view = embedkit::detail::view_set(name.c_str(), "data", data);
        if (view.cols != options_.input)
            throw DimensionError("embedkit::models::VAE::" + std::string(fn) + ": data must have " +
                                 std::to_string(options_.input) + " columns, got " +
                                 std::to_string(view.cols));
        if (batch_size <= 0)
            throw ArgumentError("embedkit::models::VAE::" + std::string(fn) +
                                ": batch_size must be positive");
        return view;
    }

    double run(const Matrix& x, Rng& rng, bool train) {
        if (x.cols() != options_.input)
            throw DimensionError("embedkit::models::VAE: batch must have " +
                                 std::to_string(options_.input) + " columns, got " +
                                 std::to_string(x.cols()));
        const Matrix& h = encoder().forward(x);
        const Matrix& mu = mu_net().forward(h);
        const Matrix& log_var = log_var_net().forward(h);
        const Scalar cap = nn::max_log_variance<Scalar>();
        {
            profile::Scope phase(profile::Phase::loss);
            eps_.resize(mu.rows(), mu.cols());
            for (Eigen::Index i = 0; i < eps_.size(); ++i)
                eps_.data()[i] = static_cast<Scalar>(rng.normal());
            std_ = (Scalar(0.5) * log_var.array().min(cap)).exp().matrix();
            z_ = mu + (std_.array() * eps_.array()).matrix();
        }
        const Matrix& logits = decoder().forward(z_);
        double loss;
        {
            profile::Scope phase(profile::Phase::loss);
            loss = nn::bce_with_logits(logits, x, grad_logits_) +
                   nn::kl_standard_normal(mu, log_var, grad_mu_, grad_log_var_);
        }
        if (!train) return loss;
        const Matrix& grad_z = decoder().backward(grad_logits_, true);
        {
            profile::Scope phase(profile::Phase::loss);
            // z = mu + exp(lv / 2) eps: dz/dmu = 1, dz/dlv = eps exp(lv / 2) / 2 (0 where clamped).
            grad_mu_ += grad_z;
            grad_log_var_.array() +=
                (log_var.array() > cap)
                    .select(Scalar(0), grad_z.array() * eps_.array() * std_.array() * Scalar(0.5));
        }
        grad_h_ = mu_net().backward(grad_mu_, true);
        grad_h_ += log_var_net().backward(grad_log_var_, true);
        encoder().backward(grad_h_, false);
        return loss;
    }

    nn::Sequential<Scalar>& encoder() { return net_[0]; }
    const nn::Sequential<Scalar>& encoder() const { return net_[0]; }
    nn::Sequential<Scalar>& mu_net() { return net_[1]; }
    const nn::Sequential<Scalar>& mu_net() const { return net_[1]; }
    nn::Sequential<Scalar>& log_var_net() { return net_[2]; }
    const nn::Sequential<Scalar>& log_var_net() const { return net_[2]; }
    nn::Sequential<Scalar>& decoder() { return net_[3]; }
    const nn::Sequential<Scalar>& decoder() const { return net_[3]; }

    VAEOptions options_;
    Networks<Scalar> net_;
    Matrix eps_, std_, z_, grad_logits_, grad_mu_, grad_log_var_, grad_h_;
};

}  // namespace embedkit::models
