// Dense autoencoder: encoder to a latent code, mirrored decoder, MSE or BCE reconstruction.
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
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace embedkit::models {

/// Reconstruction losses of the Autoencoder.
///  - bce: binary cross-entropy from the decoder's logits, summed over features and averaged
///    over the batch (inputs must lie in [0, 1]); the decoder output is sigmoid(logits).
///  - mse: mean squared error over every element; the decoder's last layer applies
///    `AutoencoderOptions::mse_output`.
enum class Reconstruction { bce, mse };

/// The model-file spelling of a Reconstruction ("bce", "mse").
inline std::string attribute_text(Reconstruction r) {
    return r == Reconstruction::bce ? "bce" : "mse";
}
/// Reads "bce" or "mse"; FormatError naming the attribute otherwise.
inline void parse_attribute(const std::string& text, const std::string& key, Reconstruction& out) {
    if (text == "bce")
        out = Reconstruction::bce;
    else if (text == "mse")
        out = Reconstruction::mse;
    else
        throw FormatError("embedkit::models: attribute '" + key + "' has unknown loss '" + text +
                          "' (bce or mse)");
}

/// Architecture and loss of an Autoencoder.
struct AutoencoderOptions {
    Eigen::Index input = 784;  ///< input width
    std::vector<Eigen::Index> hidden = {256,
                                        128};  ///< encoder widths (ReLU); the decoder mirrors them
    Eigen::Index latent = 32;                  ///< code size (linear layer)
    Reconstruction loss = Reconstruction::bce;
    /// Output activation under MSE. The default, identity, reconstructs any real data (e.g.
    /// standardised features); sigmoid, tanh or relu limit the output to their range, and
    /// `fit` refuses data outside it (ArgumentError) instead of squeezing it.
    nn::Activation mse_output = nn::Activation::identity;
    nn::Init init = nn::Init::glorot_uniform;
};

/// Deterministic autoencoder: code = encoder(x) (linear last layer), x' = decoder(code).
/// Shapes: inputs n x input, codes n x latent, one sample per row.
template <class ScalarType = float>
class Autoencoder : public Persistent<Autoencoder<ScalarType>> {
public:
    using Scalar = ScalarType;
    using Options = AutoencoderOptions;
    static_assert(is_supported_scalar_v<Scalar>,
                  "embedkit::models::Autoencoder supports float and double");
    using Matrix = RowMatrix<Scalar>;

    /// A new model with weights drawn from `rng`. Throws ArgumentError for bad sizes.
    Autoencoder(const AutoencoderOptions& options, Rng& rng)
        : options_(options), net_(layout(options), options.init, rng) {}
    /// A model with zero weights, to be loaded (see models/persistence.hpp); no random numbers.
    Autoencoder(const AutoencoderOptions& options, nn::ZeroWeights)
        : options_(options), net_(layout(options), nn::zero_weights) {}

    /// The model-file kind, "embedkit.autoencoder".
    static std::string kind() { return "embedkit.autoencoder"; }
    /// The options a model file records.
    template <class O, class Field>
    static void architecture(O& o, Field&& field) {
        field("input", o.input);
        field("hidden", o.hidden);
        field("latent", o.latent);
        field("loss", o.loss);
        // Only MSE has an output activation: BCE files (0.2 wrote "sigmoid" there) neither
        // record nor compare it. `loss` is read first, so loading knows which it is.
        if (o.loss == Reconstruction::mse) field("mse_output", o.mse_output);
    }
    /// The networks: "encoder" (input, hidden..., latent; ReLU, linear code) and "decoder"
    /// (the mirror; its output applies mse_output under MSE, logits under BCE).
    static Layout layout(const AutoencoderOptions& o) {
        if (o.input <= 0 || o.latent <= 0)
            throw ArgumentError(
                "embedkit::models::Autoencoder: input and latent sizes must be positive, got " +
                std::to_string(o.input) + " and " + std::to_string(o.latent));
        for (Eigen::Index h : o.hidden)
            if (h <= 0)
                throw ArgumentError(
                    "embedkit::models::Autoencoder: hidden sizes must be positive, got " +
                    std::to_string(h));
        std::vector<Eigen::Index> widths{o.input};
        widths.insert(widths.end(), o.hidden.begin(), o.hidden.end());
        widths.push_back(o.latent);
        const auto encoder = dense_chain(widths, nn::Activation::relu, nn::Activation::identity);
        std::reverse(widths.begin(), widths.end());
        const nn::Activation out =
            o.loss == Reconstruction::bce ? nn::Activation::identity : o.mse_output;
        return {{"encoder", encoder}, {"decoder", dense_chain(widths, nn::Activation::relu, out)}};
    }

    const AutoencoderOptions& options() const noexcept { return options_; }
    Eigen::Index input_size() const noexcept { return options_.input; }
    Eigen::Index latent_size() const noexcept { return options_.latent; }
    /// Trains on `train` (n x input) with `validation` (may have 0 rows); see FitOptions.
    template <class DT, class DV>
    nn::History fit(const Eigen::MatrixBase<DT>& train, const Eigen::MatrixBase<DV>& validation,
                    const FitOptions& options, nn::Optimizer<Scalar>& optimizer, Rng& rng) {
        return fit_with_callbacks(
            *this, options, optimizer, rng, train.rows(), [&](const nn::FitOptions& run) {
                return nn::detail::fit_on_rows(*this, train, validation, run, optimizer, rng);
            });
    }
    template <class DT>
    nn::History fit(const Eigen::MatrixBase<DT>& train, const FitOptions& options,
                    nn::Optimizer<Scalar>& optimizer, Rng& rng) {
        return fit(train, Matrix(0, options_.input), options, optimizer, rng);
    }

    /// Codes of every row of `data`: n x latent.
    template <class D>
    Matrix encode(const Eigen::MatrixBase<D>& data, Eigen::Index batch_size = 1000) const {
        const auto view = check_input("encode", data, options_.input, batch_size);
        return detail::map_in_batches<Scalar>(
            view, batch_size, options_.latent,
            [&](const Matrix& b, Matrix& out) { encoder().infer(b, out); });
    }

    /// Decoder outputs of codes `z` (n x latent): n x input.
    template <class D>
    Matrix decode(const Eigen::MatrixBase<D>& z, Eigen::Index batch_size = 1000) const {
        const auto view = check_input("decode", z, options_.latent, batch_size);
        return detail::map_in_batches<Scalar>(
            view, batch_size, options_.input, [&](const Matrix& b, Matrix& out) {
                decoder().infer(b, out);
                if (options_.loss == Reconstruction::bce)
                    nn::apply_activation(nn::Activation::sigmoid, out);
            });
    }

    /// decode(encode(data)).
    template <class D>
    Matrix reconstruct(const Eigen::MatrixBase<D>& data, Eigen::Index batch_size = 1000) const {
        const Matrix z = encode(data, batch_size);
        return decode(z, batch_size);
    }

    // ---- Training interface (see nn::detail::fit_on_rows).
    std::vector<nn::Parameter<Scalar>> parameters() { return net_.parameters(); }
    std::vector<nn::ConstParameter<Scalar>> parameters() const { return net_.parameters(); }
    double train_batch(const Matrix& x, Rng& rng) { return run(x, rng, true); }
    double evaluate_batch(const Matrix& x, Rng& rng) { return run(x, rng, false); }

    template <class S>
    void check_data(const char* fn, const char* what, const embedkit::detail::SetView<S>& v) const {
        detail::check_values("Autoencoder", fn, what, v, target_range());
    }

private:
    template <class D>
    embedkit::detail::SetView<Scalar> check_input(const char* fn, const Eigen::MatrixBase<D>& data,
                                                  Eigen::Index cols,
                                                  Eigen::Index batch_size) const {
        const std::string name = std::string("models::Autoencoder::") + fn;
        const auto view = embedkit::detail::view_set(name.c_str(), "data", data);
        if (view.cols != cols)
            throw DimensionError("embedkit::" + name + ": data must have " + std::to_string(cols) +
                                 " columns, got " + std::to_string(view.cols));
        if (batch_size <= 0)
            throw ArgumentError("embedkit::" + name + ": batch_size must be positive");
        return view;
    }

    double run(const Matrix& x, Rng&, bool train) {
        if (x.cols() != options_.input)
            throw DimensionError("embedkit::models::Autoencoder: batch must have " +
                                 std::to_string(options_.input) + " columns, got " +
                                 std::to_string(x.cols()));
        const Matrix& out = decoder().forward(encoder().forward(x));
        double loss;
        {
            profile::Scope phase(profile::Phase::loss);
            loss = options_.loss == Reconstruction::bce ? nn::bce_with_logits(out, x, grad_)
                                                        : nn::mean_squared_error(out, x, grad_);
        }
        if (!train) return loss;
        encoder().backward(decoder().backward(grad_, true), false);
        return loss;
    }

    // The values the reconstruction can take: BCE targets, or the range of the MSE output.
    detail::ValueRange target_range() const {
        if (options_.loss == Reconstruction::bce) return detail::bce_targets();
        const char* why =
            "which the mse_output activation cannot produce (use mse_output = identity, the "
            "default)";
        switch (options_.mse_output) {
            case nn::Activation::sigmoid:
                return {0, 1, why};
            case nn::Activation::tanh:
                return {-1, 1, why};
            case nn::Activation::relu:
                return {0, std::numeric_limits<double>::infinity(), why};
            case nn::Activation::identity:
                break;
        }
        return {};
    }

    nn::Sequential<Scalar>& encoder() { return net_[0]; }
    const nn::Sequential<Scalar>& encoder() const { return net_[0]; }
    nn::Sequential<Scalar>& decoder() { return net_[1]; }
    const nn::Sequential<Scalar>& decoder() const { return net_[1]; }

    AutoencoderOptions options_;
    Networks<Scalar> net_;
    Matrix grad_;
};

}  // namespace embedkit::models
