// Dense autoencoder: encoder to a latent code, mirrored decoder, MSE or BCE reconstruction.
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

/// Reconstruction losses of the Autoencoder.
///  - bce: binary cross-entropy from the decoder's logits, summed over features and averaged
///    over the batch (inputs must lie in [0, 1]); the decoder output is sigmoid(logits).
///  - mse: mean squared error over every element; the decoder's last layer applies
///    `AutoencoderOptions::mse_output`.
enum class Reconstruction { bce, mse };

/// Architecture and loss of an Autoencoder.
struct AutoencoderOptions {
    Eigen::Index input = 784;                        ///< input width
    std::vector<Eigen::Index> hidden = {256, 128};   ///< encoder widths (ReLU); the decoder mirrors them
    Eigen::Index latent = 32;                        ///< code size (linear layer)
    Reconstruction loss = Reconstruction::bce;
    nn::Activation mse_output = nn::Activation::sigmoid;  ///< output activation under MSE
    nn::Init init = nn::Init::glorot_uniform;
};

/// Deterministic autoencoder: code = encoder(x) (linear last layer), x' = decoder(code).
/// Shapes: inputs n x input, codes n x latent, one sample per row.
template <class ScalarType = float>
class Autoencoder {
public:
    using Scalar = ScalarType;
    static_assert(is_supported_scalar_v<Scalar>, "embedkit::models::Autoencoder supports float and double");
    using Matrix = RowMatrix<Scalar>;

    /// A new model with weights drawn from `rng`. Throws ArgumentError for bad sizes.
    Autoencoder(const AutoencoderOptions& options, Rng& rng) : options_(options) {
        if (options.input <= 0 || options.latent <= 0)
            throw ArgumentError("embedkit::models::Autoencoder: input and latent sizes must be positive, got " +
                                std::to_string(options.input) + " and " + std::to_string(options.latent));
        const nn::DenseOptions relu{nn::Activation::relu, options.init};
        const nn::DenseOptions linear{nn::Activation::identity, options.init};
        Eigen::Index width = options.input;
        for (Eigen::Index h : options.hidden) {
            if (h <= 0)
                throw ArgumentError("embedkit::models::Autoencoder: hidden sizes must be positive, got " + std::to_string(h));
            encoder_.add_dense(width, h, rng, relu);
            width = h;
        }
        encoder_.add_dense(width, options.latent, rng, linear);
        width = options.latent;
        for (auto it = options.hidden.rbegin(); it != options.hidden.rend(); ++it) {
            decoder_.add_dense(width, *it, rng, relu);
            width = *it;
        }
        const nn::Activation out =
            options.loss == Reconstruction::bce ? nn::Activation::identity : options.mse_output;
        decoder_.add_dense(width, options.input, rng, nn::DenseOptions{out, options.init});
    }

    const AutoencoderOptions& options() const noexcept { return options_; }
    Eigen::Index input_size() const noexcept { return options_.input; }
    Eigen::Index latent_size() const noexcept { return options_.latent; }
    /// The model-file kind, "embedkit.autoencoder".
    std::string kind() const { return "embedkit.autoencoder"; }

    /// Trains on `train` (n x input) with `validation` (may have 0 rows); see nn::FitOptions.
    template <class DT, class DV>
    nn::History fit(const Eigen::MatrixBase<DT>& train, const Eigen::MatrixBase<DV>& validation,
                    const nn::FitOptions& options, nn::Optimizer<Scalar>& optimizer, Rng& rng) {
        return nn::detail::fit_on_rows(*this, train, validation, options, optimizer, rng);
    }
    template <class DT>
    nn::History fit(const Eigen::MatrixBase<DT>& train, const nn::FitOptions& options,
                    nn::Optimizer<Scalar>& optimizer, Rng& rng) {
        return fit(train, Matrix(0, options_.input), options, optimizer, rng);
    }

    /// Codes of every row of `data`: n x latent.
    template <class D>
    Matrix encode(const Eigen::MatrixBase<D>& data, Eigen::Index batch_size = 1000) const {
        const auto view = check_input("encode", data, options_.input, batch_size);
        return detail::map_in_batches<Scalar>(view, batch_size, options_.latent,
                                              [&](const Matrix& b, Matrix& out) { encoder_.infer(b, out); });
    }

    /// Decoder outputs of codes `z` (n x latent): n x input.
    template <class D>
    Matrix decode(const Eigen::MatrixBase<D>& z, Eigen::Index batch_size = 1000) const {
        const auto view = check_input("decode", z, options_.latent, batch_size);
        return detail::map_in_batches<Scalar>(view, batch_size, options_.input, [&](const Matrix& b, Matrix& out) {
            decoder_.infer(b, out);
            if (options_.loss == Reconstruction::bce) nn::apply_activation(nn::Activation::sigmoid, out);
        });
    }

    /// decode(encode(data)).
    template <class D>
    Matrix reconstruct(const Eigen::MatrixBase<D>& data, Eigen::Index batch_size = 1000) const {
        const Matrix z = encode(data, batch_size);
        return decode(z, batch_size);
    }

    /// Saves atomically in the model-file format (docs/FORMAT.md).
    void save(const std::string& path) const {
        io::ModelFile file;
        file.kind = kind();
        write_model(file);
        io::save_model_file(path, file);
    }

    /// Loads a model written by `save`. Throws IoError (missing file) or FormatError (another
    /// kind, corrupt, sizes that the stored tensors do not match, a NaN or Inf weight).
    static Autoencoder load(const std::string& path) {
        const io::ModelFile file = io::load_model_file(path, "embedkit.autoencoder");
        AutoencoderOptions o;
        o.input = detail::parse_size(file.attribute("input"), "input");
        o.hidden = detail::parse_sizes(file.attribute("hidden"), "hidden");
        o.latent = detail::parse_size(file.attribute("latent"), "latent");
        const std::string loss = file.attribute("loss");
        if (loss == "bce") {
            o.loss = Reconstruction::bce;
        } else if (loss == "mse") {
            o.loss = Reconstruction::mse;
            try {
                o.mse_output = nn::parse_activation(file.attribute("mse_output"));
            } catch (const ArgumentError& e) {
                throw FormatError(std::string("embedkit::models::Autoencoder::load: '") + path + "': " + e.what());
            }
        } else {
            throw FormatError("embedkit::models::Autoencoder::load: '" + path + "' has unknown loss '" + loss + "'");
        }
        std::vector<std::pair<Eigen::Index, Eigen::Index>> layers;  // encoder, then decoder
        Eigen::Index width = o.input;
        for (Eigen::Index h : o.hidden) layers.emplace_back(std::exchange(width, h), h);
        layers.emplace_back(std::exchange(width, o.latent), o.latent);
        for (auto it = o.hidden.rbegin(); it != o.hidden.rend(); ++it) layers.emplace_back(std::exchange(width, *it), *it);
        layers.emplace_back(width, o.input);
        detail::check_parameter_budget(file, "embedkit::models::Autoencoder::load", layers);
        Rng rng(0);
        Autoencoder model(o, rng);
        model.read_model(file);
        return model;
    }

    // ---- Training interface (see nn::detail::fit_on_rows).
    std::vector<nn::Parameter<Scalar>> parameters() {
        std::vector<nn::Parameter<Scalar>> p;
        encoder_.collect_parameters(p, "encoder.");
        decoder_.collect_parameters(p, "decoder.");
        return p;
    }
    double train_batch(const Matrix& x, Rng& rng) { return run(x, rng, true); }
    double evaluate_batch(const Matrix& x, Rng& rng) { return run(x, rng, false); }

    void write_model(io::ModelFile& file) const {
        file.set_attribute("input", std::to_string(options_.input));
        file.set_attribute("hidden", detail::join_sizes(options_.hidden));
        file.set_attribute("latent", std::to_string(options_.latent));
        file.set_attribute("loss", options_.loss == Reconstruction::bce ? "bce" : "mse");
        file.set_attribute("mse_output", nn::activation_name(options_.mse_output));
        file.set_attribute("scalar", sizeof(Scalar) == 4 ? "float32" : "float64");
        detail::write_parameters(file, const_cast<Autoencoder*>(this)->parameters());
    }
    void read_model(const io::ModelFile& file) {
        detail::expect_attribute(file, "input", std::to_string(options_.input));
        detail::expect_attribute(file, "hidden", detail::join_sizes(options_.hidden));
        detail::expect_attribute(file, "latent", std::to_string(options_.latent));
        detail::expect_attribute(file, "loss", options_.loss == Reconstruction::bce ? "bce" : "mse");
        detail::read_parameters(file, parameters());
    }
    template <class S>
    void check_data(const char* fn, const char* what, const embedkit::detail::SetView<S>& v) const {
        detail::check_values("Autoencoder", fn, what, v, options_.loss == Reconstruction::bce);
    }
    void set_timings(nn::Timings* t) noexcept {
        timings_ = t;
        encoder_.set_timings(t);
        decoder_.set_timings(t);
    }

private:
    template <class D>
    embedkit::detail::SetView<Scalar> check_input(const char* fn, const Eigen::MatrixBase<D>& data, Eigen::Index cols,
                                                  Eigen::Index batch_size) const {
        const std::string name = std::string("models::Autoencoder::") + fn;
        const auto view = embedkit::detail::view_set(name.c_str(), "data", data);
        if (view.cols != cols)
            throw DimensionError("embedkit::" + name + ": data must have " + std::to_string(cols) + " columns, got " +
                                 std::to_string(view.cols));
        if (batch_size <= 0) throw ArgumentError("embedkit::" + name + ": batch_size must be positive");
        return view;
    }

    double run(const Matrix& x, Rng&, bool train) {
        if (x.cols() != options_.input)
            throw DimensionError("embedkit::models::Autoencoder: batch must have " + std::to_string(options_.input) +
                                 " columns, got " + std::to_string(x.cols()));
        const Matrix& out = decoder_.forward(encoder_.forward(x));
        double loss;
        {
            nn::detail::PhaseTimer timer(nn::detail::slot(timings_, &nn::Timings::loss));
            loss = options_.loss == Reconstruction::bce ? nn::bce_with_logits(out, x, grad_)
                                                        : nn::mean_squared_error(out, x, grad_);
        }
        if (!train) return loss;
        encoder_.backward(decoder_.backward(grad_, true), false);
        return loss;
    }

    AutoencoderOptions options_;
    nn::Sequential<Scalar> encoder_, decoder_;
    nn::Timings* timings_ = nullptr;
    Matrix grad_;
};

}  // namespace embedkit::models
