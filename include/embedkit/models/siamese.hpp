// Siamese network: one shared dense tower trained on pairs (contrastive loss) or on batches
// with batch-hard triplets, used afterwards as an embedding model.
#pragma once

#include "../core/profile.hpp"
#include "../core/random.hpp"
#include "../data/pairs.hpp"
#include "../nn/loss.hpp"
#include "../nn/optim.hpp"
#include "../nn/trainer.hpp"
#include "detail/model_support.hpp"
#include "networks.hpp"
#include "persistence.hpp"
#include "knn.hpp"

#include <cstdint>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

namespace embedkit::models {

/// The tower: input width and layer widths; every layer but the last uses ReLU, the last is
/// linear (its output is the embedding). Default 784-512-256-128.
struct SiameseOptions {
    Eigen::Index input = 784;
    std::vector<Eigen::Index> layers = {512, 256, 128};
    nn::Init init = nn::Init::glorot_uniform;
};

/// The two ways to train the tower.
///  - contrastive: pairs (data::make_pairs, regenerated every epoch from the run's Rng),
///    loss nn::contrastive_loss: similar pairs pulled together, others pushed to the margin.
///  - triplet: batches of samples, loss nn::triplet_batch_hard_loss (hardest positive and
///    negative of every anchor in the batch).
enum class SiameseLoss { contrastive, triplet };

/// Settings of Siamese::fit beyond FitOptions (whose batch_size counts pairs for the
/// contrastive loss and samples for the triplet loss).
struct SiameseTraining {
    SiameseLoss loss = SiameseLoss::contrastive;
    double margin = 1.0;        ///< of either loss
    data::PairOptions pairs;    ///< training pairs per sample and epoch (contrastive)
    double threshold = 0.5;     ///< distance below which a pair counts as "same" for accuracy
};

/// A Siamese network: embed(x) = tower(x); two inputs are compared by the Euclidean distance
/// of their embeddings. Shapes: inputs n x input, embeddings n x layers.back().
template <class ScalarType = float>
class Siamese : public Persistent<Siamese<ScalarType>> {
public:
    using Scalar = ScalarType;
    using Options = SiameseOptions;
    using Matrix = RowMatrix<Scalar>;
    static_assert(is_supported_scalar_v<Scalar>, "embedkit::models::Siamese supports float and double");

    /// A new model with weights drawn from `rng`. Throws ArgumentError for bad sizes.
    Siamese(const SiameseOptions& options, Rng& rng) : options_(options), net_(layout(options), options.init, rng) {}
    /// A model with zero weights, to be loaded (see models/persistence.hpp); no random numbers.
    Siamese(const SiameseOptions& options, nn::ZeroWeights) : options_(options), net_(layout(options), nn::zero_weights) {}

    /// The model-file kind, "embedkit.siamese".
    static std::string kind() { return "embedkit.siamese"; }
    /// The options a model file records.
    template <class O, class Field>
    static void architecture(O& o, Field&& field) {
        field("input", o.input);
        field("layers", o.layers);
    }
    /// The network: "tower" (input, layers...; ReLU, linear embedding).
    static Layout layout(const SiameseOptions& o) {
        if (o.input <= 0) throw ArgumentError("embedkit::models::Siamese: input size must be positive");
        if (o.layers.empty())
            throw ArgumentError("embedkit::models::Siamese: the tower has no layers (at least one is needed)");
        for (Eigen::Index w : o.layers)
            if (w <= 0) throw ArgumentError("embedkit::models::Siamese: layer sizes must be positive, got " + std::to_string(w));
        std::vector<Eigen::Index> widths{o.input};
        widths.insert(widths.end(), o.layers.begin(), o.layers.end());
        return {{"tower", dense_chain(widths, nn::Activation::relu, nn::Activation::identity)}};
    }

    const SiameseOptions& options() const noexcept { return options_; }
    Eigen::Index input_size() const noexcept { return options_.input; }
    Eigen::Index embedding_size() const noexcept { return options_.layers.back(); }
    /// Trains the tower on `train` (n x input) with labels `train_labels` (n), and after every
    /// epoch measures the pair accuracy (and, for the contrastive loss, the loss) on
    /// `test_pairs` of `test` (which may be empty: no validation). Returns the history;
    /// EpochStats::val_accuracy is the test pair accuracy at `training.threshold`. Throws
    /// DimensionError, ArgumentError (empty data, NaN/Inf, labels or pairs that do not fit,
    /// bad settings), NumericError (loss NaN/Inf, names epoch and batch).
    template <class DT, class DV>
    nn::History fit(const Eigen::MatrixBase<DT>& train, const std::vector<std::uint8_t>& train_labels,
                    const Eigen::MatrixBase<DV>& test, const data::Pairs& test_pairs, const FitOptions& options,
                    const SiameseTraining& training, nn::Optimizer<Scalar>& optimizer, Rng& rng) {
        static_assert(std::is_same_v<typename DT::Scalar, Scalar> && std::is_same_v<typename DV::Scalar, Scalar>,
                      "embedkit::models::Siamese::fit: the data must have the model's scalar type");
        const auto train_view = embedkit::detail::view_set("models::Siamese::fit", "training data", train);
        const auto test_view = embedkit::detail::view_set("models::Siamese::fit", "test data", test);
        nn::detail::check_fit_options(options);
        check_inputs(train_view, train_labels, test_view, test_pairs, training);

        const Eigen::Index n = train_view.rows;
        const Eigen::Index batch_size = options.batch_size;
        const bool contrastive = training.loss == SiameseLoss::contrastive;
        const auto margin = static_cast<Scalar>(training.margin);
        data::Pairs pairs;
        std::vector<std::uint32_t> order;
        std::vector<std::uint8_t> batch_labels;
        Matrix batch;
        // Pairs per epoch are known before the first epoch (the rule is fixed), so the batch
        // count is too.
        const Eigen::Index items =
            contrastive ? n * static_cast<Eigen::Index>(training.pairs.positives_per_sample + training.pairs.negatives_per_sample)
                        : n;
        if (items == 0) throw ArgumentError("embedkit::models::Siamese::fit: no training pairs requested");

        auto start_epoch = [&](Rng& r) {
            if (contrastive) {
                pairs = data::make_pairs(train_labels, r, training.pairs);
                order.resize(pairs.size());
            } else {
                order.resize(static_cast<std::size_t>(n));
            }
            std::iota(order.begin(), order.end(), std::uint32_t(0));
            if (options.shuffle) r.shuffle(order);
        };
        auto run_batch = [&](Eigen::Index b, Rng&) {
            const std::size_t first = static_cast<std::size_t>(b * batch_size);
            const Eigen::Index rows = std::min<Eigen::Index>(batch_size, items - static_cast<Eigen::Index>(first));
            if (contrastive) {
                {
                    profile::Scope phase(profile::Phase::other);
                    batch.resize(2 * rows, train_view.cols);
                    batch_labels.resize(static_cast<std::size_t>(rows));
                    const auto row_bytes = sizeof(Scalar) * static_cast<std::size_t>(train_view.cols);
                    for (Eigen::Index r = 0; r < rows; ++r) {
                        const std::uint32_t p = order[first + static_cast<std::size_t>(r)];
                        std::memcpy(batch.row(r).data(), train_view.row(pairs.first[p]), row_bytes);
                        std::memcpy(batch.row(rows + r).data(), train_view.row(pairs.second[p]), row_bytes);
                        batch_labels[static_cast<std::size_t>(r)] = pairs.similar[p];
                    }
                }
                return std::make_pair(contrastive_step(batch, rows, batch_labels, margin), rows);
            }
            {
                profile::Scope phase(profile::Phase::other);
                nn::detail::gather_rows(train_view, order, first, rows, batch);
                batch_labels.resize(static_cast<std::size_t>(rows));
                for (Eigen::Index r = 0; r < rows; ++r)
                    batch_labels[static_cast<std::size_t>(r)] = train_labels[order[first + static_cast<std::size_t>(r)]];
            }
            return std::make_pair(triplet_step(batch, batch_labels, margin), rows);
        };
        auto validate = [&](nn::EpochStats& stats) {
            if (test_pairs.size() == 0) return;
            const Matrix emb = embed(test, 1000);
            Matrix a(static_cast<Eigen::Index>(test_pairs.size()), emb.cols()), bm(a.rows(), emb.cols());
            for (std::size_t p = 0; p < test_pairs.size(); ++p) {
                a.row(static_cast<Eigen::Index>(p)) = emb.row(test_pairs.first[p]);
                bm.row(static_cast<Eigen::Index>(p)) = emb.row(test_pairs.second[p]);
            }
            Vector<Scalar> d;
            Matrix ga, gb;
            const double loss = nn::contrastive_loss(a, bm, test_pairs.similar, margin, ga, gb, &d);
            if (contrastive) stats.val_loss = loss;
            stats.val_accuracy = pair_accuracy(d, test_pairs.similar, static_cast<Scalar>(training.threshold));
        };
        return fit_with_callbacks(*this, options, optimizer, rng, n, [&](const nn::FitOptions& run) {
            return nn::detail::run_epochs(*this, run, optimizer, rng, (items + batch_size - 1) / batch_size, start_epoch,
                                          run_batch, validate);
        });
    }

    /// Embeddings of every row of `data` (n x input): n x embedding_size(), in batches.
    template <class D>
    Matrix embed(const Eigen::MatrixBase<D>& data, Eigen::Index batch_size = 1000) const {
        const auto view = embedkit::detail::view_set("models::Siamese::embed", "data", data);
        if (view.cols != options_.input)
            throw DimensionError("embedkit::models::Siamese::embed: data must have " + std::to_string(options_.input) +
                                 " columns, got " + std::to_string(view.cols));
        if (batch_size <= 0) throw ArgumentError("embedkit::models::Siamese::embed: batch_size must be positive");
        return detail::map_in_batches<Scalar>(view, batch_size, embedding_size(),
                                              [&](const Matrix& b, Matrix& out) { tower().infer(b, out); });
    }

    /// Euclidean distance between the embeddings of the two members of every pair (indices
    /// into `data`'s rows). Throws as embed(), DimensionError when the pair lists differ in
    /// length, ArgumentError when a pair refers past the rows of `data`.
    template <class D>
    Vector<Scalar> pair_distances(const Eigen::MatrixBase<D>& data, const data::Pairs& pairs) const {
        check_pair_lists("embedkit::models::Siamese::pair_distances: pairs", pairs);
        for (std::size_t p = 0; p < pairs.size(); ++p)
            if (pairs.first[p] >= data.rows() || pairs.second[p] >= data.rows())
                throw ArgumentError("embedkit::models::Siamese::pair_distances: pair " + std::to_string(p) +
                                    " refers past the " + std::to_string(data.rows()) + " rows");
        const Matrix emb = embed(data);
        Vector<Scalar> d(static_cast<Eigen::Index>(pairs.size()));
        for (std::size_t p = 0; p < pairs.size(); ++p)
            d(static_cast<Eigen::Index>(p)) = (emb.row(pairs.first[p]) - emb.row(pairs.second[p])).norm();
        return d;
    }

    // ---- Training interface (nn::detail::run_epochs).
    std::vector<nn::Parameter<Scalar>> parameters() { return net_.parameters(); }
    std::vector<nn::ConstParameter<Scalar>> parameters() const { return net_.parameters(); }

    /// One contrastive step on `batch` = [first members; second members] (2 rows x pairs):
    /// forward, loss, backward; gradients land in parameters(). Returns the mean loss.
    /// Throws DimensionError when batch.rows() != 2 * pairs (or as nn::contrastive_loss).
    double contrastive_step(const Matrix& batch, Eigen::Index pairs, const std::vector<std::uint8_t>& similar,
                            Scalar margin) {
        if (pairs < 0 || batch.rows() != 2 * pairs)
            throw DimensionError("embedkit::models::Siamese::contrastive_step: the batch must hold 2 x " +
                                 std::to_string(pairs) + " rows (first members, then second members), got " +
                                 std::to_string(batch.rows()));
        const Matrix& e = tower().forward(batch);
        double loss;
        {
            profile::Scope phase(profile::Phase::loss);
            a_ = e.topRows(pairs);
            b_ = e.bottomRows(pairs);
            loss = nn::contrastive_loss(a_, b_, similar, margin, grad_a_, grad_b_);
            grad_.resize(2 * pairs, e.cols());
            grad_.topRows(pairs) = grad_a_;
            grad_.bottomRows(pairs) = grad_b_;
        }
        tower().backward(grad_, false);
        return loss;
    }

    /// One batch-hard triplet step on `batch` with `labels`. Returns the mean loss.
    double triplet_step(const Matrix& batch, const std::vector<std::uint8_t>& labels, Scalar margin) {
        const Matrix& e = tower().forward(batch);
        double loss;
        {
            profile::Scope phase(profile::Phase::loss);
            loss = nn::triplet_batch_hard_loss(e, labels, margin, grad_);
        }
        tower().backward(grad_, false);
        return loss;
    }

private:
    template <class S>
    void check_inputs(const embedkit::detail::SetView<S>& train, const std::vector<std::uint8_t>& train_labels,
                      const embedkit::detail::SetView<S>& test, const data::Pairs& test_pairs,
                      const SiameseTraining& training) const {
        const std::string fn = "embedkit::models::Siamese::fit: ";
        if (train.rows == 0) throw ArgumentError(fn + "the training data is empty");
        if (train.cols != options_.input)
            throw DimensionError(fn + "the model takes " + std::to_string(options_.input) + " columns, the training data has " +
                                 std::to_string(train.cols));
        if (static_cast<Eigen::Index>(train_labels.size()) != train.rows)
            throw DimensionError(fn + "training data has " + std::to_string(train.rows) + " rows but " +
                                 std::to_string(train_labels.size()) + " labels");
        if (test_pairs.size() > 0 && test.cols != options_.input)
            throw DimensionError(fn + "the model takes " + std::to_string(options_.input) + " columns, the test data has " +
                                 std::to_string(test.cols));
        check_pair_lists(fn + "test pairs", test_pairs);
        for (std::size_t p = 0; p < test_pairs.size(); ++p) {
            if (test_pairs.first[p] >= test.rows || test_pairs.second[p] >= test.rows)
                throw ArgumentError(fn + "test pair " + std::to_string(p) + " refers past the " + std::to_string(test.rows) +
                                    " test rows");
            // Checked here rather than by the loss after the first epoch's training.
            if (test_pairs.similar[p] > 1)
                throw ArgumentError(fn + "test pair " + std::to_string(p) + " has similar = " +
                                    std::to_string(test_pairs.similar[p]) + ", expected 0 or 1");
        }
        if (!(training.margin > 0) || !std::isfinite(training.margin))
            throw ArgumentError(fn + "margin must be positive, got " + nn::detail::format_number(training.margin));
        if (!(training.threshold > 0) || !std::isfinite(training.threshold))
            throw ArgumentError(fn + "threshold must be positive, got " + nn::detail::format_number(training.threshold));
        detail::check_values("Siamese", "fit", "training data", train);
        if (test_pairs.size() > 0) detail::check_values("Siamese", "fit", "test data", test);
    }

    // The three lists of a Pairs must have one entry per pair.
    static void check_pair_lists(const std::string& what, const data::Pairs& pairs) {
        if (pairs.second.size() != pairs.first.size() || pairs.similar.size() != pairs.first.size())
            throw DimensionError(what + " have lists of different lengths (first " + std::to_string(pairs.first.size()) +
                                 ", second " + std::to_string(pairs.second.size()) + ", similar " +
                                 std::to_string(pairs.similar.size()) + ")");
    }

    nn::Sequential<Scalar>& tower() { return net_[0]; }
    const nn::Sequential<Scalar>& tower() const { return net_[0]; }

    SiameseOptions options_;
    Networks<Scalar> net_;
    Matrix a_, b_, grad_a_, grad_b_, grad_;
};

}  // namespace embedkit::models
