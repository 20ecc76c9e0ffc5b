// Siamese network: one shared dense tower trained on pairs (contrastive loss), on batches with
// batch-hard triplets, or on (anchor, positive) pairs with in-batch negatives, used afterwards
// as an embedding model.
#pragma once

#include "../core/labels.hpp"
#include "../core/profile.hpp"
#include "../core/random.hpp"
#include "../data/pairs.hpp"
#include "../distance/pair.hpp"
#include "../nn/loss.hpp"
#include "../nn/optim.hpp"
#include "../nn/trainer.hpp"
#include "detail/model_support.hpp"
#include "networks.hpp"
#include "persistence.hpp"
#include "../eval/knn.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
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

/// The ways to train the tower.
///  - contrastive: pairs with a similar flag, loss nn::contrastive_loss: similar pairs pulled
///    together, others pushed to the margin. From class labels the pairs are drawn by
///    data::make_pairs, regenerated every epoch from the run's Rng; or the caller's own pairs.
///  - triplet: batches of labelled samples, loss nn::triplet_batch_hard_loss (hardest positive
///    and negative of every anchor in the batch). Needs class labels.
///  - multiple_negatives: the caller's (anchor, positive) pairs, loss
///    nn::multiple_negatives_ranking_loss (sentence-transformers' MultipleNegativesRankingLoss):
///    the other positives of a batch are each anchor's negatives, scored by cosine similarity
///    times `scale`. Embeddings trained so are compared by cosine. Caveat: a positive that
///    occurs twice in one batch (or two pairs of one class) counts as a negative of the other
///    anchor; give pairs whose positives are distinct.
enum class SiameseLoss { contrastive, triplet, multiple_negatives };

/// Settings of Siamese::fit beyond FitOptions (whose batch_size counts pairs for the
/// contrastive and multiple_negatives losses and samples for the triplet loss).
struct SiameseTraining {
    SiameseLoss loss = SiameseLoss::contrastive;
    double margin = 1.0;  ///< of the contrastive and triplet losses
    double scale =
        nn::default_ranking_scale;  ///< multiple_negatives: cosine times scale are the logits (20)
    data::PairOptions pairs;  ///< training pairs per sample and epoch (contrastive from labels)
    double threshold = 0.5;   ///< distance below which a pair counts as "same" for accuracy
};

/// A Siamese network: embed(x) = tower(x); two inputs are compared by the Euclidean distance
/// of their embeddings. Shapes: inputs n x input, embeddings n x layers.back().
template <class ScalarType = float>
class Siamese : public Persistent<Siamese<ScalarType>> {
public:
    using Scalar = ScalarType;
    using Options = SiameseOptions;
    using Matrix = RowMatrix<Scalar>;
    static_assert(is_supported_scalar_v<Scalar>,
                  "embedkit::models::Siamese supports float and double");

    /// A new model with weights drawn from `rng`. Throws ArgumentError for bad sizes.
    Siamese(const SiameseOptions& options, Rng& rng)
        : options_(options), net_(layout(options), options.init, rng) {}
    /// A model with zero weights, to be loaded (see models/persistence.hpp); no random numbers.
    Siamese(const SiameseOptions& options, nn::ZeroWeights)
        : options_(options), net_(layout(options), nn::zero_weights) {}

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
        if (o.input <= 0)
            throw ArgumentError("embedkit::models::Siamese: input size must be positive");
        if (o.layers.empty())
            throw ArgumentError(
                "embedkit::models::Siamese: the tower has no layers (at least one is needed)");
        for (Eigen::Index w : o.layers)
            if (w <= 0)
                throw ArgumentError(
                    "embedkit::models::Siamese: layer sizes must be positive, got " +
                    std::to_string(w));
        std::vector<Eigen::Index> widths{o.input};
        widths.insert(widths.end(), o.layers.begin(), o.layers.end());
        return {{"tower", dense_chain(widths, nn::Activation::relu, nn::Activation::identity)}};
    }

    const SiameseOptions& options() const noexcept { return options_; }
    Eigen::Index input_size() const noexcept { return options_.input; }
    Eigen::Index embedding_size() const noexcept { return options_.layers.back(); }
    /// Trains the tower on `train` (n x input) with class labels `train_labels` (n, any integer
    /// type: uint8_t, int32_t, int64_t, ...; compared, never narrowed), with the contrastive
    /// loss (pairs from data::make_pairs, redrawn every epoch) or the batch-hard triplet loss,
    /// and after every epoch measures the pair accuracy (and, for the contrastive loss, the
    /// loss) on `test_pairs` of `test` (which may be empty: no validation). Returns the
    /// history; EpochStats::val_accuracy is the test pair accuracy at `training.threshold`.
    /// Throws DimensionError, ArgumentError (empty data, NaN/Inf, labels or pairs that do not
    /// fit, bad settings, the multiple_negatives loss, which needs pairs), NumericError (loss
    /// NaN/Inf, names epoch and batch).
    template <class DT, class DV, class L = std::uint8_t>
    nn::History fit(const Eigen::MatrixBase<DT>& train, const std::vector<L>& train_labels,
                    const Eigen::MatrixBase<DV>& test, const data::Pairs& test_pairs,
                    const FitOptions& options, const SiameseTraining& training,
                    nn::Optimizer<Scalar>& optimizer, Rng& rng) {
        static_assert(std::is_same_v<typename DT::Scalar, Scalar> &&
                          std::is_same_v<typename DV::Scalar, Scalar>,
                      "embedkit::models::Siamese::fit: the data must have the model's scalar type");
        static_assert(
            is_label_type_v<L>,
            "embedkit::models::Siamese::fit: labels must be a std::vector of an integer type "
            "(uint8_t, int32_t, int64_t, ...), not bool or floating point");
        const auto train_view =
            embedkit::detail::view_set("models::Siamese::fit", "training data", train);
        const auto test_view =
            embedkit::detail::view_set("models::Siamese::fit", "test data", test);
        nn::detail::check_fit_options(options);
        const std::size_t label_count = train_labels.size();
        check_inputs(train_view, "training data", &label_count, test_view, test_pairs, training);
        if (training.loss == SiameseLoss::multiple_negatives)
            throw ArgumentError(
                std::string(fit_name) +
                "the multiple_negatives loss trains on (anchor, positive) pairs, not class labels; "
                "pass them to fit(data, pairs, ...) or fit(anchors, positives, similar, ...)");

        const Eigen::Index n = train_view.rows;
        if (training.loss == SiameseLoss::contrastive) {
            // Pairs per epoch are known before the first epoch (the rule is fixed), so the
            // batch count is too.
            const Eigen::Index items =
                n * static_cast<Eigen::Index>(training.pairs.positives_per_sample +
                                              training.pairs.negatives_per_sample);
            if (items == 0)
                throw ArgumentError(std::string(fit_name) + "no training pairs requested");
            data::Pairs pairs;
            return train_on_pairs(
                train_view, train_view, n, items,
                [&](Rng& r) { pairs = data::make_pairs(train_labels, r, training.pairs); },
                [&](std::size_t p) {
                    return PairRef{pairs.first[p], pairs.second[p], pairs.similar[p]};
                },
                test, test_pairs, options, training, optimizer, rng);
        }

        const Eigen::Index batch_size = options.batch_size;
        const auto margin = static_cast<Scalar>(training.margin);
        std::vector<std::uint32_t> order;
        std::vector<L> batch_labels;
        Matrix batch;
        auto start_epoch = [&](Rng& r) {
            order.resize(static_cast<std::size_t>(n));
            std::iota(order.begin(), order.end(), std::uint32_t(0));
            if (options.shuffle) r.shuffle(order);
        };
        auto run_batch = [&](Eigen::Index b, Rng&) {
            const std::size_t first = static_cast<std::size_t>(b * batch_size);
            const Eigen::Index rows =
                std::min<Eigen::Index>(batch_size, n - static_cast<Eigen::Index>(first));
            {
                profile::Scope phase(profile::Phase::other);
                nn::detail::gather_rows(train_view, order, first, rows, batch);
                batch_labels.resize(static_cast<std::size_t>(rows));
                for (Eigen::Index r = 0; r < rows; ++r)
                    batch_labels[static_cast<std::size_t>(r)] =
                        train_labels[order[first + static_cast<std::size_t>(r)]];
            }
            return std::make_pair(triplet_step(batch, batch_labels, margin), rows);
        };
        auto validate = [&](nn::EpochStats& stats) {
            validate_pairs(test, test_pairs, training, stats);
        };
        return fit_with_callbacks(
            *this, options, optimizer, rng, n, [&](const nn::FitOptions& run) {
                return nn::detail::run_epochs(*this, run, optimizer, rng,
                                              (n + batch_size - 1) / batch_size, start_epoch,
                                              run_batch, validate);
            });
    }

    /// Trains the tower on the caller's own pairs of rows of `data` (n x input): pair p is
    /// (row pairs.first[p], row pairs.second[p]) with flag pairs.similar[p].
    ///  - contrastive: similar 1 pulls the pair together, 0 pushes it to the margin.
    ///  - multiple_negatives: every pair is (anchor, positive), so every flag must be 1; the
    ///    other positives of a batch are the negatives.
    /// `batch_size` pairs make a batch; the pairs are shuffled every epoch (FitOptions::shuffle).
    /// Validation and the history as in the labelled fit; for multiple_negatives,
    /// val_accuracy uses the cosine distance 1 - cos instead of the Euclidean one.
    /// Throws as the labelled fit, plus DimensionError when the pair lists differ in length;
    /// ArgumentError when there are no pairs, a pair refers past the rows of `data`, a flag is
    /// neither 0 nor 1 (or is 0 for multiple_negatives), or the loss is triplet (which needs
    /// class labels).
    template <class DT, class DV>
    nn::History fit(const Eigen::MatrixBase<DT>& data, const data::Pairs& pairs,
                    const Eigen::MatrixBase<DV>& test, const data::Pairs& test_pairs,
                    const FitOptions& options, const SiameseTraining& training,
                    nn::Optimizer<Scalar>& optimizer, Rng& rng) {
        static_assert(std::is_same_v<typename DT::Scalar, Scalar> &&
                          std::is_same_v<typename DV::Scalar, Scalar>,
                      "embedkit::models::Siamese::fit: the data must have the model's scalar type");
        const auto view = embedkit::detail::view_set("models::Siamese::fit", "training data", data);
        const auto test_view =
            embedkit::detail::view_set("models::Siamese::fit", "test data", test);
        nn::detail::check_fit_options(options);
        check_inputs(view, "training data", nullptr, test_view, test_pairs, training);
        check_pair_lists(std::string(fit_name) + "training pairs", pairs);
        check_training_pairs(pairs.size(), pairs.similar, training);
        for (std::size_t p = 0; p < pairs.size(); ++p)
            if (pairs.first[p] >= view.rows || pairs.second[p] >= view.rows)
                throw ArgumentError(std::string(fit_name) + "training pair " + std::to_string(p) +
                                    " refers past the " + std::to_string(view.rows) +
                                    " rows of the training data");
        const auto items = static_cast<Eigen::Index>(pairs.size());
        return train_on_pairs(
            view, view, items, items, [](Rng&) {},
            [&](std::size_t p) {
                return PairRef{pairs.first[p], pairs.second[p], pairs.similar[p]};
            },
            test, test_pairs, options, training, optimizer, rng);
    }

    /// Trains the tower on pairs given as two matrices of the same shape (n x input): pair p is
    /// (row p of `first`, row p of `second`) with flag similar[p] (n entries, 0 or 1). For
    /// multiple_negatives, `first` holds the anchors and `second` their positives, and
    /// `similar` may be empty (all pairs positive) or all 1. Otherwise as fit(data, pairs, ...).
    /// Throws DimensionError when first and second differ in shape or similar has neither n
    /// entries nor (multiple_negatives) none; otherwise as fit(data, pairs, ...).
    template <class DA, class DB, class DV>
    nn::History fit(const Eigen::MatrixBase<DA>& first, const Eigen::MatrixBase<DB>& second,
                    const std::vector<std::uint8_t>& similar, const Eigen::MatrixBase<DV>& test,
                    const data::Pairs& test_pairs, const FitOptions& options,
                    const SiameseTraining& training, nn::Optimizer<Scalar>& optimizer, Rng& rng) {
        static_assert(std::is_same_v<typename DA::Scalar, Scalar> &&
                          std::is_same_v<typename DB::Scalar, Scalar> &&
                          std::is_same_v<typename DV::Scalar, Scalar>,
                      "embedkit::models::Siamese::fit: the data must have the model's scalar type");
        const auto a = embedkit::detail::view_set("models::Siamese::fit", "first", first);
        const auto b = embedkit::detail::view_set("models::Siamese::fit", "second", second);
        const auto test_view =
            embedkit::detail::view_set("models::Siamese::fit", "test data", test);
        nn::detail::check_fit_options(options);
        if (a.rows != b.rows || a.cols != b.cols)
            throw DimensionError(std::string(fit_name) + "first is " + std::to_string(a.rows) +
                                 "x" + std::to_string(a.cols) + " but second is " +
                                 std::to_string(b.rows) + "x" + std::to_string(b.cols) +
                                 " (row p of each make pair p)");
        const bool all_positive =
            training.loss == SiameseLoss::multiple_negatives && similar.empty();
        if (!all_positive && similar.size() != static_cast<std::size_t>(a.rows))
            throw DimensionError(std::string(fit_name) + "similar has " +
                                 std::to_string(similar.size()) + " entries but there are " +
                                 std::to_string(a.rows) + " pairs");
        check_inputs(a, "first", nullptr, test_view, test_pairs, training);
        detail::check_values("Siamese", "fit", "second", b);
        check_training_pairs(static_cast<std::size_t>(a.rows), similar, training);
        return train_on_pairs(
            a, b, a.rows, a.rows, [](Rng&) {},
            [&](std::size_t p) {
                return PairRef{p, p, all_positive ? std::uint8_t(1) : similar[p]};
            },
            test, test_pairs, options, training, optimizer, rng);
    }

    /// Embeddings of every row of `data` (n x input): n x embedding_size(), in batches.
    template <class D>
    Matrix embed(const Eigen::MatrixBase<D>& data, Eigen::Index batch_size = 1000) const {
        const auto view = embedkit::detail::view_set("models::Siamese::embed", "data", data);
        if (view.cols != options_.input)
            throw DimensionError("embedkit::models::Siamese::embed: data must have " +
                                 std::to_string(options_.input) + " columns, got " +
                                 std::to_string(view.cols));
        if (batch_size <= 0)
            throw ArgumentError("embedkit::models::Siamese::embed: batch_size must be positive");
        return detail::map_in_batches<Scalar>(
            view, batch_size, embedding_size(),
            [&](const Matrix& b, Matrix& out) { tower().infer(b, out); });
    }

    /// Euclidean distance between the embeddings of the two members of every pair (indices
    /// into `data`'s rows). Throws as embed(), DimensionError when the pair lists differ in
    /// length, ArgumentError when a pair refers past the rows of `data`.
    template <class D>
    Vector<Scalar> pair_distances(const Eigen::MatrixBase<D>& data,
                                  const data::Pairs& pairs) const {
        check_pair_lists("embedkit::models::Siamese::pair_distances: pairs", pairs);
        for (std::size_t p = 0; p < pairs.size(); ++p)
            if (pairs.first[p] >= data.rows() || pairs.second[p] >= data.rows())
                throw ArgumentError("embedkit::models::Siamese::pair_distances: pair " +
                                    std::to_string(p) + " refers past the " +
                                    std::to_string(data.rows()) + " rows");
        const Matrix emb = embed(data);
        Vector<Scalar> d(static_cast<Eigen::Index>(pairs.size()));
        for (std::size_t p = 0; p < pairs.size(); ++p)
            d(static_cast<Eigen::Index>(p)) =
                (emb.row(pairs.first[p]) - emb.row(pairs.second[p])).norm();
        return d;
    }

    // ---- Training interface (nn::detail::run_epochs).
    std::vector<nn::Parameter<Scalar>> parameters() { return net_.parameters(); }
    std::vector<nn::ConstParameter<Scalar>> parameters() const { return net_.parameters(); }

    /// One contrastive step on `batch` = [first members; second members] (2 rows x pairs):
    /// forward, loss, backward; gradients land in parameters(). Returns the mean loss.
    /// Throws DimensionError when batch.rows() != 2 * pairs (or as nn::contrastive_loss).
    double contrastive_step(const Matrix& batch, Eigen::Index pairs,
                            const std::vector<std::uint8_t>& similar, Scalar margin) {
        if (pairs < 0 || batch.rows() != 2 * pairs)
            throw DimensionError(
                "embedkit::models::Siamese::contrastive_step: the batch must hold 2 x " +
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

    /// One multiple-negatives step on `batch` = [anchors; positives] (2 rows x pairs): forward,
    /// loss, backward. Returns the mean loss. Throws DimensionError when batch.rows() != 2 *
    /// pairs (or as nn::multiple_negatives_ranking_loss).
    double multiple_negatives_step(const Matrix& batch, Eigen::Index pairs, Scalar scale) {
        if (pairs < 0 || batch.rows() != 2 * pairs)
            throw DimensionError(
                "embedkit::models::Siamese::multiple_negatives_step: the batch must hold 2 x " +
                std::to_string(pairs) + " rows (anchors, then positives), got " +
                std::to_string(batch.rows()));
        const Matrix& e = tower().forward(batch);
        double loss;
        {
            profile::Scope phase(profile::Phase::loss);
            a_ = e.topRows(pairs);
            b_ = e.bottomRows(pairs);
            loss = nn::multiple_negatives_ranking_loss(a_, b_, scale, grad_a_, grad_b_);
            grad_.resize(2 * pairs, e.cols());
            grad_.topRows(pairs) = grad_a_;
            grad_.bottomRows(pairs) = grad_b_;
        }
        tower().backward(grad_, false);
        return loss;
    }

    /// One batch-hard triplet step on `batch` with `labels` (any integer type). Returns the
    /// mean loss.
    template <class L>
    double triplet_step(const Matrix& batch, const std::vector<L>& labels, Scalar margin) {
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
    static constexpr const char* fit_name = "embedkit::models::Siamese::fit: ";

    // One training pair: a row of the first set, a row of the second, and its flag.
    struct PairRef {
        std::size_t first, second;
        std::uint8_t similar;
    };

    // The checks every fit shares; `labels` (the label count) is null for the pair forms.
    template <class S>
    void check_inputs(const embedkit::detail::SetView<S>& train, const char* what,
                      const std::size_t* labels, const embedkit::detail::SetView<S>& test,
                      const data::Pairs& test_pairs, const SiameseTraining& training) const {
        const std::string fn = fit_name;
        if (train.rows == 0) throw ArgumentError(fn + "the " + what + " is empty");
        if (train.cols != options_.input)
            throw DimensionError(fn + "the model takes " + std::to_string(options_.input) +
                                 " columns, the " + what + " has " + std::to_string(train.cols));
        if (labels != nullptr && static_cast<Eigen::Index>(*labels) != train.rows)
            throw DimensionError(fn + "training data has " + std::to_string(train.rows) +
                                 " rows but " + std::to_string(*labels) + " labels");
        if (test_pairs.size() > 0 && test.cols != options_.input)
            throw DimensionError(fn + "the model takes " + std::to_string(options_.input) +
                                 " columns, the test data has " + std::to_string(test.cols));
        check_pair_lists(fn + "test pairs", test_pairs);
        for (std::size_t p = 0; p < test_pairs.size(); ++p) {
            if (test_pairs.first[p] >= test.rows || test_pairs.second[p] >= test.rows)
                throw ArgumentError(fn + "test pair " + std::to_string(p) + " refers past the " +
                                    std::to_string(test.rows) + " test rows");
            // Checked here rather than by the loss after the first epoch's training.
            if (test_pairs.similar[p] > 1)
                throw ArgumentError(fn + "test pair " + std::to_string(p) + " has similar = " +
                                    std::to_string(test_pairs.similar[p]) + ", expected 0 or 1");
        }
        if (!(training.margin > 0) || !std::isfinite(training.margin))
            throw ArgumentError(fn + "margin must be positive, got " +
                                nn::detail::format_number(training.margin));
        if (training.loss == SiameseLoss::multiple_negatives &&
            (!(training.scale > 0) || !std::isfinite(training.scale)))
            throw ArgumentError(fn + "scale must be positive and finite, got " +
                                nn::detail::format_number(training.scale));
        if (!(training.threshold > 0) || !std::isfinite(training.threshold))
            throw ArgumentError(fn + "threshold must be positive, got " +
                                nn::detail::format_number(training.threshold));
        detail::check_values("Siamese", "fit", what, train);
        if (test_pairs.size() > 0) detail::check_values("Siamese", "fit", "test data", test);
    }

    // The caller's training pairs: some, with flags 0 or 1 (1 only for multiple_negatives),
    // and a loss that trains on pairs. An empty `similar` means "all 1" (checked by the caller).
    static void check_training_pairs(std::size_t count, const std::vector<std::uint8_t>& similar,
                                     const SiameseTraining& training) {
        const std::string fn = fit_name;
        if (training.loss == SiameseLoss::triplet)
            throw ArgumentError(
                fn + "the triplet loss needs class labels (fit(train, labels, ...)), not pairs");
        if (count == 0) throw ArgumentError(fn + "no training pairs");
        for (std::size_t p = 0; p < similar.size(); ++p) {
            if (similar[p] > 1)
                throw ArgumentError(fn + "training pair " + std::to_string(p) + " has similar = " +
                                    std::to_string(similar[p]) + ", expected 0 or 1");
            if (similar[p] == 0 && training.loss == SiameseLoss::multiple_negatives)
                throw ArgumentError(fn + "training pair " + std::to_string(p) +
                                    " has similar = 0, but the multiple_negatives loss takes "
                                    "(anchor, positive) pairs "
                                    "only (the other positives of a batch are the negatives)");
        }
    }

    // The fit loop over pairs: `items` pairs per epoch, `start(rng)` (re)makes them at the
    // start of an epoch, `pair_at(p)` gives pair p as rows of `a` and `b`.
    template <class DV, class Start, class PairAt>
    nn::History train_on_pairs(const embedkit::detail::SetView<Scalar>& a,
                               const embedkit::detail::SetView<Scalar>& b, Eigen::Index train_rows,
                               Eigen::Index items, Start&& start, PairAt&& pair_at,
                               const Eigen::MatrixBase<DV>& test, const data::Pairs& test_pairs,
                               const FitOptions& options, const SiameseTraining& training,
                               nn::Optimizer<Scalar>& optimizer, Rng& rng) {
        const Eigen::Index batch_size = options.batch_size;
        const bool contrastive = training.loss == SiameseLoss::contrastive;
        const auto margin = static_cast<Scalar>(training.margin);
        const auto scale = static_cast<Scalar>(training.scale);
        std::vector<std::size_t> order;
        std::vector<std::uint8_t> similar;
        Matrix batch;
        auto start_epoch = [&](Rng& r) {
            start(r);
            order.resize(static_cast<std::size_t>(items));
            std::iota(order.begin(), order.end(), std::size_t(0));
            if (options.shuffle) r.shuffle(order);
        };
        auto run_batch = [&](Eigen::Index bi, Rng&) {
            const std::size_t first = static_cast<std::size_t>(bi * batch_size);
            const Eigen::Index rows =
                std::min<Eigen::Index>(batch_size, items - static_cast<Eigen::Index>(first));
            {
                profile::Scope phase(profile::Phase::other);
                batch.resize(2 * rows, a.cols);
                similar.resize(static_cast<std::size_t>(rows));
                const auto row_bytes = sizeof(Scalar) * static_cast<std::size_t>(a.cols);
                for (Eigen::Index r = 0; r < rows; ++r) {
                    const PairRef p = pair_at(order[first + static_cast<std::size_t>(r)]);
                    std::memcpy(batch.row(r).data(), a.row(static_cast<Eigen::Index>(p.first)),
                                row_bytes);
                    std::memcpy(batch.row(rows + r).data(),
                                b.row(static_cast<Eigen::Index>(p.second)), row_bytes);
                    similar[static_cast<std::size_t>(r)] = p.similar;
                }
            }
            const double loss = contrastive ? contrastive_step(batch, rows, similar, margin)
                                            : multiple_negatives_step(batch, rows, scale);
            return std::make_pair(loss, rows);
        };
        auto validate = [&](nn::EpochStats& stats) {
            validate_pairs(test, test_pairs, training, stats);
        };
        return fit_with_callbacks(
            *this, options, optimizer, rng, train_rows, [&](const nn::FitOptions& run) {
                return nn::detail::run_epochs(*this, run, optimizer, rng,
                                              (items + batch_size - 1) / batch_size, start_epoch,
                                              run_batch, validate);
            });
    }

    // Pair accuracy (and, for the contrastive loss, the loss) on the test pairs; the distance
    // is Euclidean, or 1 - cos for multiple_negatives (whose embeddings are compared by cosine).
    template <class DV>
    void validate_pairs(const Eigen::MatrixBase<DV>& test, const data::Pairs& test_pairs,
                        const SiameseTraining& training, nn::EpochStats& stats) const {
        if (test_pairs.size() == 0) return;
        const Matrix emb = embed(test, 1000);
        Matrix a(static_cast<Eigen::Index>(test_pairs.size()), emb.cols()),
            bm(a.rows(), emb.cols());
        for (std::size_t p = 0; p < test_pairs.size(); ++p) {
            a.row(static_cast<Eigen::Index>(p)) = emb.row(test_pairs.first[p]);
            bm.row(static_cast<Eigen::Index>(p)) = emb.row(test_pairs.second[p]);
        }
        Vector<Scalar> d;
        Matrix ga, gb;
        const double loss = nn::contrastive_loss(a, bm, test_pairs.similar,
                                                 static_cast<Scalar>(training.margin), ga, gb, &d);
        if (training.loss == SiameseLoss::contrastive) stats.val_loss = loss;
        if (training.loss == SiameseLoss::multiple_negatives)
            for (Eigen::Index p = 0; p < d.size(); ++p)
                d[p] = embedkit::cosine_distance(a.row(p).data(), bm.row(p).data(),
                                                 static_cast<std::size_t>(a.cols()));
        stats.val_accuracy =
            eval::pair_accuracy(d, test_pairs.similar, static_cast<Scalar>(training.threshold));
    }

    // The three lists of a Pairs must have one entry per pair.
    static void check_pair_lists(const std::string& what, const data::Pairs& pairs) {
        if (pairs.second.size() != pairs.first.size() || pairs.similar.size() != pairs.first.size())
            throw DimensionError(what + " have lists of different lengths (first " +
                                 std::to_string(pairs.first.size()) + ", second " +
                                 std::to_string(pairs.second.size()) + ", similar " +
                                 std::to_string(pairs.similar.size()) + ")");
    }

    nn::Sequential<Scalar>& tower() { return net_[0]; }
    const nn::Sequential<Scalar>& tower() const { return net_[0]; }

    SiameseOptions options_;
    Networks<Scalar> net_;
    Matrix a_, b_, grad_a_, grad_b_, grad_;
};

}  // namespace embedkit::models
