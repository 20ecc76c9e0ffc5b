// Variational autoencoder (Kingma & Welling, 2014) with dense encoder and decoder.
#pragma once

#include "../core/random.hpp"
#include "../nn/dense.hpp"
#include "../nn/loss.hpp"
#include "../nn/optim.hpp"
#include "../nn/sequential.hpp"
#include "../nn/trainer.hpp"
#include "detail/model_support.hpp"

#include <string>
#include <utility>
#include <vector>

namespace embedkit::models {

/// Architecture of a VAE. The defaults are the classic Keras MNIST VAE: encoder
/// 784-256-128 (ReLU) into mu and log-variance heads of size 2; decoder 2-128-256-784
/// (ReLU, then a sigmoid output, trained from its logits).
struct VAEOptions {
    Eigen::Index input = 784;                   ///< input width (pixels)
    std::vector<Eigen::Index> hidden = {256, 128};  ///< encoder widths; the decoder mirrors them
    Eigen::Index latent = 2;                    ///< size of z
    nn::Init init = nn::Init::glorot_uniform;   ///< weight initialisation
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
class VAE {
public:
    using Scalar = ScalarType;
    static_assert(is_supported_scalar_v<Scalar>, "embedkit::models::VAE supports float and double");
    using Matrix = RowMatrix<Scalar>;

    /// A new model with weights drawn from `rng`. Throws ArgumentError for empty or
    /// non-positive sizes.
    VAE(const VAEOptions& options, Rng& rng) : options_(options) {
        if (options.input <= 0 || options.latent <= 0)
            throw ArgumentError("embedkit::models::VAE: input and latent sizes must be positive, got " +
                                std::to_string(options.input) + " and " + std::to_string(options.latent));
        if (options.hidden.empty())
            throw ArgumentError("embedkit::models::VAE: at least one hidden layer is needed");
        nn::DenseOptions relu{nn::Activation::relu, options.init};
        nn::DenseOptions linear{nn::Activation::identity, options.init};
        Eigen::Index width = options.input;
        for (Eigen::Index h : options.hidden) {
            if (h <= 0) throw ArgumentError("embedkit::models::VAE: hidden sizes must be positive, got " + std::to_string(h));
            encoder_.add_dense(width, h, rng, relu);
            width = h;
        }
        mu_.add_dense(width, options.latent, rng, linear);
        log_var_.add_dense(width, options.latent, rng, linear);
        width = options.latent;
        for (auto it = options.hidden.rbegin(); it != options.hidden.rend(); ++it) {
            decoder_.add_dense(width, *it, rng, relu);
            width = *it;
        }
        decoder_.add_dense(width, options.input, rng, linear);
    }


    const VAEOptions& options() const noexcept { return options_; }
    Eigen::Index input_size() const noexcept { return options_.input; }
    Eigen::Index latent_size() const noexcept { return options_.latent; }
    /// The model-file kind, "embedkit.vae".
    std::string kind() const { return "embedkit.vae"; }

    /// Trains on `train` (n x input, values in [0, 1]), reporting the loss on `validation`
    /// (may have 0 rows) after every epoch; see nn::FitOptions. Throws DimensionError,
    /// ArgumentError (empty data, values outside [0, 1], NaN), NumericError (the loss became
    /// NaN or Inf; names epoch and batch).
    template <class DT, class DV>
    nn::History fit(const Eigen::MatrixBase<DT>& train, const Eigen::MatrixBase<DV>& validation,
                    const nn::FitOptions& options, nn::Optimizer<Scalar>& optimizer, Rng& rng) {
        return nn::detail::fit_on_rows(*this, train, validation, options, optimizer, rng);
    }
    /// Trains without validation data.
    template <class DT>
    nn::History fit(const Eigen::MatrixBase<DT>& train, const nn::FitOptions& options,
                    nn::Optimizer<Scalar>& optimizer, Rng& rng) {
        return fit(train, Matrix(0, options_.input), options, optimizer, rng);
    }

    /// The embeddings: mu of every row of `data` (n x input), as an n x latent matrix,
    /// computed in batches of `batch_size` rows.
    template <class D>
    Matrix encode(const Eigen::MatrixBase<D>& data, Eigen::Index batch_size = 1000) const {
        const auto view = check_input("encode", data, batch_size);
        Matrix hidden;
        return detail::map_in_batches<Scalar>(view, batch_size, options_.latent, [&](const Matrix& b, Matrix& out) {
            encoder_.infer(b, hidden);
            mu_.infer(hidden, out);
        });
    }

    /// Decoded images (probabilities in [0, 1]) of latent points `z` (n x latent).
    template <class D>
    Matrix decode(const Eigen::MatrixBase<D>& z, Eigen::Index batch_size = 1000) const {
        const auto view = embedkit::detail::view_set("models::VAE::decode", "z", z);
        if (view.cols != options_.latent)
            throw DimensionError("embedkit::models::VAE::decode: z must have " + std::to_string(options_.latent) +
                                 " columns, got " + std::to_string(view.cols));
        if (batch_size <= 0) throw ArgumentError("embedkit::models::VAE::decode: batch_size must be positive");
        return detail::map_in_batches<Scalar>(view, batch_size, options_.input, [&](const Matrix& b, Matrix& out) {
            decoder_.infer(b, out);
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
        if (n <= 0) throw ArgumentError("embedkit::models::VAE::sample: n must be positive, got " + std::to_string(n));
        Matrix z(n, options_.latent);
        for (Eigen::Index i = 0; i < z.size(); ++i) z.data()[i] = static_cast<Scalar>(rng.normal());
        return decode(z);
    }

    /// Saves the model atomically in embedkit's model-file format (docs/FORMAT.md).
    void save(const std::string& path) const {
        io::ModelFile file;
        file.kind = kind();
        write_model(file);
        io::save_model_file(path, file);
    }

    /// Loads a model saved by `save`. Throws IoError (missing file) or FormatError (not a
    /// VAE file, corrupt, another scalar type, sizes that the stored tensors do not match,
    /// a NaN or Inf weight).
    static VAE load(const std::string& path) {
        const io::ModelFile file = io::load_model_file(path, "embedkit.vae");
        VAEOptions o;
        o.input = detail::parse_size(file.attribute("input"), "input");
        o.hidden = detail::parse_sizes(file.attribute("hidden"), "hidden");
        o.latent = detail::parse_size(file.attribute("latent"), "latent");
        if (o.hidden.empty()) throw FormatError("embedkit::models::VAE::load: '" + path + "' has no hidden layers");
        std::vector<std::pair<Eigen::Index, Eigen::Index>> layers;  // encoder, the two heads, decoder
        Eigen::Index width = o.input;
        for (Eigen::Index h : o.hidden) layers.emplace_back(std::exchange(width, h), h);
        layers.emplace_back(width, o.latent);
        layers.emplace_back(width, o.latent);
        width = o.latent;
        for (auto it = o.hidden.rbegin(); it != o.hidden.rend(); ++it) layers.emplace_back(std::exchange(width, *it), *it);
        layers.emplace_back(width, o.input);
        detail::check_parameter_budget(file, "embedkit::models::VAE::load", layers);
        Rng rng(0);
        VAE model(o, rng);
        model.read_model(file);
        return model;
    }

    // ---- The training interface used by nn::detail::fit_on_rows (public for custom loops).

    /// Every parameter in a fixed order: encoder, mu head, log-variance head, decoder.
    std::vector<nn::Parameter<Scalar>> parameters() {
        std::vector<nn::Parameter<Scalar>> p;
        encoder_.collect_parameters(p, "encoder.");
        mu_.collect_parameters(p, "mu.");
        log_var_.collect_parameters(p, "log_var.");
        decoder_.collect_parameters(p, "decoder.");
        return p;
    }

    /// Forward and backward pass on one batch; gradients land in parameters(). Returns the
    /// batch's mean loss (BCE sum + KL).
    double train_batch(const Matrix& x, Rng& rng) { return run(x, rng, true); }
    /// The batch's mean loss, no gradients.
    double evaluate_batch(const Matrix& x, Rng& rng) { return run(x, rng, false); }

    void write_model(io::ModelFile& file) const {
        file.set_attribute("input", std::to_string(options_.input));
        file.set_attribute("hidden", detail::join_sizes(options_.hidden));
        file.set_attribute("latent", std::to_string(options_.latent));
        file.set_attribute("scalar", sizeof(Scalar) == 4 ? "float32" : "float64");
        detail::write_parameters(file, const_cast<VAE*>(this)->parameters());
    }
    void read_model(const io::ModelFile& file) {
        detail::expect_attribute(file, "input", std::to_string(options_.input));
        detail::expect_attribute(file, "hidden", detail::join_sizes(options_.hidden));
        detail::expect_attribute(file, "latent", std::to_string(options_.latent));
        detail::read_parameters(file, parameters());
    }
    template <class S>
    void check_data(const char* fn, const char* what, const embedkit::detail::SetView<S>& v) const {
        detail::check_values("VAE", fn, what, v, true);
    }
    void set_timings(nn::Timings* t) noexcept {
        timings_ = t;
        encoder_.set_timings(t);
        decoder_.set_timings(t);
        mu_.set_timings(t);
        log_var_.set_timings(t);
    }

private:
    template <class D>
    embedkit::detail::SetView<Scalar> check_input(const char* fn, const Eigen::MatrixBase<D>& data, Eigen::Index batch_size) const {
        const std::string name = std::string("models::VAE::") + fn;
        const auto view = embedkit::detail::view_set(name.c_str(), "data", data);
        if (view.cols != options_.input)
            throw DimensionError("embedkit::models::VAE::" + std::string(fn) + ": data must have " +
                                 std::to_string(options_.input) + " columns, got " + std::to_string(view.cols));
        if (batch_size <= 0)
            throw ArgumentError("embedkit::models::VAE::" + std::string(fn) + ": batch_size must be positive");
        return view;
    }

    double run(const Matrix& x, Rng& rng, bool train) {
        if (x.cols() != options_.input)
            throw DimensionError("embedkit::models::VAE: batch must have " + std::to_string(options_.input) +
                                 " columns, got " + std::to_string(x.cols()));
        const Matrix& h = encoder_.forward(x);
        const Matrix& mu = mu_.forward(h);
        const Matrix& log_var = log_var_.forward(h);
        const Scalar cap = nn::max_log_variance<Scalar>();
        {
            nn::detail::PhaseTimer timer(nn::detail::slot(timings_, &nn::Timings::loss));
            eps_.resize(mu.rows(), mu.cols());
            for (Eigen::Index i = 0; i < eps_.size(); ++i) eps_.data()[i] = static_cast<Scalar>(rng.normal());
            std_ = (Scalar(0.5) * log_var.array().min(cap)).exp().matrix();
            z_ = mu + (std_.array() * eps_.array()).matrix();
        }
        const Matrix& logits = decoder_.forward(z_);
        double loss;
        {
            nn::detail::PhaseTimer timer(nn::detail::slot(timings_, &nn::Timings::loss));
            loss = nn::bce_with_logits(logits, x, grad_logits_) + nn::kl_standard_normal(mu, log_var, grad_mu_, grad_log_var_);
        }
        if (!train) return loss;
        const Matrix& grad_z = decoder_.backward(grad_logits_, true);
        {
            nn::detail::PhaseTimer timer(nn::detail::slot(timings_, &nn::Timings::loss));
            // z = mu + exp(lv / 2) eps: dz/dmu = 1, dz/dlv = eps exp(lv / 2) / 2 (0 where clamped).
            grad_mu_ += grad_z;
            grad_log_var_.array() += (log_var.array() > cap).select(Scalar(0), grad_z.array() * eps_.array() * std_.array() * Scalar(0.5));
        }
        grad_h_ = mu_.backward(grad_mu_, true);
        grad_h_ += log_var_.backward(grad_log_var_, true);
        encoder_.backward(grad_h_, false);
        return loss;
    }

    VAEOptions options_;
    // The two heads are one-layer stacks so that the model copies like a value.
    nn::Sequential<Scalar> encoder_, mu_, log_var_, decoder_;
    nn::Timings* timings_ = nullptr;
    Matrix eps_, std_, z_, grad_logits_, grad_mu_, grad_log_var_, grad_h_;
};

}  // namespace embedkit::models
