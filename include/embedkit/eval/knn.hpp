// Evaluation of embeddings: k-nearest-neighbour classification accuracy and pair accuracy.
#pragma once

#include "../core/error.hpp"
#include "../core/labels.hpp"
#include "../core/types.hpp"
#include "../core/detail/set_view.hpp"
#include "../distance/metric.hpp"
#include "../distance/topk.hpp"

#include <Eigen/Core>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace embedkit::eval {

/// Result of knn_accuracy: accuracies in [0, 1] and the predicted label of every test row, in
/// the caller's label type L (any integer type, see core/labels.hpp).
template <class L>
struct BasicKnnResult {
    static_assert(is_label_type_v<L>,
                  "embedkit::eval::BasicKnnResult: labels must be of an integer type");
    double accuracy_at_1 = 0;  ///< the nearest training row's label is right
    double accuracy_at_k = 0;  ///< the majority label of the k nearest is right
    Eigen::Index k = 0;        ///< neighbours that voted: min(k requested, training rows)
    std::vector<L> predicted_1, predicted_k;  ///< per test row
};

/// The result for uint8_t labels (MNIST's).
using KnnResult = BasicKnnResult<std::uint8_t>;

namespace detail {

template <class T>
struct non_deduced {
    using type = T;
};

inline void check_label_count(const char* fn, const char* what, std::size_t labels,
                              Eigen::Index rows) {
    if (labels != static_cast<std::size_t>(rows))
        throw DimensionError(std::string("embedkit::eval::") + fn + ": " + what + " has " +
                             std::to_string(labels) + " labels but " + std::to_string(rows) +
                             " rows");
}

}  // namespace detail

/// Classifies every test embedding by its nearest training embeddings and measures accuracy.
///
/// train_embeddings: n x d with labels train_labels (n); test_embeddings: m x d with labels
/// test_labels (m), of one integer type L (uint8_t, int32_t, int64_t, ...: labels are
/// compared, never narrowed; predictions come back as L); both row-major sets (RowMatrix, Map or
/// row block, as for top_k; a column-major matrix is a compile-time error). The k nearest training
/// rows of every test row come from embedkit::top_k under `metric` (best first, equal scores by
/// lower index). predicted_1 is the label of the nearest one; predicted_k the label held by most of
/// the min(k, n) nearest, a tie between labels going to the label whose best-ranked member is
/// nearer. Accuracies are the fractions of test rows whose prediction equals their label.
///
/// Throws DimensionError when a label count differs from its set's rows or the dimensions
/// differ; ArgumentError when k <= 0 or either set is empty.
template <class DTrain, class DTest, class L>
BasicKnnResult<L> knn_accuracy(const Eigen::MatrixBase<DTrain>& train_embeddings,
                               const std::vector<L>& train_labels,
                               const Eigen::MatrixBase<DTest>& test_embeddings,
                               const std::vector<L>& test_labels, Eigen::Index k = 5,
                               Metric metric = Metric::l2) {
    static_assert(is_label_type_v<L>,
                  "embedkit::eval::knn_accuracy: labels must be std::vectors of one integer type "
                  "(uint8_t, int32_t, int64_t, ...), not bool or floating point");
    static_assert(std::is_same_v<typename DTrain::Scalar, typename DTest::Scalar>,
                  "embedkit::eval::knn_accuracy: training and test embeddings must have the same "
                  "scalar type");
    const auto train = embedkit::detail::view_set("eval::knn_accuracy", "the training embeddings",
                                                  train_embeddings);
    const auto test =
        embedkit::detail::view_set("eval::knn_accuracy", "the test embeddings", test_embeddings);
    detail::check_label_count("knn_accuracy", "train_labels", train_labels.size(), train.rows);
    detail::check_label_count("knn_accuracy", "test_labels", test_labels.size(), test.rows);
    if (k <= 0)
        throw ArgumentError("embedkit::eval::knn_accuracy: k must be positive, got " +
                            std::to_string(k));
    if (train.rows == 0)
        throw ArgumentError("embedkit::eval::knn_accuracy: the training embeddings are empty");
    if (test.rows == 0)
        throw ArgumentError("embedkit::eval::knn_accuracy: the test embeddings are empty");
    if (train.cols != test.cols)
        throw DimensionError("embedkit::eval::knn_accuracy: training embeddings have " +
                             std::to_string(train.cols) + " columns but test embeddings have " +
                             std::to_string(test.cols));

    const auto nearest = top_k(test_embeddings, train_embeddings, k, metric);
    const Eigen::Index kk = nearest.indices.cols();
    // Votes are counted per dense class of the training labels (whatever their range).
    const auto cls = embedkit::detail::label_classes(train_labels);
    BasicKnnResult<L> out;
    out.k = kk;
    out.predicted_1.resize(test_labels.size());
    out.predicted_k.resize(test_labels.size());
    std::size_t right_1 = 0, right_k = 0;
    std::vector<Eigen::Index> votes(cls.count(), 0);
    std::vector<std::size_t> seen;  // classes in order of first appearance, i.e. of their best rank
    seen.reserve(static_cast<std::size_t>(kk));
    for (Eigen::Index i = 0; i < test.rows; ++i) {
        seen.clear();
        for (Eigen::Index r = 0; r < kk; ++r) {
            const std::size_t c = cls.classes[static_cast<std::size_t>(nearest.indices(i, r))];
            if (votes[c]++ == 0) seen.push_back(c);
        }
        // Strictly more votes wins; among equal counts the earlier-seen (nearer) class stays.
        std::size_t winner = seen.front();
        for (std::size_t c : seen)
            if (votes[c] > votes[winner]) winner = c;
        for (std::size_t c : seen) votes[c] = 0;
        const auto iu = static_cast<std::size_t>(i);
        out.predicted_1[iu] = cls.values[seen.front()];
        out.predicted_k[iu] = cls.values[winner];
        right_1 += out.predicted_1[iu] == test_labels[iu];
        right_k += out.predicted_k[iu] == test_labels[iu];
    }
    out.accuracy_at_1 = static_cast<double>(right_1) / static_cast<double>(test.rows);
    out.accuracy_at_k = static_cast<double>(right_k) / static_cast<double>(test.rows);
    return out;
}

/// Fraction of pairs classified right when a pair is predicted "similar" if its distance is
/// below `threshold` (strictly) and "dissimilar" otherwise; a NaN distance counts as
/// dissimilar. distances: n pair distances; similar: n truths (1 = same class, 0 = not).
///
/// Throws DimensionError when the sizes differ; ArgumentError when n = 0, the threshold is
/// NaN, or an entry of `similar` is neither 0 nor 1.
template <class Scalar>
double pair_accuracy(const Vector<Scalar>& distances, const std::vector<std::uint8_t>& similar,
                     typename detail::non_deduced<Scalar>::type threshold = Scalar(0.5)) {
    static_assert(is_supported_scalar_v<Scalar>,
                  "embedkit::eval::pair_accuracy supports float and double");
    if (similar.size() != static_cast<std::size_t>(distances.size()))
        throw DimensionError("embedkit::eval::pair_accuracy: " + std::to_string(distances.size()) +
                             " distances but " + std::to_string(similar.size()) + " similar flags");
    if (similar.empty()) throw ArgumentError("embedkit::eval::pair_accuracy: no pairs");
    if (std::isnan(threshold))
        throw ArgumentError("embedkit::eval::pair_accuracy: the threshold is NaN");
    std::size_t right = 0;
    for (std::size_t i = 0; i < similar.size(); ++i) {
        if (similar[i] > 1)
            throw ArgumentError("embedkit::eval::pair_accuracy: similar[" + std::to_string(i) +
                                "] must be 0 or 1, got " + std::to_string(similar[i]));
        const bool predicted = distances[static_cast<Eigen::Index>(i)] < threshold;
        right += predicted == (similar[i] == 1);
    }
    return static_cast<double>(right) / static_cast<double>(similar.size());
}

}  // namespace embedkit::eval
