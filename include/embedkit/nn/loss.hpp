// Losses with their gradients: binary cross-entropy from logits, mean squared error, the
// KL divergence of a diagonal Gaussian from N(0, I), and the contrastive, batch-hard triplet
// and in-batch-negatives (multiple negatives ranking, InfoNCE) losses of metric learning.
#pragma once

#include "../core/error.hpp"
#include "../core/labels.hpp"
#include "../core/types.hpp"
#include "../linalg/elementwise.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace embedkit::nn {

namespace detail {

template <class A, class B>
void check_same_shape(const char* fn, const A& a, const char* a_name, const B& b,
                      const char* b_name) {
    if (a.rows() != b.rows() || a.cols() != b.cols())
        throw DimensionError(std::string("embedkit::nn::") + fn + ": " + a_name + " is " +
                             std::to_string(a.rows()) + "x" + std::to_string(a.cols()) + " but " +
                             b_name + " is " + std::to_string(b.rows()) + "x" +
                             std::to_string(b.cols()));
    if (a.rows() == 0) throw ArgumentError(std::string("embedkit::nn::") + fn + ": empty batch");
}

}  // namespace detail

/// Binary cross-entropy between targets t in [0, 1] and sigmoid(logits), computed from the
/// logits in the stable form  max(x, 0) - x t + log1p(exp(-|x|)),  which never takes log(0)
/// and never overflows, however saturated the logits.
///
/// Reduction: summed over the columns (features) of a sample, averaged over the rows
/// (samples). For 784-pixel images this is Keras's `784 * binary_crossentropy`. Writes
/// d loss / d logits = (sigmoid(x) - t) / rows into `grad` (resized to logits' shape) and
/// returns the loss. Throws DimensionError when the shapes differ, ArgumentError when empty.
template <class Scalar, class DerivedT>
double bce_with_logits(const RowMatrix<Scalar>& logits, const Eigen::MatrixBase<DerivedT>& targets,
                       RowMatrix<Scalar>& grad) {
    detail::check_same_shape("bce_with_logits", logits, "logits", targets, "targets");
    grad.resize(logits.rows(), logits.cols());
    if constexpr (std::is_same_v<Scalar, float>) {
        // The run-time level's kernel (linalg/elementwise.hpp) where there is one.
        if (const auto* k = linalg::detail::elementwise_kernels(simd::active())) {
            // The kernel reads the targets as one run of values: a block whose rows are
            // further apart than their length (X.leftCols(k)) is copied first.
            const Eigen::Ref<const RowMatrix<float>> t(targets.derived());
            RowMatrix<float> packed;
            const float* tp = t.data();
            if (t.rows() > 1 && t.outerStride() != t.cols()) {
                packed = t;
                tp = packed.data();
            }
            return k->bce_with_logits(logits.data(), tp, logits.size(),
                                      1.0f / static_cast<float>(logits.rows()), grad.data()) /
                   static_cast<double>(logits.rows());
        }
    }
    const auto x = logits.array();
    const auto t = targets.derived().array();
    // e = exp(-|x|) in (0, 1]: sigmoid(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0.
    // `grad` holds e first, then the gradient, so the loss needs no extra buffer.
    auto g = grad.array();
    g = (-x.abs()).exp();
    const double total = static_cast<double>((x.max(Scalar(0)) - x * t + g.log1p()).sum());
    const Scalar inv_n = Scalar(1) / static_cast<Scalar>(logits.rows());
    g = ((x >= Scalar(0)).select(Scalar(1) / (Scalar(1) + g), g / (Scalar(1) + g)) - t) * inv_n;
    return total / static_cast<double>(logits.rows());
}

/// Mean squared error, averaged over every element (Keras's "mse"). Writes
/// d loss / d prediction = 2 (p - t) / (rows * cols) into `grad` and returns the loss.
template <class Scalar, class DerivedT>
double mean_squared_error(const RowMatrix<Scalar>& prediction,
                          const Eigen::MatrixBase<DerivedT>& targets, RowMatrix<Scalar>& grad) {
    detail::check_same_shape("mean_squared_error", prediction, "prediction", targets, "targets");
    const double count = static_cast<double>(prediction.size());
    grad = prediction - targets.derived();
    const double total = static_cast<double>(grad.squaredNorm());
    grad *= static_cast<Scalar>(2.0 / count);
    return total / count;
}

/// The largest log-variance whose exp() the KL term and the VAE's sampling evaluate: larger
/// values are clamped (and pass no gradient), because exp(x) overflows float above ~88.7.
template <class Scalar>
constexpr Scalar max_log_variance() noexcept {
    return Scalar(80);
}

/// KL divergence of N(mu, exp(log_var)) from N(0, I), per sample
///   -1/2 * sum_j (1 + log_var_j - mu_j² - exp(log_var_j)),
/// averaged over the rows (samples). Writes d/d mu = mu / rows and
/// d/d log_var = (exp(log_var) - 1) / (2 rows) and returns the loss. Log-variances above
/// max_log_variance() are clamped there (their gradient is 0).
template <class Scalar>
double kl_standard_normal(const RowMatrix<Scalar>& mu, const RowMatrix<Scalar>& log_var,
                          RowMatrix<Scalar>& grad_mu, RowMatrix<Scalar>& grad_log_var) {
    detail::check_same_shape("kl_standard_normal", mu, "mu", log_var, "log_var");
    const Scalar cap = max_log_variance<Scalar>();
    const auto lv = log_var.array().min(cap);
    const double total =
        -0.5 * static_cast<double>((Scalar(1) + lv - mu.array().square() - lv.exp()).sum());
    const Scalar inv_n = Scalar(1) / static_cast<Scalar>(mu.rows());
    grad_mu = mu * inv_n;
    grad_log_var.resize(mu.rows(), mu.cols());
    grad_log_var.array() =
        (log_var.array() > cap).select(Scalar(0), (lv.exp() - Scalar(1)) * (Scalar(0.5) * inv_n));
    return total / static_cast<double>(mu.rows());
}

namespace detail {

// Makes a parameter non-deduced, so that a margin or threshold written as a double literal
// works with float matrices (the scalar comes from the matrices).
template <class T>
struct non_deduced {
    using type = T;
};
template <class T>
using non_deduced_t = typename non_deduced<T>::type;

// Distances at or below this have no usable direction: the squares of their components
// (about d^2 < the smallest normal number) may have underflowed, so (x - y) / d could be
// garbage or 0/0. The gradient terms that need that direction take 0 there (see below).
template <class Scalar>
inline Scalar direction_floor() noexcept {
    return std::sqrt(std::numeric_limits<Scalar>::min());
}

template <class Scalar>
void check_margin(const char* fn, Scalar margin) {
    if (!(margin > Scalar(0)) || !std::isfinite(margin)) {
        std::ostringstream got;
        got << static_cast<double>(margin);
        throw ArgumentError(std::string("embedkit::nn::") + fn +
                            ": margin must be positive and finite, got " + got.str());
    }
}

inline void check_label_count(const char* fn, const char* what, std::size_t count,
                              Eigen::Index rows) {
    if (count != static_cast<std::size_t>(rows))
        throw DimensionError(std::string("embedkit::nn::") + fn + ": " + what + " has " +
                             std::to_string(count) + " entries but there are " +
                             std::to_string(rows) + " rows");
}

inline void check_zero_one(const char* fn, const std::vector<std::uint8_t>& similar) {
    for (std::size_t i = 0; i < similar.size(); ++i)
        if (similar[i] > 1)
            throw ArgumentError(std::string("embedkit::nn::") + fn + ": similar[" +
                                std::to_string(i) + "] must be 0 or 1, got " +
                                std::to_string(similar[i]));
}

}  // namespace detail

/// Euclidean distance between row i of `a` and row i of `b`, for every i.
///
/// a, b: n x d (one embedding per row). Returns n distances ||a_i - b_i||_2. Throws
/// DimensionError when the shapes differ, ArgumentError when n = 0.
template <class Scalar>
Vector<Scalar> pair_distances(const RowMatrix<Scalar>& a, const RowMatrix<Scalar>& b) {
    static_assert(is_supported_scalar_v<Scalar>,
                  "embedkit::nn::pair_distances supports float and double");
    detail::check_same_shape("pair_distances", a, "a", b, "b");
    return (a - b).rowwise().norm();
}

/// Contrastive loss of Hadsell, Chopra & LeCun (2006), "Dimensionality Reduction by Learning
/// an Invariant Mapping", for n pairs (a_i, b_i) with d_i = ||a_i - b_i||_2:
///
///   L = (1/n) sum_i [ similar_i = 1 ?  d_i^2  :  max(0, margin - d_i)^2 ]
///
/// Convention: similar = 1 means "same class, pull together", 0 means "push apart to at
/// least `margin`". Reduction: the mean over the pairs, without the paper's factor 1/2 (so
/// the gradients are twice the paper's). Returns L and writes
///
///   dL/da_i = (2/n) (a_i - b_i)                                 similar pairs
///           = -(2/n) (margin - d_i) (a_i - b_i) / d_i           dissimilar, d_i < margin
///           = 0                                                 dissimilar, d_i >= margin
///
/// into `grad_a` and dL/db_i = -dL/da_i into `grad_b` (both resized to n x d). At d_i = 0 a
/// dissimilar pair's term margin^2 has a gradient of norm 2 margin / n but no defined
/// direction; the subgradient 0 is used there (and for d_i below sqrt(smallest normal),
/// where the direction cannot be computed reliably), so nothing is ever divided by 0. When
/// `distances` is not null it receives the n distances d_i. NaN inputs give a NaN loss.
///
/// Throws DimensionError when a and b differ in shape or similar.size() != n;
/// ArgumentError when n = 0, margin is not positive and finite, or an entry of `similar` is
/// neither 0 nor 1.
template <class Scalar>
double contrastive_loss(const RowMatrix<Scalar>& a, const RowMatrix<Scalar>& b,
                        const std::vector<std::uint8_t>& similar,
                        detail::non_deduced_t<Scalar> margin, RowMatrix<Scalar>& grad_a,
                        RowMatrix<Scalar>& grad_b, Vector<Scalar>* distances = nullptr) {
    static_assert(is_supported_scalar_v<Scalar>,
                  "embedkit::nn::contrastive_loss supports float and double");
    detail::check_same_shape("contrastive_loss", a, "a", b, "b");
    detail::check_label_count("contrastive_loss", "similar", similar.size(), a.rows());
    detail::check_margin("contrastive_loss", margin);
    detail::check_zero_one("contrastive_loss", similar);
    const Eigen::Index n = a.rows();
    const Scalar scale = Scalar(2) / static_cast<Scalar>(n);
    const Scalar tiny = detail::direction_floor<Scalar>();
    if (distances != nullptr) distances->resize(n);
    grad_a = a - b;  // the differences first, scaled into gradients row by row
    double total = 0;
    for (Eigen::Index i = 0; i < n; ++i) {
        auto g = grad_a.row(i);
        const Scalar d2 = g.squaredNorm();
        const Scalar d = std::sqrt(d2);
        if (distances != nullptr) (*distances)[i] = d;
        if (similar[static_cast<std::size_t>(i)] != 0) {
            total += static_cast<double>(d2);
            g *= scale;
        } else if (d >= margin) {  // beyond the margin: no loss, no gradient (NaN goes below)
            g.setZero();
        } else {
            const Scalar gap = margin - d;
            total += static_cast<double>(gap) * static_cast<double>(gap);
            if (d > tiny)
                g *= -scale * gap / d;
            else
                g.setZero();
        }
    }
    grad_b = -grad_a;
    return total / static_cast<double>(n);
}

/// Batch-hard triplet loss of Hermans, Beyer & Leibe (2017), "In Defense of the Triplet
/// Loss for Person Re-Identification".
///
/// embeddings: n x d, one sample per row; labels: n class labels of any integer type (only
/// compared for equality, never converted: see core/labels.hpp). For every anchor i, the
/// hardest positive p(i) is the farthest other sample with i's label and the hardest
/// negative q(i) the nearest sample with another label (Euclidean distance; equal distances
/// go to the lower index). Anchors with no positive or no negative are skipped; over the m
/// remaining anchors
///
///   L = (1/m) sum_i max(0, margin + d(i, p(i)) - d(i, q(i)))
///
/// and the gradient of each active term flows to the anchor, its hardest positive and its
/// hardest negative; `grad` (resized to n x d) receives dL/d embeddings, accumulated over
/// all anchors. As in contrastive_loss, a distance of 0 (or below sqrt(smallest normal))
/// contributes the subgradient 0 for its direction, so nothing is divided by 0. If no anchor
/// has both a positive and a negative, the loss and gradient are 0.
///
/// The hardest partners are selected from the n x n distances computed with one matrix
/// product (|x|^2 + |y|^2 - 2 x.y, whose rounding can swap partners whose distances agree
/// to about eps * (|x|^2 + |y|^2)); the selected distances are then computed directly. The
/// loss is not differentiable where a hardest partner is tied or the hinge is exactly 0.
/// Memory: n x n scalars (allocated per call). NaN embeddings give a NaN loss.
///
/// Throws DimensionError when labels.size() != n; ArgumentError when n = 0 or margin is not
/// positive and finite.
template <class Scalar, class L = std::uint8_t>  // the default serves braced label lists
double triplet_batch_hard_loss(const RowMatrix<Scalar>& embeddings, const std::vector<L>& labels,
                               detail::non_deduced_t<Scalar> margin, RowMatrix<Scalar>& grad) {
    static_assert(is_supported_scalar_v<Scalar>,
                  "embedkit::nn::triplet_batch_hard_loss supports float and double");
    static_assert(
        is_label_type_v<L>,
        "embedkit::nn::triplet_batch_hard_loss: labels must be a std::vector of an integer type "
        "(uint8_t, int32_t, int64_t, ...), not bool or floating point");
    using Index = Eigen::Index;
    const Index n = embeddings.rows();
    detail::check_label_count("triplet_batch_hard_loss", "labels", labels.size(), n);
    if (n == 0) throw ArgumentError("embedkit::nn::triplet_batch_hard_loss: empty batch");
    detail::check_margin("triplet_batch_hard_loss", margin);
    const Scalar tiny = detail::direction_floor<Scalar>();
    grad.setZero(n, embeddings.cols());

    RowMatrix<Scalar> gram(n, n);
    gram.noalias() = embeddings * embeddings.transpose();
    double total = 0;
    Index anchors = 0;
    for (Index i = 0; i < n; ++i) {
        const L li = labels[static_cast<std::size_t>(i)];
        const Scalar sq_i = gram(i, i);
        Index pos = -1, neg = -1;
        Scalar far_d2 = 0, near_d2 = 0;
        for (Index j = 0; j < n; ++j) {
            if (j == i) continue;
            // Squared distance from the product; clamped because rounding can make it < 0.
            // NaN stays NaN (std::max returns its first argument when they are unordered).
            const Scalar d2 = std::max(sq_i + gram(j, j) - Scalar(2) * gram(i, j), Scalar(0));
            if (labels[static_cast<std::size_t>(j)] == li) {
                if (pos < 0 || d2 > far_d2) {
                    pos = j;
                    far_d2 = d2;
                }
            } else if (neg < 0 || d2 < near_d2) {
                neg = j;
                near_d2 = d2;
            }
        }
        if (pos < 0 || neg < 0) continue;
        ++anchors;
        const Scalar d_ap = (embeddings.row(i) - embeddings.row(pos)).norm();
        const Scalar d_an = (embeddings.row(i) - embeddings.row(neg)).norm();
        const Scalar hinge = margin + d_ap - d_an;
        if (hinge <= Scalar(0)) continue;  // inactive (NaN counts as active, so it propagates)
        total += static_cast<double>(hinge);
        // d d_ap / d anchor = (anchor - positive) / d_ap; the positive gets the opposite.
        if (d_ap > tiny) {
            grad.row(i) += (embeddings.row(i) - embeddings.row(pos)) / d_ap;
            grad.row(pos) -= (embeddings.row(i) - embeddings.row(pos)) / d_ap;
        }
        // The term is -d_an: the anchor moves away from the negative, the negative away too.
        if (d_an > tiny) {
            grad.row(i) -= (embeddings.row(i) - embeddings.row(neg)) / d_an;
            grad.row(neg) += (embeddings.row(i) - embeddings.row(neg)) / d_an;
        }
    }
    if (anchors == 0) return 0.0;
    grad *= Scalar(1) / static_cast<Scalar>(anchors);
    return total / static_cast<double>(anchors);
}

/// The scale of multiple_negatives_ranking_loss that sentence-transformers uses by default
/// (MultipleNegativesRankingLoss(scale=20.0)): cosine similarities times 20 as logits.
inline constexpr double default_ranking_scale = 20.0;

/// Multiple negatives ranking loss (sentence-transformers' MultipleNegativesRankingLoss; the
/// InfoNCE loss of van den Oord et al. 2018 with in-batch negatives, as in Henderson et al.
/// 2017, "Efficient Natural Language Response Suggestion for Smart Reply"), for n pairs
/// (anchor_i, positive_i): every other positive in the batch is a negative of anchor i.
///
///   s_ij = scale * cos(anchor_i, positive_j),   L = (1/n) sum_i [ log sum_j exp(s_ij) - s_ii ]
///
/// i.e. the mean over the anchors of the cross-entropy of softmax_j(s_ij) against target i.
/// anchors, positives: n x d, one embedding per row. Returns L and writes dL/d anchors into
/// `grad_anchors` and dL/d positives into `grad_positives` (both resized to n x d): with
/// u_i = a_i / |a_i|, v_j = p_j / |p_j| and G_ij = (softmax_j(s_ij) - [i = j]) / n,
///
///   dL/du_i = scale sum_j G_ij v_j,   dL/dv_j = scale sum_i G_ij u_i,
///   dL/da_i = (dL/du_i - u_i (u_i . dL/du_i)) / |a_i|   (likewise for p_j),
///
/// so a gradient is orthogonal to its row (cosine ignores length). The logits are shifted by
/// their row maximum before exp(), so no scale overflows. n = 1 gives L = 0.
///
/// Zero rows: a row whose norm is at most sqrt(smallest normal) has no direction; its cosine
/// with every row is taken as 0 (as torch's F.normalize makes a zero row zero) and its
/// gradient is 0, so nothing is divided by 0 and no NaN appears. NaN or Inf inputs give a
/// NaN loss (the fit loop reports it).
///
/// Caveat: a positive that appears twice in a batch (two anchors sharing a positive, or two
/// pairs of one class) is a "negative" of the other anchor too, which pushes apart what
/// should be close; batches should hold distinct positives.
///
/// Cost: one n x n matrix of scores (allocated per call) and three n x n x d products.
/// Throws DimensionError when the shapes differ; ArgumentError when n = 0 or scale is not
/// positive and finite.
template <class Scalar>
double multiple_negatives_ranking_loss(const RowMatrix<Scalar>& anchors,
                                       const RowMatrix<Scalar>& positives,
                                       detail::non_deduced_t<Scalar> scale,
                                       RowMatrix<Scalar>& grad_anchors,
                                       RowMatrix<Scalar>& grad_positives) {
    static_assert(is_supported_scalar_v<Scalar>,
                  "embedkit::nn::multiple_negatives_ranking_loss supports float and double");
    const char* fn = "multiple_negatives_ranking_loss";
    detail::check_same_shape(fn, anchors, "anchors", positives, "positives");
    if (!(scale > Scalar(0)) || !std::isfinite(scale)) {
        std::ostringstream got;
        got << static_cast<double>(scale);
        throw ArgumentError(std::string("embedkit::nn::") + fn +
                            ": scale must be positive and finite, got " + got.str());
    }
    using Index = Eigen::Index;
    const Index n = anchors.rows();
    const Scalar tiny = detail::direction_floor<Scalar>();
    // Unit rows; 1/|row| is kept for the gradient and is 0 for a zero row, whose unit row is 0.
    // stableNorm: the plain norm squares first and overflows float for entries above ~1e19.
    // A NaN norm fails `<= tiny` and is divided through, so NaN propagates.
    const auto unit = [tiny](const RowMatrix<Scalar>& x, RowMatrix<Scalar>& u,
                             Vector<Scalar>& inv) {
        u = x;
        inv.resize(x.rows());
        for (Index i = 0; i < x.rows(); ++i) {
            const Scalar norm = x.row(i).stableNorm();
            if (norm <= tiny) {
                inv[i] = Scalar(0);
                u.row(i).setZero();
            } else {
                inv[i] = Scalar(1) / norm;
                u.row(i) *= inv[i];
            }
        }
    };
    RowMatrix<Scalar> u, v;
    Vector<Scalar> inv_a, inv_p;
    unit(anchors, u, inv_a);
    unit(positives, v, inv_p);
    RowMatrix<Scalar> g(n, n);  // the scores, then softmax, then G
    g.noalias() = u * v.transpose();
    g *= scale;
    double total = 0;
    const Scalar inv_n = Scalar(1) / static_cast<Scalar>(n);
    for (Index i = 0; i < n; ++i) {
        auto row = g.row(i);
        const Scalar top = row.maxCoeff();
        const Scalar diag = row(i);
        row.array() = (row.array() - top).exp();
        const Scalar sum = row.sum();  // >= 1: the maximum contributes exp(0)
        total += static_cast<double>(top) + std::log(static_cast<double>(sum)) -
                 static_cast<double>(diag);
        row *= inv_n / sum;
        row(i) -= inv_n;
    }
    // dL/du = scale G v and dL/dv = scale G^T u, then projected off each row's direction.
    grad_anchors.noalias() = g * v;
    grad_positives.noalias() = g.transpose() * u;
    const auto project = [scale](RowMatrix<Scalar>& grad, const RowMatrix<Scalar>& w,
                                 const Vector<Scalar>& inv) {
        for (Index i = 0; i < grad.rows(); ++i) {
            auto gi = grad.row(i);
            gi -= w.row(i) * w.row(i).dot(gi);
            gi *= scale * inv[i];
        }
    };
    project(grad_anchors, u, inv_a);
    project(grad_positives, v, inv_p);
    return total / static_cast<double>(n);
}

}  // namespace embedkit::nn
